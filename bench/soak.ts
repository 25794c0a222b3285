/**
 * `npm run bench:soak`: the coordinator under steady load for BENCH_SOAK_MINUTES (15) at
 * BENCH_CONCURRENCY (32) closed-loop clients, each running 2-branch sagas with `?wait`, against a
 * participant of the bench's own that answers 503 to BENCH_SOAK_FAULT_RATE (5%) of calls at random
 * (a transient fault: the coordinator retries it). Per minute it records sagas/s, p50/p99 latency,
 * errors and the coordinator's RSS; it fits a line through minutes 2..N of RSS and p99 and reports
 * the slope (a leak or a slowdown shows as a steady climb), and plots the three series as
 * bench/soak.png (rendered by headless Chromium). Raw numbers: bench/out/soak-latest.json.
 * Speed is measured here, never asserted in tests.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { Client } from 'pg';
import { Pool as HttpPool } from 'undici';
import { TEST_PG_ADMIN_URL, TEST_REDIS_URL, freshDatabase } from '../libs/testing/src/fresh-database';
import { assertLoopback, envNumber, fixed, machineCpu, percentile, processCpuSeconds, sagaBody } from './lib';
import { backendPids, benchLog, machineFacts, runBench, startCoordinator, type BenchStack } from './stack';

const OUT = resolve(__dirname, '../../bench/out');
const PNG = resolve(__dirname, '../../bench/soak.png');
const CONFIG = {
  minutes: envNumber('BENCH_SOAK_MINUTES', 15, 1, 240),
  concurrency: envNumber('BENCH_CONCURRENCY', 32, 1, 1024),
  faultRate: envNumber('BENCH_SOAK_FAULT_RATE', 0.05, 0, 0.5),
  redisUrl: process.env.BENCH_REDIS_URL ?? TEST_REDIS_URL,
  chromium: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
};
assertLoopback(CONFIG.redisUrl);
assertLoopback(TEST_PG_ADMIN_URL);

interface Minute {
  minute: number;
  sagasPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  rssMiB: number;
  faultsInjected: number;
  /** CPU ms per saga this minute: the coordinator process, and the backends of its database (autovacuum included while it ran). */
  coordinatorCpuMs?: number;
  postgresCpuMs?: number;
  /** Machine CPU busy this minute, %. */
  machineBusyPercent?: number;
}

const stack: BenchStack = {
  name: 'bench:soak',
  started: [],
  databases: [],
  redisUrl: CONFIG.redisUrl,
  redisPrefix: '',
};

/** A seeded xorshift, so a run's faults can be replayed. */
function random(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return line ? Number(line.split(/\s+/)[1]) / 1024 : 0;
}

/** Least-squares slope of `ys` over their index, per step. */
function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

