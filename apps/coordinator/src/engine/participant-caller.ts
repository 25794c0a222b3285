import type { CheckCallBody, Outcome, ParticipantCallBody, Transport } from '#contracts';

/** One delivery of one phase to one participant. */
export interface CallRequest {
  /** HTTP: the phase's full URL. A broker transport: the broker's URL. */
  url: string;
  /** Default HTTP. */
  transport?: Transport;
  /** The participant's name: a broker's pattern is `txn.<participant>.<phase>`. */
  participant?: string;
  /** The branch's path for the phase, which a broker delivery carries in a header (it picks the named action). */
  path?: string;
  body: ParticipantCallBody | CheckCallBody;
  secret: string | null;
  timeoutMs: number;
  /** W3C trace context of the call's span, sent as `traceparent` (HTTP header or broker message header). */
  traceparent?: string;
}

export interface CallResult {
  outcome: Outcome;
  /** The participant's HTTP status (a broker reply's `status`), or null when no answer came (timeout, refused, reset). */
  httpStatus: number | null;
  /** The reply body (parsed JSON when it is JSON), truncated at Limits.maxResultBytes. */
  result: unknown;
  error: string | null;
  durationMs: number;
}

/** Delivers a phase to a participant and reports what its answer means; never throws. */
export interface ParticipantCaller {
  call(request: CallRequest): Promise<CallResult>;
  close(): Promise<void>;
}
