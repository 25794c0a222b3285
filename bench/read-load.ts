/**
 * Closed-loop GET driver of the read-path bench, run as its own process (so its CPU competes like a
 * real client's): `node dist/bench/read-load.js <config.json>`.
 *
 * Like bench/load.ts (which POSTs one body), but each request GETs one of `paths`: in turn, or a
 * random one (random transaction pages); with `body`, it POSTs it instead (a read-only POST: the
 * bulk replay's dry run). `concurrency` workers over an undici keep-alive Pool with
 * one connection each; the first `warmupSeconds` are not recorded, then every request that
 * completes within `seconds` is. A success is a 200 answer. Bounded by time, by `maxRequests`, by a
 * per-request timeout and a hard exit timer. Prints one JSON line with the result on stdout.
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { assertLoopback, percentile, sleep } from './lib';

export interface ReadLoadConfig {
  /** http://127.0.0.1:PORT (loopback only). */
  origin: string;
  /** Path and query of each request, e.g. /v1/transactions?limit=50. */
  paths: string[];
  order: 'cycle' | 'random';
  /** POST this JSON body instead of a GET. */
  body?: unknown;
  concurrency: number;
  warmupSeconds: number;
  seconds: number;
  maxRequests?: number;
  requestTimeoutMs?: number;
}

export interface ReadLoadResult {
  ok: number;
  errors: number;
  errorSamples: string[];
  /** ok / measured seconds. */
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** Mean size of a successful answer's body, in bytes. */
  meanBytes: number;
  totalCompleted: number;
  /** CPU seconds (user + system) this driver used, warm-up included. */
  cpuSeconds: number;
}

const MAX_SAMPLES = 2_000_000;
const JSON_HEADERS = { 'content-type': 'application/json' };

async function main(): Promise<void> {
  const cfg = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as ReadLoadConfig;
  assertLoopback(cfg.origin);
  if (!cfg.paths.length) throw new Error('no paths');
  const maxRequests = cfg.maxRequests ?? 5_000_000;
  const timeoutMs = cfg.requestTimeoutMs ?? 15_000;
  const hardStop = setTimeout(
    () => {
      process.stderr.write('read-load: hard time limit reached\n');
      process.exit(3);
    },
    (cfg.warmupSeconds + cfg.seconds) * 1000 + timeoutMs + 15_000,
  );
  hardStop.unref();

  const pool = new Pool(cfg.origin, {
    connections: cfg.concurrency,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 60_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const latencies = new Float64Array(Math.min(MAX_SAMPLES, maxRequests));
  let samples = 0;
  let ok = 0;
  let errors = 0;
  let bytes = 0;
  let started = 0;
  let totalCompleted = 0;
  const errorSamples: string[] = [];
  let next = 0;
  const body = cfg.body === undefined ? undefined : JSON.stringify(cfg.body);
  const pick = () =>
    cfg.order === 'random'
      ? cfg.paths[Math.floor(Math.random() * cfg.paths.length)]
      : cfg.paths[next++ % cfg.paths.length];

  const t0 = performance.now();
  const measureFrom = t0 + cfg.warmupSeconds * 1000;
  const measureUntil = measureFrom + cfg.seconds * 1000;

  async function once(): Promise<void> {
    const path = pick();
    const begin = performance.now();
    let size = 0;
    let why = '';
    try {
      const res = await pool.request(
        body === undefined ? { path, method: 'GET' } : { path, method: 'POST', headers: JSON_HEADERS, body },
      );
      const text = await res.body.text();
      size = Buffer.byteLength(text);
      if (res.statusCode !== 200) why = `HTTP ${res.statusCode} ${path}: ${text.slice(0, 200)}`;
    } catch (e) {
      why = e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : String(e);
    }
    const end = performance.now();
    totalCompleted++;
    if (end >= measureFrom && end < measureUntil) {
      if (!why) {
        ok++;
        bytes += size;
        if (samples < latencies.length) latencies[samples++] = end - begin;
      } else {
        errors++;
      }
    }
    if (why) {
      if (errorSamples.length < 5) errorSamples.push(why);
      await sleep(5); // no hot loop against a refusing server
    }
  }

  async function worker(): Promise<void> {
    while (performance.now() < measureUntil && started < maxRequests) {
      started++;
      await once();
    }
  }

  await Promise.all(Array.from({ length: cfg.concurrency }, worker));
  await pool.close();

  const sorted = latencies.subarray(0, samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const cpu = process.cpuUsage();
  const result: ReadLoadResult = {
    ok,
    errors,
    errorSamples,
    rps: ok / cfg.seconds,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
    meanBytes: ok ? bytes / ok : NaN,
    totalCompleted,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  clearTimeout(hardStop);
}

void main().catch((e) => {
  process.stderr.write(`read-load failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
