import type { Pool } from 'pg';
import type { FreshDatabase } from '#testing';
import { migratedDatabase } from './migrated-database-fixtures';
import { purgeAlertsBatch, purgeFinishedBatch } from './retention.pg';

const DAY = 24 * 60 * 60 * 1000;

/** Retention on a fresh, migrated database: what goes, what stays, and batches of at most `limit`. */
describe('purgeFinishedBatch (real Postgres)', () => {
  let db: FreshDatabase;
  let pool: Pool;

  beforeAll(async () => {
    ({ db, pool } = await migratedDatabase('retention', 2));
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  /** A transaction with two branches, three events and an idempotency key, last updated `ageDays` ago. */
  async function seed(id: string, status: string, ageDays: number): Promise<void> {
    const at = new Date(Date.now() - ageDays * DAY);
    await pool.query(
      `INSERT INTO txc_transactions (id, protocol, mode, status, timeout_ms, deadline, retry, request_hash,
         participants, created_at, updated_at)
       VALUES ($1, 'saga', 'driven', $2, 1000, $3, '{}', 'h', '{p1}', $3, $3)`,
      [id, status, at],
    );
    for (const b of ['a', 'b']) {
      await pool.query(
        `INSERT INTO txc_branches (transaction_id, id, position, participant, status, phase) VALUES ($1, $2, 0, 'p1', 'succeeded', 'action')`,
        [id, b],
      );
    }
    for (const seq of [1, 2, 3]) {
      await pool.query(`INSERT INTO txc_events (transaction_id, seq, at, type) VALUES ($1, $2, $3, 'x')`, [
        id,
        seq,
        at,
      ]);
    }
    await pool.query(
      `INSERT INTO txc_idempotency_keys (key, request_hash, transaction_id, expires_at) VALUES ($1, 'h', $2, $3)`,
      [`key-${id}`, id, at],
    );
  }

  async function left(id: string) {
    const count = async (sql: string) => (await pool.query<{ n: number }>(sql, [id])).rows[0].n;
    return {
      transaction: await count(`SELECT count(*)::int AS n FROM txc_transactions WHERE id = $1`),
      branches: await count(`SELECT count(*)::int AS n FROM txc_branches WHERE transaction_id = $1`),
      events: await count(`SELECT count(*)::int AS n FROM txc_events WHERE transaction_id = $1`),
      keys: await count(`SELECT count(*)::int AS n FROM txc_idempotency_keys WHERE transaction_id = $1`),
    };
  }

  it('deletes finished transactions past the horizon with their rows, and keeps newer, failed and unfinished ones', async () => {
    await seed('old-committed', 'committed', 40);
    await seed('old-aborted', 'aborted', 31);
    await seed('old-failed', 'failed', 40);
    await seed('old-running', 'running', 40);
    await seed('old-compensating', 'aborting', 40);
    await seed('new-committed', 'committed', 29);
    const horizon = new Date(Date.now() - 30 * DAY);

    const purged = await purgeFinishedBatch(pool, horizon, 100);

    expect(purged).toEqual({ transactions: 2, branches: 4, events: 6, idempotencyKeys: 2 });
    const gone = { transaction: 0, branches: 0, events: 0, keys: 0 };
    const kept = { transaction: 1, branches: 2, events: 3, keys: 1 };
    expect(await left('old-committed')).toEqual(gone);
    expect(await left('old-aborted')).toEqual(gone);
    for (const id of ['old-failed', 'old-running', 'old-compensating', 'new-committed']) {
      expect({ id, rows: await left(id) }).toEqual({ id, rows: kept });
    }
    expect(await purgeFinishedBatch(pool, horizon, 100)).toEqual({
      transactions: 0,
      branches: 0,
      events: 0,
      idempotencyKeys: 0,
    });
  });

  it('takes at most `limit` transactions per batch, oldest first', async () => {
    for (let i = 0; i < 5; i++) await seed(`batch-${i}`, 'committed', 50 - i);
    const horizon = new Date(Date.now() - 45.5 * DAY);
    expect((await purgeFinishedBatch(pool, horizon, 2)).transactions).toBe(2);
    expect((await left('batch-0')).transaction).toBe(0);
    expect((await left('batch-1')).transaction).toBe(0);
    expect((await left('batch-2')).transaction).toBe(1);
    expect((await purgeFinishedBatch(pool, horizon, 2)).transactions).toBe(2);
    expect((await purgeFinishedBatch(pool, horizon, 2)).transactions).toBe(1); // batch-4 is 46 days old
    expect((await left('batch-4')).transaction).toBe(0);
  });

  it('skips a transaction row another session holds instead of waiting for it', async () => {
    await seed('held', 'committed', 60);
    const other = await pool.connect();
    try {
      await other.query('BEGIN');
      await other.query(`SELECT 1 FROM txc_transactions WHERE id = 'held' FOR UPDATE`);
      const purged = await purgeFinishedBatch(pool, new Date(Date.now() - 59 * DAY), 10);
      expect(purged.transactions).toBe(0);
      await other.query('ROLLBACK');
    } finally {
      other.release();
    }
    expect((await purgeFinishedBatch(pool, new Date(Date.now() - 59 * DAY), 10)).transactions).toBe(1);
  });

  it('deletes delivered alerts past the horizon; keeps newer, undelivered ones and an overdue one whose transaction exists', async () => {
    const alert = (key: string, kind: string, ageDays: number, delivered: boolean, payload: object = {}) =>
      pool.query(`INSERT INTO txc_alerts (key, kind, payload, created_at, delivered_at) VALUES ($1, $2, $3, $4, $5)`, [
        key,
        kind,
        payload,
        new Date(Date.now() - ageDays * DAY),
        delivered ? new Date() : null,
      ]);
    await seed('stuck-alerted', 'running', 5);
    await alert('transaction.failed:gone:7', 'transaction.failed', 5, true, { transactionId: 'gone' });
    await alert('participant.expired:p1:1', 'participant.expired', 5, true, { participant: 'p1' });
    await alert('transaction.failed:new:3', 'transaction.failed', 0, true, { transactionId: 'new' });
    await alert('transaction.failed:unsent:2', 'transaction.failed', 5, false, { transactionId: 'unsent' });
    await alert('transaction.overdue:stuck-alerted', 'transaction.overdue', 5, true, {
      transactionId: 'stuck-alerted',
    });
    await alert('transaction.overdue:gone', 'transaction.overdue', 5, true, { transactionId: 'gone' });

    expect(await purgeAlertsBatch(pool, new Date(Date.now() - 2 * DAY), 1)).toBe(1);
    expect(await purgeAlertsBatch(pool, new Date(Date.now() - 2 * DAY), 100)).toBe(2);
    const { rows } = await pool.query<{ key: string }>('SELECT key FROM txc_alerts ORDER BY key');
    expect(rows.map((r) => r.key)).toEqual([
      'transaction.failed:new:3',
      'transaction.failed:unsent:2',
      'transaction.overdue:stuck-alerted',
    ]);
  });
});
