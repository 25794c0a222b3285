/**
 * What the dashboard reads from the operator API (docs/operator-api.md). The shapes already in
 * libs/contracts come from there; the operator-API additions are spelled out here as the contract
 * document states them, until libs/contracts carries them.
 */
import type {
  AttemptView,
  BranchView as ContractBranchView,
  EventView,
  ParticipantView as ContractParticipantView,
  Phase,
  Problem,
  Protocol,
  TransactionStatus,
  TransactionSummary as ContractTransactionSummary,
  TransactionView as ContractTransactionView,
} from '#contracts';

export type { AttemptView, EventView, Phase, Problem, Protocol, TransactionStatus };

export const ROLES = ['viewer', 'client', 'participant', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** `GET /v1/me`. In open mode every call acts as `admin`. */
export interface WhoAmI {
  open: boolean;
  name?: string;
  role?: Role;
}

export const ATTENTION_STATES = ['healthy', 'retrying', 'compensating', 'waiting', 'failed', 'done'] as const;
export type Attention = (typeof ATTENTION_STATES)[number];

export interface TransactionSummary extends ContractTransactionSummary {
  attention?: Attention;
}

export interface BranchView extends ContractBranchView {
  /** The last attempt failed and will be tried again at `nextAttemptAt`. */
  retrying?: boolean;
}

export interface TransactionView extends Omit<ContractTransactionView, 'branches'> {
  attention?: Attention;
  /** The first failed attempt's error, kept after a replay. */
  firstError?: string | null;
  branches: BranchView[];
}

export interface TransactionPage {
  items: TransactionSummary[];
  nextCursor: string | null;
}

export interface ParticipantView extends ContractParticipantView {
  calls?: number;
  latencyP50Ms?: number | null;
  latencyP99Ms?: number | null;
  inFlightTransactions?: number;
  failedTransactions?: number;
}

export type StatsWindow = '15m' | '1h' | '6h' | '24h';

/** `GET /v1/stats`. */
export interface Stats {
  window: StatsWindow;
  from: string;
  to: string;
  bucketSeconds: number;
  series: { at: string; started: number; committed: number; aborted: number; failed: number }[];
  inFlight: { protocol: Protocol; status: TransactionStatus; count: number }[];
  attention: Record<Exclude<Attention, 'done'>, number>;
  duration: { count: number; p50Ms: number | null; p99Ms: number | null };
  failingParticipants: { participant: string; failures: number; calls: number }[];
  topErrors: { participant: string; phase: Phase; error: string; transactions: number; example: string }[];
}

/** One `event: status` of `GET /v1/stream`. */
export interface StatusEvent {
  id: string;
  protocol: Protocol;
  status: TransactionStatus;
  updatedAt: string;
}

export type BulkReplayOutcome = 'replayed' | 'skipped' | 'error';

export type BulkReplayAnswer =
  | { dryRun: true; matched: number; ids: string[] }
  | { dryRun: false; matched: number; results: { id: string; outcome: BulkReplayOutcome; detail?: string | null }[] };

export interface ApiKeyView {
  name: string;
  role: Role;
  source: 'env' | 'stored';
  createdAt: string | null;
  createdBy: string | null;
}

/** `POST /v1/keys`: the secret is answered once. The contract does not name the field: `key` or `secret`. */
export interface CreatedApiKey extends ApiKeyView {
  key?: string;
  secret?: string;
}

export type OperatorAction = 'replay' | 'retry' | 'abort';
