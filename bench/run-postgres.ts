/** The Postgres side of the bench's accounting: counters before and after, and the server's settings. */
import { Client } from 'pg';
import { TEST_PG_ADMIN_URL } from '../libs/testing/src/fresh-database';
import { round } from './lib';
import { BASELINE_TARGETS, COORDINATOR_TARGETS, type Target } from './run-config';

export async function dbStats(admin: Client, names: string[]): Promise<Record<string, Record<string, number>>> {
  await admin.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await admin.query(
    `SELECT datname, xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, tup_returned, tup_fetched
       FROM pg_stat_database WHERE datname = ANY($1)`,
    [names],
  );
  return Object.fromEntries(
    rows.map((r) => [
      r.datname,
      Object.fromEntries(
        Object.entries(r)
          .filter(([k]) => k !== 'datname')
          .map(([k, v]) => [k, Number(v)]),
      ),
    ]),
  );
}

/** Calls and time of plpgsql functions in one database (needs track_functions = 'pl' there). */
export async function functionStats(
  url: string,
): Promise<Record<string, { calls: number; total_ms: number; self_ms: number }>> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query(`SELECT funcname, calls, total_time, self_time FROM pg_stat_user_functions`);
    return Object.fromEntries(
      rows.map((r) => [
        r.funcname,
        { calls: Number(r.calls), total_ms: Number(r.total_time), self_ms: Number(r.self_time) },
      ]),
    );
  } finally {
    await c.end();
  }
}

/** Scan counters per table in one database (pg_stat_user_tables). */
export async function tableStats(url: string): Promise<Record<string, Record<string, number>>> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query(
      `SELECT relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd, n_tup_hot_upd
         FROM pg_stat_user_tables`,
    );
    return Object.fromEntries(
      rows.map((r) => [
        r.relname,
        Object.fromEntries(
          Object.entries(r)
            .filter(([k]) => k !== 'relname')
            .map(([k, v]) => [k, Number(v ?? 0)]),
        ),
      ]),
    );
  } finally {
    await c.end();
  }
}

export async function postgresFacts() {
  const c = new Client({ connectionString: TEST_PG_ADMIN_URL });
  await c.connect();
  try {
    const get = async (sql: string) => String(Object.values((await c.query(sql)).rows[0])[0]);
    return {
      version: await get('SELECT version()'),
      synchronous_commit: await get('SHOW synchronous_commit'),
      fsync: await get('SHOW fsync'),
      shared_buffers: await get('SHOW shared_buffers'),
      max_connections: await get('SHOW max_connections'),
      commit_delay: await get('SHOW commit_delay'),
    };
  } finally {
    await c.end();
  }
}

type Counters = Record<string, Record<string, number>>;
type FunctionCounters = Record<string, { calls: number; total_ms: number; self_ms: number }>;

/**
 * Postgres work per saga from the counters taken before and after the runs: per database
 * (pg_stat_database), the coordinator's tables, and its log flushes (`txc_apply` calls).
 */
export function postgresAccounting(run: {
  sagas: Record<Target, number>;
  databases: { coordinator: string; baseline: string; participant: string };
  before: { db: Counters; functions: FunctionCounters; tables: Counters };
  after: { db: Counters; functions: FunctionCounters; tables: Counters };
}) {
  const { sagas, databases, before, after } = run;
  const perSaga = (db: string, n: number) =>
    Object.fromEntries(
      Object.entries(after.db[db]).map(([k, v]) => [k, n ? round((v - before.db[db][k]) / n, 2) : null]),
    );
  // every coordinator target writes to the same log database; both floors to the baseline's
  const coordinatorSagas = COORDINATOR_TARGETS.reduce((n, t) => n + sagas[t], 0);
  const baselineSagas = BASELINE_TARGETS.reduce((n, t) => n + sagas[t], 0);
  return {
    note:
      'pg_stat_database deltas over all measured runs (warm-ups included) divided by the sagas completed (coordinator DB includes its sweeper heartbeats); ' +
      'coordinatorLogFlushes: txc_apply calls from pg_stat_user_functions, each one group-commit flush = one durable commit; opsPerCall assumes 3 log ops per saga (create + 2 advances)',
    sagas,
    coordinatorDbPerSaga: perSaga(databases.coordinator, coordinatorSagas),
    baselineDbPerSaga: perSaga(databases.baseline, baselineSagas),
    participantDbPerSaga: perSaga(databases.participant, coordinatorSagas + baselineSagas),
    coordinatorTables: Object.fromEntries(
      Object.entries(after.tables).map(([table, counts]) => [
        table,
        Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v - (before.tables[table]?.[k] ?? 0)])),
      ]),
    ),
    coordinatorLogFlushes: Object.fromEntries(
      Object.entries(after.functions).map(([fn, now]) => {
        const then = before.functions[fn] ?? { calls: 0, total_ms: 0, self_ms: 0 };
        const calls = now.calls - then.calls;
        return [
          fn,
          {
            calls,
            callsPerSaga: coordinatorSagas ? round(calls / coordinatorSagas, 3) : null,
            opsPerCall: calls ? round((3 * coordinatorSagas) / calls, 2) : null,
            msPerCall: calls ? round((now.total_ms - then.total_ms) / calls, 3) : null,
          },
        ];
      }),
    ),
  };
}
