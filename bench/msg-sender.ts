/**
 * The stand-in sender of `npm run bench:msg`, a closed-loop driver in its own process:
 * `node dist/bench/msg-sender.js '<json config>'`. Each of `concurrency` workers sends one
 * operation, waits for it to end, and sends the next:
 *
 * - `msg` (prepared mode, the outbox pattern): prepare the message at the coordinator, commit a
 *   local transaction (an order row and the message's outbox marker, one Postgres commit), then
 *   `POST /v1/transactions/{id}/submit?wait=10000` until the message is `committed`. Latency
 *   starts at the local commit.
 * - `msg-driven` (driven mode, for comparison only): commit the same local transaction, then
 *   `POST /v1/transactions?wait=10000` with the message in driven mode. Not the reliable pattern
 *   (a sender dying between its commit and that request loses the message): it shows what the
 *   prepare and the submit cost. Latency starts at the local commit.
 * - `saga`: `POST /v1/transactions?wait=10000` with a 2-branch saga on the same consumers.
 *   Latency starts when the request is sent (a saga has no sender commit before it).
 *
 * Either way latency ends at the last consumer's receipt of the transaction (the consumers record
 * it on the machine's monotonic clock and hand their receipts over at the end), so the figure does
 * not include the coordinator's answer to the sender. Operations ending in the measured window
 * count. Prints one JSON line.
 */
import { Pool as PgPool } from 'pg';
import { Pool, request } from 'undici';
import { assertLoopback, monotonicMs, percentile, sleep } from './lib';

export type SenderTarget = 'saga' | 'msg' | 'msg-driven';

export interface SenderConfig {
  target: SenderTarget;
  coordinatorUrl: string;
  databaseUrl: string;
  /** Participant name and URL of each consumer (a message delivers to them in order, a saga calls them in order). */
  consumers: { name: string; url: string }[];
  concurrency: number;
  warmupSeconds: number;
  seconds: number;
}

export interface SenderResult {
  target: SenderTarget;
  concurrency: number;
  /** Operations committed in the measured window, and per second. */
  ok: number;
  rps: number;
  errors: number;
  errorSamples: string[];
  /** From the sender's commit (saga: its request) to the last consumer's receipt, ms. */
  p50: number;
  p99: number;
  max: number;
  /** Committed operations for which some consumer had no receipt (must be 0). */
  missingReceipts: number;
  /** From the sender's first request to the coordinator's final answer, ms (what the sender waits). */
  roundTripP50: number;
  roundTripP99: number;
  totalCompleted: number;
  cpuSeconds: number;
}

