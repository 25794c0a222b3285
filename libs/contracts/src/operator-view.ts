import type { ApiKeyView } from './access';
import type { Attention, Phase, Protocol, TransactionStatus } from './vocabulary';

export type StatsWindow = '15m' | '1h' | '6h' | '24h';

/** `GET /v1/stats`: the overview of a window. */
export interface StatsView {
  window: StatsWindow;
  from: string;
  to: string;
  bucketSeconds: number;
  /** Transactions created (`started`) and settled per bucket, by their last update. */
  series: { at: string; started: number; committed: number; aborted: number; failed: number }[];
  inFlight: { protocol: Protocol; status: TransactionStatus; count: number }[];
  attention: Record<Exclude<Attention, 'done'>, number>;
  duration: { count: number; p50Ms: number | null; p99Ms: number | null };
  failingParticipants: { participant: string; failures: number; calls: number }[];
  topErrors: { participant: string; phase: Phase; error: string; transactions: number; example: string }[];
}

/** One `event: status` of `GET /v1/stream`: a transaction status change, once durable. */
export interface StatusChange {
  id: string;
  protocol: Protocol;
  status: TransactionStatus;
  updatedAt: string;
}

/** `POST /v1/keys`: the key's secret is answered once, as `key`. */
export interface CreatedApiKey extends ApiKeyView {
  key: string;
}
