import type { Phase, Protocol } from './vocabulary';

/** Body the coordinator POSTs to `{participant.url}{path}` for one phase of one branch. */
export interface ParticipantCallBody {
  transactionId: string;
  branchId: string;
  protocol: Protocol;
  phase: Phase;
  /** 1-based, counts every delivery of this phase to this branch, retries and re-drives included. */
  attempt: number;
  /** ISO time after which the coordinator stops waiting for this phase. */
  deadline?: string;
  payload: unknown;
}

/** Header names of the participant contract. */
export const ParticipantHeaders = {
  /** `{transactionId}/{branchId}/{phase}`: equal for every delivery of one phase. */
  idempotencyKey: 'idempotency-key',
  /** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` when the participant registered a secret. */
  signature: 'txn-signature',
  traceparent: 'traceparent',
} as const;

/** Reply of non-HTTP transports: `{outcome, result?}`. */
export interface ParticipantReply {
  outcome: 'yes' | 'no' | 'retry';
  result?: unknown;
}
