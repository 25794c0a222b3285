import type { Outcome, ParticipantCallBody } from '#contracts';

/** One delivery of one phase to one participant. */
export interface CallRequest {
  url: string;
  body: ParticipantCallBody;
  secret: string | null;
  timeoutMs: number;
}

export interface CallResult {
  outcome: Outcome;
  /** The participant's HTTP status, or null when no answer came (timeout, refused, reset). */
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
