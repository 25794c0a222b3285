import { Phase } from '#contracts';
import type { ProtocolMachine } from '../machine';
import { atomicCommitMachine } from '../two-phase/atomic-commit';

/**
 * The three-phase commit state machine. `start` delivers `can-commit` to every branch. Every
 * can-commit answered yes: `pre-commit` goes to every branch (the transaction stays `running`, no
 * decision yet). Every pre-commit acknowledged: the decision is commit (persisted before any
 * `do-commit` goes out) and `do-commit` goes to every branch. A definite no, a forward phase out of
 * attempts, the deadline or a client abort during can-commit or pre-commit: the decision is abort
 * and `abort` goes to every branch that did not answer no to can-commit (a no to pre-commit comes
 * from a branch that voted yes, which is told to abort too). Do-commit and abort are retried until
 * acknowledged; out of attempts, the transaction is parked `failed`, for replay. A takeover before
 * the decision aborts; after it, do-commit (or abort) is re-delivered.
 *
 * Participants run their own timers from the `deadline` of the can-commit and pre-commit calls
 * (docs/protocols/3pc.md, Participant), and the engine must give them this transaction's `deadline`: the machine gives up
 * on the forward rounds at that instant, on whatever event comes first (no pre-commit is sent and no
 * commit decided at or after it). A participant that acknowledged pre-commit and hears nothing more
 * by then commits on its own; one that has not seen pre-commit aborts on its own. So a participant
 * cut off after the commit decision does not block, and one cut off before pre-commit agrees with
 * the coordinator's presumed abort. The participant's timers should fire a margin after the
 * deadline, so that an abort decided at the deadline reaches the participants the coordinator can
 * still reach before they act alone. What 3PC cannot make safe: a participant cut off after
 * pre-commit while the coordinator decides abort (a no, an exhausted pre-commit, the deadline, a
 * client abort, a takeover after the deadline) commits on its timer against the decision.
 * docs/protocols/3pc-vs-2pc.md lists these cases and the tests that show them.
 *
 * Guarantees with participants that hear the coordinator's decision before their timers fire
 * (three-phase.machine.property.spec.ts): no run do-commits one branch and aborts another; the
 * decision is never reversed; every run ends committed, aborted, or failed with a branch parked.
 */
export const threePhaseMachine: ProtocolMachine = atomicCommitMachine({
  rounds: [Phase.CanCommit, Phase.PreCommit],
  commit: Phase.DoCommit,
  abort: Phase.Abort,
  interactive: false,
});
