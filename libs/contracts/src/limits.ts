/**
 * Explicit limits on client input. Documented in README.md ("Limits"); a request past one is
 * answered 413 or 422 with the field and the rule, and writes nothing.
 */
export const Limits = {
  /** Whole request body, bytes. */
  maxBodyBytes: 1024 * 1024,
  /** One branch payload, bytes of its JSON. */
  maxPayloadBytes: 64 * 1024,
  /** Branches in one transaction. */
  maxBranches: 64,
  /** A participant's stored reply (branch result), bytes; a longer reply is stored truncated. */
  maxResultBytes: 64 * 1024,
  /** Transaction timeout bounds, ms. */
  minTimeoutMs: 100,
  maxTimeoutMs: 24 * 60 * 60 * 1000,
  defaultTimeoutMs: 60_000,
  /** `?wait=MS` upper bound. */
  maxWaitMs: 60_000,
  /** Retry policy bounds. */
  maxAttempts: 100,
  maxBackoffMs: 60 * 60 * 1000,
  /** `GET /v1/transactions?limit=` bounds. */
  defaultPageSize: 50,
  maxPageSize: 200,
  /** Identifier shape for transaction, branch and participant names. */
  idPattern: /^[A-Za-z0-9._:-]{1,128}$/,
  participantNamePattern: /^[a-z0-9][a-z0-9_-]{0,62}$/,
  /** How long an Idempotency-Key is remembered. */
  idempotencyTtlMs: 24 * 60 * 60 * 1000,
} as const;

/** Retry policy defaults, used where a transaction gives none. */
export const DEFAULT_RETRY = { maxAttempts: 8, initialBackoffMs: 200, maxBackoffMs: 30_000 } as const;
