import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { freshDatabase, type FreshDatabase } from '#testing';
import { dataSourceOptions } from './data-source-options';

/** A fresh database with every migration run, and a pool of `poolSize` on it: the store's integration tests' set-up. */
export async function migratedDatabase(label: string, poolSize: number): Promise<{ db: FreshDatabase; pool: Pool }> {
  const db = await freshDatabase(label);
  const source = new DataSource(dataSourceOptions(db.url, 1));
  await source.initialize();
  await source.runMigrations();
  await source.destroy();
  const pool = new Pool({ connectionString: db.url, max: poolSize });
  // pool.end() can resolve before the server closed every backend; DROP ... FORCE then terminates it
  pool.on('error', () => undefined);
  return { db, pool };
}
