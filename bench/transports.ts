/**
 * `npm run bench:transports`: the same 2-branch saga through one coordinator, its participant
 * served over HTTP and over NATS, side by side in one run (ABBA order, median of BENCH_RUNS runs).
 * Both participants are the same program (the SDK's bank example, libs/participant/test-app: a
 * Nest app with ParticipantModule, every step one local transaction with its barrier row), on the
 * same database; only `transport` differs. Prints a markdown table and writes the raw numbers to
 * bench/out/transports-latest.json. See bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { resolve } from 'node:path';
import IORedis from 'ioredis';
import { Client } from 'pg';
import { request } from 'undici';
import {
  TEST_PG_ADMIN_URL,
  TEST_REDIS_URL,
  freshDatabase,
  type FreshDatabase,
} from '../libs/testing/src/fresh-database';
import type { LoadResult } from './load';
import {
  allProcessCpu,
  assertLoopback,
  freePort,
  killAllChildrenSync,
  machineCpu,
  median,
  runNode,
  spawnNode,
  type Child,
} from './lib';

const ROOT = resolve(__dirname, '../..');
const DIST = resolve(ROOT, 'dist');
const OUT = resolve(ROOT, 'bench/out');
const COORDINATOR_MAIN = resolve(DIST, 'apps/coordinator/src/main.js');
const BANK_MAIN = resolve(DIST, 'libs/participant/test-app/main.js');

type Transport = 'http' | 'nats';
const TRANSPORTS: Transport[] = ['http', 'nats'];

const env = process.env;
const num = (name: string, def: number, min: number, max: number): number => {
  const v = env[name] === undefined || env[name] === '' ? def : Number(env[name]);
  if (!Number.isFinite(v) || v < min || v > max) throw new Error(`${name} must be a number from ${min} to ${max}`);
  return v;
};
const CONFIG = {
  runs: num('BENCH_RUNS', 3, 1, 20),
  seconds: num('BENCH_SECONDS', 10, 1, 600),
  warmupSeconds: num('BENCH_WARMUP', 3, 0, 120),
  concurrency: num('BENCH_CONCURRENCY', 16, 1, 1024),
  natsUrl: env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222',
  redisUrl: env.BENCH_REDIS_URL ?? TEST_REDIS_URL,
};
assertLoopback(CONFIG.redisUrl);
assertLoopback(CONFIG.natsUrl);
assertLoopback(TEST_PG_ADMIN_URL);
const PER_RUN_BUDGET_MS = (CONFIG.warmupSeconds + CONFIG.seconds + 40) * 1000;

interface RunRecord {
  transport: Transport;
  run: number;
  result: LoadResult;
  /** CPU seconds of the bench's own processes during the run, by group. */
  cpu: Record<string, number>;
  /**
   * Cores used on average during the run by everything else on the machine (other people's work on
   * this shared machine), not counting the shared Postgres/Redis/NATS servers' own processes.
   */
  foreignCores: number;
  /** Cores used by the shared servers (postgres background, redis-server, nats-server): partly ours, partly others'. */
  sharedServerCores: number;
  machineBusyFraction: number;
}

