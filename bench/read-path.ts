/**
 * `npm run bench:read`: the read path with a large log. Seeds BENCH_READ_TXNS (1,000,000)
 * transactions straight into a fresh database with SQL (bench/read-seed.ts), runs the coordinator
 * on it, and measures the operator API's reads (the list and its filters, deep pages, the
 * transaction page, stats) with a closed-loop client (bench/read-load.ts), median of BENCH_RUNS
 * runs each. Prints a markdown table; raw numbers go to bench/out/read-latest.json, and the plans
 * (EXPLAIN ANALYZE) of the queries behind any read over the target to bench/out/read-plans.txt.
 * See bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client, Pool } from 'pg';
import { request } from 'undici';
import { TEST_PG_ADMIN_URL, TEST_REDIS_URL } from '../libs/testing/src/fresh-database';
import { PgTransactionStore } from '../libs/store/src/transaction-store.pg';
import { readStats } from '../libs/store/src/stats-queries';
import type { ListFilter } from '../libs/store/src/transaction-store';
import {
  allProcessCpu,
  assertLoopback,
  killAllChildrenSync,
  machineCpu,
  median,
  runNode,
  sleep,
  spawnNode,
  topCpuBetween,
  type Child,
  envNumber,
} from './lib';
import { adminQuery, dropRedisKeys, hostFacts } from './stack';
import type { ReadLoadConfig, ReadLoadResult } from './read-load';
import { MIX, seedReadLog } from './read-seed';

const ROOT = resolve(__dirname, '../..');
const OUT = resolve(ROOT, 'bench/out');
const COORDINATOR_MAIN = resolve(ROOT, 'dist/apps/coordinator/src/main.js');

const env = process.env;
const num = envNumber;
const CONFIG = {
  transactions: num('BENCH_READ_TXNS', 1_000_000, 1_000, 5_000_000),
  chunk: num('BENCH_READ_CHUNK', 100_000, 1_000, 1_000_000),
  days: 30,
  runs: num('BENCH_RUNS', 3, 1, 10),
  seconds: num('BENCH_SECONDS', 15, 1, 300),
  warmupSeconds: num('BENCH_WARMUP', 3, 0, 60),
  concurrency: num('BENCH_CONCURRENCY', 8, 1, 256),
  /** Comma-separated case keys to run (default: all). */
  cases: env.BENCH_READ_CASES ? env.BENCH_READ_CASES.split(',').map((s) => s.trim()) : null,
  /** `auto`: plans of the reads over the target; `1`: of every read; `0`: none. */
  explain: (env.BENCH_EXPLAIN ?? 'auto') as 'auto' | '1' | '0',
  keepDatabase: env.BENCH_KEEP_DBS === '1',
  redisUrl: env.BENCH_REDIS_URL ?? TEST_REDIS_URL,
  targetP99Ms: 50,
};
assertLoopback(CONFIG.redisUrl);
assertLoopback(TEST_PG_ADMIN_URL);

const DB_NAME = `txc_bench_read_${process.pid}`;
const DB_URL = (() => {
  const u = new URL(TEST_PG_ADMIN_URL);
  u.pathname = `/${DB_NAME}`;
  return u.toString();
})();
// seeding scales with the log (about 5 min per million rows here, with a wide margin), then every slot
const SEED_BUDGET_S = 120 + (CONFIG.transactions / 1_000_000) * 1_800;
const PER_RUN_BUDGET_S = CONFIG.warmupSeconds + CONFIG.seconds + 60;
const TOTAL_BUDGET_MS = (SEED_BUDGET_S + 3 * 16 * CONFIG.runs * PER_RUN_BUDGET_S + 300) * 1000;
/** A run during which other people's processes used more CPU than this (cores) is repeated. */
const OTHERS_MAX = 0.25;
const REPEATS_PER_SLOT = 2;
const QUIET_TRIES = 30;

