import { Outcome } from '#contracts';
import type { CallRequest, CallResult, ParticipantCaller } from './participant-caller';

/** How long past its own timeout a call may take to settle before it is given up on here. */
export const SETTLE_GRACE_MS = 1_000;

/**
 * Makes the call, but never waits for it past `timeoutMs` plus a grace: a transport that does not
 * settle (a broker client stuck reconnecting) answers `unknown` like any call without an answer.
 * A call that never settled would otherwise hold its driver, its limiter slot and, for a half-open
 * probe, the instance's circuit (no other probe goes while one is out) for good.
 */
export function callWithin(
  caller: ParticipantCaller,
  req: CallRequest,
  graceMs = SETTLE_GRACE_MS,
): Promise<CallResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const givenUp = new Promise<CallResult>((settle) => {
    timer = setTimeout(
      () =>
        settle({
          outcome: Outcome.Unknown,
          httpStatus: null,
          result: null,
          error: `no answer within ${req.timeoutMs} ms (the ${req.transport ?? 'http'} call did not settle)`,
          durationMs: Math.round(performance.now() - started),
        }),
      req.timeoutMs + graceMs,
    );
    timer.unref();
  });
  return Promise.race([caller.call(req), givenUp]).finally(() => clearTimeout(timer));
}
