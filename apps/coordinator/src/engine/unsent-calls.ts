import { FORWARD_PHASES } from '#contracts';
import type { CallCommand, MachineEvent, ProtocolMachine, TransactionState } from '#protocol';
import { StagedStep } from './staged-step';

// Calls a driver announced in the log and then did not make, and how each is written down so the
// log still tells what happened to it.

/** The calls of forward phases (what an abort taken first makes pointless) among `commands`. */
export function forwardCalls(commands: CallCommand[]): CallCommand[] {
  return commands.filter((c) => FORWARD_PHASES.includes(c.phase));
}

/**
 * Call `c`, announced and never made: withdrawn as a deferred call is (its attempt not counted), due
 * at `now`. It cannot have landed, so an aborting saga skips its step rather than undoing it, and a
 * TCC or 2PC abort, which cancels every branch already, ignores it.
 */
export function notMade(c: CallCommand, now: number): MachineEvent {
  return {
    type: 'deferred',
    branchId: c.branchId,
    phase: c.phase,
    attempt: c.attempt,
    retryAt: now,
    delivered: false,
  };
}

/**
 * The step that takes back every call `state` has in flight, for a clean stop: each is deferred,
 * due at once, with its attempt forgiven (it may have been delivered: the participant's barrier
 * answers the next delivery under the same key). Nothing is left in flight, so the step's write
 * lets go of the transaction. Null when nothing is in flight.
 */
export function withdrawal(
  machine: ProtocolMachine,
  state: TransactionState,
  lastSeq: number,
  now: number,
): StagedStep | null {
  const inFlight = state.branches.filter((b) => b.inFlight);
  if (inFlight.length === 0) return null;
  const staged = new StagedStep(machine, state, lastSeq);
  const note = { reason: 'coordinator-stopped', until: new Date(now).toISOString() };
  for (const b of inFlight) {
    const event: MachineEvent = {
      type: 'deferred',
      branchId: b.id,
      phase: b.phase,
      attempt: b.attempt,
      retryAt: now,
      delivered: true,
    };
    staged.take(event, note, undefined, now);
  }
  return staged;
}
