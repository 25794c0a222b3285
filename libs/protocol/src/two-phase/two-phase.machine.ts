import { Phase } from '#contracts';
import type { ProtocolMachine } from '../machine';
import { atomicCommitMachine } from './atomic-commit';

/**
 * The two-phase commit state machine. `start` delivers `prepare` to every branch at once. Every
 * prepare answered yes: the decision is commit (persisted before phase two) and `commit` goes to
 * every branch. A definite no, a prepare out of attempts, the deadline or a client abort before the
 * decision (the deadline is checked on every event, not only on `wake`): the decision is abort and `rollback` goes to every branch that did not answer no,
 * prepares still in flight included (the participant's barrier refuses a prepare that arrives
 * after its rollback). Commit and rollback are retried until acknowledged; out of attempts, the
 * transaction is parked `failed` with its decision, for replay.
 *
 * Presumed abort: a coordinator taken over before the decision rolls back; after it, the decided
 * phase is re-delivered. A prepared participant has no safe move of its own: it holds its locks
 * until the coordinator (or the instance that takes over) tells it the decision. Interactive mode
 * works as for TCC: `register` delivers `prepare` at once, the client's `commit` decides.
 *
 * Guarantees (two-phase.machine.property.spec.ts): no run commits one branch and rolls back
 * another; the decision is never reversed; every run ends committed, aborted, or failed with a
 * branch parked.
 */
export const twoPhaseMachine: ProtocolMachine = atomicCommitMachine({
  rounds: [Phase.Prepare],
  commit: Phase.Commit,
  abort: Phase.Rollback,
  interactive: true,
});
