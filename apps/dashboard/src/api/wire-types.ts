/**
 * What the dashboard reads from the operator API (docs/operator-api.md): the types of
 * libs/contracts, and the two shapes libs/contracts does not hold (the stats answer and the stream's
 * status event, defined in the coordinator and the store), spelled out as the contract states them.
 */
import type {
  ApiKeyView,
  Attention,
  AttemptView,
  BranchView,
  BulkReplayResult,
  EventView,
  ParticipantView,
  Phase,
  Problem,
  Protocol,
  Role,
  TransactionPage,
  TransactionStatus,
  TransactionSummary,
  TransactionView,
  WhoAmI,
} from '#contracts';

export type {
  ApiKeyView,
  Attention,
  AttemptView,
  BranchView,
  BulkReplayResult,
  EventView,
  ParticipantView,
  Phase,
  Problem,
  Protocol,
  Role,
  TransactionPage,
  TransactionStatus,
  TransactionSummary,
  TransactionView,
  WhoAmI,
};

/** libs/contracts' ROLES, without bundling the zod schemas beside it. */
export const ROLES = ['viewer', 'client', 'participant', 'operator', 'admin'] as const satisfies readonly Role[];

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

/** `POST /v1/keys`: the key's secret is answered once, as `key`. */
export interface CreatedApiKey extends ApiKeyView {
  key: string;
}

export type OperatorAction = 'replay' | 'retry' | 'abort';
