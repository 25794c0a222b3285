import { BranchStatus, Mode, Outcome, Phase, TransactionStatus } from '#contracts';
import { announceCall, cloneState, deferDelivery } from '../machine';
import type { BranchState, Command, Decided, MachineEvent, ProtocolMachine, TransactionState } from '../machine';
import { backoffDelayMs } from '../retry/retry-policy';

/**
 * The phases of one atomic-commit protocol (2PC, TCC, 3PC): forward rounds that every branch must
 * acknowledge before the next begins, then one completion phase per decision.
 */
export interface AtomicCommitPhases {
  /** Forward rounds in order: `[try]`, `[prepare]`, `[can-commit, pre-commit]`. */
  rounds: readonly Phase[];
  /** Sent to every branch once the decision is commit (confirm, commit, do-commit). */
  commit: Phase;
  /** Sent to every branch but the rejected ones once the decision is abort (cancel, rollback, abort). */
  abort: Phase;
  /** Honour the interactive events `register` and `commit` (single-round protocols only). */
  interactive: boolean;
}

/**
 * Builds the state machine shared by 2PC, TCC and 3PC. Guarantees, for any interleaving of events
 * (checked by the `*.machine.property.spec.ts` of each protocol):
 * - the commit phase is sent only after every branch acknowledged every forward round, and never
 *   together with the abort phase in one transaction;
 * - `decision`, once set, never changes; a `failed` transaction keeps it and `replay` resumes it;
 * - an outcome that is not the answer to the branch's announced delivery (duplicate, late, other
 *   phase or attempt) changes nothing;
 * - every call comes with its branch `inFlight`, its `attempt` incremented and `retryAt` null;
 * - at or after `deadline` no event moves an undecided transaction forward: it is aborted first.
 */
export function atomicCommitMachine(phases: AtomicCommitPhases): ProtocolMachine {
  return {
    decide(input: TransactionState, event: MachineEvent, now: number): Decided {
      const run: Run = { phases, state: cloneState(input), commands: [], now };
      const { state } = run;
      // the previous owner's deliveries are lost before anything else is decided, so none is sent twice
      if (event.type === 'recover') forgetDeliveries(run);
      // the deadline holds whatever the event: nothing advances a forward round or decides commit after it
      // (3PC participants act on their own from that instant). An abort asked for is one all the
      // same; its reason is kept: it was asked before this step, whose turn came at the deadline
      if (isUndecided(state) && now >= state.deadline)
        beginAbort(run, event.type === 'abort' ? event.reason : 'transaction timed out');
      switch (event.type) {
        case 'start':
          if (state.status === TransactionStatus.Pending) {
            state.status = TransactionStatus.Running;
            for (const b of state.branches) if (b.status === BranchStatus.Pending) beginRound(run, b, 0);
            advance(run);
          }
          break;
        case 'register':
          onRegister(run, event.branch);
          break;
        case 'commit':
          // the client's commit: honoured only when it would be the machine's own decision in driven mode
          if (phases.interactive && isUndecided(state) && allAcknowledged(run)) beginCommit(run);
          break;
        case 'outcome':
          onOutcome(run, event);
          break;
        case 'wake':
          onWake(run);
          break;
        case 'recover':
          onRecover(run);
          break;
        case 'abort':
          if (isUndecided(state)) beginAbort(run, event.reason);
          break;
        case 'replay':
          onReplay(run, event.abortReason ?? null);
          break;
        case 'submit':
          // a prepared message's: no atomic-commit transaction is ever prepared
          break;
        case 'deferred':
          deferDelivery(state, event);
          break;
      }
      return { state, commands: run.commands };
    },
  };
}

interface Run {
  phases: AtomicCommitPhases;
  state: TransactionState;
  commands: Command[];
  now: number;
}

/** Pending or running without a decision: the only time an abort (or a commit) can be decided. */
function isUndecided(state: TransactionState): boolean {
  return (
    state.decision === null &&
    (state.status === TransactionStatus.Pending || state.status === TransactionStatus.Running)
  );
}

/**
 * Precondition: interactive protocol, undecided, branch id new. Adds the branch as pending and
 * delivers its first round at once (the transaction becomes running). Otherwise nothing changes.
 */
function onRegister(run: Run, branch: BranchState): void {
  const { state, phases } = run;
  if (!phases.interactive || !isUndecided(state)) return;
  if (state.branches.some((b) => b.id === branch.id)) return;
  const b: BranchState = {
    id: branch.id,
    dependsOn: [...branch.dependsOn],
    skippedPhases: [...branch.skippedPhases],
    status: BranchStatus.Pending,
    phase: phases.rounds[0],
    attempt: 0,
    budgetBase: 0,
    inFlight: false,
    retryAt: null,
  };
  state.branches.push(b);
  state.status = TransactionStatus.Running;
  beginRound(run, b, 0);
  advance(run);
}

