/**
 * The pieces the benches share: starting a coordinator on a fresh database, telling the bench's own
 * CPU from everyone else's on this shared machine, deleting the coordinator's Redis keys afterwards,
 * an admin statement on Postgres and the commit measured.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { resolve } from 'node:path';
import IORedis from 'ioredis';
import { Client } from 'pg';
import { request } from 'undici';
import { TEST_PG_ADMIN_URL, type FreshDatabase } from '../libs/testing/src/fresh-database';
import { GroupUsageSampler } from './group-usage';
import { allProcessCpu, freePort, killAllChildrenSync, machineCpu, round, spawnNode, type Child } from './lib';

const COORDINATOR_MAIN = resolve(__dirname, '../apps/coordinator/src/main.js');

/** Starts the built coordinator on `databaseUrl` (warn-level logs) and waits until /health/ready answers 200. */
export async function startCoordinator(
  databaseUrl: string,
  redisUrl: string,
  redisPrefix: string,
  nodeFlags: string[] = [],
): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = await spawnNode(
    'coordinator',
    [...nodeFlags, COORDINATOR_MAIN],
    {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: redisPrefix,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      CI: '1',
    },
    /coordinator ready/,
    60_000,
    async () => {
      const res = await request(`${url}/health/ready`, { headersTimeout: 2_000, bodyTimeout: 2_000 });
      await res.body.text();
      return res.statusCode === 200
        ? (Object.assign(['ready'], { index: 0, input: 'ready' }) as RegExpExecArray)
        : null;
    },
  );
  return { child, url };
}

/** Pids of the processes whose command name is one of `names` (from /proc/<pid>/comm). */
export function pidsNamed(names: string[]): number[] {
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

/** Postgres processes not tied to a database (WAL writer, checkpointer, background writer, launchers). */
export async function sharedPostgresPids(admin: Client): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname IS NULL AND backend_type <> 'client backend'`,
  );
  return rows.map((r) => r.pid);
}

export async function backendPids(admin: Client, db: string): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1`, [db]);
  return rows.map((r) => r.pid);
}

/**
 * Cores used between two `allProcessCpu()` snapshots `wall` seconds apart by every process that is
 * not in `ours`: `foreign` (other people's work on this shared machine) and `shared` (the shared
 * Postgres/Redis/NATS servers' own processes: partly ours, partly others').
 */
async function othersCores(
  admin: Client,
  before: Map<number, number>,
  after: Map<number, number>,
  ours: Set<number>,
  wall: number,
): Promise<{ foreign: number; shared: number }> {
  const shared = new Set([...(await sharedPostgresPids(admin)), ...pidsNamed(['redis-server', 'nats-server'])]);
  let foreign = 0;
  let sharedCpu = 0;
  for (const [pid, c] of after) {
    if (ours.has(pid)) continue;
    const used = c - (before.get(pid) ?? 0);
    if (shared.has(pid)) sharedCpu += used;
    else foreign += used;
  }
  return { foreign: foreign / wall, shared: sharedCpu / wall };
}

/** Deletes the coordinator's BullMQ keys (the unique prefix), bounded in iterations. */
export async function dropRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new IORedis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
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

/** What a side-by-side bench started and must undo at the end, whatever happens. */
export interface BenchStack {
  /** The bench's name in log lines, e.g. `bench:msg`. */
  name: string;
  started: Child[];
  databases: FreshDatabase[];
  redisUrl: string;
  /** The coordinator's Redis key prefix, once chosen. */
  redisPrefix: string;
}

export function benchLog(stack: Pick<BenchStack, 'name'>, line: string): void {
  process.stderr.write(`[${stack.name}] ${line}\n`);
}

/** Stops every child, drops the databases and deletes the coordinator's Redis keys. */
async function tearDown(stack: BenchStack): Promise<void> {
  for (const c of stack.started.reverse()) await c.stop().catch(() => undefined);
  killAllChildrenSync();
  for (const db of stack.databases) {
    await db.drop().catch((e) => benchLog(stack, `could not drop ${db.name}: ${String(e)}`));
  }
  if (stack.redisPrefix) {
    await dropRedisKeys(stack.redisUrl, stack.redisPrefix).catch((e) =>
      benchLog(stack, `could not clean Redis keys: ${String(e)}`),
    );
  }
}

