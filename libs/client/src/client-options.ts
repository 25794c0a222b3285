/** How the client retries a call that failed for a transient reason. */
export interface RetryOptions {
  /** Tries in all, the first included (default 5). */
  maxAttempts?: number;
  /** Ceiling of the first backoff; doubles each retry (default 100 ms). */
  initialBackoffMs?: number;
  /** Ceiling of any backoff, Retry-After included (default 5 s). */
  maxBackoffMs?: number;
}

/** {@link RetryOptions} with every default filled in. */
export type RetryPolicyOptions = Required<RetryOptions>;

/** Options of {@link CoordinatorClient}. */
export interface CoordinatorClientOptions {
  /** Base URL of the coordinator, without `/v1` (e.g. `http://127.0.0.1:7070`). */
  url: string;
  /** Sent as `Authorization: Bearer <apiKey>`; leave out for a coordinator in open mode. */
  apiKey?: string;
  /** The fetch to use (default: the global fetch of Node 20). */
  fetch?: typeof fetch;
  /** Retries of transient failures; `false` makes every call a single try. */
  retry?: RetryOptions | false;
  /**
   * How long one try may go without a whole answer before it is given up (default 35 s: longer than
   * the 30 s a repeat waits at the coordinator for a first request in flight, so its 409 is seen); a call's
   * `wait` is added to it. A try given up is a lost answer: retried as a dropped connection is.
   */
  timeoutMs?: number;
}

/** Per-try timeout of a client given no `timeoutMs` option. */
export const DEFAULT_TRY_TIMEOUT_MS = 35_000;

/** Per-call options, accepted by every method of the client. */
export interface CallOptions {
  /**
   * The `Idempotency-Key` of a mutating call. By default a fresh UUID per call, reused by its
   * retries; pass your own to make repeats across processes (a restarted job) safe too.
   */
  idempotencyKey?: string;
  /** Cancels the call, its retries and its backoff waits. */
  signal?: AbortSignal;
}

/** The retry policy of a client given no `retry` option. */
export const DEFAULT_RETRY_OPTIONS: RetryPolicyOptions = { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 5_000 };

/** The retry policy a client runs with. */
export function resolveRetry(retry: RetryOptions | false | undefined): RetryPolicyOptions {
  if (retry === false) return { ...DEFAULT_RETRY_OPTIONS, maxAttempts: 1 };
  const resolved = { ...DEFAULT_RETRY_OPTIONS, ...retry };
  if (!(resolved.maxAttempts >= 1)) throw new RangeError('retry.maxAttempts must be at least 1');
  if (!(resolved.initialBackoffMs >= 0 && resolved.maxBackoffMs >= resolved.initialBackoffMs)) {
    throw new RangeError('retry backoffs must satisfy 0 <= initialBackoffMs <= maxBackoffMs');
  }
  return resolved;
}

/** Options of a call that starts or commits a transaction. */
export interface SubmitOptions extends CallOptions {
  /**
   * `?wait=MS` (at most 60 000): answer once the transaction has settled (committed, aborted,
   * failed) or this much time has passed, whichever comes first. Without it, the answer comes as
   * soon as the transaction (or the commit decision) is durable.
   */
  wait?: number;
}
