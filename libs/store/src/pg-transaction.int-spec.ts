// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import { Pool } from 'pg';
import { freshDatabase, type FreshDatabase } from '#testing';
import { inTransaction } from './pg-transaction';

/** A connection cut while a transaction holds it fails that transaction, and nothing else. */
describe('inTransaction (real Postgres)', () => {
  let db: FreshDatabase;
  let pool: Pool;
  let admin: Pool;

  beforeAll(async () => {
    db = await freshDatabase('pg_transaction');
    pool = new Pool({ connectionString: db.url, max: 2 });
    pool.on('error', () => undefined);
    admin = new Pool({ connectionString: db.url, max: 1 });
  });

  afterAll(async () => {
    await pool?.end();
    await admin?.end();
    await db?.drop();
  });

  it('fails the call when the connection is cut between two statements, and the pool goes on', async () => {
    const cut = inTransaction(pool, 'BEGIN', async (client) => {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const ended = new Promise((resolve) => client.once('end', resolve));
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      await ended; // the cut reached the client while no statement was in flight
      await client.query('SELECT 1');
    });
    await expect(cut).rejects.toThrow();
    const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one');
    expect(rows[0].one).toBe(1);
  });
});