/** Runs `main`, then tears the stack down: also on an error (exit 1) and on Ctrl-C / SIGTERM (exit 130). */
export function runBench(stack: BenchStack, main: () => Promise<void>): void {
  process.on('exit', killAllChildrenSync);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      benchLog(stack, `${sig}: stopping children and dropping databases`);
      void tearDown(stack).finally(() => process.exit(130));
    });
  }
  main()
    .then(() => tearDown(stack))
    .catch(async (e: unknown) => {
      benchLog(stack, `failed: ${e instanceof Error ? e.stack : String(e)}`);
      await tearDown(stack);
      process.exit(1);
    });
}

/** The machine, for the results and the first log line. */
export function machineFacts(stack: Pick<BenchStack, 'name'>) {
  const machine = {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
  benchLog(
    stack,
    `machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memGiB} GiB, load ${machine.loadavgAtStart}`,
  );
  return machine;
}

/** What one run's processes used, from /proc, around `work`. */
export interface RunCpu {
  /** CPU seconds of each group of the bench's processes during the run. */
  cpu: Record<string, number>;
  /** Cores used on average by everything else on the machine (other people's work), shared servers apart. */
  foreignCores: number;
  /** Cores used by the shared servers (postgres background, redis-server, nats-server): partly ours, partly others'. */
  sharedServerCores: number;
  machineBusyFraction: number;
}

/**
 * Runs `work` and measures the CPU of the bench's process `groups` (sampled through the run, process
 * by process: see {@link GroupUsageSampler}) and of everyone else. `ours()` (read after) names the
 * bench's other processes, such as the load driver, which count in no group and not as foreign either.
 */
export async function measureRun<T>(
  admin: Client,
  groups: () => Promise<Record<string, number[]>>,
  ours: () => number[],
  work: () => Promise<T>,
): Promise<{ value: T } & RunCpu> {
  const sampler = await GroupUsageSampler.start(groups);
  const all0 = allProcessCpu();
  const m0 = machineCpu();
  const t0 = performance.now();
  const value = await work();
  const wall = (performance.now() - t0) / 1000;
  const all1 = allProcessCpu();
  const m1 = machineCpu();
  const used = await sampler.stop();
  const mine = new Set<number>([process.pid, ...ours(), ...sampler.pids()]);
  const cpu: Record<string, number> = {};
  for (const [group, seconds] of Object.entries(used.cpu)) if (!group.endsWith(':sys')) cpu[group] = round(seconds, 2);
  const others = await othersCores(admin, all0, all1, mine, wall);
  return {
    value,
    cpu,
    foreignCores: round(others.foreign, 2),
    sharedServerCores: round(others.shared, 2),
    machineBusyFraction: round((m1.busy - m0.busy) / Math.max(1e-9, m1.total - m0.total), 2),
  };
}

/** Runs one statement as the Postgres admin (CREATE/DROP DATABASE, ALTER DATABASE). */
export async function adminQuery(sql: string): Promise<void> {
  const c = new Client({ connectionString: TEST_PG_ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * The commit of the checkout at `root` and the sources uncommitted when measured (the coordinator
 * measured is dist/, built from the tree as it is, other people's edits included).
 */
export function gitFacts(root: string): { head: string; dirtyFiles: string[] } {
  try {
    const run = (args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8', timeout: 5_000 });
    return {
      head: run(['rev-parse', '--short', 'HEAD']).trim(),
      dirtyFiles: run(['status', '--porcelain', '--untracked-files=no'])
        .split('\n')
        .filter(Boolean)
        .map((l) => l.slice(3)),
    };
  } catch {
    return { head: 'unknown', dirtyFiles: [] }; // not a git checkout
  }
}

/** The machine and the checkout a bench ran on, for its result file. */
export function hostFacts(root: string) {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    git: gitFacts(root),
    nproc: availableParallelism(),
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown',
    memGiB: round(totalmem() / 2 ** 30, 1),
    kernel: release(),
    node: process.version,
    loadavg: loadavg().map((x) => round(x, 2)),
  };
}
