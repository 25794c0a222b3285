import {
  Attention,
  BranchStatus,
  Mode,
  Outcome,
  Phase,
  Protocol,
  Role,
  TransactionStatus,
  Transport,
} from '#contracts';
import { API_LINKS } from '../access/keys.controller';

/**
 * The JSON Schemas of the API's answers (the views in libs/contracts), for the OpenAPI document's
 * `components.schemas`. Every property an answer carries is declared and required: a field is null
 * when it has no value, never left out (the one exception, `check`, is said below). The e2e test
 * `openapi-answers.e2e-spec.ts` validates real answers against them with undeclared fields refused.
 */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string, extra: object = {}) => ({ type: [type, 'null'], ...extra });
const oneOf = (values: object) => ({ type: 'string', enum: Object.values(values) });
const orNull = (values: object) => ({ type: ['string', 'null'], enum: [...Object.values(values), null] });
const dateTime = { type: 'string', format: 'date-time' };
const nullableDateTime = nullable('string', { format: 'date-time' });
const integer = { type: 'integer' };
const string = { type: 'string' };
const anyJson = {};
const jsonObject = { type: 'object' };

/** An object schema whose every listed property is required; `optional` names those that may be absent. */
function object(properties: Record<string, object>, optional: string[] = [], description?: string) {
  return {
    type: 'object',
    ...(description ? { description } : {}),
    required: Object.keys(properties).filter((name) => !optional.includes(name)),
    properties,
  };
}

const CIRCUIT = oneOf({ closed: 'closed', open: 'open', halfOpen: 'half-open' });

/** What every registry answer carries for an instance and for its participant: the last minute's calls from this coordinator. */
const CALL_FIGURES = {
  errorRate: nullable('number', { description: 'share of the last 100 calls that failed; null before any call' }),
  calls: { type: 'integer', description: 'calls in the last minute' },
  latencyP50Ms: nullable('number'),
  latencyP99Ms: nullable('number'),
};

const RETRY_POLICY = object({ maxAttempts: integer, initialBackoffMs: integer, maxBackoffMs: integer });

const ATTEMPT = object(
  {
    branchId: { type: 'string', description: '`$check` for a prepared message’s check' },
    phase: oneOf(Phase),
    attempt: integer,
    startedAt: dateTime,
    finishedAt: nullableDateTime,
    outcome: orNull(Outcome),
    httpStatus: nullable('integer'),
    error: nullable('string'),
  },
  [],
  'one delivery of a phase to a participant',
);

const EVENT = object(
  {
    seq: integer,
    at: dateTime,
    type: { type: 'string', description: 'e.g. transaction.created, call.started, operator.replay' },
    branchId: nullable('string'),
    phase: orNull(Phase),
    attempt: nullable('integer'),
    outcome: orNull(Outcome),
    detail: nullable('object'),
  },
  [],
  'one entry of the append-only event log',
);

const BRANCH = object({
  id: string,
  participant: string,
  status: oneOf(BranchStatus),
  phase: oneOf(Phase),
  attempt: integer,
  dependsOn: { type: 'array', items: string },
  nextAttemptAt: nullableDateTime,
  retrying: { type: 'boolean', description: 'its last attempt failed and it will be tried again at nextAttemptAt' },
  lastError: nullable('string'),
  payload: anyJson,
  result: { description: 'the forward phase’s answer body (JSON), null without one' },
});

const MESSAGE_CHECK = object(
  {
    participant: string,
    path: string,
    checkAfterMs: integer,
    status: oneOf(BranchStatus),
    attempt: integer,
    nextAttemptAt: nullableDateTime,
    lastError: nullable('string'),
    answer: { description: 'the check’s deciding answer ({"state": ...}), null until it gave one' },
  },
  [],
  'a prepared message’s check of its sender',
);

const SUMMARY_PROPERTIES = {
  id: string,
  protocol: oneOf(Protocol),
  mode: oneOf(Mode),
  status: oneOf(TransactionStatus),
  createdAt: dateTime,
  updatedAt: dateTime,
  deadline: dateTime,
  participants: { type: 'array', items: string },
  attention: oneOf(Attention),
  error: nullable('string', { description: 'why it aborted or failed' }),
};

const TRANSACTION = object(
  {
    ...SUMMARY_PROPERTIES,
    timeoutMs: integer,
    retry: RETRY_POLICY,
    decision: { type: ['string', 'null'], enum: ['commit', 'abort', null] },
    createdBy: nullable('string', { description: 'the API key that started it (`anonymous` in open mode)' }),
    firstError: {
      ...object({ branchId: string, phase: oneOf(Phase), attempt: integer, at: dateTime, error: string }),
      type: ['object', 'null'],
      description: 'the first failed attempt’s error, kept after retries and replays',
    },
    branches: { type: 'array', items: ref('Branch') },
    check: ref('MessageCheck'),
    attempts: { type: 'array', items: ref('Attempt') },
    events: { type: 'array', items: ref('Event') },
  },
  ['check'],
  'a transaction with its branches, attempts and event timeline; `check` only on a prepared message',
);

