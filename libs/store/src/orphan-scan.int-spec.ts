// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import type { Pool } from 'pg';
import type { FreshDatabase } from '#testing';
import { migratedDatabase } from './migrated-database-fixtures';
import { ORPHAN_SCAN_BEGIN, orphanScanSql } from './orphan-sql';
import { inTransaction } from './pg-transaction';
import { PgTransactionStore } from './transaction-store.pg';

const FINISHED = 20_000;
const OWNED = 10;
const STEPS = 30;
/** A sweep's reads with OWNED rows in flight: their index pages and rows, with room to spare. */
const IN_FLIGHT_BUFFERS = 100;

/**
 * The sweeper's query on a large log: what it reads follows what is in flight, not how many
 * transactions the log holds, and the dead index entries that steps of owned transactions leave
 * behind are read once, not on every sweep.
 */
describe('PgTransactionStore.findOrphans on a large log (real Postgres)', () => {
  let db: FreshDatabase;
  let pool: Pool;
  let store: PgTransactionStore;

  beforeAll(async () => {
    ({ db, pool } = await migratedDatabase('orphan_scan', 2));
    store = new PgTransactionStore(pool);
    // no autovacuum or autoanalyze: a session of theirs holding an older snapshot would keep the
    // sweeps below from marking dead entries (and the statistics must stay as they are left here)
    await pool.query('ALTER TABLE txc_transactions SET (autovacuum_enabled = false)');

    /** Transaction rows t000001... for `n` of a generate_series. */
    const row = (status: string, owner: string, wake: string, updated: string) =>
      `(id, protocol, mode, status, timeout_ms, deadline, retry, request_hash, participants, owner, wake_at,
        created_at, updated_at)
       SELECT 't' || lpad(n::text, 6, '0'), 'saga', 'driven', '${status}', 10000, now() + interval '1 hour',
              '{}'::jsonb, 'h', ARRAY['bank'], ${owner}, ${wake}, ${updated}, ${updated}`;
    // a log of finished transactions, all older than the stuck threshold, last analyzed while they
    // were all in flight (statistics lag the log: the planner believes much of it still is)
    await pool.query(
      `INSERT INTO txc_transactions ${row('running', "'gone'", "now() - interval '1 hour'", "now() - interval '1 hour'")}
         FROM generate_series(1, ${FINISHED}) n`,
    );
    await pool.query('ANALYZE txc_transactions');
    await pool.query(`UPDATE txc_transactions SET status = 'committed', owner = NULL, wake_at = NULL, version = 2`);
    // a few in flight, owned by a live instance (touched in the future: never stalled however slow
    // the test runs), each having taken STEPS steps: every step moved its deadline (wake_at),
    // leaving a dead version behind in the wake_at index
    await pool.query(
      `INSERT INTO txc_transactions ${row('running', "'live'", "now() + interval '10 s'", "now() + interval '1 hour'")}
         FROM generate_series(${FINISHED + 1}, ${FINISHED + OWNED}) n`,
    );
    for (let step = 1; step <= STEPS; step++) {
      await pool.query(
        `UPDATE txc_transactions SET wake_at = now() - make_interval(secs => $1), version = version + 1
          WHERE owner = 'live'`,
        [STEPS - step + 1],
      );
    }
    // and one of them stalled: untouched for longer than the stuck threshold
    await pool.query(
      `UPDATE txc_transactions SET updated_at = now() - interval '5 minutes', wake_at = now() + interval '10 s'
        WHERE id = (SELECT max(id) FROM txc_transactions)`,
    );
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  /** Shared buffers one sweep's query touches, run exactly as the store runs it. */
  async function buffersOfOneSweep(): Promise<number> {
    const { rows } = await inTransaction(pool, ORPHAN_SCAN_BEGIN, (client) =>
      client.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${orphanScanSql(true)}`, [[], 100, 60_000, 'self', 30_000]),
    );
    const plan = rows[0]['QUERY PLAN'][0].Plan;
    return plan['Shared Hit Blocks'] + plan['Shared Read Blocks'];
  }

  it('finds the stalled transaction', async () => {
    const found = await store.findOrphans([], 100, { self: 'self', selfGraceMs: 30_000, stuckAfterMs: 60_000 });
    expect(found).toEqual([{ id: `t${String(FINISHED + OWNED).padStart(6, '0')}`, owner: 'live', stalled: true }]);
  });

  it('reads what is in flight, not the log, and each dead index entry once', async () => {
    // the first sweep after the log's churn may read the dead entries of every finished transaction
    // (about one buffer each); it marks them, so every later sweep reads the in-flight rows only
    // (measured: 38 buffers a sweep; 920 with the query before, on every sweep)
    await buffersOfOneSweep();
    expect(await buffersOfOneSweep()).toBeLessThan(IN_FLIGHT_BUFFERS);
    expect(await buffersOfOneSweep()).toBeLessThan(IN_FLIGHT_BUFFERS);
  });
});
