/**
 * `npm run bench:retention`: retention on a 1,000,000-transaction log. Seeds BENCH_RETENTION_TXNS
 * transactions over 30 days with SQL (bench/read-seed.ts, the read-path bench's seed) and as many
 * participant barrier rows, runs the coordinator on the same database with a participant that
 * answers at once (bench/stand-in-participant.ts), and for each of BENCH_RUNS runs measures:
 *
 * - `quiet`: sagas alone (closed loop, BENCH_CONCURRENCY, BENCH_SECONDS) - the reference p99;
 * - `log`: the same load while `purgeFinishedBatch` (what RETENTION_DAYS runs) deletes finished
 *   transactions past a 1-day horizon, batch after batch, for the whole window: deleted rows/s and
 *   the sagas' p99;
 * - `barrier`: the same load while `Barrier.deleteOlderThan` (the participant SDK's cleanup)
 *   deletes barrier rows past the horizon from a barrier table in the same database.
 *
 * The purges run in this process; the saga load in its own (bench/load.ts). Medians over the runs.
 * Loopback only, every loop bounded in time and count, the database dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { Client, Pool } from 'pg';
import { TEST_PG_ADMIN_URL, TEST_REDIS_URL } from '../libs/testing/src/fresh-database';
import { purgeFinishedBatch } from '../libs/store/src/retention.pg';
import { Barrier } from '../libs/participant/src/barrier';
import { assertLoopback, killAllChildrenSync, median, runNode, spawnNode, type Child } from './lib';
import type { LoadConfig, LoadResult } from './load';
import { seedReadLog } from './read-seed';
import { adminQuery } from './stack';

const ROOT = resolve(__dirname, '../..');
const OUT = resolve(ROOT, 'bench/out');
const env = process.env;
const num = (name: string, def: number, min: number, max: number): number => {
  const v = env[name] === undefined || env[name] === '' ? def : Number(env[name]);
  if (!Number.isFinite(v) || v < min || v > max) throw new Error(`${name} must be a number from ${min} to ${max}`);
  return v;
};
const CONFIG = {
  transactions: num('BENCH_RETENTION_TXNS', 1_000_000, 1_000, 5_000_000),
  barrierRows: num('BENCH_BARRIER_ROWS', 1_000_000, 1_000, 5_000_000),
  chunk: 100_000,
  days: 30,
  horizonDays: 1,
  batch: num('BENCH_RETENTION_BATCH', 500, 1, 10_000),
  runs: num('BENCH_RUNS', 3, 1, 10),
  seconds: num('BENCH_SECONDS', 15, 2, 300),
  warmupSeconds: 2,
  concurrency: num('BENCH_CONCURRENCY', 8, 1, 256),
  redisUrl: env.BENCH_REDIS_URL ?? TEST_REDIS_URL,
};
assertLoopback(CONFIG.redisUrl);
assertLoopback(TEST_PG_ADMIN_URL);

const DB_NAME = `txc_bench_retention_${process.pid}`;
const DB_URL = (() => {
  const u = new URL(TEST_PG_ADMIN_URL);
  u.pathname = `/${DB_NAME}`;
  return u.toString();
})();
const BARRIER = new Barrier('bench_barrier');
const TOTAL_BUDGET_MS = (1_800 + CONFIG.runs * 3 * (CONFIG.seconds + 60)) * 1000;
const redisPrefix = `txc-bench-ret-${randomBytes(4).toString('hex')}`;
let children: Child[] = [];
let databaseCreated = false;
let cleaning: Promise<void> | null = null;

interface Window {
  run: number;
  kind: 'quiet' | 'log' | 'barrier';
  load: LoadResult;
  /** What the purge deleted during the window: transactions (and all their rows), or barrier rows. */
  deleted?: { main: number; allRows: number; seconds: number; batches: number; maxBatchMs: number };
}