const databases: FreshDatabase[] = [];
const started: Child[] = [];
let redisPrefix = '';

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const machine = {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memGiB} GiB, load ${machine.loadavgAtStart}`);

  const coordDb = await freshDatabase('bench_tr_coord');
  databases.push(coordDb);
  const bankDb = await freshDatabase('bench_tr_bank');
  databases.push(bankDb);

  redisPrefix = `txc-bench-tr-${randomBytes(4).toString('hex')}`;
  const coordinatorPort = await freePort();
  const coordinator = await spawnNode(
    'coordinator',
    [COORDINATOR_MAIN],
    {
      DATABASE_URL: coordDb.url,
      REDIS_URL: CONFIG.redisUrl,
      REDIS_PREFIX: redisPrefix,
      PORT: String(coordinatorPort),
      LOG_LEVEL: 'warn',
      CI: '1',
    },
    /coordinator ready/,
    60_000,
    async () => {
      const res = await request(`http://127.0.0.1:${coordinatorPort}/health/ready`, {
        headersTimeout: 2_000,
        bodyTimeout: 2_000,
      });
      await res.body.text();
      return res.statusCode === 200
        ? (Object.assign(['ready'], { index: 0, input: 'ready' }) as RegExpExecArray)
        : null;
    },
  );
  started.push(coordinator);
  const coordinatorUrl = `http://127.0.0.1:${coordinatorPort}`;
  log(`coordinator at ${coordinatorUrl}`);

  // one participant program, served twice: over HTTP and over NATS; unique names keep the NATS
  // subjects apart from anyone else's on the shared server
  const tag = randomBytes(3).toString('hex');
  const names: Record<Transport, string> = { http: `bench-http-${tag}`, nats: `bench-nats-${tag}` };
  const banks = {} as Record<Transport, Child>;
  const bankPort = await freePort();
  for (const transport of TRANSPORTS) {
    banks[transport] = await spawnNode(
      `bank-${transport}`,
      [BANK_MAIN],
      {
        DATABASE_URL: bankDb.url,
        COORDINATOR_URL: coordinatorUrl,
        PARTICIPANT_NAME: names[transport],
        ...(transport === 'http' ? { PORT: String(bankPort) } : { TRANSPORT: 'nats', BROKER_URL: CONFIG.natsUrl }),
      },
      /participant ready: (\S+)/,
    );
    started.push(banks[transport]);
  }
  const bank = new Client({ connectionString: bankDb.url });
  await bank.connect();
  await bank.query(`INSERT INTO accounts (id, balance) VALUES ('A', 2000000000), ('B', 0)`);
  await bank.end();

  const endpoint = `${coordinatorUrl}/v1/transactions?wait=10000`;
  const body = (transport: Transport) => ({
    protocol: 'saga',
    branches: [
      {
        id: 'debit',
        participant: names[transport],
        payload: { account: 'A', amount: 1 },
        paths: { action: '/saga/debit/action', compensate: '/saga/debit/compensate' },
      },
      {
        id: 'credit',
        participant: names[transport],
        payload: { account: 'B', amount: 1 },
        paths: { action: '/saga/credit/action', compensate: '/saga/credit/compensate' },
      },
    ],
  });
  for (const transport of TRANSPORTS) {
    const res = await request(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body(transport)),
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200 || (JSON.parse(text) as { status: string }).status !== 'committed') {
      throw new Error(`smoke saga over ${transport} answered ${res.statusCode}: ${text.slice(0, 500)}`);
    }
  }

  const admin = new Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  const records: RunRecord[] = [];
  try {
    for (let run = 1; run <= CONFIG.runs; run++) {
      // ABBA order, so slow drift (table growth, the others' load) does not favour one transport
      const order = run % 2 === 1 ? TRANSPORTS : [...TRANSPORTS].reverse();
      for (const transport of order) {
        const groups = async (): Promise<Record<string, number[]>> => ({
          coordinator: [coordinator.proc.pid!],
          participant: [banks[transport].proc.pid!],
          postgres: [...(await backendPids(admin, coordDb.name)), ...(await backendPids(admin, bankDb.name))],
        });
        const g0 = await groups();
        const all0 = allProcessCpu();
        const m0 = machineCpu();
        const t0 = performance.now();
        let driverPid = 0;
        const out = await runNode(
          'load',
          [
            resolve(__dirname, 'load.js'),
            JSON.stringify({
              url: endpoint,
              body: body(transport),
              concurrency: CONFIG.concurrency,
              warmupSeconds: CONFIG.warmupSeconds,
              seconds: CONFIG.seconds,
              expectStatus: 'committed',
            }),
          ],
          {},
          PER_RUN_BUDGET_MS,
          (pid) => (driverPid = pid),
        );
        const wall = (performance.now() - t0) / 1000;
        const all1 = allProcessCpu();
        const m1 = machineCpu();
        const g1 = await groups();
        const result = JSON.parse(out.trim().split('\n').pop()!) as LoadResult;
        const cpuOf = (pids: number[]) =>
          pids.reduce((sum, pid) => sum + ((all1.get(pid) ?? 0) - (all0.get(pid) ?? all1.get(pid) ?? 0)), 0);
        const cpu: Record<string, number> = { driver: result.cpuSeconds };
        const ours = new Set<number>([process.pid, driverPid, ...Object.values(banks).map((b) => b.proc.pid!)]);
        for (const [group, pids] of Object.entries(g1)) {
          const all = [...new Set([...pids, ...(g0[group] ?? [])])];
          cpu[group] = round(cpuOf(all), 2);
          for (const pid of all) ours.add(pid);
        }
        const shared = new Set([...(await sharedPostgresPids(admin)), ...pidsNamed(['redis-server', 'nats-server'])]);
        let foreign = 0;
        let sharedCpu = 0;
        for (const [pid, c] of all1) {
          if (ours.has(pid)) continue;
          const used = c - (all0.get(pid) ?? 0);
          if (shared.has(pid)) sharedCpu += used;
          else foreign += used;
        }
        const record: RunRecord = {
          transport,
          run,
          result,
          cpu,
          foreignCores: round(foreign / wall, 2),
          sharedServerCores: round(sharedCpu / wall, 2),
          machineBusyFraction: round((m1.busy - m0.busy) / Math.max(1e-9, m1.total - m0.total), 2),
        };
        records.push(record);
        log(
          `${transport.padEnd(4)} run ${run}: ${result.rps.toFixed(0)} sagas/s, p50 ${fx(result.p50)} ms, ` +
            `p99 ${fx(result.p99)} ms, errors ${result.errors}; machine ${(record.machineBusyFraction * 100).toFixed(0)}% busy, ` +
            `foreign ${record.foreignCores} cores, shared servers ${record.sharedServerCores} cores`,
        );
      }
    }
  } finally {
    await admin.end();
  }

  const summary = TRANSPORTS.map((transport) => {
    const mine = records.filter((r) => r.transport === transport);
    return {
      transport,
      rps: median(mine.map((r) => r.result.rps)),
      p50: median(mine.map((r) => r.result.p50)),
      p99: median(mine.map((r) => r.result.p99)),
      errors: mine.reduce((sum, r) => sum + r.result.errors, 0),
      runsRps: mine.map((r) => Math.round(r.result.rps)),
      foreignCores: median(mine.map((r) => r.foreignCores)),
      participantCpuPerSaga: median(mine.map((r) => r.cpu.participant / Math.max(1, r.result.totalCompleted))) * 1000,
      coordinatorCpuPerSaga: median(mine.map((r) => r.cpu.coordinator / Math.max(1, r.result.totalCompleted))) * 1000,
    };
  });
  const [http, nats] = summary;
  const lines = [
    `| transport | sagas/s (median) | runs | p50 ms | p99 ms | errors | coordinator CPU ms/saga | participant CPU ms/saga | foreign cores (median) |`,
    `| --- | --- | --- | --- | --- | --- | --- | --- | --- |`,
    ...summary.map(
      (s) =>
        `| ${s.transport} | ${s.rps.toFixed(0)} | ${s.runsRps.join(', ')} | ${fx(s.p50)} | ${fx(s.p99)} | ${s.errors} | ` +
        `${s.coordinatorCpuPerSaga.toFixed(2)} | ${s.participantCpuPerSaga.toFixed(2)} | ${s.foreignCores} |`,
    ),
    '',
    `NATS / HTTP throughput: ${(nats.rps / http.rps).toFixed(2)}; p50 ${(nats.p50 / http.p50).toFixed(2)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  writeFileSync(
    resolve(OUT, 'transports-latest.json'),
    JSON.stringify({ machine, config: CONFIG, summary, records, loadavgAtEnd: loadavg() }, null, 2),
  );
}

/** Pids of the processes whose command name is one of `names` (from /proc/<pid>/comm). */
function pidsNamed(names: string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function sharedPostgresPids(admin: Client): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname IS NULL AND backend_type <> 'client backend'`,
  );
  return rows.map((r) => r.pid);
}

