import { FORWARD_PHASES, Outcome, type Phase } from '#contracts';

/**
 * Maps a participant's HTTP status to an outcome (the participant contract, README: API):
 * 2xx = yes; 409/422 = a definite no from a forward phase (from a completion phase a protocol
 * error, so unknown and retried); 425 Too Early, 429, 5xx and anything else = unknown, retried.
 */
export function outcomeOfHttpStatus(status: number, phase: Phase): Outcome {
  if (status >= 200 && status < 300) return Outcome.Yes;
  if ((status === 409 || status === 422) && FORWARD_PHASES.includes(phase)) return Outcome.No;
  return Outcome.Unknown;
}
