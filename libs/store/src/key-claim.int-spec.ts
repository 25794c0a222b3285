// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { FreshDatabase } from '#testing';
import { toWire } from './apply-wire';
import { migratedDatabase } from './migrated-database-fixtures';
import { runningTransaction } from './transaction-record-fixtures';
import { PgTransactionStore } from './transaction-store.pg';
import type { CreateOp } from './transaction-store';

/**
 * How `txc_apply` claims a create's Idempotency-Key: an expired key is taken over, and a repeat of
 * a live key (`key-taken`) leaves the key's row unlocked, so the first request's answer can be
 * stored while the repeat's batch is still open.
 */
describe('txc_apply: claiming an Idempotency-Key (real Postgres)', () => {
  let db: FreshDatabase;
  let pool: Pool;
  let store: PgTransactionStore;

  beforeAll(async () => {
    ({ db, pool } = await migratedDatabase('key_claim', 4));
    store = new PgTransactionStore(pool);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  function keyedCreate(key: string, requestHash = 'h1'): CreateOp {
    const createdAt = new Date();
    return {
      op: 'create',
      txn: runningTransaction(`t-${randomUUID()}`, createdAt, { requestHash }),
      branches: [],
      events: [],
      idempotency: { key, requestHash, expiresAt: new Date(createdAt.getTime() + 3_600_000) },
    };
  }

  it('takes over an expired key: the new transaction and hash, no stored answer', async () => {
    const key = `k-${randomUUID()}`;
    await pool.query(
      `INSERT INTO txc_idempotency_keys (key, request_hash, transaction_id, response_status, response_body, expires_at)
         VALUES ($1, 'old', 'old-txn', 201, '{"old": true}', now() - interval '1 minute')`,
      [key],
    );
    const op = keyedCreate(key, 'new');
    expect(await store.apply(op)).toBe('ok');
    const { rows } = await pool.query(
      `SELECT request_hash, transaction_id, response_status, response_body, expires_at > now() AS live
         FROM txc_idempotency_keys WHERE key = $1`,
      [key],
    );
    expect(rows).toEqual([
      { request_hash: 'new', transaction_id: op.txn.id, response_status: null, response_body: null, live: true },
    ]);
  });

  it("a repeat of a live key does not lock its row: the first answer is stored while the repeat's batch is open", async () => {
    const key = `k-${randomUUID()}`;
    expect(await store.apply(keyedCreate(key))).toBe('ok');
    const repeat = await pool.connect();
    const first = await pool.connect();
    try {
      await repeat.query('BEGIN');
      const { rows } = await repeat.query('SELECT txc_apply($1::jsonb) AS r', [
        JSON.stringify([toWire(keyedCreate(key))]),
      ]);
      expect(rows[0].r).toEqual(['key-taken']);
      // the first request's `respond`, as txc_apply writes it; a locked row would make it wait out the timeout
      await first.query(`SET lock_timeout = '3s'`);
      const stored = await first.query(
        `UPDATE txc_idempotency_keys SET response_status = 201, response_body = '{}', response_headers = '{}'
           WHERE key = $1 AND response_status IS NULL`,
        [key],
      );
      expect(stored.rowCount).toBe(1);
    } finally {
      await repeat.query('ROLLBACK');
      repeat.release();
      first.release();
    }
  });

  describe('claimIdempotencyKey (a request other than a start)', () => {
    const expiry = () => new Date(Date.now() + 86_400_000);
    const stale = { staleAfterMs: 120_000 };
    const age = (key: string, seconds: number) =>
      pool.query(`UPDATE txc_idempotency_keys SET created_at = now() - make_interval(secs => $2) WHERE key = $1`, [
        key,
        seconds,
      ]);

    it('takes over a claim of the same request left unanswered past staleAfterMs (its request died)', async () => {
      const key = `stale-${randomUUID()}`;
      expect(await store.claimIdempotencyKey(key, 'h1', expiry(), stale)).toBe(true);
      expect(await store.claimIdempotencyKey(key, 'h1', expiry(), stale)).toBe(false); // live: waited for
      await age(key, 121);
      expect(await store.claimIdempotencyKey(key, 'h2', expiry(), stale)).toBe(false); // another request: never
      expect(await store.claimIdempotencyKey(key, 'h1', expiry())).toBe(false); // no staleAfterMs: never
      expect(await store.claimIdempotencyKey(key, 'h1', expiry(), stale)).toBe(true);
      expect(await store.claimIdempotencyKey(key, 'h1', expiry(), stale)).toBe(false); // claimed afresh
    });

    it('takes over an unanswered claim of the same request at once when its holder is dead', async () => {
      const key = `dead-holder-${randomUUID()}`;
      expect(await store.claimIdempotencyKey(key, 'h1', expiry(), { ...stale, holder: 'gone' })).toBe(true);
      expect((await store.findIdempotencyKey(key))!.holder).toBe('gone');
      // its holder alive (not among the dead): waited for
      expect(await store.claimIdempotencyKey(key, 'h1', expiry(), { ...stale, holder: 'b', deadHolders: ['c'] })).toBe(
        false,
      );
      // another request: never
      expect(
        await store.claimIdempotencyKey(key, 'h2', expiry(), { ...stale, holder: 'b', deadHolders: ['gone'] }),
      ).toBe(false);
      // without staleAfterMs (a claim of a start's key for an id taken first): never
      expect(await store.claimIdempotencyKey(key, 'h1', expiry(), { holder: 'b', deadHolders: ['gone'] })).toBe(false);
      expect(
        await store.claimIdempotencyKey(key, 'h1', expiry(), { ...stale, holder: 'b', deadHolders: ['gone'] }),
      ).toBe(true);
      expect((await store.findIdempotencyKey(key))!.holder).toBe('b');
      // an answered key is never taken over, its holder dead or not
      await pool.query(`UPDATE txc_idempotency_keys SET response_status = 200 WHERE key = $1`, [key]);
      expect(await store.claimIdempotencyKey(key, 'h1', expiry(), { ...stale, holder: 'c', deadHolders: ['b'] })).toBe(
        false,
      );
    });

    it('never takes over an answered key, however old', async () => {
      const key = `answered-${randomUUID()}`;
      expect(await store.claimIdempotencyKey(key, 'h1', expiry(), stale)).toBe(true);
      await pool.query(`UPDATE txc_idempotency_keys SET response_status = 202 WHERE key = $1`, [key]);
      await age(key, 3600);
      expect(await store.claimIdempotencyKey(key, 'h1', expiry(), stale)).toBe(false);
    });
  });
});
