import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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

  it('runs, for each SQL function, the text of the newest migration file that defines it', async () => {
    const newest = newestFunctionFiles();
    expect([...newest.keys()]).toContain('txc_apply');
    const source = new DataSource(dataSourceOptions(db.url, 1));
    await source.initialize();
    try {
      for (const [name, file] of newest) {
        const rows: { prosrc: string }[] = await source.query(`SELECT prosrc FROM pg_proc WHERE proname = $1`, [name]);
        expect({ name, bodies: rows.map((r) => r.prosrc) }).toEqual({ name, bodies: [dollarQuotedBody(file)] });
      }
    } finally {
      await source.destroy();
    }
  });
});

const SQL_ROOT = join(__dirname, '..', '..', '..', 'migrations', 'sql');

/** Function name -> the file of the latest migration (folders sort by timestamp) that defines it. */
function newestFunctionFiles(): Map<string, string> {
  const newest = new Map<string, string>();
  for (const migration of readdirSync(SQL_ROOT).sort()) {
    for (const file of readdirSync(join(SQL_ROOT, migration))) {
      if (file.endsWith('.sql')) newest.set(file.slice(0, -'.sql'.length), join(SQL_ROOT, migration, file));
    }
  }
  return newest;
}

/** The body between the `$fn$` quotes: what Postgres keeps as `prosrc`. */
function dollarQuotedBody(file: string): string {
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf('$fn$') + '$fn$'.length;
  return text.slice(start, text.indexOf('$fn$', start));
}
