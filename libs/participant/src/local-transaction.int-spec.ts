// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import { Client, Pool } from 'pg';
import { freshDatabase, TcpProxy, type FreshDatabase } from '#testing';
import { inTransaction, LocalTransactionRolledBack, refuseAbortedTransaction } from './local-transaction';

/** A participant's local transaction whose database connection is cut fails; the service lives on. */
describe('inTransaction of a participant (real Postgres)', () => {
  let db: FreshDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await freshDatabase('participant_local_tx');
    pool = new Pool({ connectionString: db.url, max: 1 });
    pool.on('error', () => undefined);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('rejects the work, keeping nothing, when one of its statements failed and the error was caught', async () => {
    await pool.query('CREATE TABLE IF NOT EXISTS effects (name text)');
    const work = inTransaction(pool, async (client) => {
      await client.query("INSERT INTO effects VALUES ('swallowed')");
      await client.query('SELECT 1/0').catch(() => undefined);
      return 'done';
    });
    await expect(work).rejects.toThrow(/rolled back/);
    expect((await pool.query("SELECT count(*)::int AS n FROM effects WHERE name = 'swallowed'")).rows[0].n).toBe(0);
  });

  it('rejects the work when its connection is terminated while no statement runs', async () => {
    const killer = new Client({ connectionString: db.url });
    await killer.connect();
    try {
      const work = inTransaction(pool, async (client) => {
        const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
        const gone = new Promise((resolve) => client.once('end', resolve));
        await killer.query('SELECT pg_terminate_backend($1)', [pid]);
        await gone;
        return client.query('SELECT 2');
      });
      await expect(work).rejects.toThrow();
      // the pool's only connection was dropped and replaced
      expect((await inTransaction(pool, (client) => client.query<{ n: number }>('SELECT 3 AS n'))).rows[0].n).toBe(3);
    } finally {
      await killer.end();
    }
  });

  it('refuses a transaction a caught statement failure aborted while the reply saying so is still on its way', async () => {
    // the failed statement's error reaches the handler before Postgres's "transaction failed" status does
    const proxy = await TcpProxy.start(
      { host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) },
      { splitReplies: true },
    );
    const slow = new Pool({ connectionString: proxy.through(db.url), max: 1 });
    slow.on('error', () => undefined);
    const client = await slow.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1/0').catch(() => undefined);
      await expect(refuseAbortedTransaction(client)).rejects.toThrow(LocalTransactionRolledBack);
      await client.query('ROLLBACK');
    } finally {
      client.release();
      await slow.end();
      await proxy.close();
    }
  });
});
