/**
 * `npm run bench:transports`: the same 2-branch saga through one coordinator, its participant
 * served over HTTP and over NATS, side by side in one run (ABBA order, median of BENCH_RUNS runs).
 * Both participants are the same program (the SDK's bank example, libs/participant/test-app: a
 * Nest app with ParticipantModule, every step one local transaction with its barrier row), on the
 * same database; only `transport` differs. Prints a markdown table and writes the raw numbers to
 * bench/out/transports-latest.json. See bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { request } from 'undici';
import { TEST_PG_ADMIN_URL, TEST_REDIS_URL, freshDatabase } from '../libs/testing/src/fresh-database';
import type { LoadResult } from './load';
import { assertLoopback, freePort, envNumber, fixed, median, runNode, spawnNode, type Child } from './lib';
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

const ROOT = resolve(__dirname, '../..');
const DIST = resolve(ROOT, 'dist');
const OUT = resolve(ROOT, 'bench/out');
const BANK_MAIN = resolve(DIST, 'libs/participant/test-app/main.js');

type Transport = 'http' | 'nats';
const TRANSPORTS: Transport[] = ['http', 'nats'];

const env = process.env;
const num = envNumber;
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

interface RunRecord extends RunCpu {
  transport: Transport;
  run: number;
  result: LoadResult;
}

const stack: BenchStack = {
  name: 'bench:transports',
  started: [],
  databases: [],
  redisUrl: CONFIG.redisUrl,
  redisPrefix: '',
};
const { started, databases } = stack;

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const machine = machineFacts(stack);

  const coordDb = await freshDatabase('bench_tr_coord');
  databases.push(coordDb);
  const bankDb = await freshDatabase('bench_tr_bank');
  databases.push(bankDb);

  const redisPrefix = (stack.redisPrefix = `txc-bench-tr-${randomBytes(4).toString('hex')}`);
  const { child: coordinator, url: coordinatorUrl } = await startCoordinator(coordDb.url, CONFIG.redisUrl, redisPrefix);
  started.push(coordinator);
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
        let driverPid = 0;
        const load = async () =>
          runNode(
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
        const ours = () => [driverPid, ...Object.values(banks).map((b) => b.proc.pid!)];
        const { value: out, ...usage } = await measureRun(admin, groups, ours, load);
        const result = JSON.parse(out.trim().split('\n').pop()!) as LoadResult;
        const record: RunRecord = {
          transport,
          run,
          result,
          ...usage,
          cpu: { driver: result.cpuSeconds, ...usage.cpu },
        };
        records.push(record);
        log(
          `${transport.padEnd(4)} run ${run}: ${result.rps.toFixed(0)} sagas/s, p50 ${fixed(result.p50)} ms, ` +
            `p99 ${fixed(result.p99)} ms, errors ${result.errors}; machine ${(record.machineBusyFraction * 100).toFixed(0)}% busy, ` +
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
        `| ${s.transport} | ${s.rps.toFixed(0)} | ${s.runsRps.join(', ')} | ${fixed(s.p50)} | ${fixed(s.p99)} | ${s.errors} | ` +
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

function log(line: string): void {
  benchLog(stack, line);
}

runBench(stack, main);