const REQUEST_TIMEOUT_MS = 15_000;

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as SenderConfig;
  const origin = new URL(assertLoopback(cfg.coordinatorUrl)).origin;
  for (const c of cfg.consumers) assertLoopback(c.url);
  const hardStop = setTimeout(
    () => (process.stderr.write('msg-sender: hard time limit reached\n'), process.exit(3)),
    (cfg.warmupSeconds + cfg.seconds) * 1000 + REQUEST_TIMEOUT_MS + 30_000,
  );
  hardStop.unref();
  const http = new Pool(origin, {
    connections: cfg.concurrency,
    keepAliveTimeout: 30_000,
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
  });
  // the local transaction holds a connection only for its two inserts and the commit
  const db = new PgPool({ connectionString: cfg.databaseUrl, max: Math.min(cfg.concurrency, 16) });
  const branches = cfg.consumers.map((c) => ({ id: c.name, participant: c.name, payload: { order: 1 } }));

  const post = async (path: string, body: unknown, want: string): Promise<void> => {
    const res = await http.request({
      path,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.body.text();
    const status = res.statusCode < 300 ? (JSON.parse(text) as { status?: string }).status : undefined;
    if (status !== want) throw new Error(`${path} answered ${res.statusCode} ${text.slice(0, 200)}`);
  };

  const message = (id: string, mode: 'prepared' | 'driven') => ({
    id,
    protocol: 'msg',
    mode,
    timeoutMs: 60_000,
    branches,
  });
  /** The sender's local transaction: its order row and the message's outbox marker, one commit. */
  const commitLocally = async (id: string): Promise<void> => {
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      await client.query('INSERT INTO bench_orders (transaction_id) VALUES ($1)', [id]);
      await client.query(`INSERT INTO bench_outbox (transaction_id, state) VALUES ($1, 'committed')`, [id]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  };

  const tag = `${cfg.target}-${process.pid}-${Date.now().toString(36)}`;
  let seq = 0;
  /** Start of each operation's latency (monotonic ms), by transaction id, for those ending in the window. */
  const starts = new Map<string, number>();
  const roundTrips: number[] = [];
  let errors = 0;
  let totalCompleted = 0;
  const errorSamples: string[] = [];
  const t0 = monotonicMs();
  const measureFrom = t0 + cfg.warmupSeconds * 1000;
  const measureUntil = measureFrom + cfg.seconds * 1000;

  async function once(): Promise<void> {
    const id = `${tag}-${seq++}`;
    const begin = monotonicMs();
    let start = begin;
    let why = '';
    try {
      if (cfg.target === 'saga') {
        await post('/v1/transactions?wait=10000', { id, protocol: 'saga', branches }, 'committed');
      } else if (cfg.target === 'msg') {
        const check = { participant: cfg.consumers[0].name, path: '/msg/check' };
        await post('/v1/transactions', { ...message(id, 'prepared'), checkAfterMs: 30_000, check }, 'prepared');
        await commitLocally(id);
        start = monotonicMs();
        await post(`/v1/transactions/${id}/submit?wait=10000`, {}, 'committed');
      } else {
        await commitLocally(id);
        start = monotonicMs();
        await post('/v1/transactions?wait=10000', message(id, 'driven'), 'committed');
      }
    } catch (e) {
      why = e instanceof Error ? e.message : String(e);
    }
    const end = monotonicMs();
    totalCompleted++;
    const inWindow = end >= measureFrom && end < measureUntil;
    if (!why && inWindow) {
      starts.set(id, start);
      roundTrips.push(end - begin);
    } else if (why) {
      if (inWindow) errors++;
      if (errorSamples.length < 5) errorSamples.push(why);
      await sleep(5); // no hot loop against a refusing server
    }
  }

  const worker = async () => {
    while (monotonicMs() < measureUntil) await once();
  };
  await Promise.all(Array.from({ length: cfg.concurrency }, worker));

  // the last receipt of each transaction over all consumers
  const last = new Map<string, number>();
  const seen = new Map<string, number>();
  for (const c of cfg.consumers) {
    const res = await request(`${c.url}/receipts`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
    const receipts = (await res.body.json()) as Record<string, number>;
    for (const [id, at] of Object.entries(receipts)) {
      last.set(id, Math.max(last.get(id) ?? -Infinity, at));
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
  }
  const latencies: number[] = [];
  let missingReceipts = 0;
  for (const [id, start] of starts) {
    if (seen.get(id) !== cfg.consumers.length) missingReceipts++;
    else latencies.push(last.get(id)! - start);
  }
  latencies.sort((a, b) => a - b);
  roundTrips.sort((a, b) => a - b);
  await Promise.all([http.close(), db.end()]);
  const u = process.cpuUsage();
  const result: SenderResult = {
    target: cfg.target,
    concurrency: cfg.concurrency,
    ok: starts.size,
    rps: starts.size / cfg.seconds,
    errors,
    errorSamples,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.length ? latencies[latencies.length - 1] : NaN,
    missingReceipts,
    roundTripP50: percentile(roundTrips, 50),
    roundTripP99: percentile(roundTrips, 99),
    totalCompleted,
    cpuSeconds: (u.user + u.system) / 1e6,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  clearTimeout(hardStop);
}

void main().catch((e) => {
  process.stderr.write(`msg-sender failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
