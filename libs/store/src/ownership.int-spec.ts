// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { FreshDatabase } from '#testing';
import { migratedDatabase } from './migrated-database-fixtures';
import { PgParticipantRegistry } from './participant-registry.pg';
import { PgTransactionStore } from './transaction-store.pg';

/**
 * Ownership on a real Postgres: `claim` (who may take a transaction over, and the fencing version
 * bump), `findOrphans` with the stuck detector's halves, and `heartbeat`. Ages are set by writing
 * `updated_at` / `heartbeat_at` into the past, never by waiting.
 */
describe('PgTransactionStore ownership (real Postgres)', () => {
  let db: FreshDatabase;
  let pool: Pool;
  let store: PgTransactionStore;

  beforeAll(async () => {
    ({ db, pool } = await migratedDatabase('ownership', 4));
    store = new PgTransactionStore(pool);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  /** A running transaction row with `owner`, last touched `ageMs` ago, due `wakeInMs` from now (null: none). */
  async function row(owner: string | null, ageMs = 0, wakeInMs: number | null = 60_000, status = 'running') {
    const id = `own-${randomUUID()}`;
    await pool.query(
      `INSERT INTO txc_transactions (id, protocol, mode, status, timeout_ms, deadline, retry, request_hash,
          participants, owner, wake_at, updated_at)
        VALUES ($1, 'saga', 'driven', $2, 60000, now() + interval '1 minute', '{}', 'h', '{p1}', $3,
          CASE WHEN $4::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $4::float8 / 1000) END,
          now() - make_interval(secs => $5::float8 / 1000))`,
      [id, status, owner, wakeInMs, ageMs],
    );
    return id;
  }

  const stuck = { self: 'me', selfGraceMs: 2_000, stuckAfterMs: 20_000 };
  const found = async (dead: string[] = []) =>
    new Map((await store.findOrphans(dead, 1000, stuck)).map((o) => [o.id, o]));

  describe('claim', () => {
    it("takes an unowned, a dead owner's, or its own row, bumping the version", async () => {
      for (const owner of [null, 'dead-1', 'me']) {
        const id = await row(owner);
        const loaded = await store.claim(id, 'me', ['dead-1']);
        expect(loaded?.txn).toMatchObject({ owner: 'me', version: 2 });
      }
    });

    it("leaves a live owner's row alone unless it is untouched past stuckAfterMs", async () => {
      const fresh = await row('live-1', 1_000);
      expect(await store.claim(fresh, 'me', [], { stuckAfterMs: 20_000 })).toBeNull();
      const stalled = await row('live-1', 30_000);
      expect(await store.claim(stalled, 'me', [])).toBeNull(); // no threshold: never
      expect((await store.claim(stalled, 'me', [], { stuckAfterMs: 20_000 }))?.txn.owner).toBe('me');
    });

    it('with dueOnly, takes an unowned row only when it has something to do', async () => {
      const waiting = await row(null, 0, 60_000);
      expect(await store.claim(waiting, 'me', [], { dueOnly: true })).toBeNull();
      expect((await store.claim(waiting, 'me', []))?.txn.owner).toBe('me'); // an operator's retry still takes it
      for (const id of [await row(null, 0, -1_000), await row(null, 0, null), await row('dead-3', 0, 60_000)]) {
        expect((await store.claim(id, 'me', ['dead-3'], { dueOnly: true }))?.txn.owner).toBe('me');
      }
      const flagged = await row(null, 0, 60_000);
      await pool.query('UPDATE txc_transactions SET abort_requested = true WHERE id = $1', [flagged]);
      expect((await store.claim(flagged, 'me', [], { dueOnly: true }))?.txn.owner).toBe('me');
    });

    it('takes a failed row only for a replay, and no final row at all', async () => {
      const failed = await row(null, 0, null, 'failed');
      expect(await store.claim(failed, 'me', [])).toBeNull();
      expect((await store.claim(failed, 'me', [], { forReplay: true }))?.txn.status).toBe('failed');
      const done = await row(null, 0, null, 'committed');
      expect(await store.claim(done, 'me', [], { forReplay: true })).toBeNull();
    });

    it('fences the previous owner: its next advance at the old version is stale', async () => {
      const id = await row('dead-2');
      const claimed = await store.claim(id, 'me', ['dead-2']);
      const stale = await store.apply({
        op: 'advance',
        id,
        version: 1,
        txn: { status: 'running', decision: null, error: null, owner: 'dead-2', wakeAt: null },
        branches: [],
        events: [],
      } as never);
      expect(stale).toBe('stale');
      expect((await store.load(id))?.txn).toMatchObject({ owner: 'me', version: claimed!.txn.version });
    });
  });

  describe('findOrphans (stuck detector)', () => {
    it('finds what nobody advances and only that', async () => {
      const due = await row(null, 0, -1_000);
      const notDue = await row(null, 0, 60_000);
      const unscheduled = await row(null, 0, null);
      const deadOwned = await row('dead-3');
      const mineFresh = await row('me', 500);
      const mineOld = await row('me', 5_000);
      const liveFresh = await row('live-2', 5_000);
      const liveStalled = await row('live-2', 30_000);
      const failed = await row(null, 0, null, 'failed');
      const o = await found(['dead-3']);
      for (const id of [due, unscheduled, deadOwned, mineOld, liveStalled]) expect(o.has(id)).toBe(true);
      for (const id of [notDue, mineFresh, liveFresh, failed]) expect(o.has(id)).toBe(false);
      expect(o.get(mineOld)).toMatchObject({ owner: 'me', stalled: false });
      expect(o.get(liveStalled)).toMatchObject({ owner: 'live-2', stalled: true });
    });

    it('without the stuck options finds only due and dead-owned rows', async () => {
      const unscheduled = await row(null, 0, null);
      const liveStalled = await row('live-3', 30_000);
      const ids = (await store.findOrphans([], 1000)).map((o) => o.id);
      expect(ids).not.toContain(unscheduled);
      expect(ids).not.toContain(liveStalled);
    });
  });

  describe('heartbeat', () => {
    it('records the beat and names instances silent past the TTL, and owners with no instance row', async () => {
      await pool.query(
        `INSERT INTO txc_instances (id, host, pid, heartbeat_at) VALUES ('old-1', 'h', 1, now() - interval '30 seconds')`,
      );
      await row('ghost-1');
      const dead = await store.heartbeat({ id: 'me', host: 'h', pid: 2 }, 10_000);
      expect(dead).toEqual(expect.arrayContaining(['old-1', 'ghost-1']));
      expect(dead).not.toContain('me');
      const { rows } = await pool.query(
        `SELECT heartbeat_at > now() - interval '5 seconds' AS fresh FROM txc_instances WHERE id = 'me'`,
      );
      expect(rows[0].fresh).toBe(true);
    });

    it('counts every live coordinator among those sharing participant limits, the drivers first', async () => {
      await store.heartbeat({ id: 'a-api', host: 'h', pid: 4, drives: false }, 10_000);
      await store.heartbeat({ id: 'worker-1', host: 'h', pid: 3 }, 10_000);
      const live = await new PgParticipantRegistry(pool).liveCoordinators(10_000);
      // an api instance calls participants too (interactive calls), and takes no remainder
      expect(live.indexOf('worker-1')).toBeGreaterThanOrEqual(0);
      expect(live.at(-1)).toBe('a-api');
    });
  });
});
