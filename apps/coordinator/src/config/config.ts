import { z } from 'zod';
import { parseApiKeys } from '../access/api-keys';
import { allowListProblems } from '../participants/url-safety';

const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');
/** Decimal digits only: Number() would also take `0x50`, `1e3` and `-0`. */
const decimal = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d{1,10}$/, `must be a decimal integer from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().min(min, `must be from ${min} to ${max}`).max(max, `must be from ${min} to ${max}`));
const int = (def: number, min: number, max: number) => decimal(min, max).default(def);

/** An http(s) URL that fetch can use: a bad one would fail every delivery, long after the start. */
function isHttpUrl(raw: string): boolean {
  if (!/^https?:\/\//i.test(raw) || /\s/.test(raw)) return false;
  try {
    return new URL(raw).hostname !== '';
  } catch {
    return false;
  }
}

/** Every environment variable the coordinator reads, with its rule and default (README "Configuration"). */
const envSchema = z
  .object({
    PORT: int(7070, 0, 65535),
    HOST: z.string().default('127.0.0.1'),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    /** Where the embedded Postgres keeps its data when DATABASE_URL is unset. */
    DATA_DIR: z.string().default('.data'),
    EMBEDDED_PG_PORT: int(54329, 1, 65535),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
    REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9:_-]{1,64}$/, 'must be 1-64 of [A-Za-z0-9:_-]')
      .default('txc'),
    ROLE: z.enum(['all', 'api', 'worker']).default('all'),
    PARTICIPANT_URL_ALLOWLIST: z
      .string()
      .optional()
      .superRefine((raw, ctx) => {
        for (const problem of allowListProblems(raw)) ctx.addIssue({ code: 'custom', message: problem });
      }),
    DB_POOL_SIZE: int(10, 2, 200),
    /** Longest the coordinator waits for Postgres to answer one statement, or to open a connection; then 503. */
    DB_QUERY_TIMEOUT_MS: int(30_000, 1_000, 600_000),
    /** Per-call timeout for participant calls (capped by the transaction deadline in forward phases). */
    CALL_TIMEOUT_MS: int(10_000, 100, 600_000),
    /** A client must send its whole request (headers and body) within this; a slower one gets 408 and is disconnected. */
    REQUEST_TIMEOUT_MS: int(30_000, 500, 600_000),
    /** How often the sweeper looks for orphaned and stuck work (the heartbeat runs on its own timer). */
    SWEEP_INTERVAL_MS: int(2_000, 50, 600_000),
    /** An instance whose heartbeat is older than this is dead; its transactions are taken over. */
    INSTANCE_TTL_MS: int(10_000, 200, 3_600_000),
    /** Worker concurrency for scheduled work (retries, re-drives). */
    WORKER_CONCURRENCY: int(32, 1, 1024),
    /** API keys, `name:role:secret,...`; with none here nor stored, the coordinator runs open. */
    API_KEYS: z
      .string()
      .optional()
      .superRefine((raw, ctx) => {
        for (const problem of parseApiKeys(raw).problems) ctx.addIssue({ code: 'custom', message: problem });
      }),
    /** How long a stored key lookup (and the open-mode check) is cached: a revoked key works this long on other instances. */
    KEY_CACHE_MS: int(5_000, 0, 300_000),
    METRICS_PUBLIC: bool(true),
    DOCS_PUBLIC: bool(true),
    /** Finished transactions (and their branches, events, idempotency keys) older than this many days are deleted; unset keeps them forever. */
    RETENTION_DAYS: decimal(1, 36_500).optional(),
    /** Transactions deleted per statement by retention: small enough that each batch holds its locks briefly. */
    RETENTION_BATCH_SIZE: int(500, 1, 10_000),
    /** How often retention looks for transactions past the horizon. */
    RETENTION_INTERVAL_MS: int(60_000, 100, 86_400_000),
    LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
    /** A participant instance's circuit opens after this many failed calls in a row... */
    CIRCUIT_CONSECUTIVE_FAILURES: int(5, 1, 1000),
    /** ...or when this share of its last CIRCUIT_WINDOW calls failed (strictly between 0 and 1). */
    CIRCUIT_FAILURE_RATE: z.coerce
      .number()
      .gt(0, 'must be between 0 and 1 (exclusive)')
      .lt(1, 'must be between 0 and 1 (exclusive)')
      .default(0.5),
    CIRCUIT_WINDOW: int(20, 2, 10_000),
    /** An open circuit lets one probe call through after this long. */
    CIRCUIT_HALF_OPEN_MS: int(5_000, 100, 3_600_000),
    /** A call with no live instance to go to is deferred this long before it looks again. */
    NO_INSTANCE_RETRY_MS: int(1_000, 100, 600_000),
    /** Longest a call waits in memory for its participant's maxConcurrency/ratePerSecond before it is deferred durably. */
    LIMIT_WAIT_MS: int(2_000, 10, 60_000),
    /** Alerts are POSTed here (JSON, signed with ALERT_WEBHOOK_SECRET when set); unset: no alerts are sent. */
    ALERT_WEBHOOK_URL: z.string().refine(isHttpUrl, 'must be an http:// or https:// URL with a host').optional(),
    ALERT_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    /** First retry delay of a failed alert delivery (doubling, capped at 5 minutes). */
    ALERT_RETRY_MS: int(1_000, 10, 300_000),
    /** A transaction still undecided this long past its deadline raises an alert. */
    ALERT_OVERDUE_AFTER_MS: int(30_000, 0, 86_400_000),
    /** Failed transactions replayed per sweep and participant with autoReplay (their calls are paced by the limits too). */
    AUTO_REPLAY_BATCH: int(20, 1, 1000),
    /** Read by the tracing set-up itself (the OpenTelemetry names); checked here so a bad one stops the start. */
    OTEL_EXPORTER_OTLP_ENDPOINT: z
      .string()
      .refine(isHttpUrl, 'must be an http:// or https:// URL with a host')
      .optional(),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z
      .string()
      .refine(isHttpUrl, 'must be an http:// or https:// URL with a host')
      .optional(),
    OTEL_BSP_SCHEDULE_DELAY: decimal(0, 3_600_000).optional(),
    /** Test-only fault injection: `point[:n]` kills the process with SIGKILL at the n-th pass of a named point. */
    CRASH_AT: z
      .string()
      .regex(
        /^(after-create|after-call|during-compensation|after-decision)(:[1-9]\d{0,5})?$/,
        'must be point[:n]: after-create, after-call, during-compensation or after-decision, n a whole number from 1',
      )
      .optional(),
  })
  // compared only when both are numbers: a bad value of either is its own line, not this one's too
  .refine((c) => !bothNumbers(c.INSTANCE_TTL_MS, c.SWEEP_INTERVAL_MS) || c.INSTANCE_TTL_MS >= 2 * c.SWEEP_INTERVAL_MS, {
    path: ['INSTANCE_TTL_MS'],
    message: 'must be at least twice SWEEP_INTERVAL_MS (an instance is called dead only after missing two sweeps)',
  });

export type Config = z.output<typeof envSchema>;

/** Variables whose mere presence asks for protection: blank, they are refused, not read as unset. */
const SET_MEANS_PROTECT = new Set(['API_KEYS', 'PARTICIPANT_URL_ALLOWLIST']);

/** Whether both values parsed (an object's refinement still runs when one of its fields failed). */
function bothNumbers(a: unknown, b: unknown): boolean {
  return typeof a === 'number' && typeof b === 'number';
}

/** Reads and validates the environment; throws one error naming every bad variable and its rule. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // an empty value reads as unset (`PORT=${PORT}` with nothing behind it), except where setting the
  // variable at all asks for protection that an empty value would silently leave off
  const present = Object.fromEntries(
    Object.entries(env).filter(([name, v]) => v !== undefined && (v !== '' || SET_MEANS_PROTECT.has(name))),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
