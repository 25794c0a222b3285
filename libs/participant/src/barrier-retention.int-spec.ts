import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { freshDatabase, type FreshDatabase } from '#testing';
import { Barrier } from './barrier';

const HOUR = 60 * 60 * 1000;

describe('Barrier.deleteOlderThan (real Postgres)', () => {
  let db: FreshDatabase;
  let pool: Pool;
  const barrier = new Barrier('app_barrier');

  beforeAll(async () => {
    db = await freshDatabase('barrier_retention');
    pool = new Pool({ connectionString: db.url, max: 2 });
    pool.on('error', () => undefined);
    await barrier.install(pool);
    await pool.query(Barrier.retentionDdl(barrier.table));
    await pool.query(Barrier.retentionDdl(barrier.table)); // idempotent, like install
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  async function rows(ageHours: number, n: number, prefix: string): Promise<void> {
    await pool.query(
      `INSERT INTO app_barrier (transaction_id, branch_id, op, reason, created_at)
       SELECT $1 || i, 'b', 'action', 'action', now() - $2 * interval '1 hour' FROM generate_series(1, $3) i`,
      [prefix, ageHours, n],
    );
  }

  const left = async (prefix: string) =>
    (
      await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM app_barrier WHERE transaction_id LIKE $1`, [
        `${prefix}%`,
      ])
    ).rows[0].n;

  it('deletes rows older than the horizon in batches until none is left, and keeps newer rows', async () => {
    await rows(48, 25, 'old-');
    await rows(1, 5, 'new-');
    expect(await barrier.deleteOlderThan(pool, new Date(Date.now() - 25 * HOUR), { batchSize: 4, maxBatches: 2 })).toBe(
      8,
    );
    expect(await barrier.deleteOlderThan(pool, new Date(Date.now() - 25 * HOUR), { batchSize: 10 })).toBe(17);
    expect(await left('old-')).toBe(0);
    expect(await left('new-')).toBe(5);
    expect(await barrier.deleteOlderThan(pool, new Date(Date.now() - 25 * HOUR), { batchSize: 10 })).toBe(0);
  });

  it('runs on a TypeORM DataSource too (what the Nest module holds)', async () => {
    await rows(48, 3, 'orm-');
    const source = new DataSource({ type: 'postgres', url: db.url });
    await source.initialize();
    try {
      expect(await barrier.deleteOlderThan(source, new Date(Date.now() - 25 * HOUR))).toBe(3);
    } finally {
      await source.destroy();
    }
    expect(await left('orm-')).toBe(0);
  });
});
