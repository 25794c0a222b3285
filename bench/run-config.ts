/**
 * `npm run bench`'s settings (from the environment), its targets and what one measured run records.
 * See bench/README.md for the variables.
 */
import { resolve } from 'node:path';
import { TEST_PG_ADMIN_URL, TEST_REDIS_URL } from '../libs/testing/src/fresh-database';
import type { LoadResult } from './load';
import { assertLoopback, envNumber, sagaBody } from './lib';
import { benchLog } from './stack';

export const ROOT = resolve(__dirname, '../..');
export const OUT = resolve(ROOT, 'bench/out');

export function log(line: string): void {
  benchLog({ name: 'bench' }, line);
}

/**
 * `coordinator` runs the saga; `tcc`, `2pc` and `3pc` run the same transfer under those protocols on
 * the same coordinator. `baseline-4` and `baseline-6` are the floor with as many calls as TCC / 2PC
 * (two rounds) and 3PC (three rounds) make.
 */
export type Target =
  | 'baseline'
  | 'baseline-4'
  | 'baseline-6'
  | 'coordinator'
  | 'before'
  | 'saga-keyed'
  | 'saga-no10'
  | 'tcc'
  | '2pc'
  | '3pc';
export const ALL_TARGETS: Target[] = [
  'baseline',
  'baseline-4',
  'baseline-6',
  'coordinator',
  'before',
  'saga-keyed',
  'saga-no10',
  'tcc',
  '2pc',
  '3pc',
];
/** The coordinator's targets that run on the coordinator under test (`before` runs on another build). */
export const COORDINATOR_TARGETS: Target[] = ['coordinator', 'saga-keyed', 'saga-no10', 'tcc', '2pc', '3pc'];
/** The floor's targets, served by the baseline process. */
export const BASELINE_TARGETS: Target[] = ['baseline', 'baseline-4', 'baseline-6'];
/**
 * `saga-keyed`: the coordinator's saga with a fresh `Idempotency-Key` on every start, as the client SDK sends.
 * `saga-no10`: the coordinator's saga where every 10th transfer credits an account the participant
 * does not know, a business no: the debit is compensated and the answer is `aborted`.
 */
const NO_ACCOUNT = 'no-such-account';
export const businessNo = () => {
  const body = sagaBody('accounts', 'saga') as { branches: { payload: Record<string, unknown> }[] };
  body.branches[1].payload = { ...body.branches[1].payload, account: NO_ACCOUNT };
  return { every: 10, body, expectStatus: 'aborted' };
};
export const protocolOf = (t: Target): 'saga' | 'tcc' | '2pc' | '3pc' => {
  if (t === 'tcc' || t === '2pc' || t === '3pc') return t;
  if (t === 'baseline-4') return 'tcc';
  if (t === 'baseline-6') return '3pc';
  return t === 'before' ? CONFIG.beforeProtocol : 'saga';
};
/** What each coordinator target's ratio is taken against: the floor with as many participant calls. */
export const floorOf = (t: Target): Target => {
  const protocol = protocolOf(t);
  return protocol === '3pc' ? 'baseline-6' : protocol === 'saga' ? 'baseline' : 'baseline-4';
};