const INSTANCE = object({
  instanceId: string,
  url: string,
  transport: oneOf(Transport),
  ttlSeconds: nullable('integer'),
  metadata: jsonObject,
  status: oneOf({ up: 'up', expired: 'expired', draining: 'draining' }),
  circuit: CIRCUIT,
  circuitChangedAt: nullableDateTime,
  expiresAt: nullable('string', { format: 'date-time', description: 'null: the lease never expires' }),
  lastSeenAt: dateTime,
  registeredAt: dateTime,
  ...CALL_FIGURES,
  inFlightCalls: integer,
});

const PARTICIPANT = object({
  name: string,
  url: { type: 'string', description: "the most recent registration's address" },
  transport: oneOf(Transport),
  ttlSeconds: nullable('integer'),
  hasSecret: { type: 'boolean' },
  metadata: jsonObject,
  maxConcurrency: nullable('integer'),
  ratePerSecond: nullable('number'),
  autoReplay: { type: 'boolean' },
  healthySince: nullableDateTime,
  status: { type: 'string', enum: ['up', 'stale'], description: 'up while at least one instance is up' },
  circuit: CIRCUIT,
  lastSeenAt: dateTime,
  lastError: nullable('string'),
  ...CALL_FIGURES,
  inFlightTransactions: integer,
  failedTransactions: integer,
  instances: { type: 'array', items: ref('ParticipantInstance') },
  createdAt: dateTime,
  updatedAt: dateTime,
});

const WHO_AM_I = { open: { type: 'boolean' }, name: string, role: oneOf(Role) };

const API_KEY = {
  name: string,
  role: oneOf(Role),
  source: { type: 'string', enum: ['env', 'stored'] },
  createdAt: nullableDateTime,
  createdBy: nullable('string'),
};

const STATS = object({
  window: { type: 'string', enum: ['15m', '1h', '6h', '24h'] },
  from: dateTime,
  to: dateTime,
  bucketSeconds: integer,
  series: {
    type: 'array',
    items: object({ at: dateTime, started: integer, committed: integer, aborted: integer, failed: integer }),
  },
  inFlight: {
    type: 'array',
    items: object({ protocol: oneOf(Protocol), status: oneOf(TransactionStatus), count: integer }),
  },
  attention: object(
    Object.fromEntries(
      Object.values(Attention)
        .filter((a) => a !== Attention.Done)
        .map((a) => [a, integer]),
    ),
  ),
  duration: object({ count: integer, p50Ms: nullable('number'), p99Ms: nullable('number') }),
  failingParticipants: { type: 'array', items: object({ participant: string, failures: integer, calls: integer }) },
  topErrors: {
    type: 'array',
    items: object({ participant: string, phase: oneOf(Phase), error: string, transactions: integer, example: string }),
  },
});

const BULK_REPLAY = object(
  {
    dryRun: { type: 'boolean' },
    matched: integer,
    truncated: {
      type: 'boolean',
      description: 'more failed transactions match than one request handles: run it again',
    },
    ids: { type: 'array', items: string, description: 'dry run: the transactions it would replay' },
    results: {
      type: 'array',
      description: 'what it did for each',
      items: object({
        id: string,
        outcome: { type: 'string', enum: ['replayed', 'skipped', 'error'] },
        detail: nullable('string'),
      }),
    },
  },
  ['ids', 'results'],
);

/** Every answer's schema, by the name `components.schemas` gives it. */
export const ANSWER_SCHEMAS = {
  Transaction: TRANSACTION,
  TransactionSummary: object(SUMMARY_PROPERTIES),
  TransactionPage: object({
    items: { type: 'array', items: ref('TransactionSummary') },
    nextCursor: nullable('string', { description: 'pass as `cursor` for the next page; null on the last' }),
  }),
  Branch: BRANCH,
  Attempt: ATTEMPT,
  Event: EVENT,
  MessageCheck: MESSAGE_CHECK,
  Participant: PARTICIPANT,
  ParticipantInstance: INSTANCE,
  ParticipantList: object({ items: { type: 'array', items: ref('Participant') } }),
  WhoAmI: object(WHO_AM_I),
  ApiIndex: object({
    ...WHO_AM_I,
    links: object(Object.fromEntries(Object.keys(API_LINKS).map((link) => [link, string]))),
  }),
  ApiKey: object(API_KEY),
  ApiKeyList: object({ items: { type: 'array', items: ref('ApiKey') } }),
  CreatedApiKey: object({ ...API_KEY, key: { type: 'string', description: 'the secret, answered this once' } }),
  Stats: STATS,
  BulkReplayResult: BULK_REPLAY,
};
