/**
 * Closed-loop load driver, run as its own process: `node dist/bench/load.js '<json config>'`.
 *
 * `concurrency` workers each send one request, wait for its answer, and send the next, over an undici
 * keep-alive Pool with one connection per worker. The first `warmupSeconds` are not recorded; then
 * every request that completes within the next `seconds` is recorded (latency, success). A success is
 * a 2xx answer whose JSON `status` is `expectStatus`. Bounded by time, by `maxRequests`, by a per-request
 * timeout, and by a hard exit timer. Prints one JSON line with the result on stdout.
 */
import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';
import { assertLoopback, percentile, processSyscalls, sleep } from './lib';

export interface LoadConfig {
  /** Full URL of the endpoint (loopback only), e.g. http://127.0.0.1:7070/v1/transactions?wait=10000 */
  url: string;
  body: unknown;
  concurrency: number;
  warmupSeconds: number;
  seconds: number;
  expectStatus: string;
  /** Every `every`-th request sends `body` instead, and succeeds with `expectStatus` (say, a business no). */
  alternate?: { every: number; body: unknown; expectStatus: string };
  /**
   * Open loop: send this many requests per second in all, whatever the answers, with at most
   * `concurrency` in flight (a send that finds none free waits, and counts as `late`). Without it,
   * closed loop: `concurrency` workers, each sending its next request when the last is answered.
   */
  rate?: number;
  /** A fresh `Idempotency-Key` on every request, as the client SDK sends on every start. */
  freshIdempotencyKeys?: boolean;
  /** Stop after this many requests in total, whatever the time (a safety bound). */
  maxRequests?: number;
  requestTimeoutMs?: number;
}

export interface LoadResult {
  concurrency: number;
  seconds: number;
  /** Successful requests completed in the measured window. */
  ok: number;
  /** Failed requests (non-2xx, wrong status, transport error) completed in the measured window. */
  errors: number;
  errorSamples: string[];
  /** ok / measured seconds. */
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** All requests completed, warm-up included (for per-saga accounting). */
  totalCompleted: number;
  totalOk: number;
  /** Open loop only: sends that waited for a request in flight to end (the server fell behind the rate). */
  late: number;
  /** CPU seconds (user + system) this driver process used, warm-up included. */
  cpuSeconds: number;
  /** Read-type and write-type syscalls of this driver process (from /proc/self/io), warm-up included. */
  syscalls: { reads: number; writes: number } | null;
}

const MAX_SAMPLES = 2_000_000;

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as LoadConfig;
  const url = new URL(assertLoopback(cfg.url));
  const maxRequests = cfg.maxRequests ?? 5_000_000;
  const timeoutMs = cfg.requestTimeoutMs ?? 15_000;
  const hardStop = setTimeout(
    () => {
      process.stderr.write('load: hard time limit reached\n');
      process.exit(3);
    },
    (cfg.warmupSeconds + cfg.seconds) * 1000 + timeoutMs + 15_000,
  );
  hardStop.unref();

  const pool = new Pool(url.origin, {
    connections: cfg.concurrency,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 60_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const path = url.pathname + url.search;
  const body = JSON.stringify(cfg.body);
  const alternate = cfg.alternate && { ...cfg.alternate, raw: JSON.stringify(cfg.alternate.body) };
  const headers = { 'content-type': 'application/json' };

  const latencies = new Float64Array(Math.min(MAX_SAMPLES, maxRequests));
  let samples = 0;
  let ok = 0;
  let errors = 0;
  let started = 0;
  let totalCompleted = 0;
  let totalOk = 0;
  const errorSamples: string[] = [];

  const t0 = performance.now();
  const measureFrom = t0 + cfg.warmupSeconds * 1000;
  const measureUntil = measureFrom + cfg.seconds * 1000;

  async function once(): Promise<void> {
    const begin = performance.now();
    const other = alternate !== undefined && started % alternate.every === 0;
    const expected = other ? alternate.expectStatus : cfg.expectStatus;
    let good = false;
    let why = '';
    try {
      const res = await pool.request({
        path,
        method: 'POST',
        headers: cfg.freshIdempotencyKeys ? { ...headers, 'idempotency-key': randomUUID() } : headers,
        body: other ? alternate.raw : body,
      });
      const text = await res.body.text();
      if (res.statusCode < 200 || res.statusCode >= 300) why = `HTTP ${res.statusCode}: ${text.slice(0, 200)}`;
      else {
        const status = (JSON.parse(text) as { status?: string }).status;
        if (status === expected) good = true;
        else why = `status ${status}`;
      }
    } catch (e) {
      why = e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : String(e);
    }
    const end = performance.now();
    totalCompleted++;
    if (good) totalOk++;
    if (end >= measureFrom && end < measureUntil) {
      if (good) {
        ok++;
        if (samples < latencies.length) latencies[samples++] = end - begin;
      } else {
        errors++;
      }
    }
    if (!good) {
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

  let late = 0;
  async function paced(rate: number): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; started < maxRequests; i++) {
      const due = t0 + (i * 1000) / rate;
      if (due >= measureUntil) break;
      if (due - performance.now() >= 1) await sleep(due - performance.now());
      if (inFlight.size >= cfg.concurrency) late++;
      while (inFlight.size >= cfg.concurrency) await Promise.race(inFlight);
      started++;
      const sent: Promise<void> = once().finally(() => inFlight.delete(sent));
      inFlight.add(sent);
    }
    await Promise.all(inFlight);
  }

  if (cfg.rate) await paced(cfg.rate);
  else await Promise.all(Array.from({ length: cfg.concurrency }, worker));
  await pool.close();

  const sorted = latencies.subarray(0, samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const result: LoadResult = {
    concurrency: cfg.concurrency,
    seconds: cfg.seconds,
    ok,
    errors,
    errorSamples,
    rps: ok / cfg.seconds,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
    totalCompleted,
    totalOk,
    late,
    cpuSeconds: cpuSecondsNow(),
    syscalls: processSyscalls('self'),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  clearTimeout(hardStop);
}

function cpuSecondsNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

void main().catch((e) => {
  process.stderr.write(`load failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