const env = process.env;
const num = envNumber;
export const CONFIG = {
  runs: num('BENCH_RUNS', 3, 1, 20),
  seconds: num('BENCH_SECONDS', 10, 1, 600),
  warmupSeconds: num('BENCH_WARMUP', 3, 0, 120),
  concurrencies: (env.BENCH_CONCURRENCY || '16,64').split(',').map((s) => {
    const c = Number(s);
    if (!Number.isInteger(c) || c < 1 || c > 1024) throw new Error('BENCH_CONCURRENCY must be integers from 1 to 1024');
    return c;
  }),
  /** Open loop at this many sagas/s (`concurrency` then bounds what is in flight), for CPU per saga at a load every target keeps up with. */
  rate: env.BENCH_RATE ? num('BENCH_RATE', 0, 1, 100_000) : undefined,
  targets: (env.BENCH_TARGETS ?? 'baseline,baseline-4,baseline-6,coordinator,saga-keyed,saga-no10,tcc,2pc,3pc')
    .split(',')
    .map((s) => s.trim()) as Target[],
  participant: (env.BENCH_PARTICIPANT ?? 'auto') as 'auto' | 'demo' | 'stand-in',
  dbPoolSize: num('DB_POOL_SIZE', 10, 2, 200),
  profile: env.BENCH_PROFILE === '1',
  keepDatabases: env.BENCH_KEEP_DBS === '1',
  statsSettleMs: num('BENCH_STATS_SETTLE_MS', 11_000, 0, 60_000),
  /** Another checkout (built) whose coordinator runs the saga as target `before`, for a lever's before/after in one run. */
  before: env.BENCH_BEFORE ? resolve(env.BENCH_BEFORE, 'dist/apps/coordinator/src/main.js') : null,
  /** `before` runs `saga-keyed`'s load (a fresh Idempotency-Key on every start) instead of the plain saga's. */
  beforeKeyed: env.BENCH_BEFORE_KEYED === '1',
  /** The protocol `before` runs the transfer under (`saga`, `tcc`, `2pc` or `3pc`), to compare with that target. */
  beforeProtocol: (env.BENCH_BEFORE_PROTOCOL ?? 'saga') as 'saga' | 'tcc' | '2pc' | '3pc',
  redisUrl: env.BENCH_REDIS_URL ?? TEST_REDIS_URL,
};
assertLoopback(CONFIG.redisUrl);
assertLoopback(TEST_PG_ADMIN_URL);
for (const t of CONFIG.targets) if (!ALL_TARGETS.includes(t)) throw new Error(`unknown target ${t}`);
if (!['saga', 'tcc', '2pc', '3pc'].includes(CONFIG.beforeProtocol))
  throw new Error('BENCH_BEFORE_PROTOCOL is saga, tcc, 2pc or 3pc');
if (CONFIG.targets.includes('before') !== (CONFIG.before !== null)) {
  throw new Error('target `before` and BENCH_BEFORE (a built checkout to compare with) go together');
}

export const PER_RUN_BUDGET_S = CONFIG.warmupSeconds + CONFIG.seconds + 40;
// + up to QUIET_TRIES s waiting for a quiet machine before each run
export const TOTAL_BUDGET_MS =
  // every slot, plus at most 2 x BENCH_RUNS repeated runs, plus start-up and the statistics wait
  ((CONFIG.runs * CONFIG.targets.length * CONFIG.concurrencies.length + 2 * CONFIG.runs) * PER_RUN_BUDGET_S + 240) *
    1000 +
  CONFIG.statsSettleMs;

export interface RunRecord {
  target: Target;
  concurrency: number;
  run: number;
  result: LoadResult;
  /** CPU seconds used during the run (warm-up included), per process group. */
  cpu: Record<string, number>;
  /** Read-type and write-type syscalls during the run (warm-up included), per process group. */
  syscalls: Record<string, { reads: number; writes: number }>;
  machineBusyFraction: number;
  loadavgBefore: number;
  /** Fraction of machine CPU time stolen by the hypervisor during the run. */
  stealFraction: number;
  /** CPU cores used on average during the run by processes that are not ours (other people's work). */
  otherCores: number;
  /** otherCores > OTHERS_MAX: the run is repeated and left out of the medians. */
  contaminated: boolean;
  /** Disturbed, but kept because the retries ran out. */
  disturbedButKept?: boolean;
  /** Machine CPU busy fraction in the second before the run (our servers idle): others' work. */
  busyBeforeFraction: number;
}

export const QUIET_TRIES = 30;
export const OTHERS_MAX = 0.25;
export const MAX_RETRIES = 2 * CONFIG.runs;