async function main(): Promise<void> {
  const hardStop = setTimeout(() => void cleanup().finally(() => process.exit(1)), TOTAL_BUDGET_MS);
  hardStop.unref();
  mkdirSync(OUT, { recursive: true });
  await adminQuery(`CREATE DATABASE ${DB_NAME}`);
  databaseCreated = true;
  const participant = await spawnNode(
    'participant',
    [resolve(__dirname, 'stand-in-participant.js')],
    {},
    /demo ready: accounts (http:\/\/[^\s]+)/,
  );
  const coordinator = await spawnNode(
    'coordinator',
    [resolve(ROOT, 'dist/apps/coordinator/src/main.js')],
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
  children = [participant, coordinator];
  const api = assertLoopback(coordinator.ready[1].replace('0.0.0.0', '127.0.0.1'));
  const registered = await fetch(`${api}/v1/participants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench-stand-in', url: participant.ready[1] }),
  });
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${await registered.text()}`);

  const db = new Client({ connectionString: DB_URL });
  db.on('error', (e) => cleaning || log(`database connection: ${e.message}`));
  await db.connect();
  const pool = new Pool({ connectionString: DB_URL, max: 2 });
  pool.on('error', () => undefined);
  try {
    log(`seeding ${CONFIG.transactions.toLocaleString('en')} transactions over ${CONFIG.days} days...`);
    const t0 = performance.now();
    await seedReadLog(db, {
      total: CONFIG.transactions,
      chunk: CONFIG.chunk,
      days: CONFIG.days,
      onProgress: (done, total) => log(`  ${done} / ${total} (${((performance.now() - t0) / 1000).toFixed(0)} s)`),
    });
    await BARRIER.install(db);
    await db.query(Barrier.retentionDdl(BARRIER.table));
    await db.query(
      `INSERT INTO ${BARRIER.table} (transaction_id, branch_id, op, reason, created_at)
       SELECT md5(g::text), 'b' || (g % 3), 'action', 'action', now() - (g::float8 / $1) * interval '${CONFIG.days} days'
         FROM generate_series(1, $1) g`,
      [CONFIG.barrierRows],
    );
    await db.query(`SET maintenance_work_mem = '256MB'`);
    await db.query(
      `VACUUM (ANALYZE) txc_transactions, txc_branches, txc_events, txc_idempotency_keys, ${BARRIER.table}`,
    );
    const before = await counts(db);
    log(`seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s: ${JSON.stringify(before)}`);

    const horizon = new Date(Date.now() - CONFIG.horizonDays * 24 * 3600 * 1000);
    const load: LoadConfig = {
      url: `${api}/v1/transactions?wait=10000`,
      body: {
        protocol: 'saga',
        branches: [
          { id: 'debit', participant: 'bench-stand-in', payload: { account: 'A', amount: 1 } },
          { id: 'credit', participant: 'bench-stand-in', payload: { account: 'B', amount: 1 } },
        ],
      },
      concurrency: CONFIG.concurrency,
      warmupSeconds: CONFIG.warmupSeconds,
      seconds: CONFIG.seconds,
      expectStatus: 'committed',
      maxRequests: 2_000_000,
    };
    const windows: Window[] = [];
    for (let run = 1; run <= CONFIG.runs; run++) {
      windows.push({ run, kind: 'quiet', load: await runLoad(load) });
      windows.push(await withPurge(run, 'log', load, () => purgeLog(pool, horizon)));
      windows.push(await withPurge(run, 'barrier', load, () => purgeBarrier(pool, horizon)));
      log(`run ${run}: ${windows.slice(-3).map(describeWindow).join(' | ')}`);
    }
    const after = await counts(db);
    const report = {
      date: new Date().toISOString(),
      command: 'npm run bench:retention',
      config: CONFIG,
      machine: machine(),
      before,
      after,
      windows,
    };
    writeFileSync(resolve(OUT, 'retention-latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\n${table(windows)}\n\nraw numbers: ${resolve(OUT, 'retention-latest.json')}\n`);
  } finally {
    await pool.end().catch(() => undefined);
    await db.end().catch(() => undefined);
  }
  await cleanup();
  clearTimeout(hardStop);
}

/** One delete batch: how many main rows (transactions or barrier rows) and rows in all it removed. */
type Purge = () => Promise<{ main: number; allRows: number }>;

async function purgeLog(pool: Pool, horizon: Date) {
  const r = await purgeFinishedBatch(pool, horizon, CONFIG.batch);
  return { main: r.transactions, allRows: r.transactions + r.branches + r.events + r.idempotencyKeys };
}

async function purgeBarrier(pool: Pool, horizon: Date) {
  const n = await BARRIER.deleteOlderThan(pool, horizon, { batchSize: CONFIG.batch, maxBatches: 1 });
  return { main: n, allRows: n };
}

/** The saga load, with `purge` called batch after batch from the end of the warm-up to the window's end. */
async function withPurge(run: number, kind: 'log' | 'barrier', load: LoadConfig, purge: Purge): Promise<Window> {
  const loading = runLoad(load);
  await new Promise((r) => setTimeout(r, CONFIG.warmupSeconds * 1000));
  const start = performance.now();
  const end = start + CONFIG.seconds * 1000;
  const deleted = { main: 0, allRows: 0, seconds: 0, batches: 0, maxBatchMs: 0 };
  for (let i = 0; i < 1_000_000 && performance.now() < end; i++) {
    const t = performance.now();
    const r = await purge();
    deleted.maxBatchMs = Math.max(deleted.maxBatchMs, performance.now() - t);
    deleted.batches++;
    deleted.main += r.main;
    deleted.allRows += r.allRows;
    if (r.main === 0) break; // nothing left past the horizon
  }
  deleted.seconds = (performance.now() - start) / 1000;
  return { run, kind, load: await loading, deleted };
}

async function runLoad(config: LoadConfig): Promise<LoadResult> {
  const budget = (config.warmupSeconds + config.seconds + 60) * 1000;
  const out = await runNode('load', [resolve(__dirname, 'load.js'), JSON.stringify(config)], {}, budget);
  return JSON.parse(out.trim().split('\n').pop()!) as LoadResult;
}

async function counts(db: Client) {
  const one = async (sql: string) => (await db.query<{ n: number }>(sql)).rows[0].n;
  return {
    transactions: await one(`SELECT count(*)::int AS n FROM txc_transactions`),
    finishedPastHorizon: await one(
      `SELECT count(*)::int AS n FROM txc_transactions WHERE status IN ('committed', 'aborted') AND updated_at < now() - interval '${CONFIG.horizonDays} days'`,
    ),
    branches: await one(`SELECT count(*)::int AS n FROM txc_branches`),
    events: await one(`SELECT count(*)::int AS n FROM txc_events`),
    idempotencyKeys: await one(`SELECT count(*)::int AS n FROM txc_idempotency_keys`),
    barrierRows: await one(`SELECT count(*)::int AS n FROM ${BARRIER.table}`),
  };
}

function describeWindow(w: Window): string {
  const d = w.deleted
    ? `, ${Math.round(w.deleted.main / w.deleted.seconds)} ${w.kind === 'log' ? 'txns' : 'rows'}/s`
    : '';
  return `${w.kind}: ${w.load.rps.toFixed(0)} sagas/s p99 ${w.load.p99.toFixed(1)} ms${d}`;
}

function table(windows: Window[]): string {
  const of = (kind: Window['kind']) => windows.filter((w) => w.kind === kind);
  const row = (kind: Window['kind'], label: string) => {
    const ws = of(kind);
    const rate = ws[0]?.deleted ? median(ws.map((w) => w.deleted!.main / w.deleted!.seconds)).toFixed(0) : '-';
    const all = ws[0]?.deleted ? median(ws.map((w) => w.deleted!.allRows / w.deleted!.seconds)).toFixed(0) : '-';
    const maxBatch = ws[0]?.deleted ? Math.max(...ws.map((w) => w.deleted!.maxBatchMs)).toFixed(0) : '-';
    return `| ${label} | ${rate} | ${all} | ${maxBatch} | ${median(ws.map((w) => w.load.rps)).toFixed(0)} | ${median(ws.map((w) => w.load.p50)).toFixed(1)} | ${median(ws.map((w) => w.load.p99)).toFixed(1)} | ${ws.reduce((a, w) => a + w.load.errors, 0)} |`;
  };
  return [
    `| window (median of ${CONFIG.runs}) | deleted/s (transactions or barrier rows) | rows deleted/s (all tables) | slowest batch ms | sagas/s | saga p50 ms | saga p99 ms | saga errors |`,
    '| --- | --: | --: | --: | --: | --: | --: | --: |',
    row('quiet', 'sagas alone'),
    row('log', `sagas + log retention (batch ${CONFIG.batch})`),
    row('barrier', `sagas + barrier cleanup (batch ${CONFIG.batch})`),
  ].join('\n');
}

function machine() {
  return {
    cpuModel: cpus()[0]?.model,
    nproc: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

async function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of children) await c.stop().catch(() => undefined);
    killAllChildrenSync();
    if (databaseCreated)
      await adminQuery(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`).catch((e) =>
        log(`could not drop ${DB_NAME}: ${e}`),
      );
  })();
  return cleaning;
}

function log(line: string): void {
  process.stderr.write(`[bench:retention] ${line}\n`);
}

process.on('exit', killAllChildrenSync);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => void cleanup().finally(() => process.exit(130)));
}
void main().catch(async (e) => {
  log(`failed: ${e instanceof Error ? e.stack : String(e)}`);
  await cleanup();
  process.exit(1);
});
