import type { Attention, BranchStatus, Mode, Outcome, Phase, Protocol, TransactionStatus } from './vocabulary';
import type { RetryPolicy } from './transaction-request.schema';

/** One delivery of a phase to a participant, as recorded in the log. */
export interface AttemptView {
  branchId: string;
  phase: Phase;
  attempt: number;
  startedAt: string;
  finishedAt: string | null;
  outcome: Outcome | null;
  httpStatus: number | null;
  error: string | null;
}

/** One entry of the append-only event log: what the dashboard's timeline draws. */
export interface EventView {
  seq: number;
  at: string;
  type: string;
  branchId: string | null;
  phase: Phase | null;
  attempt: number | null;
  outcome: Outcome | null;
  detail: Record<string, unknown> | null;
}

export interface BranchView {
  id: string;
  participant: string;
  status: BranchStatus;
  phase: Phase;
  attempt: number;
  dependsOn: string[];
  nextAttemptAt: string | null;
  /** Its last attempt failed and it will be tried again at `nextAttemptAt`. */
  retrying: boolean;
  /** The error of its latest failed attempt, if any. */
  lastError: string | null;
  payload: unknown;
  result: unknown;
}

/**
 * A prepared message's check: the sender's endpoint, when it is first asked, and how the asking
 * went. `status`: `pending` not asked yet (first ask at `nextAttemptAt`), `running` being asked (or
 * asked again at `nextAttemptAt`), `succeeded` answered committed, `rejected` answered rolledback,
 * `skipped` not needed (submitted first, or aborted before it was asked), `unknown` asked until the
 * deadline without a usable answer.
 */
export interface MessageCheckView {
  participant: string;
  path: string;
  checkAfterMs: number;
  status: BranchStatus;
  attempt: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  /** The check's deciding answer (`{"state": ...}`), once it gave one. */
  answer: unknown;
}

export interface TransactionSummary {
  id: string;
  protocol: Protocol;
  mode: Mode;
  status: TransactionStatus;
  createdAt: string;
  updatedAt: string;
  deadline: string;
  participants: string[];
  attention: Attention;
  /** Why it aborted or failed. */
  error: string | null;
}

export interface TransactionView extends TransactionSummary {
  timeoutMs: number;
  retry: RetryPolicy;
  decision: 'commit' | 'abort' | null;
  /** The name of the API key that started it (`anonymous` in open mode; null if unknown). */
  createdBy: string | null;
  /** The first failed attempt's error: often the clue, kept after retries and replays. */
  firstError: { branchId: string; phase: Phase; attempt: number; at: string; error: string } | null;
  branches: BranchView[];
  /** A prepared message's check (protocol msg, mode prepared); absent otherwise. Its calls are in `attempts` as branch `$check`. */
  check?: MessageCheckView;
  attempts: AttemptView[];
  events: EventView[];
}

export interface TransactionPage {
  items: TransactionSummary[];
  nextCursor: string | null;
}

/** A participant instance's state: `up` (lease live), `expired` (lease lapsed), `draining` (deregistered). */
export type InstanceStatus = 'up' | 'expired' | 'draining';
/** A circuit breaker's state; `open` and `half-open` instances get no new call but a probe. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** One instance of a participant as `GET /v1/participants/{name}` lists it. */
export interface ParticipantInstanceView {
  instanceId: string;
  url: string;
  transport: string;
  ttlSeconds: number | null;
  metadata: Record<string, unknown>;
  status: InstanceStatus;
  /** This coordinator's breaker for the instance, or else the state last published by any coordinator. */
  circuit: CircuitState;
  circuitChangedAt: string | null;
  /** When its lease runs out (null: it never expires). */
  expiresAt: string | null;
  lastSeenAt: string;
  registeredAt: string;
  /** Share of the last 100 calls from the answering coordinator that failed; null before any call. */
  errorRate: number | null;
  /** Calls from the answering coordinator in the last minute, their latency, and those in flight now. */
  calls: number;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  inFlightCalls: number;
}

export interface ParticipantView {
  name: string;
  /** The most recent registration's address (each instance has its own in `instances`). */
  url: string;
  transport: string;
  ttlSeconds: number | null;
  hasSecret: boolean;
  metadata: Record<string, unknown>;
  maxConcurrency: number | null;
  ratePerSecond: number | null;
  autoReplay: boolean;
  /**
   * Since when it has had an instance up with a closed circuit, as the coordinators last recorded it
   * (every sweep); null while it has none. Failed transactions from before it are what `autoReplay` replays.
   */
  healthySince: string | null;
  /** `up` while at least one instance is up, else `stale`. */
  status: 'up' | 'stale';
  /** `closed` while an up instance's circuit is closed; else `half-open` if one is probing; else `open`. */
  circuit: CircuitState;
  lastSeenAt: string;
  /** Share of the last 100 calls from the answering instance that got no answer or an error status; null before any call. */
  errorRate: number | null;
  lastError: string | null;
  /** Calls from the answering instance in the last minute, and their latency. */
  calls: number;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  /** Transactions involving it that are in flight, and that are parked as `failed`. */
  inFlightTransactions: number;
  failedTransactions: number;
  instances: ParticipantInstanceView[];
  createdAt: string;
  updatedAt: string;
}