function onOutcome(run: Run, event: Extract<MachineEvent, { type: 'outcome' }>): void {
  const { state, phases, now } = run;
  const b = state.branches.find((x) => x.id === event.branchId);
  // a duplicate, late or foreign answer: only the announced delivery of the current phase counts
  // (a forward phase overtaken by the abort has already moved on to the abort phase, so its answer drops here)
  if (!b || !b.inFlight || b.phase !== event.phase || b.attempt !== event.attempt) return;
  b.inFlight = false;
  const hasBudget = b.attempt - b.budgetBase < state.retry.maxAttempts;

  if (phases.rounds.includes(b.phase)) {
    if (event.outcome === Outcome.Yes) {
      b.status = BranchStatus.Succeeded;
      advance(run);
    } else if (event.outcome === Outcome.No) {
      // only a no in the first round means the branch holds nothing; a later round's no (3PC
      // pre-commit) comes from a branch that voted yes before, so it is told to abort too
      if (phases.rounds.indexOf(b.phase) === 0) b.status = BranchStatus.Rejected;
      beginAbort(run, `branch ${b.id} answered no to ${b.phase}`);
    } else if (hasBudget) {
      b.retryAt = now + backoffDelayMs(state.retry, b.attempt - b.budgetBase, event.random01);
    } else {
      // a forward phase out of attempts counts as no; it may have taken effect, so it gets the abort phase
      b.status = BranchStatus.Unknown;
      beginAbort(run, `branch ${b.id} gave no answer to ${b.phase} after ${state.retry.maxAttempts} attempts`);
    }
    return;
  }

  // a completion phase: only "yes" completes it; a "no" is a protocol error, retried like unknown
  if (event.outcome === Outcome.Yes) {
    b.status = BranchStatus.Completed;
    settle(state);
  } else if (state.status === TransactionStatus.Failed) {
    // parked: the operator's replay re-delivers it
  } else if (hasBudget) {
    b.retryAt = now + backoffDelayMs(state.retry, b.attempt - b.budgetBase, event.random01);
  } else {
    state.status = TransactionStatus.Failed;
    state.error = `branch ${b.id} ${b.phase} not acknowledged after ${state.retry.maxAttempts} attempts`;
    for (const x of state.branches) x.retryAt = null;
  }
}

/** Re-delivers due retries (the deadline is checked before every event). Nothing moves while failed. */
function onWake(run: Run): void {
  const { state, now } = run;
  if (state.status === TransactionStatus.Failed) return;
  for (const b of state.branches) {
    if (b.inFlight || b.retryAt === null || b.retryAt > now) continue;
    if (b.status === BranchStatus.Running && state.status === TransactionStatus.Running) deliver(run, b, b.phase);
    else if (b.status === BranchStatus.Completing) deliver(run, b, b.phase);
  }
}

/**
 * The previous owner died: every delivery it announced is lost. A lost completion is due at once;
 * a lost forward phase is left for `onRecover` (and the deadline) to settle.
 */
function forgetDeliveries(run: Run): void {
  const { state, now } = run;
  for (const b of state.branches) {
    if (!b.inFlight) continue;
    b.inFlight = false;
    b.retryAt = b.status === BranchStatus.Completing && state.status !== TransactionStatus.Failed ? now : null;
  }
}

/**
 * After `forgetDeliveries`: before the decision the transaction is presumed aborted (nothing
 * durable says commit); after it, the decided completion phase is re-delivered at once to every
 * branch whose delivery was lost.
 */
function onRecover(run: Run): void {
  const { state } = run;
  if (state.status === TransactionStatus.Running && state.decision === null) {
    beginAbort(run, 'coordinator taken over before the decision: presumed abort');
  } else {
    onWake(run);
  }
}

/**
 * An operator's replay of a failed transaction: the decided completion phase is delivered again,
 * with a fresh retry budget, to every branch not done with it, whatever the log shows in flight.
 */
function onReplay(run: Run, abortReason: string | null): void {
  const { state } = run;
  if (state.status !== TransactionStatus.Failed) return;
  state.status = state.decision === 'commit' ? TransactionStatus.Committing : TransactionStatus.Aborting;
  state.error = state.decision === 'abort' ? abortReason : null;
  for (const b of state.branches) {
    // a failed transaction has no driver: any delivery it shows in flight was dropped, never answered
    b.inFlight = false;
    b.retryAt = null;
    if (b.status !== BranchStatus.Completing) continue;
    b.budgetBase = b.attempt; // a fresh retry budget
    deliver(run, b, b.phase);
  }
  settle(state);
}

