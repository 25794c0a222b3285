/**
 * The read-path bench's log: seeded with bench/read-seed.ts while the coordinator runs, vacuumed,
 * then counted and sized for the report.
 */
import type { Client } from 'pg';
import { CONFIG, log } from './read-path-config';
import { MIX, seedReadLog } from './read-seed';

/** Seeds the log while the coordinator runs (the in-flight rows are parked), then VACUUM ANALYZE. */
export async function seedLog(db: Client) {
  log(
    `seeding ${CONFIG.transactions.toLocaleString('en')} transactions in chunks of ${CONFIG.chunk.toLocaleString('en')}...`,
  );
  const t0 = performance.now();
  await seedReadLog(db, {
    total: CONFIG.transactions,
    chunk: CONFIG.chunk,
    days: CONFIG.days,
    onProgress: (done, total) =>
      log(
        `  ${done.toLocaleString('en')} / ${total.toLocaleString('en')} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
      ),
  });
  const insertSeconds = (performance.now() - t0) / 1000;
  log(`inserted in ${insertSeconds.toFixed(0)} s; VACUUM ANALYZE...`);
  const t1 = performance.now();
  // the visibility map lets the list's index scans skip the heap for visibility; the statistics plan the queries
  await db.query(`SET maintenance_work_mem = '256MB'`);
  await db.query('VACUUM (ANALYZE) txc_transactions, txc_branches, txc_events, txc_idempotency_keys, txc_participants');
  const vacuumSeconds = (performance.now() - t1) / 1000;
  const counts = await tableCounts(db);
  const sizes = await relationSizes(db);
  log(`seeded: ${JSON.stringify(counts)}; insert ${insertSeconds.toFixed(0)} s + vacuum ${vacuumSeconds.toFixed(0)} s`);
  return { insertSeconds, vacuumSeconds, counts, sizes, mix: MIX };
}

async function tableCounts(db: Client) {
  const { rows } = await db.query(`SELECT
      (SELECT count(*) FROM txc_transactions)::int AS transactions,
      (SELECT count(*) FROM txc_branches)::int AS branches,
      (SELECT count(*) FROM txc_events)::int AS events,
      (SELECT count(*) FROM txc_idempotency_keys)::int AS idempotency_keys,
      (SELECT count(*) FROM txc_participants)::int AS participants`);
  const { rows: byStatus } = await db.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM txc_transactions GROUP BY 1 ORDER BY 2 DESC`,
  );
  return { ...rows[0], byStatus: Object.fromEntries(byStatus.map((r) => [r.status, r.n])) };
}

/** Table and index sizes (MiB), for what the log costs on disk and what each index costs. */
async function relationSizes(db: Client): Promise<Record<string, number>> {
  const { rows } = await db.query<{ name: string; mib: number }>(
    `SELECT c.relname AS name, round(pg_relation_size(c.oid) / 1048576.0, 1)::float8 AS mib
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relname LIKE 'txc\\_%' AND c.relkind IN ('r', 'i')
      ORDER BY c.relkind DESC, 2 DESC`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.mib]));
}