async function backendPids(admin: Client, db: string): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1`, [db]);
  return rows.map((r) => r.pid);
}

async function cleanup(): Promise<void> {
  for (const c of started.reverse()) await c.stop().catch(() => undefined);
  killAllChildrenSync();
  for (const db of databases) await db.drop().catch((e) => log(`could not drop ${db.name}: ${String(e)}`));
  if (redisPrefix) await dropRedisKeys(redisPrefix).catch((e) => log(`could not clean Redis keys: ${String(e)}`));
}

/** Deletes the coordinator's BullMQ keys (the unique prefix), bounded in iterations. */
async function dropRedisKeys(prefix: string): Promise<void> {
  const redis = new IORedis(CONFIG.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
  try {
    let cursor = '0';
    for (let i = 0; i < 10_000; i++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    redis.disconnect();
  }
}

function fx(x: number): string {
  return Number.isFinite(x) ? x.toFixed(1) : 'n/a';
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function log(line: string): void {
  process.stderr.write(`[bench:transports] ${line}\n`);
}

process.on('exit', killAllChildrenSync);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping children and dropping databases`);
    void cleanup().finally(() => process.exit(130));
  });
}

main()
  .then(cleanup)
  .catch(async (e: unknown) => {
    log(`failed: ${e instanceof Error ? e.stack : String(e)}`);
    await cleanup();
    process.exit(1);
  });
