/**
 * `npm run bench:msg`: reliable messages (protocol `msg`, prepared mode) against a 2-branch saga,
 * side by side in one run on one coordinator, at each concurrency of BENCH_CONCURRENCY (ABBA order,
 * median of BENCH_RUNS runs). A stand-in sender (msg-sender.ts) commits a local row in Postgres
 * around each message; two stand-in consumers (msg-consumer.ts, no I/O) record when they receive
 * each transaction, and serve the saga's two branches too. Prints a markdown table and writes the
 * raw numbers to bench/out/msg-latest.json. See bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { request } from 'undici';
import { TEST_PG_ADMIN_URL, TEST_REDIS_URL, freshDatabase } from '../libs/testing/src/fresh-database';
import { assertLoopback, envNumber, fixed, median, runNode, spawnNode, type Child } from './lib';
import type { SenderConfig, SenderResult, SenderTarget } from './msg-sender';
import {
  backendPids,
  benchLog,
  machineFacts,
  measureRun,
  runBench,
  startCoordinator,
  type BenchStack,
  type RunCpu,
} from './stack';

const OUT = resolve(__dirname, '../../bench/out');
type Target = SenderTarget;
const ALL_TARGETS: Target[] = ['saga', 'msg', 'msg-driven'];

const env = process.env;
const num = envNumber;
const CONFIG = {
  runs: num('BENCH_RUNS', 3, 1, 20),
  seconds: num('BENCH_SECONDS', 10, 1, 600),
  warmupSeconds: num('BENCH_WARMUP', 3, 0, 120),
  concurrencies: (env.BENCH_CONCURRENCY ?? '16,64').split(',').map((c) => {
    const n = Number(c);
    if (!Number.isInteger(n) || n < 1 || n > 1024) throw new Error('BENCH_CONCURRENCY: integers from 1 to 1024');
    return n;
  }),
  targets: (env.BENCH_TARGETS ?? ALL_TARGETS.join(',')).split(',').map((t) => {
    if (!ALL_TARGETS.includes(t as Target))
      throw new Error(`BENCH_TARGETS: a comma-separated list of ${ALL_TARGETS.join(', ')}`);
    return t as Target;
  }),
  redisUrl: env.BENCH_REDIS_URL ?? TEST_REDIS_URL,
};
const TARGETS = CONFIG.targets;
assertLoopback(CONFIG.redisUrl);
assertLoopback(TEST_PG_ADMIN_URL);
const PER_RUN_BUDGET_MS = (CONFIG.warmupSeconds + CONFIG.seconds + 60) * 1000;

interface RunRecord extends RunCpu {
  target: Target;
  concurrency: number;
  run: number;
  result: SenderResult;
}

const stack: BenchStack = { name: 'bench:msg', started: [], databases: [], redisUrl: CONFIG.redisUrl, redisPrefix: '' };
const { started, databases } = stack;

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const machine = machineFacts(stack);

  const coordDb = await freshDatabase('bench_msg_coord');
  databases.push(coordDb);
  const senderDb = await freshDatabase('bench_msg_sender');
  databases.push(senderDb);
  const sender = new Client({ connectionString: senderDb.url });
  await sender.connect();
  await sender.query(`CREATE TABLE bench_orders (transaction_id text PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE bench_outbox (transaction_id text PRIMARY KEY, state text NOT NULL)`);
  await sender.end();

  const redisPrefix = (stack.redisPrefix = `txc-bench-msg-${randomBytes(4).toString('hex')}`);
  const { child: coordinator, url: coordinatorUrl } = await startCoordinator(coordDb.url, CONFIG.redisUrl, redisPrefix);
  started.push(coordinator);
  log(`coordinator at ${coordinatorUrl}`);

  const consumers: { name: string; url: string; child: Child }[] = [];
  for (const name of ['consumer-a', 'consumer-b']) {
    const child = await spawnNode(name, [resolve(__dirname, 'msg-consumer.js')], {}, /consumer ready: (\S+)/);
    started.push(child);
    consumers.push({ name, url: assertLoopback(child.ready[1]), child });
    const reg = await request(`${coordinatorUrl}/v1/participants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, url: child.ready[1] }),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const text = await reg.body.text();
    if (reg.statusCode >= 300) throw new Error(`registering ${name} answered ${reg.statusCode}: ${text}`);
  }

  const senderConfig = (target: Target, concurrency: number, seconds: number, warmupSeconds: number): SenderConfig => ({
    target,
    coordinatorUrl,
    databaseUrl: senderDb.url,
    consumers: consumers.map(({ name, url }) => ({ name, url })),
    concurrency,
    warmupSeconds,
    seconds,
  });
  let senderPid = 0;
  const send = async (cfg: SenderConfig): Promise<SenderResult> => {
    const out = await runNode(
      'msg-sender',
      [resolve(__dirname, 'msg-sender.js'), JSON.stringify(cfg)],
      {},
      PER_RUN_BUDGET_MS,
      (pid) => (senderPid = pid),
    );
    return JSON.parse(out.trim().split('\n').pop()!) as SenderResult;
  };
  // smoke: a second of each, one worker; every operation must commit and reach both consumers
  for (const target of TARGETS) {
    const smoke = await send(senderConfig(target, 1, 1, 0));
    if (smoke.ok === 0 || smoke.errors || smoke.missingReceipts)
      throw new Error(`smoke ${target} failed: ${JSON.stringify(smoke)}`);
  }

  const admin = new Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  const records: RunRecord[] = [];
  try {
    for (const concurrency of CONFIG.concurrencies) {
      for (let run = 1; run <= CONFIG.runs; run++) {
        // ABBA order, so slow drift (log growth, the others' load) does not favour one target
        const order = run % 2 === 1 ? TARGETS : [...TARGETS].reverse();
        for (const target of order) records.push(await measure(target, concurrency, run));
      }
    }
  } finally {
    await admin.end();
  }

  async function measure(target: Target, concurrency: number, run: number): Promise<RunRecord> {
    const groups = async (): Promise<Record<string, number[]>> => ({
      coordinator: [coordinator.proc.pid!],
      consumers: consumers.map((c) => c.child.proc.pid!),
      // the coordinator's backends only: the sender's come and go with its process, so /proc cannot sum them
      postgres: await backendPids(admin, coordDb.name),
    });
    const ours = () => [senderPid];
    const { value: result, ...usage } = await measureRun(admin, groups, ours, () =>
      send(senderConfig(target, concurrency, CONFIG.seconds, CONFIG.warmupSeconds)),
    );
    const record: RunRecord = {
      target,
      concurrency,
      run,
      result,
      ...usage,
      cpu: { sender: result.cpuSeconds, ...usage.cpu },
    };
    log(
      `${target.padEnd(10)} c=${String(concurrency).padStart(3)} run ${run}: ${result.rps.toFixed(0)}/s, ` +
        `p50 ${fixed(result.p50)} ms, p99 ${fixed(result.p99)} ms, errors ${result.errors}, missing ${result.missingReceipts}` +
        (result.errorSamples.length ? ` (${result.errorSamples[0]})` : '') +
        `; machine ${(record.machineBusyFraction * 100).toFixed(0)}% busy, foreign ${record.foreignCores} cores`,
    );
    return record;
  }

  const summary = CONFIG.concurrencies.flatMap((concurrency) =>
    TARGETS.map((target) => {
      const mine = records.filter((r) => r.target === target && r.concurrency === concurrency);
      const perOp = (group: string) =>
        median(mine.map((r) => (r.cpu[group] / Math.max(1, r.result.totalCompleted)) * 1000));
      return {
        target,
        concurrency,
        rps: median(mine.map((r) => r.result.rps)),
        runsRps: mine.map((r) => Math.round(r.result.rps)),
        p50: median(mine.map((r) => r.result.p50)),
        p99: median(mine.map((r) => r.result.p99)),
        roundTripP99: median(mine.map((r) => r.result.roundTripP99)),
        errors: mine.reduce((sum, r) => sum + r.result.errors + r.result.missingReceipts, 0),
        coordinatorCpuPerOp: perOp('coordinator'),
        postgresCpuPerOp: perOp('postgres'),
        foreignCores: median(mine.map((r) => r.foreignCores)),
        foreignCoresMax: Math.max(...mine.map((r) => r.foreignCores)),
      };
    }),
  );
  const lines = [
    `| concurrency | protocol | ops/s (median) | runs | p50 ms | p99 ms | sender round trip p99 ms | errors | coordinator CPU ms/op | its Postgres backends CPU ms/op | foreign cores (median, max) |`,
    `| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |`,
    ...summary.map(
      (s) =>
        `| ${s.concurrency} | ${s.target} | ${s.rps.toFixed(0)} | ${s.runsRps.join(', ')} | ${fixed(s.p50)} | ${fixed(s.p99)} | ` +
        `${fixed(s.roundTripP99)} | ${s.errors} | ${s.coordinatorCpuPerOp.toFixed(2)} | ${s.postgresCpuPerOp.toFixed(2)} | ${s.foreignCores}, ${s.foreignCoresMax} |`,
    ),
    '',
    ...CONFIG.concurrencies.flatMap((c) => {
      const saga = summary.find((s) => s.target === 'saga' && s.concurrency === c);
      return summary
        .filter((s) => s.target !== 'saga' && s.concurrency === c && saga)
        .map(
          (s) =>
            `c=${c}: ${s.target} / saga throughput ${(s.rps / saga!.rps).toFixed(2)}, p99 ${(s.p99 / saga!.p99).toFixed(2)}`,
        );
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  writeFileSync(
    resolve(OUT, 'msg-latest.json'),
    JSON.stringify({ machine, config: CONFIG, summary, records, loadavgAtEnd: loadavg() }, null, 2),
  );
}

function log(line: string): void {
  benchLog(stack, line);
}

runBench(stack, main);
