/**
 * `npm run bench:read`: the read path with a large log. Seeds BENCH_READ_TXNS (1,000,000)
 * transactions straight into a fresh database with SQL (bench/read-seed.ts), runs the coordinator
 * on it, and measures the operator API's reads (the list and its filters, deep pages, the
 * transaction page, stats) with a closed-loop client (bench/read-load.ts), median of BENCH_RUNS
 * runs each. Prints a markdown table; raw numbers go to bench/out/read-latest.json, and the plans
 * (EXPLAIN ANALYZE) of the queries behind any read over the target to bench/out/read-plans.txt.
 * See bench/README.md.
 *
 * This file starts, orders and cleans up; the settings are in read-path-config.ts, the seeding step
 * in read-path-seed.ts, the reads in read-path-cases.ts, the runs in read-path-measure.ts, the table
 * in read-path-report.ts and the plans in read-path-explain.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { assertLoopback, killAllChildrenSync, spawnNode, type Child } from './lib';
import { adminQuery, dropRedisKeys, hostFacts } from './stack';
import { buildCases } from './read-path-cases';
import { CONFIG, DB_NAME, DB_URL, OUT, ROOT, TOTAL_BUDGET_MS, log } from './read-path-config';
import { explainSlow } from './read-path-explain';
import { measureAll, smoke } from './read-path-measure';
import { markdownTable, summarise } from './read-path-report';
import { seedLog } from './read-path-seed';

const COORDINATOR_MAIN = resolve(ROOT, 'dist/apps/coordinator/src/main.js');

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
    const records = await measureAll(api, cases, coordinator.proc.pid ?? 0);
    const summary = summarise(cases, records, firstCallMs);
    const plans = await explainSlow(cases, summary, () => cleaning !== null);
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