/** Three line charts (sagas/s, p99 ms, RSS MiB per minute) as one SVG page. */
function chartPage(minutes: Minute[], title: string): string {
  const w = 900;
  const h = 220;
  const panel = (label: string, ys: number[], colour: string, top: number) => {
    const max = Math.max(...ys, 1) * 1.15;
    const x = (i: number) => 70 + (i * (w - 100)) / Math.max(1, ys.length - 1);
    const y = (v: number) => top + h - 30 - (v * (h - 60)) / max;
    const path = ys.map((v, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const ticks = [0, 0.5, 1].map(
      (f) =>
        `<text x="62" y="${y(max * f * 0.87) + 4}" text-anchor="end" font-size="11">${fixed(max * f * 0.87, 0)}</text>`,
    );
    const dots = ys.map((v, i) => `<circle cx="${x(i)}" cy="${y(v)}" r="3" fill="${colour}"/>`).join('');
    const xs = ys
      .map((_, i) => `<text x="${x(i)}" y="${top + h - 12}" text-anchor="middle" font-size="10">${i + 1}</text>`)
      .join('');
    return `<text x="70" y="${top + 18}" font-size="14" font-weight="bold">${label}</text>
      <line x1="70" y1="${top + h - 30}" x2="${w - 30}" y2="${top + h - 30}" stroke="#999"/>
      ${ticks.join('')}<path d="${path}" fill="none" stroke="${colour}" stroke-width="2"/>${dots}${xs}`;
  };
  const body = [
    panel(
      'sagas/s per minute',
      minutes.map((m) => m.sagasPerSecond),
      '#1f77b4',
      30,
    ),
    panel(
      'p99 latency, ms',
      minutes.map((m) => m.p99Ms),
      '#d62728',
      30 + h,
    ),
    panel(
      'coordinator RSS, MiB',
      minutes.map((m) => m.rssMiB),
      '#2ca02c',
      30 + 2 * h,
    ),
  ].join('');
  return `<!doctype html><html><body style="margin:0;background:#fff;font-family:sans-serif">
    <svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${30 + 3 * h}">
      <text x="${w / 2}" y="18" text-anchor="middle" font-size="13">${title} (x axis: minute)</text>${body}
    </svg></body></html>`;
}

async function plot(minutes: Minute[], title: string): Promise<void> {
  const browser = await chromium.launch({
    executablePath: CONFIG.chromium,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 30 + 3 * 220 } });
    await page.setContent(chartPage(minutes, title));
    await page.screenshot({ path: PNG });
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const machine = machineFacts(stack);
  const db = await freshDatabase('bench_soak');
  stack.databases.push(db);
  const redisPrefix = (stack.redisPrefix = `txc-bench-soak-${randomBytes(4).toString('hex')}`);

  const seed = Number(process.env.BENCH_SOAK_SEED ?? Date.now() % 2 ** 31);
  const chance = random(seed);
  let faults = 0;
  const participant = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (chance() < CONFIG.faultRate) {
        faults += 1;
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"busy":true}');
      } else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  participant.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => participant.listen(0, '127.0.0.1', r));
  const participantUrl = `http://127.0.0.1:${(participant.address() as AddressInfo).port}`;

  try {
    const coordinator = await startCoordinator(db.url, CONFIG.redisUrl, redisPrefix);
    stack.started.push(coordinator.child);
    const pid = coordinator.child.proc.pid!;
    const registered = await fetch(`${coordinator.url}/v1/participants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'accounts', url: participantUrl }),
    });
    if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);
    benchLog(
      stack,
      `soak: ${CONFIG.minutes} min at concurrency ${CONFIG.concurrency}, ${CONFIG.faultRate * 100}% faults, seed ${seed}`,
    );

    const http = new HttpPool(coordinator.url, { connections: CONFIG.concurrency });
    const body = JSON.stringify({
      ...sagaBody(),
      retry: { maxAttempts: 10, initialBackoffMs: 50, maxBackoffMs: 500 },
    });
    let latencies: number[] = [];
    let errors = 0;
    const end = performance.now() + CONFIG.minutes * 60_000;
    const worker = async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          const res = await http.request({
            method: 'POST',
            path: '/v1/transactions?wait=10000',
            headers: { 'content-type': 'application/json' },
            body,
          });
          const answer = (await res.body.json()) as { status?: string };
          if (res.statusCode === 200 && answer.status === 'committed') latencies.push(performance.now() - t0);
          else errors += 1;
        } catch {
          errors += 1;
        }
      }
    };
    const minutes: Minute[] = [];
    let faultsBefore = 0;
    // where each minute's CPU went: a drift shows in the coordinator's share or in Postgres's
    const admin = new Client({ connectionString: TEST_PG_ADMIN_URL });
    await admin.connect();
    const backendCpu = new Map<number, number>();
    /** CPU seconds the database's backends used since the last call (a backend that exited in between is missed). */
    const postgresDelta = async () => {
      let delta = 0;
      for (const p of await backendPids(admin, db.name)) {
        const now = processCpuSeconds(p);
        if (now === null) continue;
        delta += now - (backendCpu.get(p) ?? 0);
        backendCpu.set(p, now);
      }
      return delta;
    };
    await postgresDelta();
    let coordinatorCpu = processCpuSeconds(pid) ?? 0;
    let cpuMark = machineCpu();
    let sampling: Promise<void> = Promise.resolve();
    const sampler = setInterval(() => {
      sampling = (async () => {
        const sorted = Float64Array.from(latencies).sort();
        const sagas = Math.max(1, sorted.length);
        const cpuNow = processCpuSeconds(pid) ?? coordinatorCpu;
        const machineNow = machineCpu();
        minutes.push({
          minute: minutes.length + 1,
          sagasPerSecond: sorted.length / 60,
          p50Ms: percentile(sorted, 50),
          p99Ms: percentile(sorted, 99),
          errors,
          rssMiB: rssMiB(pid),
          faultsInjected: faults - faultsBefore,
          coordinatorCpuMs: ((cpuNow - coordinatorCpu) * 1000) / sagas,
          postgresCpuMs: ((await postgresDelta()) * 1000) / sagas,
          machineBusyPercent: (100 * (machineNow.busy - cpuMark.busy)) / Math.max(1, machineNow.total - cpuMark.total),
        });
        coordinatorCpu = cpuNow;
        cpuMark = machineNow;
        const m = minutes[minutes.length - 1];
        benchLog(
          stack,
          `minute ${m.minute}: ${fixed(m.sagasPerSecond, 0)} sagas/s, p50 ${fixed(m.p50Ms)} ms, p99 ${fixed(m.p99Ms)} ms, errors ${m.errors}, RSS ${fixed(m.rssMiB)} MiB, faults ${m.faultsInjected}, CPU per saga ${fixed(m.coordinatorCpuMs, 3)} ms coordinator, ${fixed(m.postgresCpuMs, 3)} ms Postgres, machine ${fixed(m.machineBusyPercent, 0)}% busy`,
        );
      })();
      latencies = [];
      errors = 0;
      faultsBefore = faults;
    }, 60_000);
    await Promise.all(Array.from({ length: CONFIG.concurrency }, worker));
    clearInterval(sampler);
    await sampling;
    await http.close();
    await admin.end();

    await report({ config: CONFIG, seed, machine, minutes });
  } finally {
    participant.closeAllConnections();
    participant.close();
  }
}

/** Writes the raw numbers, the chart and the table of a finished soak. */
async function report(run: {
  config: typeof CONFIG;
  seed: number;
  machine: unknown;
  minutes: Minute[];
}): Promise<void> {
  const { minutes } = run;
  const steady = minutes.slice(1); // the first minute includes the JIT's and the pools' warm-up
  const trend = {
    rssMiBPerMinute: slope(steady.map((m) => m.rssMiB)),
    p99MsPerMinute: slope(steady.map((m) => m.p99Ms)),
    sagasPerSecondPerMinute: slope(steady.map((m) => m.sagasPerSecond)),
  };
  mkdirSync(OUT, { recursive: true });
  writeFileSync(resolve(OUT, 'soak-latest.json'), JSON.stringify({ ...run, trend }, null, 2));
  await plot(
    minutes,
    `txc soak: ${run.config.minutes} min, concurrency ${run.config.concurrency}, ${run.config.faultRate * 100}% transient participant faults`,
  );
  process.stdout.write(
    [
      '| minute | sagas/s | p50 ms | p99 ms | errors | coordinator RSS MiB | faults injected | coordinator CPU ms/saga | Postgres CPU ms/saga | machine busy % |',
      '| -----: | ------: | -----: | -----: | -----: | ------------------: | --------------: | ----------------------: | -------------------: | -------------: |',
      ...minutes.map(
        (m) =>
          `| ${m.minute} | ${fixed(m.sagasPerSecond, 0)} | ${fixed(m.p50Ms)} | ${fixed(m.p99Ms)} | ${m.errors} | ${fixed(m.rssMiB)} | ${m.faultsInjected} | ${fixed(m.coordinatorCpuMs, 3)} | ${fixed(m.postgresCpuMs, 3)} | ${fixed(m.machineBusyPercent, 0)} |`,
      ),
      '',
      `trend over minutes 2-${minutes.length} (least-squares slope per minute): RSS ${fixed(trend.rssMiBPerMinute, 2)} MiB, p99 ${fixed(trend.p99MsPerMinute, 2)} ms, throughput ${fixed(trend.sagasPerSecondPerMinute, 2)} sagas/s`,
      `chart: bench/soak.png`,
      '',
    ].join('\n'),
  );
}

// `--report`: the chart and table again from bench/out/soak-latest.json (say, when the chart could
// not be drawn at the end of a run), without running the soak
if (process.argv.includes('--report')) {
  report(JSON.parse(readFileSync(resolve(OUT, 'soak-latest.json'), 'utf8'))).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
} else {
  runBench(stack, main);
}
