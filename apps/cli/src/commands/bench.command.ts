import { randomBytes } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import type { CoordinatorClient } from '#client';
import { Limits } from '#contracts';
import { cliContext } from '../cli-context';
import { formatFields } from '../table';

/** The answer of `txc bench`. */
export interface BenchResult {
  count: number;
  concurrency: number;
  branches: number;
  /** How many ended in each status (a transaction still running at `--wait` counts as its status then). */
  statuses: Record<string, number>;
  /** Submits the coordinator refused or that got no answer. */
  errors: number;
  firstError: string | null;
  durationMs: number;
  perSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
}

const wholeNumber = (min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
  return n;
};
const positive = (max: number) => wholeNumber(1, max);

/**
 * `txc bench`: a closed-loop load of driven sagas against a running coordinator, through the API.
 * Each of `--concurrency` workers submits a saga of `--branches` steps on `--participant` and waits
 * for its outcome before the next; latency is submit-to-answer. For the full benchmark with its
 * baseline, see `npm run bench` (bench/README.md).
 */
export function benchCommand(): Command {
  return (
    new Command('bench')
      .description('closed-loop load of sagas on a participant; prints throughput and latency')
      .requiredOption('--participant <name>', 'the registered participant every step calls (its /saga/action)')
      .option('--count <n>', 'sagas in all', positive(1_000_000), 100)
      .option('--concurrency <n>', 'sagas in flight at once', positive(1_000), 8)
      .option('--branches <n>', 'steps per saga', positive(100), 2)
      // the coordinator's own range for `?wait`
      .option('--wait <ms>', 'how long each submit waits for the outcome', wholeNumber(0, Limits.maxWaitMs), 10_000)
      .action(async (opts: BenchOptions, command: Command) => {
        const ctx = cliContext(command);
        const result = await runBench(ctx.client, opts);
        ctx.print(result, formatBench);
        // a refused or unanswered submit fails the run, so a script or CI notices
        if (result.errors > 0) process.exitCode = 1;
      })
  );
}

interface BenchOptions {
  participant: string;
  count: number;
  concurrency: number;
  branches: number;
  wait: number;
}

async function runBench(client: CoordinatorClient, opts: BenchOptions): Promise<BenchResult> {
  const run = `bench-${randomBytes(4).toString('hex')}`;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let firstError: string | null = null;
  let next = 0;
  const worker = async () => {
    while (next < opts.count) {
      const i = next++;
      const saga = client.saga({ id: `${run}-${i}` });
      for (let b = 0; b < opts.branches; b++) saga.step(opts.participant, { id: `s${b}`, payload: { i, b } });
      const started = performance.now();
      try {
        const t = await saga.submit({ wait: opts.wait });
        statuses[t.status] = (statuses[t.status] ?? 0) + 1;
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.count) }, worker));
  const durationMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  // nearest rank: the smallest latency at or above which q of the samples lie
  const at = (q: number) => Math.round(latencies[Math.max(0, Math.ceil(q * latencies.length) - 1)]);
  return {
    count: opts.count,
    concurrency: opts.concurrency,
    branches: opts.branches,
    statuses,
    errors,
    firstError,
    durationMs: Math.round(durationMs),
    perSecond: Math.round((opts.count / durationMs) * 1000 * 10) / 10,
    latencyMs: { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: Math.round(latencies[latencies.length - 1]) },
  };
}

function formatBench(r: BenchResult): string {
  return formatFields([
    ['sagas', `${r.count} of ${r.branches} step(s), ${r.concurrency} at once`],
    [
      'outcomes',
      Object.entries(r.statuses)
        .map(([status, n]) => `${status} ${n}`)
        .join(', '),
    ],
    ['errors', r.firstError ? `${r.errors} (first: ${r.firstError})` : r.errors],
    ['duration', `${r.durationMs} ms`],
    ['throughput', `${r.perSecond} sagas/s`],
    [
      'latency',
      `p50 ${r.latencyMs.p50} ms, p95 ${r.latencyMs.p95} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms`,
    ],
  ]);
}