/**
 * While running and undecided: once every branch acknowledged the current round, starts the next
 * round, or after the last one decides commit (driven mode; interactive mode waits for `commit`).
 */
function advance(run: Run): void {
  const { state, phases } = run;
  while (isUndecided(state) && allAcknowledgedCurrentRound(run)) {
    const round = currentRound(run);
    if (round + 1 < phases.rounds.length) {
      for (const b of state.branches) beginRound(run, b, round + 1);
      continue;
    }
    if (state.mode !== Mode.Interactive || !phases.interactive) beginCommit(run);
    return;
  }
}

/** The round the branches are in: all of them move through the rounds together. */
function currentRound(run: Run): number {
  let round = 0;
  for (const b of run.state.branches) round = Math.max(round, run.phases.rounds.indexOf(b.phase));
  return round;
}

function allAcknowledgedCurrentRound(run: Run): boolean {
  const phase = run.phases.rounds[currentRound(run)];
  const { branches } = run.state;
  return branches.length > 0 && branches.every((b) => b.status === BranchStatus.Succeeded && b.phase === phase);
}

/** At least one branch, and every branch acknowledged the last round. */
function allAcknowledged(run: Run): boolean {
  const last = run.phases.rounds[run.phases.rounds.length - 1];
  const { branches } = run.state;
  return branches.length > 0 && branches.every((b) => b.status === BranchStatus.Succeeded && b.phase === last);
}

/** Delivers forward round `round` to `b`, or marks it acknowledged when the client skipped that phase. */
function beginRound(run: Run, b: BranchState, round: number): void {
  const phase = run.phases.rounds[round];
  if (b.skippedPhases.includes(phase)) {
    enterWithoutCall(b, phase, BranchStatus.Succeeded);
  } else {
    b.status = BranchStatus.Running;
    deliver(run, b, phase, true);
  }
}

/**
 * Precondition: undecided, every branch acknowledged every round. Writes the decision commit (the
 * engine persists it before any commit-phase call goes out) and sends the commit phase to all.
 */
function beginCommit(run: Run): void {
  const { state, phases } = run;
  state.decision = 'commit';
  state.status = TransactionStatus.Committing;
  state.error = null;
  for (const b of state.branches) beginCompletion(run, b, phases.commit);
  settle(state);
}

/**
 * Precondition: undecided. Writes the decision abort and sends the abort phase to every branch that
 * may hold something: all but the rejected and the never-started ones, including forward phases
 * still in flight (the participant's barrier turns an abort that overtakes its forward phase into a
 * null abort and refuses the late forward phase; that phase's answer is then ignored here).
 */
function beginAbort(run: Run, reason: string): void {
  const { state, phases } = run;
  state.decision = 'abort';
  state.status = TransactionStatus.Aborting;
  state.error = reason;
  for (const b of state.branches) {
    if (b.status === BranchStatus.Rejected) continue;
    if (b.status === BranchStatus.Pending) b.status = BranchStatus.Skipped;
    else beginCompletion(run, b, phases.abort);
  }
  settle(state);
}

function beginCompletion(run: Run, b: BranchState, phase: Phase): void {
  if (b.skippedPhases.includes(phase)) {
    enterWithoutCall(b, phase, BranchStatus.Skipped);
  } else {
    b.status = BranchStatus.Completing;
    deliver(run, b, phase, true);
  }
}

function enterWithoutCall(b: BranchState, phase: Phase, status: BranchStatus): void {
  b.status = status;
  b.phase = phase;
  b.attempt = 0;
  b.budgetBase = 0;
  b.inFlight = false;
  b.retryAt = null;
}

/** Ends a committing or aborting transaction once every branch is done with the decided phase. */
function settle(state: TransactionState): void {
  const done = (b: BranchState) =>
    b.status === BranchStatus.Completed ||
    b.status === BranchStatus.Skipped ||
    (state.status === TransactionStatus.Aborting && b.status === BranchStatus.Rejected);
  if (state.status === TransactionStatus.Committing && state.branches.every(done)) {
    state.status = TransactionStatus.Committed;
  } else if (state.status === TransactionStatus.Aborting && state.branches.every(done)) {
    state.status = TransactionStatus.Aborted;
  }
}

function deliver(run: Run, b: BranchState, phase: Phase, newPhase = false): void {
  run.commands.push(announceCall(b, phase, newPhase));
}
