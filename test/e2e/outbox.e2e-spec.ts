import { randomUUID } from 'node:crypto';
import { Pool, type PoolClient } from 'pg';
import { Outbox, OutboxError } from '#participant';
import { freshDatabase, startTestStack, type FreshDatabase, type TestStack } from '#testing';

/**
 * The sender's outbox against a real coordinator: a message the coordinator no longer holds as
 * `prepared` is never committed with an order, and a submit it refuses after the commit is told.
 */
describe('outbox with a real coordinator', () => {
  let s: TestStack;
  let db: FreshDatabase;
  let pool: Pool;
  let outbox: Outbox;
  const failedSubmits: { id: string; error: unknown }[] = [];

  beforeAll(async () => {
    s = await startTestStack('outbox_e2e');
    db = await freshDatabase('outbox_e2e_sender');
    pool = new Pool({ connectionString: db.url, max: 4 });
    outbox = new Outbox({
      coordinatorUrl: s.coordinator.url,
      participant: 'p1',
      db: pool,
      onError: (error, id) => failedSubmits.push({ id, error }),
    });
    await outbox.install();
    await pool.query('CREATE TABLE orders (id text PRIMARY KEY)');
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
    await s?.close();
  });

  const message = (id: string) => ({
    id,
    checkAfterMs: 60_000,
    timeoutMs: 120_000,
    deliveries: [{ id: 'ship', participant: 'p1', payload: { id } }],
  });
  async function begin(): Promise<PoolClient> {
    const client = await pool.connect();
    await client.query('BEGIN');
    return client;
  }

  it('a retried send of a message aborted meanwhile fails, so the order rolls back with it', async () => {
    const id = `m-${randomUUID()}`;
    const first = await begin();
    await outbox.send(first, message(id));
    await first.query('ROLLBACK'); // the first try failed
    first.release();
    expect((await s.api.post(`/v1/transactions/${id}/abort`, { reason: 'the order failed' })).status).toBe(202);

    const retry = await begin();
    let refused: unknown = null;
    try {
      await retry.query('INSERT INTO orders (id) VALUES ($1)', [id]);
      await outbox.send(retry, message(id));
      await retry.query('COMMIT');
    } catch (error) {
      refused = error;
      await retry.query('ROLLBACK');
    } finally {
      retry.release();
    }
    expect(refused).toBeInstanceOf(OutboxError);
    expect(String(refused)).toMatch(/aborted/);
    expect((await pool.query('SELECT count(*)::int AS n FROM orders WHERE id = $1', [id])).rows[0].n).toBe(0);
  });

  it('a message aborted while its sender was open: the refused submit is reported, by default on stderr', async () => {
    const id = `m-${randomUUID()}`;
    const dataSource = { transaction: inTransaction } as never;
    await outbox.transaction(dataSource, async (manager, send) => {
      await send(message(id));
      expect((await s.api.post(`/v1/transactions/${id}/abort`, { reason: 'by hand' })).status).toBe(202);
      return manager;
    });
    expect(failedSubmits.map((f) => f.id)).toEqual([id]);
    expect(String(failedSubmits[0].error)).toMatch(/409/);

    // an outbox given no onError (as the Nest module builds it) still says so
    const quiet = new Outbox({ coordinatorUrl: s.coordinator.url, participant: 'p1', db: pool });
    const stderr = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const other = `m-${randomUUID()}`;
      await quiet.transaction(dataSource, async (manager, send) => {
        await send(message(other));
        await s.api.post(`/v1/transactions/${other}/abort`, { reason: 'by hand' });
        return manager;
      });
      expect(stderr.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringContaining(other)]);
    } finally {
      stderr.mockRestore();
    }
  });

  /** What a TypeORM DataSource's transaction() does, on a pg client: BEGIN, work, COMMIT. */
  async function inTransaction(work: (manager: unknown) => Promise<unknown>): Promise<unknown> {
    const client = await begin();
    try {
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }
});
