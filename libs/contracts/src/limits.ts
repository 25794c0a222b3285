import { MAX_JSON_DEPTH } from './json-safety';

/**
 * Every limit on client input, in one table. Documented in docs/limits.md and README.md ("Limits"):
 * a request past one is answered 4xx application/problem+json (413, 414, 415, 422 or 431, with the
 * field and the rule for a 422) and writes nothing.
 */
export const Limits = {
  /** Whole request body, bytes. */
  maxBodyBytes: 1024 * 1024,
  /** One branch payload, bytes of its JSON. */
  maxPayloadBytes: 64 * 1024,
  /** A participant's `metadata`, bytes of its JSON. */
  maxMetadataBytes: 16 * 1024,
  /** Nesting of arrays/objects in a payload, in participant metadata and in a stored participant reply. */
  maxJsonDepth: MAX_JSON_DEPTH,
  /**
   * Nesting of a whole request body: a payload sits 3 levels down, so this leaves room for it and
   * refuses anything deeper before any recursive code (size check, request hash) sees it.
   */
  maxBodyDepth: MAX_JSON_DEPTH + 8,
  /** Branches in one transaction, driven (in the start body) or interactive (registered one by one). */
  maxBranches: 64,
  /** A participant's stored reply (branch result), bytes; a longer reply is stored truncated. */
  maxResultBytes: 64 * 1024,
  /** Transaction timeout bounds, ms. */
  minTimeoutMs: 100,
  maxTimeoutMs: 24 * 60 * 60 * 1000,
  defaultTimeoutMs: 60_000,
  /** A prepared message's wait for its submit before the sender's check endpoint is asked, ms. */
  defaultCheckAfterMs: 10_000,
  minCheckAfterMs: 100,
  /** `?wait=MS` upper bound. */
  maxWaitMs: 60_000,
  /** Retry policy bounds. */
  maxAttempts: 100,
  maxBackoffMs: 60 * 60 * 1000,
  /** `GET /v1/transactions?limit=` bounds. */
  defaultPageSize: 50,
  maxPageSize: 200,
  /** Identifier length for transaction and branch ids. */
  maxIdLength: 128,
  /** `Idempotency-Key` length (visible ASCII); a list's `q` looks one up, so it may be as long. */
  maxIdempotencyKeyLength: 255,
  /** A participant's URL (or broker URL), in characters; an instance registered without an id is named by it. */
  maxParticipantUrlLength: 2048,
  /** Identifier shape for transaction and branch ids: 1-128 of [A-Za-z0-9._:-], but not `.` or `..` (path segments). */
  idPattern: /^(?!\.\.?$)[A-Za-z0-9._:-]{1,128}$/,
  participantNamePattern: /^[a-z0-9][a-z0-9_-]{0,62}$/,
  /**
   * A participant instance's id: 1-128 of [A-Za-z0-9._:/@-]. An instance registered without one is
   * named by its URL, which may be longer or hold other characters: such ids are stored, never typed.
   */
  instanceIdPattern: /^[A-Za-z0-9._:/@-]{1,128}$/,
  /**
   * An instance as a heartbeat or a removal names it: its `instanceId`, or the URL (1-2048 characters)
   * that names an instance registered without one.
   */
  instanceRefPattern: /^[^\u0000-\u001f\u007f]{1,2048}$/,
  /** A participant's `maxConcurrency` upper bound. */
  maxParticipantConcurrency: 10_000,
  /** A participant's `ratePerSecond` upper bound. */
  maxParticipantRatePerSecond: 100_000,
  /** A participant's `ratePerSecond` lower bound: one call in about 17 minutes (a wait past any sane deadline below). */
  minParticipantRatePerSecond: 0.001,
  /** Request target (path and query), bytes; longer is 414. */
  maxUrlBytes: 8 * 1024,
  /** All request headers together (with the request line), bytes; more is 431. */
  maxHeaderBytes: 16 * 1024,
  /** How long an Idempotency-Key is remembered. */
  idempotencyTtlMs: 24 * 60 * 60 * 1000,
} as const;

/** Retry policy defaults, used where a transaction gives none. */
export const DEFAULT_RETRY = { maxAttempts: 8, initialBackoffMs: 200, maxBackoffMs: 30_000 } as const;
