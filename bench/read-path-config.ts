/**
 * `npm run bench:read`'s settings (from the environment), its database and its time budgets. See
 * bench/README.md for the variables.
 */
import { resolve } from 'node:path';
import { TEST_PG_ADMIN_URL, TEST_REDIS_URL } from '../libs/testing/src/fresh-database';
import { assertLoopback, envNumber } from './lib';

/** The checkout's root (this file runs from dist/bench). */
export const ROOT = resolve(__dirname, '../..');
/** Where the report, the plans and the driver's configuration files are written. */
export const OUT = resolve(ROOT, 'bench/out');

const env = process.env;
const num = envNumber;
/** The settings, read once at start; out-of-range numbers are refused by {@link envNumber}. */
export const CONFIG = {
  transactions: num('BENCH_READ_TXNS', 1_000_000, 1_000, 5_000_000),
  chunk: num('BENCH_READ_CHUNK', 100_000, 1_000, 1_000_000),
  days: 30,
  runs: num('BENCH_RUNS', 3, 1, 10),
  seconds: num('BENCH_SECONDS', 15, 1, 300),
  warmupSeconds: num('BENCH_WARMUP', 3, 0, 60),
  concurrency: num('BENCH_CONCURRENCY', 8, 1, 256),
  /** Comma-separated case keys to run (default: all). */
  cases: env.BENCH_READ_CASES ? env.BENCH_READ_CASES.split(',').map((s) => s.trim()) : null,
  /** `auto`: plans of the reads over the target; `1`: of every read; `0`: none. */
  explain: (env.BENCH_EXPLAIN ?? 'auto') as 'auto' | '1' | '0',
  keepDatabase: env.BENCH_KEEP_DBS === '1',
  redisUrl: env.BENCH_REDIS_URL ?? TEST_REDIS_URL,
  targetP99Ms: 50,
};
assertLoopback(CONFIG.redisUrl);
assertLoopback(TEST_PG_ADMIN_URL);

/** The bench's own database, created at start and dropped at the end unless BENCH_KEEP_DBS=1. */
export const DB_NAME = `txc_bench_read_${process.pid}`;
/** {@link DB_NAME} on the admin URL's server. */
export const DB_URL = (() => {
  const u = new URL(TEST_PG_ADMIN_URL);
  u.pathname = `/${DB_NAME}`;
  return u.toString();
})();
/** The most one measured run may take: its warm-up and measured seconds plus a minute, then the driver is killed. */
export const PER_RUN_BUDGET_S = CONFIG.warmupSeconds + CONFIG.seconds + 60;
// seeding scales with the log (about 5 min per million rows here, with a wide margin), then every slot
const SEED_BUDGET_S = 120 + (CONFIG.transactions / 1_000_000) * 1_800;
/** The whole bench's budget, past which it cleans up and exits 1. */
export const TOTAL_BUDGET_MS = (SEED_BUDGET_S + 3 * 16 * CONFIG.runs * PER_RUN_BUDGET_S + 300) * 1000;

/** A bench log line, on stderr (stdout carries the table). */
export function log(line: string): void {
  process.stderr.write(`[bench:read] ${line}\n`);
}