/** One read to measure: the paths the driver GETs (in turn, or at random) and what the answer must hold. */
interface ReadCase {
  key: string;
  label: string;
  paths: string[];
  order: 'cycle' | 'random';
  /** POST this body (read-only: a dry run) instead of a GET. */
  body?: unknown;
  kind: 'list' | 'get' | 'stats' | 'participants' | 'dry-run';
  /** Checks the first answer (throws when the read does not return what it should). */
  check?: (body: any) => void;
}

interface RunRecord {
  key: string;
  run: number;
  result: ReadLoadResult;
  otherCores: number;
  disturbed: boolean;
}

let coordinator: Child | null = null;
let databaseCreated = false;
let cleaning: Promise<void> | null = null;
const redisPrefix = `txc-bench-read-${randomBytes(4).toString('hex')}`;

async function main(): Promise<void> {
  const hardStop = setTimeout(() => {
    log(`total time budget (${Math.round(TOTAL_BUDGET_MS / 1000)} s) exceeded; stopping`);
    void cleanup().finally(() => process.exit(1));
  }, TOTAL_BUDGET_MS);
  hardStop.unref();
  mkdirSync(OUT, { recursive: true });
  const machine = hostFacts(ROOT);
  log(`machine: ${machine.cpuModel}, ${machine.nproc} cores, ${machine.memGiB} GiB, node ${machine.node}`);

  await adminQuery(`CREATE DATABASE ${DB_NAME}`);
  databaseCreated = true;
  coordinator = await startCoordinator();
  const api = loopback(coordinator.ready[1]);
  log(`coordinator at ${api} on ${DB_NAME} (migrations ran)`);

  const db = new Client({ connectionString: DB_URL });
  // dropping the database on Ctrl-C ends this connection from the server side: not a crash
  db.on('error', (e) => cleaning || log(`database connection: ${e.message}`));
  await db.connect();
  try {
    const postgres = await postgresFacts(db);
    log(`postgres: ${postgres.version}`);
    const seeded = await seedLog(db);
    const cases = await buildCases(db, api);
    // the first call of each read, alone and cold: for a cached read (stats), what a refresh costs
    const firstCallMs: Record<string, number> = {};
    for (const c of cases) firstCallMs[c.key] = await smoke(api, c);
    const records = await measureAll(api, cases);
    const summary = summarise(cases, records, firstCallMs);
    const plans = await explainSlow(cases, summary);
    const report = {
      date: new Date().toISOString(),
      command: 'npm run bench:read',
      config: CONFIG,
      machine: { ...machine, postgres },
      seed: seeded,
      summary,
      runs: records,
    };
    writeFileSync(resolve(OUT, 'read-latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    if (plans) writeFileSync(resolve(OUT, 'read-plans.txt'), plans);
    process.stdout.write(`\n${markdownTable(summary, records)}\n`);
    process.stdout.write(`\nraw numbers: ${resolve(OUT, 'read-latest.json')}\n`);
    if (plans) process.stdout.write(`plans: ${resolve(OUT, 'read-plans.txt')}\n`);
  } finally {
    await db.end().catch(() => undefined);
  }
  await cleanup();
  clearTimeout(hardStop);
}

/** The coordinator on the fresh database: it runs the migrations before it says it is ready. */
function startCoordinator(): Promise<Child> {
  return spawnNode(
    'coordinator',
    [COORDINATOR_MAIN],
    {
      DATABASE_URL: DB_URL,
      PORT: '0',
      LOG_LEVEL: 'warn',
      REDIS_URL: CONFIG.redisUrl,
      REDIS_PREFIX: redisPrefix,
      CI: '1',
    },
    /coordinator ready: API (http:\/\/[^/\s]+)\/v1/,
    60_000,
  );
}

/** Seeds the log while the coordinator runs (the in-flight rows are parked), then VACUUM ANALYZE. */
async function seedLog(db: Client) {
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

/** The reads, with their parameters taken from the seeded log. */
async function buildCases(db: Client, api: string): Promise<ReadCase[]> {
  const list = (q: string) => `/v1/transactions?${q}`;
  const hasItems = (b: any) => {
    if (!Array.isArray(b.items) || b.items.length === 0) throw new Error('no items');
  };
  const popular = await participantByRank(db, 'DESC');
  const rare = await participantByRank(db, 'ASC');
  const keys = await sample(db, `SELECT key AS v FROM txc_idempotency_keys ORDER BY random() LIMIT 200`);
  const ids = await sample(db, `SELECT id AS v FROM txc_transactions ORDER BY random() LIMIT 2000`);
  // what a person types: the first 8 characters of an id (a UUIDv7: about a minute of the log)
  const prefixes = ids.slice(0, 200).map((id) => id.slice(0, 8));
  const day = await oneDay(db);
  const page21 = await followCursor(api, 20);
  const middle = await middleCursor(db);
  const all: ReadCase[] = [
    {
      key: 'first',
      label: 'list, first page',
      paths: [list('limit=50')],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'page21',
      label: 'list, page 21 (keyset cursor)',
      paths: [list(`limit=50&cursor=${page21}`)],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'middle',
      label: 'list, cursor 15 days back',
      paths: [list(`limit=50&cursor=${middle}`)],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'failed',
      label: 'status=failed',
      paths: [list('status=failed&limit=50')],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'in-flight',
      label: 'status=running,committing,aborting',
      paths: [list('status=running,committing,aborting&limit=50')],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    ...[popular, rare].map((p, i): ReadCase => ({
      key: i === 0 ? 'participant' : 'participant-rare',
      label: `participant=${p.name} (${p.share}% of transactions)`,
      paths: [list(`participant=${p.name}&limit=50`)],
      order: 'cycle',
      kind: 'list',
      check: (b) => {
        hasItems(b);
        if (!b.items.every((t: any) => t.participants.includes(p.name)))
          throw new Error('an item without the participant');
      },
    })),
    {
      key: 'tcc-committed',
      label: 'protocol=tcc&status=committed',
      paths: [list('protocol=tcc&status=committed&limit=50')],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'att-failed',
      label: 'attention=failed',
      paths: [list('attention=failed&limit=50')],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'att-retrying',
      label: 'attention=retrying',
      paths: [list('attention=retrying&limit=50')],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'q-key',
      label: `q=<Idempotency-Key> (${keys.length} keys in turn)`,
      paths: keys.map((k) => list(`q=${encodeURIComponent(k)}&limit=50`)),
      order: 'cycle',
      kind: 'list',
      check: (b) => {
        if (b.items?.length !== 1) throw new Error(`${b.items?.length} items for one key`);
      },
    },
    {
      key: 'q-prefix',
      label: `q=<8-character id prefix> (${prefixes.length} in turn)`,
      paths: prefixes.map((p) => list(`q=${p}&limit=50`)),
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'one-day',
      label: 'from=&to= (one day, 10 days back)',
      paths: [list(`from=${day.from}&to=${day.to}&limit=50`)],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'get',
      label: `GET /v1/transactions/{id} (${ids.length} random ids)`,
      paths: ids.map((id) => `/v1/transactions/${id}`),
      order: 'random',
      kind: 'get',
      check: (b) => {
        if (!Array.isArray(b.events) || !Array.isArray(b.branches)) throw new Error('not a transaction view');
      },
    },
    {
      key: 'participants',
      label: 'GET /v1/participants (with in-flight and failed counts)',
      paths: ['/v1/participants'],
      order: 'cycle',
      kind: 'participants',
      check: (b) => {
        if (b.items?.length !== 20) throw new Error(`${b.items?.length} participants`);
      },
    },
    {
      key: 'replay-dry',
      label: `bulk replay dry run, participant=${popular.name}`,
      paths: ['/v1/transactions/replay'],
      body: { participant: popular.name, dryRun: true, reason: 'read-path bench' },
      order: 'cycle',
      kind: 'dry-run',
      check: (b) => {
        if (b.dryRun !== true || !(b.matched > 0))
          throw new Error(`dry run answered ${JSON.stringify(b).slice(0, 200)}`);
      },
    },
    {
      key: 'stats-1h',
      label: 'GET /v1/stats?window=1h',
      paths: ['/v1/stats?window=1h'],
      order: 'cycle',
      kind: 'stats',
    },
    {
      key: 'stats-24h',
      label: 'GET /v1/stats?window=24h',
      paths: ['/v1/stats?window=24h'],
      order: 'cycle',
      kind: 'stats',
    },
  ];
  const chosen = CONFIG.cases ? all.filter((c) => CONFIG.cases!.includes(c.key)) : all;
  if (!chosen.length) throw new Error(`BENCH_READ_CASES matched none of ${all.map((c) => c.key).join(', ')}`);
  return chosen;
}

async function participantByRank(db: Client, dir: 'ASC' | 'DESC'): Promise<{ name: string; share: number }> {
  const { rows } = await db.query<{ name: string; share: number }>(
    `SELECT p AS name, round(100.0 * count(*) / (SELECT count(*) FROM txc_transactions), 1)::float8 AS share
       FROM txc_transactions, unnest(participants) p GROUP BY 1 ORDER BY count(*) ${dir} LIMIT 1`,
  );
  return rows[0];
}

async function sample(db: Client, sql: string): Promise<string[]> {
  const { rows } = await db.query<{ v: string }>(sql);
  return rows.map((r) => r.v);
}

/** A one-day `from`/`to` range ten days back. */
async function oneDay(db: Client): Promise<{ from: string; to: string }> {
  const { rows } = await db.query<{ from: Date; to: Date }>(
    `SELECT date_trunc('day', now() - interval '10 days') AS from, date_trunc('day', now() - interval '9 days') AS to`,
  );
  return { from: rows[0].from.toISOString(), to: rows[0].to.toISOString() };
}

/** The nextCursor after `pages` pages of the unfiltered list, followed through the API. */
async function followCursor(api: string, pages: number): Promise<string> {
  let cursor: string | null = null;
  for (let i = 0; i < pages; i++) {
    const body = await getJson(api, `/v1/transactions?limit=50${cursor ? `&cursor=${cursor}` : ''}`);
    cursor = body.nextCursor;
    if (!cursor) throw new Error(`the list ended after ${i + 1} pages`);
  }
  return cursor!;
}

/** A cursor (the API's own encoding: base64url of [createdAt, id]) at the row 15 days back. */
async function middleCursor(db: Client): Promise<string> {
  const { rows } = await db.query<{ created_at: Date; id: string }>(
    `SELECT created_at, id FROM txc_transactions WHERE created_at <= now() - interval '15 days'
      ORDER BY created_at DESC, id DESC LIMIT 1`,
  );
  return Buffer.from(JSON.stringify([rows[0].created_at.toISOString(), rows[0].id])).toString('base64url');
}

async function getJson(api: string, path: string, body?: unknown): Promise<any> {
  const res = await request(`${api}${path}`, {
    ...(body === undefined
      ? {}
      : { method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${path} answered ${res.statusCode}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** One GET of each path shape before measuring: the read works and returns what it should. */
async function smoke(api: string, c: ReadCase): Promise<number> {
  const t0 = performance.now();
  const body = await getJson(api, c.paths[0], c.body);
  try {
    c.check?.(body);
  } catch (e) {
    throw new Error(`${c.key} (${c.paths[0]}): ${e instanceof Error ? e.message : e}`);
  }
  const what = Array.isArray(body.items) ? `${body.items.length} items` : 'ok';
  const ms = performance.now() - t0;
  log(`smoke ${c.key}: ${what} in ${ms.toFixed(1)} ms (cold)`);
  return ms;
}

/** BENCH_RUNS rounds over every case (round-robin, so slow drift spreads over all of them). */
async function measureAll(api: string, cases: ReadCase[]): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  for (let run = 1; run <= CONFIG.runs; run++) {
    for (const c of cases) {
      for (let attempt = 0; ; attempt++) {
        const record = await measure(api, c, run);
        records.push(record);
        if (!record.disturbed) break;
        if (attempt >= REPEATS_PER_SLOT) {
          log(`  still disturbed after ${REPEATS_PER_SLOT} repeats; keeping it (flagged)`);
          record.disturbed = false;
          (record as RunRecord & { disturbedButKept?: boolean }).disturbedButKept = true;
          break;
        }
        log(`  others used ${record.otherCores.toFixed(2)} cores during that run; repeating it`);
      }
    }
  }
  return records;
}

/** One closed-loop run of one case, with the CPU other people's processes used meanwhile. */
async function measure(api: string, c: ReadCase, run: number): Promise<RunRecord> {
  await waitForQuiet();
  const cfgPath = resolve(OUT, `read-load-${process.pid}.json`);
  const cfg: ReadLoadConfig = {
    origin: api,
    paths: c.paths,
    order: c.order,
    body: c.body,
    concurrency: CONFIG.concurrency,
    warmupSeconds: CONFIG.warmupSeconds,
    seconds: CONFIG.seconds,
  };
  writeFileSync(cfgPath, JSON.stringify(cfg));
  const all0 = allProcessCpu();
  const t0 = performance.now();
  let driverPid = 0;
  const out = await runNode(
    'read-load',
    [resolve(__dirname, 'read-load.js'), cfgPath],
    {},
    PER_RUN_BUDGET_S * 1000,
    (pid) => {
      driverPid = pid;
    },
  );
  const wall = (performance.now() - t0) / 1000;
  const all1 = allProcessCpu();
  const mine = await ourPids(driverPid);
  let others = 0;
  for (const [pid, cpu] of all1) if (!mine.has(pid)) others += cpu - (all0.get(pid) ?? 0);
  const result = JSON.parse(out.trim().split('\n').pop()!) as ReadLoadResult;
  for (const k of ['p50', 'p90', 'p99', 'max', 'mean', 'meanBytes'] as const) result[k] ??= NaN;
  const otherCores = others / wall;
  log(
    `${c.key.padEnd(16)} run ${run}: ${fx(result.rps, 0)} req/s, p50 ${fx(result.p50, 1)} ms, p99 ${fx(result.p99, 1)} ms, ` +
      `errors ${result.errors}${result.errorSamples.length ? ` (${result.errorSamples[0]})` : ''}, others ${otherCores.toFixed(2)} cores`,
  );
  return { key: c.key, run, result, otherCores, disturbed: otherCores > OTHERS_MAX };
}

/** This process, the driver, the coordinator, the bench database's backends and Postgres's own processes. */
async function ourPids(driverPid: number): Promise<Set<number>> {
  const admin = new Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 OR (datname IS NULL AND backend_type <> 'client backend')`,
      [DB_NAME],
    );
    return new Set([process.pid, driverPid, coordinator?.proc.pid ?? 0, ...rows.map((r) => r.pid)]);
  } finally {
    await admin.end();
  }
}

/** Waits (at most QUIET_TRIES s) while the machine is over 25% busy with the coordinator idle. */
async function waitForQuiet(): Promise<void> {
  for (let i = 0; i < QUIET_TRIES; i++) {
    const a = machineCpu();
    const pa = allProcessCpu();
    await sleep(1_000);
    const b = machineCpu();
    const busy = (b.busy - a.busy) / Math.max(1e-9, b.total - a.total);
    if (busy <= 0.25) return;
    if (i === 0) {
      log(`machine ${(busy * 100).toFixed(0)}% busy before the run; waiting up to ${QUIET_TRIES} s. Busiest:`);
      // one line each: a command line can hold a script (node -e) with newlines
      for (const line of topCpuBetween(pa, allProcessCpu(), 1)) log(`  ${line.replace(/\s+/g, ' ')}`);
    }
  }
  log('WARNING: still busy; measuring anyway');
}

interface SummaryRow {
  key: string;
  label: string;
  p50: number;
  p99: number;
  rps: number;
  errors: number;
  meanBytes: number;
  /** Median over runs of the slowest answer (a cached read's refresh shows here, not in p99). */
  max: number;
  /** The first call, alone, before any run. */
  firstCallMs: number;
  p99Runs: number[];
  disturbedKept: number;
  overTarget: boolean;
}

function summarise(cases: ReadCase[], records: RunRecord[], firstCallMs: Record<string, number>): SummaryRow[] {
  return cases.map((c) => {
    const kept = records.filter((r) => r.key === c.key && !r.disturbed);
    const rs = kept.map((r) => r.result);
    const p99 = median(rs.map((r) => r.p99));
    return {
      key: c.key,
      label: c.label,
      p50: median(rs.map((r) => r.p50)),
      p99,
      rps: median(rs.map((r) => r.rps)),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      meanBytes: median(rs.map((r) => r.meanBytes)),
      max: median(rs.map((r) => r.max)),
      firstCallMs: firstCallMs[c.key] ?? NaN,
      p99Runs: rs.map((r) => round(r.p99, 1)),
      disturbedKept: kept.filter((r) => (r as { disturbedButKept?: boolean }).disturbedButKept).length,
      overTarget: !(p99 <= CONFIG.targetP99Ms),
    };
  });
}

function markdownTable(rows: SummaryRow[], records: RunRecord[]): string {
  const repeated = records.filter((r) => r.disturbed).length;
  const lines = [
    `${CONFIG.transactions.toLocaleString('en')} transactions; concurrency ${CONFIG.concurrency}; median of ${CONFIG.runs} run(s) of ` +
      `${CONFIG.seconds} s after ${CONFIG.warmupSeconds} s warm-up` +
      (repeated ? `; ${repeated} run(s) disturbed by other processes were repeated and left out.` : '.'),
    '',
    `| read | p50 ms | p99 ms | max ms | req/s | errors | body KiB | first call ms | p99 per run | p99 ≤ ${CONFIG.targetP99Ms} ms |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.label}${r.disturbedKept ? ` (${r.disturbedKept} disturbed run(s) kept)` : ''} | ${fx(r.p50, 1)} | ${fx(r.p99, 1)} | ${fx(r.max, 0)} | ` +
        `${fx(r.rps, 0)} | ${r.errors} | ${fx(r.meanBytes / 1024, 1)} | ${fx(r.firstCallMs, 1)} | ${r.p99Runs.map((x) => fx(x, 1)).join(', ')} | ` +
        `${r.overTarget ? '**no**' : 'yes'} |`,
    );
  }
  return lines.join('\n');
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of the statements behind each read over the target (or all of them):
 * the store's own code runs against a pool that executes every statement for real and records its
 * plan beside it, so the plans are those of the SQL the coordinator sends.
 */
async function explainSlow(cases: ReadCase[], summary: SummaryRow[]): Promise<string> {
  if (CONFIG.explain === '0') return '';
  const slow = cases.filter((c) => CONFIG.explain === '1' || summary.find((s) => s.key === c.key)?.overTarget);
  if (!slow.length) return '';
  const pool = new Pool({ connectionString: DB_URL, max: 2 });
  pool.on('error', (e) => cleaning || log(`explain connection: ${e.message}`));
  const out: string[] = [];
  const recording = {
    query: async (sql: string, params?: unknown[]) => {
      const plan = await pool.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
      out.push(
        `-- ${sql.replace(/\s+/g, ' ').trim().slice(0, 300)}\n${plan.rows.map((r) => r['QUERY PLAN']).join('\n')}\n`,
      );
      return pool.query(sql, params);
    },
  } as unknown as Pool;
  try {
    const store = new PgTransactionStore(recording);
    for (const c of slow) {
      out.push(`\n===== ${c.key}: ${c.label}\n`);
      const path = c.paths[0];
      if (c.kind === 'list') await store.list(filterOf(path));
      else if (c.kind === 'get') {
        const id = decodeURIComponent(path.split('/').pop()!);
        await store.load(id);
        await store.events(id);
      } else if (c.kind === 'participants') await store.countsByParticipant();
      else if (c.kind === 'dry-run') {
        const { participant } = c.body as { participant: string };
        await store.failedIds({ participant }, 1001);
      } else {
        const window = new URL(path, 'http://x').searchParams.get('window')!;
        const { from, bucketSeconds } = statsWindow(window);
        await readStats(recording, from, bucketSeconds);
      }
    }
  } finally {
    await pool.end();
  }
  return out.join('\n');
}

/** The store filter the API builds from a list query (TransactionsService.list: one more row than the page). */
function filterOf(path: string): ListFilter {
  const q = new URL(path, 'http://x').searchParams;
  const cursor = q.get('cursor');
  const after = cursor ? (JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string]) : null;
  const date = (k: string) => (q.get(k) ? new Date(q.get(k)!) : undefined);
  return {
    statuses: q.get('status')?.split(',').filter(Boolean),
    protocol: q.get('protocol') ?? undefined,
    participant: q.get('participant') ?? undefined,
    attention: (q.get('attention') ?? undefined) as ListFilter['attention'],
    from: date('from'),
    to: date('to'),
    q: q.get('q') ?? undefined,
    limit: Number(q.get('limit') ?? 50) + 1,
    after: after ? { createdAt: new Date(after[0]), id: after[1] } : undefined,
  };
}

/** StatsService's window: whole buckets, the last one holding now. */
function statsWindow(window: string): { from: Date; bucketSeconds: number } {
  const w = { '15m': [15 * 60, 60], '1h': [3600, 60], '6h': [6 * 3600, 300], '24h': [24 * 3600, 900] }[window];
  if (!w) throw new Error(`unknown window ${window}`);
  const bucketMs = w[1] * 1000;
  const from = new Date(Math.floor((Date.now() - w[0] * 1000) / bucketMs) * bucketMs + bucketMs);
  return { from, bucketSeconds: w[1] };
}

async function postgresFacts(db: Client) {
  const get = async (sql: string) => String(Object.values((await db.query(sql)).rows[0])[0]);
  return {
    version: await get('SELECT version()'),
    shared_buffers: await get('SHOW shared_buffers'),
    work_mem: await get('SHOW work_mem'),
    effective_cache_size: await get('SHOW effective_cache_size'),
    random_page_cost: await get('SHOW random_page_cost'),
    jit: await get('SHOW jit'),
    collation: await get(`SELECT datcollate FROM pg_database WHERE datname = current_database()`),
  };
}

function loopback(raw: string): string {
  const u = new URL(raw);
  if (['0.0.0.0', '::', '[::]', 'localhost'].includes(u.hostname)) u.hostname = '127.0.0.1';
  return assertLoopback(u.origin);
}

async function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await coordinator?.stop().catch(() => undefined);
    killAllChildrenSync();
    if (databaseCreated) {
      if (CONFIG.keepDatabase) log(`kept database (BENCH_KEEP_DBS=1): ${DB_NAME}`);
      else
        await adminQuery(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`).catch((e) =>
          log(`could not drop ${DB_NAME}: ${e}`),
        );
    }
    await dropRedisKeys(CONFIG.redisUrl, redisPrefix).catch((e) => log(`could not clean Redis keys: ${e}`));
  })();
  return cleaning;
}

function fx(x: number | null | undefined, digits: number): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function log(line: string): void {
  process.stderr.write(`[bench:read] ${line}\n`);
}

process.on('exit', killAllChildrenSync);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping the coordinator and dropping ${DB_NAME}`);
    void cleanup().finally(() => process.exit(130));
  });
}

void main().catch(async (e) => {
  log(`failed: ${e instanceof Error ? e.stack : String(e)}`);
  await cleanup();
  process.exit(1);
});
