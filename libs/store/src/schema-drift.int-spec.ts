import { DataSource } from 'typeorm';
import { freshDatabase, type FreshDatabase } from '#testing';
import { dataSourceOptions } from './data-source-options';

/**
 * The migrations and the TypeORM entities describe the same schema: every migration run on an empty
 * database, TypeORM's schema builder must find nothing to change. A column, index or check added
 * to one and not the other fails here (indexes entities cannot express are declared on them with
 * `synchronize: false`).
 */
describe('schema drift between migrations and entities', () => {
  let db: FreshDatabase;
  afterAll(() => db?.drop());

  it('finds nothing to change after every migration ran on an empty database', async () => {
    db = await freshDatabase('drift');
    const source = new DataSource(dataSourceOptions(db.url, 1));
    await source.initialize();
    try {
      await source.runMigrations();
      const { upQueries } = await source.driver.createSchemaBuilder().log();
      expect(upQueries.map((q) => q.query)).toEqual([]);
    } finally {
      await source.destroy();
    }
  });
});
