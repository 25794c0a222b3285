import {
  MSG_CHECK_ID,
  type BranchStatus,
  type Mode,
  type Outcome,
  type Phase,
  type TransactionStatus,
} from '#contracts';
import type { RetryPolicy } from './retry/retry-policy';

/** One branch as a protocol machine sees it: everything here is persisted with the branch row. */
export interface BranchState {
  id: string;
  /** Branches whose forward phase must succeed before this one starts (sagas only). */
  dependsOn: string[];
  /** Phases mapped to `null` by the client: skipped, never called. */
  skippedPhases: Phase[];
  status: BranchStatus;
  /** The phase the branch is in or last finished. */
  phase: Phase;
  /** Deliveries of `phase` so far (monotonic: a replay does not reset it). */
  attempt: number;
  /** `attempt` when the current retry budget began (0, or the attempt count at the last replay). */
  budgetBase: number;
  /** A delivery of `phase` has been announced and its outcome not yet recorded. */
  inFlight: boolean;
  /** When the next delivery is due after an unknown outcome (epoch ms), or null. */
  retryAt: number | null;
}

export type Decision = 'commit' | 'abort';

/** A transaction as a protocol machine sees it. */
export interface TransactionState {
  status: TransactionStatus;
  decision: Decision | null;
  /** Epoch ms after which a transaction still in its forward phases is aborted. */
  deadline: number;
  retry: RetryPolicy;
  branches: BranchState[];
  /** Why the transaction aborted or failed, for people. */
  error: string | null;
  /**
   * `interactive` (TCC/2PC): branches arrive by `register` and only the client's `commit` decides
   * commit. Absent or `driven`: every branch is given up front and the machine commits on its own
   * once every forward phase said yes.
   */
  mode?: Mode;
}

/**
 * What happened. `outcome` carries `random01` for the backoff jitter so that `decide` stays pure.
 * `recover` is sent once by the instance that takes over a transaction: every announced delivery of
 * the previous owner is treated as lost (unknown), then due work is re-issued.
 * `register` and `commit` are interactive TCC/2PC: the client adds a branch (its try/prepare is
 * delivered at once) and later asks for the commit; the other protocols ignore both. A `commit`
 * that changes nothing (a branch not yet succeeded, no branch, already decided) is refused by the
 * engine (409). `submit` is a prepared message's: its sender committed; the other protocols ignore it.
 * `deferred` says the announced delivery did not use up an attempt: the engine did not make it (no
 * live instance of the participant, every circuit open, a limit reached) or made it as a circuit's
 * half-open probe that failed. The branch is due again at `retryAt` (see {@link deferDelivery}).
 */
export type MachineEvent =
  | { type: 'start' }
  | { type: 'outcome'; branchId: string; phase: Phase; attempt: number; outcome: Outcome; random01: number }
  | { type: 'wake' }
  | { type: 'recover' }
  | { type: 'abort'; reason: string }
  | {
      type: 'replay';
      /**
       * Why the transaction aborted, as logged when it began aborting: a replay that takes it back to
       * aborting restores it as its error (its failure had replaced it), so an aborted transaction
       * still says why it aborted.
       */
      abortReason?: string | null;
    }
  | { type: 'register'; branch: BranchState }
  | { type: 'commit' }
  | { type: 'submit' }
  | { type: 'deferred'; branchId: string; phase: Phase; attempt: number; retryAt: number; delivered: boolean };

/** Deliver `phase` to branch `branchId`; the state that announces it is persisted before the call. */
export interface CallCommand {
  type: 'call';
  branchId: string;
  phase: Phase;
  attempt: number;
}
export type Command = CallCommand;

export interface Decided {
  state: TransactionState;
  commands: Command[];
}

/** A protocol's state machine: pure, total, and deterministic given its arguments. */
export interface ProtocolMachine {
  decide(state: TransactionState, event: MachineEvent, now: number): Decided;
}

/**
 * Earliest time the transaction needs attention without an outside event: the earliest retry, or
 * the deadline while forward phases run undecided. Null when only in-flight calls (or nothing) remain.
 */
export function nextWakeAt(state: TransactionState): number | null {
  let wake: number | null = null;
  for (const b of state.branches) {
    if (b.retryAt !== null && !b.inFlight && (wake === null || b.retryAt < wake)) wake = b.retryAt;
  }
  const undecided = state.status === 'running' || state.status === 'pending' || state.status === 'prepared';
  // a submitted message runs with its decision taken: its deadline no longer applies; a prepared
  // one waits for its check's answer or next ask, even past the deadline, not for the deadline
  if (undecided && state.decision === null && !awaitsItsCheck(state)) {
    wake = wake === null ? state.deadline : Math.min(wake, state.deadline);
  }
  return wake;
}

/**
 * A prepared message whose check is in flight or scheduled: the check, not the deadline, decides
 * what happens next (an ask due at or after the deadline is the last one, and its answer decides).
 */
export function awaitsItsCheck(state: TransactionState): boolean {
  if (state.status !== 'prepared') return false;
  const check = state.branches.find((b) => b.id === MSG_CHECK_ID);
  return check !== undefined && (check.inFlight || check.retryAt !== null);
}

/**
 * Announces a delivery of `phase` to `b` (mutating it) and returns its call command: a new phase
 * starts its attempt count over; the branch is in flight with no retry pending, which is what the
 * engine persists before it calls.
 */
export function announceCall(b: BranchState, phase: Phase, newPhase = false): CallCommand {
  if (newPhase || b.phase !== phase) {
    b.phase = phase;
    b.attempt = 0;
    b.budgetBase = 0;
  }
  b.attempt += 1;
  b.inFlight = true;
  b.retryAt = null;
  return { type: 'call', branchId: b.id, phase, attempt: b.attempt };
}

/** A deep copy a machine may mutate while deciding, keeping `decide` free of side effects on its input. */
export function cloneState(s: TransactionState): TransactionState {
  return {
    ...s,
    retry: { ...s.retry },
    branches: s.branches.map((b) => ({ ...b, dependsOn: [...b.dependsOn], skippedPhases: [...b.skippedPhases] })),
  };
}

/**
 * Precondition: `event` answers the branch's announced delivery (same phase and attempt, in flight);
 * anything else changes nothing. The branch is no longer in flight, is due again at `retryAt`, and
 * the deferred delivery does not count against its retry budget: one never made is withdrawn
 * (`attempt` goes back, so it still counts deliveries), one made as a failed probe is forgiven
 * (`budgetBase` moves up with it). A participant that is down or protected makes its transactions
 * wait instead of failing them.
 * Every machine handles `deferred` with this: a deferred delivery is re-issued by the machine's own
 * `wake` handling like any retry (an aborting saga also settles at once a step left undelivered).
 */
export function deferDelivery(state: TransactionState, event: Extract<MachineEvent, { type: 'deferred' }>): void {
  const b = state.branches.find((x) => x.id === event.branchId);
  if (!b || !b.inFlight || b.phase !== event.phase || b.attempt !== event.attempt) return;
  b.inFlight = false;
  if (event.delivered) b.budgetBase += 1;
  else b.attempt -= 1;
  b.retryAt = event.retryAt;
}
