/**
 * `npm run bench:recovery`: how long a restarted coordinator takes to finish the work a crash left.
 * BENCH_RECOVERY_N (10,000) two-branch sagas are started and held at their first call (the bench's
 * own participant does not answer while holding); the coordinator is then killed (SIGKILL), the
 * participant turns healthy, and the coordinator is started again on the same log. Measured: from
 * the restart's launch to ready, and to every transaction final (read from the log every 100 ms).
 * BENCH_RUNS runs (3), each on a fresh database; prints a markdown table and writes the raw numbers
 * to bench/out/recovery-latest.json. Speed is measured here, never asserted in tests.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { Pool as HttpPool } from 'undici';
import { TEST_PG_ADMIN_URL, TEST_REDIS_URL, freshDatabase } from '../libs/testing/src/fresh-database';
import { assertLoopback, envNumber, fixed, median, sagaBody, sleep } from './lib';
import { benchLog, machineFacts, runBench, startCoordinator, type BenchStack } from './stack';

const OUT = resolve(__dirname, '../../bench/out');
const CONFIG = {
  transactions: envNumber('BENCH_RECOVERY_N', 10_000, 1, 1_000_000),
  runs: envNumber('BENCH_RUNS', 3, 1, 20),
  /** Requests in flight while the transactions are started. */
  startConcurrency: envNumber('BENCH_RECOVERY_START_CONCURRENCY', 32, 1, 1024),
  /** Longest a recovery may take before the run is reported as not finished. */
  limitSeconds: envNumber('BENCH_RECOVERY_LIMIT_S', 180, 10, 3600),
  redisUrl: process.env.BENCH_REDIS_URL ?? TEST_REDIS_URL,
};
assertLoopback(CONFIG.redisUrl);
assertLoopback(TEST_PG_ADMIN_URL);

/** `BENCH_PROFILE=1`: the restarted coordinator runs under `node --cpu-prof`, one profile per run. */
function profileFlags(run: number): string[] {
  if (process.env.BENCH_PROFILE !== '1') return [];
  const dir = resolve(OUT, 'profile-recovery');
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `recovery-${run}.cpuprofile`];
}

interface RunResult {
  run: number;
  inFlightAtKill: number;
  startedPerSecond: number;
  restartToReadyMs: number;
  restartToAllFinalMs: number | null;
  statuses: Record<string, number>;
}

const stack: BenchStack = {
  name: 'bench:recovery',
  started: [],
  databases: [],
  redisUrl: CONFIG.redisUrl,
  redisPrefix: '',
};

/** The participant: holds every request while `holding`, answers 200 `{}` at once otherwise. */
function participant() {
  let holding = true;
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (holding) held.push(res);
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.keepAliveTimeout = 30_000;
  return {
    server,
    release() {
      holding = false;
      for (const res of held.splice(0)) res.destroy();
    },
    hold() {
      holding = true;
    },
  };
}

async function statusCounts(db: Client): Promise<Record<string, number>> {
  const { rows } = await db.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM txc_transactions GROUP BY status',
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

async function startTransactions(url: string, n: number): Promise<number> {
  const http = new HttpPool(url, { connections: CONFIG.startConcurrency });
  const body = JSON.stringify(sagaBody());
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < n) {
      next += 1;
      const res = await http.request({
        method: 'POST',
        path: '/v1/transactions',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const text = await res.body.text();
      if (res.statusCode !== 201) throw new Error(`start answered ${res.statusCode}: ${text.slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: CONFIG.startConcurrency }, worker));
  await http.close();
  return n / ((performance.now() - t0) / 1000);
}

async function oneRun(run: number): Promise<RunResult> {
  const db = await freshDatabase(`bench_recovery_${run}`);
  stack.databases.push(db);
  const redisPrefix = (stack.redisPrefix = `txc-bench-recovery-${randomBytes(4).toString('hex')}`);
  const p = participant();
  await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', r));
  const participantUrl = `http://127.0.0.1:${(p.server.address() as AddressInfo).port}`;
  const log = new Client({ connectionString: db.url });
  try {
    const first = await startCoordinator(db.url, CONFIG.redisUrl, redisPrefix);
    stack.started.push(first.child);
    const registered = await fetch(`${first.url}/v1/participants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'accounts', url: participantUrl }),
    });
    if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);
    const startedPerSecond = await startTransactions(first.url, CONFIG.transactions);
    await log.connect();
    const atKill = await statusCounts(log);
    const inFlightAtKill = atKill.running ?? 0;
    benchLog(
      stack,
      `run ${run}: ${CONFIG.transactions} started (${fixed(startedPerSecond, 0)}/s), killing: ${JSON.stringify(atKill)}`,
    );
    first.child.proc.kill('SIGKILL');
    await new Promise((r) => first.child.proc.once('exit', r));
    p.release();

    const t0 = performance.now();
    const second = await startCoordinator(db.url, CONFIG.redisUrl, redisPrefix, profileFlags(run));
    stack.started.push(second.child);
    const restartToReadyMs = performance.now() - t0;
    let restartToAllFinalMs: number | null = null;
    let statuses: Record<string, number> = {};
    while (performance.now() - t0 < CONFIG.limitSeconds * 1000) {
      statuses = await statusCounts(log);
      const open = Object.entries(statuses)
        .filter(([s]) => !['committed', 'aborted', 'failed'].includes(s))
        .reduce((sum, [, n]) => sum + n, 0);
      if (open === 0) {
        restartToAllFinalMs = performance.now() - t0;
        break;
      }
      await sleep(100);
    }
    benchLog(
      stack,
      `run ${run}: ready after ${fixed(restartToReadyMs, 0)} ms, all final after ${restartToAllFinalMs === null ? 'more than the limit' : `${fixed(restartToAllFinalMs, 0)} ms`}: ${JSON.stringify(statuses)}`,
    );
    await second.child.stop();
    return { run, inFlightAtKill, startedPerSecond, restartToReadyMs, restartToAllFinalMs, statuses };
  } finally {
    await log.end().catch(() => undefined);
    p.release();
    p.server.closeAllConnections();
    p.server.close();
  }
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const machine = machineFacts(stack);
  const results: RunResult[] = [];
  for (let run = 1; run <= CONFIG.runs; run++) results.push(await oneRun(run));
  const finished = results.map((r) => r.restartToAllFinalMs).filter((x): x is number => x !== null);
  const row = {
    transactions: CONFIG.transactions,
    inFlightAtKill: median(results.map((r) => r.inFlightAtKill)),
    readyMs: median(results.map((r) => r.restartToReadyMs)),
    allFinalMs: finished.length === results.length ? median(finished) : null,
  };
  writeFileSync(
    resolve(OUT, 'recovery-latest.json'),
    JSON.stringify({ config: CONFIG, machine, results, row }, null, 2),
  );
  process.stdout.write(
    [
      '| transactions | in flight at the kill | restart to ready, ms | restart to all final, ms (median) | per run, ms |',
      '| -----------: | --------------------: | -------------------: | --------------------------------: | ----------- |',
      `| ${row.transactions} | ${row.inFlightAtKill} | ${fixed(row.readyMs, 0)} | ${row.allFinalMs === null ? 'not all final' : fixed(row.allFinalMs, 0)} | ${results.map((r) => (r.restartToAllFinalMs === null ? 'n/a' : fixed(r.restartToAllFinalMs, 0))).join(', ')} |`,
      '',
    ].join('\n'),
  );
}

runBench(stack, main);
