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

/**
 * Body of a reliable message's check (`phase: "check"`): the participant envelope without a
 * `branchId`, since it is asked of the sender, not of a branch. Answered 200 {@link CheckReply}.
 */
export type CheckCallBody = Omit<ParticipantCallBody, 'branchId'> & { branchId?: undefined };

/** The `Idempotency-Key` of a delivery: `{transactionId}/{branchId}/{phase}`, or `{transactionId}/{phase}` for a check. */
export function deliveryKey(body: ParticipantCallBody | CheckCallBody): string {
  return body.branchId === undefined
    ? `${body.transactionId}/${body.phase}`
    : `${body.transactionId}/${body.branchId}/${body.phase}`;
}

/** What a sender's check endpoint answers: `{"state": "committed" | "rolledback" | "pending"}`. */
export interface CheckReply {
  state: 'committed' | 'rolledback' | 'pending';
}

/** Header names of the participant contract. */
export const ParticipantHeaders = {
  /** `{transactionId}/{branchId}/{phase}`: equal for every delivery of one phase. */
  idempotencyKey: 'idempotency-key',
  /** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` when the participant registered a secret. */
  signature: 'txn-signature',
  traceparent: 'traceparent',
} as const;

/**
 * What a participant answers over a broker: `yes` (done), `no` (a definite no from a forward phase;
 * from a completion phase a protocol error, retried) or `retry` (unknown, asked again), and the
 * result to keep (as an HTTP reply's JSON body). The SDK adds `status`, the HTTP status the same
 * phase would have answered, which the attempt shows.
 */
export interface ParticipantReply {
  outcome: 'yes' | 'no' | 'retry';
  result?: unknown;
  status?: number;
}

/**
 * Header of a broker delivery carrying the branch's path for the phase (`/saga/action`,
 * `/saga/debit/action`): the subject names the participant and phase, the path picks the named action.
 */
export const BROKER_PATH_HEADER = 'txn-path';

/**
 * The request a broker transport sends (NATS, Redis, RabbitMQ; docs/transports.md): the participant
 * envelope itself, plus `headers` with what HTTP sends as headers (idempotency key, signature,
 * traceparent, the phase's path). The signature covers the envelope's JSON text: the message without
 * `headers`, as `JSON.stringify` writes it.
 */
export type BrokerCallMessage = (ParticipantCallBody | CheckCallBody) & { headers: Record<string, string> };

/** The request/reply pattern (subject, channel, routing key) of a phase: `txn.<participant>.<phase>`. */
export function brokerPattern(participant: string, phase: Phase): string {
  return `txn.${participant}.${phase}`;
}

/** The RabbitMQ topic exchange phase requests are published on; a participant binds its queue `txn.<name>` to it. */
export const RABBITMQ_EXCHANGE = 'txn';
