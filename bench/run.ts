/**
 * `npm run bench`: a 2-branch saga through the full coordinator vs the baseline (bench/baseline.ts),
 * closed loop at each concurrency, alternating targets run by run, median of BENCH_RUNS runs each.
 * Prints a markdown table and writes the raw numbers to bench/out/latest.json. See bench/README.md.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { request } from 'undici';
import { TEST_PG_ADMIN_URL, freshDatabase, type FreshDatabase } from '../libs/testing/src/fresh-database';
import { assertLoopback, freePort, killAllChildrenSync, sagaBody, sleep, spawnNode, type Child } from './lib';
import {
  CONFIG,
  MAX_RETRIES,
  OUT,
  ROOT,
  TOTAL_BUDGET_MS,
  log,
  protocolOf,
  type RunRecord,
  type Target,
} from './run-config';
import { machineFacts } from './run-machine';
import { measureRun, type RunSetting } from './run-measure';
import { dbStats, functionStats, postgresAccounting, postgresFacts, tableStats } from './run-postgres';
import {
  accountingTable,
  cpuPerSaga,
  markdownTable,
  perSagaTable,
  summarise,
  syscallsPerSaga,
  verdicts,
} from './run-report';
import { adminQuery, dropRedisKeys } from './stack';

const DIST = resolve(ROOT, 'dist');
const COORDINATOR_MAIN = resolve(DIST, 'apps/coordinator/src/main.js');
const DEMO_MAIN = resolve(DIST, 'apps/demo/src/main.js');

const databases: FreshDatabase[] = [];
const started: Child[] = [];
let cleaning: Promise<void> | null = null;
let redisPrefix = '';
let beforeRedisPrefix = '';

async function main(): Promise<void> {
  const hardStop = setTimeout(() => {
    process.stderr.write(`bench: total time budget (${TOTAL_BUDGET_MS / 1000} s) exceeded; stopping\n`);
    void cleanup().finally(() => process.exit(1));
  }, TOTAL_BUDGET_MS);
  hardStop.unref();
  mkdirSync(OUT, { recursive: true });

  const before = machineFacts();
  log(
    `machine: ${before.cpuModel}, ${before.nproc} cores, ${before.memGiB} GiB, node ${before.node}, load ${before.loadavg.join(' ')}`,
  );
  if (before.loadavg[0] > 0.5) {
    log(`WARNING: load average ${before.loadavg[0]} before starting; other work may skew the figures`);
    log(before.topProcesses);
  }

  // --- databases ---------------------------------------------------------------------------------
  const coordDb = await freshDatabase('bench_coord');
  databases.push(coordDb);
  const demoDb = await freshDatabase('bench_demo');
  databases.push(demoDb);
  const baseDb = await freshDatabase('bench_base');
  databases.push(baseDb);
  // counts txc_apply calls (= group-commit flushes) in pg_stat_user_functions; costs one clock read per call
  await adminQuery(`ALTER DATABASE ${coordDb.name} SET track_functions = 'pl'`);
  const pgFacts = await postgresFacts();
  log(`postgres: ${pgFacts.version}`);

  // --- participant (demo accounts service, or the stand-in) --------------------------------------
  const useDemo = CONFIG.participant === 'demo' || (CONFIG.participant === 'auto' && existsSync(DEMO_MAIN));
  if (CONFIG.participant === 'demo' && !existsSync(DEMO_MAIN))
    throw new Error(`${DEMO_MAIN} does not exist; run npm run build`);
  if (!useDemo)
    log('WARNING: the demo participants are not built; using bench/stand-in-participant (answers 200, no database)');
  const demo = await spawnNode(
    useDemo ? 'demo' : 'stand-in',
    [useDemo ? DEMO_MAIN : resolve(__dirname, 'stand-in-participant.js')],
    {
      DEMO_DATABASE_URL: demoDb.url,
      ACCOUNTS_PORT: '0',
      INVENTORY_PORT: '0',
      DEMO_SEED: '1',
      LOG_LEVEL: 'warn',
      // the shipping service is not measured here (and its default name would share subjects with other runs)
      DEMO_NATS_URL: 'off',
    },
    /demo ready: accounts (https?:\/\/[^\s,]+)/,
  );
  started.push(demo);
  const accountsUrl = loopback(demo.ready[1]);
  log(`participant: ${useDemo ? 'demo accounts service' : 'stand-in'} at ${accountsUrl}`);
  for (const account of ['A', 'B', 'C']) {
    const res = await request(`${accountsUrl}/accounts/${account}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ balance: 1_000_000_000 }),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`PUT /accounts/${account} answered ${res.statusCode}: ${text}`);
  }

  // --- coordinator -------------------------------------------------------------------------------
  redisPrefix = `txc-bench-${randomBytes(4).toString('hex')}`;
  const profileDir = resolve(OUT, 'profile');
  // ready = the "coordinator ready" line, or /health/ready answering 200 (older builds hid the line at LOG_LEVEL=warn)
  const startCoordinator = async (name: string, main: string, db: FreshDatabase, prefix: string) => {
    const port = await freePort();
    const probe = async (): Promise<RegExpExecArray | null> => {
      const base = `http://127.0.0.1:${port}`;
      const res = await request(`${base}/health/ready`, { headersTimeout: 2_000, bodyTimeout: 2_000 });
      await res.body.text();
      return res.statusCode === 200
        ? (Object.assign([base, base], { index: 0, input: base }) as RegExpExecArray)
        : null;
    };
    const child = await spawnNode(
      name,
      [...(CONFIG.profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), main],
      {
        DATABASE_URL: db.url,
        REDIS_URL: CONFIG.redisUrl,
        REDIS_PREFIX: prefix,
        PORT: String(port),
        LOG_LEVEL: 'warn',
        DB_POOL_SIZE: String(CONFIG.dbPoolSize),
        CI: '1',
      },
      /coordinator ready: API (http:\/\/[^/\s]+)\/v1/,
      60_000,
      probe,
    );
    started.push(child);
    const url = loopback(child.ready[1]);
    log(`${name} at ${url} (pool ${CONFIG.dbPoolSize}, Redis prefix ${prefix})`);
    const reg = await request(`${url}/v1/participants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'accounts', url: accountsUrl }),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const regText = await reg.body.text();
    if (reg.statusCode >= 300) throw new Error(`registering the participant answered ${reg.statusCode}: ${regText}`);
    return { child, url };
  };
  const { child: coordinator, url: coordinatorUrl } = await startCoordinator(
    'coordinator',
    COORDINATOR_MAIN,
    coordDb,
    redisPrefix,
  );
  // the coordinator of another checkout, on its own log database, for a before/after in the same run
  let earlier: { child: Child; url: string; db: FreshDatabase } | null = null;
  if (CONFIG.before) {
    const db = await freshDatabase('bench_before');
    databases.push(db);
    beforeRedisPrefix = `txc-bench-${randomBytes(4).toString('hex')}`;
    earlier = { ...(await startCoordinator('before', CONFIG.before, db, beforeRedisPrefix)), db };
  }

  // --- baseline ----------------------------------------------------------------------------------
  const baseline = await spawnNode(
    'baseline',
    [resolve(__dirname, 'baseline.js')],
    {
      DATABASE_URL: baseDb.url,
      PARTICIPANTS: JSON.stringify({ accounts: accountsUrl }),
      PORT: '0',
      DB_POOL_SIZE: String(CONFIG.dbPoolSize),
    },
    /baseline ready: (http:\/\/\S+)/,
  );
  started.push(baseline);
  const baselineUrl = loopback(baseline.ready[1]);
  log(`baseline at ${baselineUrl}`);

  const coordinatorEndpoint = `${coordinatorUrl}/v1/transactions?wait=10000`;
  const endpoints: Record<Target, string> = {
    coordinator: coordinatorEndpoint,
    'saga-keyed': coordinatorEndpoint,
    'saga-no10': coordinatorEndpoint,
    before: earlier ? `${earlier.url}/v1/transactions?wait=10000` : '',
    tcc: coordinatorEndpoint,
    '2pc': coordinatorEndpoint,
    '3pc': coordinatorEndpoint,
    baseline: `${baselineUrl}/saga`,
    'baseline-4': `${baselineUrl}/tcc`,
    'baseline-6': `${baselineUrl}/3pc`,
  };
  const coordinatorPid = coordinator.proc.pid!;
  const serverPid: Record<Target, number> = {
    coordinator: coordinatorPid,
    'saga-keyed': coordinatorPid,
    'saga-no10': coordinatorPid,
    before: earlier?.child.proc.pid ?? 0,
    tcc: coordinatorPid,
    '2pc': coordinatorPid,
    '3pc': coordinatorPid,
    baseline: baseline.proc.pid!,
    'baseline-4': baseline.proc.pid!,
    'baseline-6': baseline.proc.pid!,
  };
  const dbOf: Record<Target, string> = {
    coordinator: coordDb.name,
    'saga-keyed': coordDb.name,
    'saga-no10': coordDb.name,
    before: earlier?.db.name ?? '',
    tcc: coordDb.name,
    '2pc': coordDb.name,
    '3pc': coordDb.name,
    baseline: baseDb.name,
    'baseline-4': baseDb.name,
    'baseline-6': baseDb.name,
  };

  // one saga through each target before measuring: the whole path works
  for (const t of CONFIG.targets) {
    const res = await request(endpoints[t], {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(t === 'saga-keyed' ? { 'idempotency-key': `smoke-${randomUUID()}` } : {}),
      },
      body: JSON.stringify(sagaBody('accounts', protocolOf(t))),
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200 || JSON.parse(text).status !== 'committed') {
      throw new Error(`smoke saga through ${t} answered ${res.statusCode}: ${text.slice(0, 500)}`);
    }
  }

  // --- measured runs -----------------------------------------------------------------------------
  const admin = new Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  const dbNames = [coordDb.name, demoDb.name, baseDb.name];
  const statsBefore = await dbStats(admin, dbNames);
  const fnBefore = await functionStats(coordDb.url);
  const tablesBefore = await tableStats(coordDb.url);
  const records: RunRecord[] = [];
  const sagasSent: Record<Target, number> = {
    coordinator: 0,
    'saga-keyed': 0,
    'saga-no10': 0,
    before: 0,
    tcc: 0,
    '2pc': 0,
    '3pc': 0,
    baseline: 0,
    'baseline-4': 0,
    'baseline-6': 0,
  };
  let retries = 0;

  const around: RunSetting = {
    admin,
    endpoints,
    serverPid,
    dbOf,
    participant: { pid: demo.proc.pid!, db: demoDb.name },
    // every database whose backends are ours: the rest of the machine's CPU is someone else's
    ourDatabases: [coordDb.name, demoDb.name, baseDb.name, ...(earlier ? [earlier.db.name] : [])],
  };
  const measure = (target: Target, concurrency: number, run: number) => measureRun(around, target, concurrency, run);

  try {
    for (const concurrency of CONFIG.concurrencies) {
      for (let run = 1; run <= CONFIG.runs; run++) {
        // ABBA order so slow drift (table growth, autovacuum) does not favour one target
        const order = run % 2 === 1 ? CONFIG.targets : [...CONFIG.targets].reverse();
        for (const target of order) {
          // a run during which other people's processes used more than OTHERS_MAX cores is repeated (bounded)
          for (;;) {
            const record = await measure(target, concurrency, run);
            records.push(record);
            sagasSent[target] += record.result.totalCompleted;
            if (!record.contaminated) break;
            if (retries >= MAX_RETRIES) {
              log(`WARNING: out of retries; keeping a run disturbed by other processes (flagged in latest.json)`);
              record.contaminated = false;
              record.disturbedButKept = true;
              break;
            }
            retries++;
            log(`others used ${record.otherCores.toFixed(2)} cores during that run; repeating it`);
          }
        }
      }
    }

    // pg_stat_database counters are flushed by each backend within ~10 s of going idle
    log(`waiting ${CONFIG.statsSettleMs / 1000} s for Postgres statistics to settle...`);
    await sleep(CONFIG.statsSettleMs);
    const statsAfter = await dbStats(admin, dbNames);
    const fnAfter = await functionStats(coordDb.url);
    const tablesAfter = await tableStats(coordDb.url);
    const accounting = postgresAccounting({
      sagas: sagasSent,
      databases: { coordinator: coordDb.name, baseline: baseDb.name, participant: demoDb.name },
      before: { db: statsBefore, functions: fnBefore, tables: tablesBefore },
      after: { db: statsAfter, functions: fnAfter, tables: tablesAfter },
    });

    const summary = summarise(records);
    const table = markdownTable(summary, records.filter((r) => r.contaminated).length);
    const report = {
      date: new Date().toISOString(),
      command: 'npm run bench',
      config: { ...CONFIG, participantUsed: useDemo ? 'demo' : 'stand-in' },
      machine: { ...before, postgres: pgFacts },
      summary,
      accounting,
      cpuPerSagaMs: cpuPerSaga(records),
      syscallsPerSaga: syscallsPerSaga(records),
      runs: records,
    };
    writeFileSync(resolve(OUT, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\n${table}\n`);
    process.stdout.write(verdicts(summary));
    process.stdout.write(`\n${perSagaTable(report.cpuPerSagaMs, report.syscallsPerSaga)}\n`);
    process.stdout.write(`\n${accountingTable(accounting)}\n`);
    if (!useDemo)
      process.stdout.write('\nNOTE: measured against the stand-in participant, not the demo accounts service.\n');
    process.stdout.write(`raw numbers: ${resolve(OUT, 'latest.json')}\n`);
  } finally {
    await admin.end().catch(() => undefined);
  }
  await cleanup();
  clearTimeout(hardStop);
  if (CONFIG.profile) log(`coordinator CPU profile written to ${profileDir}`);
}

function loopback(raw: string): string {
  const u = new URL(raw);
  if (['0.0.0.0', '::', '[::]', 'localhost'].includes(u.hostname)) u.hostname = '127.0.0.1';
  return assertLoopback(u.origin);
}

async function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of started.reverse()) await c.stop().catch(() => undefined);
    killAllChildrenSync();
    if (CONFIG.keepDatabases) log(`kept databases (BENCH_KEEP_DBS=1): ${databases.map((d) => d.name).join(', ')}`);
    else for (const db of databases) await db.drop().catch((e) => log(`could not drop ${db.name}: ${e}`));
    for (const prefix of [redisPrefix, beforeRedisPrefix].filter(Boolean))
      await dropRedisKeys(CONFIG.redisUrl, prefix).catch((e) => log(`could not clean Redis keys: ${e}`));
  })();
  return cleaning;
}

process.on('exit', killAllChildrenSync);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping children and dropping databases`);
    void cleanup().finally(() => process.exit(130));
  });
}

void main().catch(async (e) => {
  log(`failed: ${e instanceof Error ? e.stack : String(e)}`);
  await cleanup();
  process.exit(1);
});
