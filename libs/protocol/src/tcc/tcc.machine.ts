import { Phase } from '#contracts';
import type { ProtocolMachine } from '../machine';
import { atomicCommitMachine } from '../two-phase/atomic-commit';

/**
 * The TCC (try / confirm / cancel) state machine. `start` delivers `try` to every branch at once.
 * Every try answered yes: the decision is commit (persisted before phase two) and `confirm` goes to
 * every branch. A definite no, a try out of attempts, the deadline or a client abort before the
 * decision (the deadline is checked on every event, not only on `wake`): the decision is abort and `cancel` goes to every branch that did not answer no, tries
 * still in flight included (the participant's barrier turns a cancel that arrives first into a null
 * cancel and refuses the late try; that try's answer is ignored). A phase the client mapped to
 * `null` completes without a call. Confirm and cancel are retried until acknowledged; out of
 * attempts, the transaction is parked `failed` with its decision, for replay.
 *
 * Crash recovery presumes abort: a takeover before the decision cancels; after it, the decided
 * phase is re-delivered. Interactive mode (`state.mode === 'interactive'`): `start` runs with no
 * branch, `register` adds one and delivers its try at once, and only the client's `commit` decides
 * commit (when every branch said yes); the deadline still aborts.
 *
 * Guarantees (tcc.machine.property.spec.ts): no run confirms one branch and cancels another; the
 * decision is never reversed; every run ends committed, aborted, or failed with a branch parked.
 */
export const tccMachine: ProtocolMachine = atomicCommitMachine({
  rounds: [Phase.Try],
  commit: Phase.Confirm,
  abort: Phase.Cancel,
  interactive: true,
});
