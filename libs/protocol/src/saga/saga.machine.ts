import { BranchStatus, Outcome, Phase, TransactionStatus } from '#contracts';
import { announceCall, cloneState, deferDelivery } from '../machine';
import type { BranchState, Command, Decided, MachineEvent, ProtocolMachine, TransactionState } from '../machine';
import { backoffDelayMs } from '../retry/retry-policy';

/**
 * The saga state machine. Forward: each branch's `action` runs once all of its `dependsOn` have
 * succeeded (a sequential saga is a chain). Backward: after a definite no, an exhausted action, an
 * abort or the deadline, `compensate` runs over every branch whose action succeeded or whose outcome
 * is unknown, a branch only after every branch depending on it has settled (reverse dependency
 * order). Actions still in flight at the abort are awaited, not abandoned: their outcome decides
 * whether they need compensating.
 *
 * Guarantees (checked by saga.machine.property.spec.ts): every run ends `committed` with every action
 * done, `aborted` with every possibly-done action compensated, or `failed` with a compensation parked
 * for replay; an outcome for a phase or attempt that is not current is ignored.
 */
export const sagaMachine: ProtocolMachine = {
  decide(input: TransactionState, event: MachineEvent, now: number): Decided {
    const state = cloneState(input);
    const commands: Command[] = [];
    switch (event.type) {
      case 'start':
        if (state.status === TransactionStatus.Pending) {
          state.status = TransactionStatus.Running;
          startReadyActions(state, commands);
          settle(state);
        }
        break;
      case 'outcome':
        onOutcome(state, event, now, commands);
        break;
      case 'recover':
        for (const b of state.branches) {
          if (b.inFlight) {
            // the previous owner announced this delivery and died: its fate is unknown, deliver again now
            b.inFlight = false;
            b.retryAt = now;
          }
        }
        onWake(state, now, commands);
        break;
      case 'wake':
        onWake(state, now, commands);
        break;
      case 'abort':
        if (state.status === TransactionStatus.Pending || state.status === TransactionStatus.Running) {
          beginAbort(state, event.reason, commands);
        }
        break;
      case 'replay':
        if (state.status === TransactionStatus.Failed) {
          state.status = state.decision === 'commit' ? TransactionStatus.Committing : TransactionStatus.Aborting;
          state.error = state.decision === 'abort' ? (event.abortReason ?? null) : null;
          for (const b of state.branches) {
            // a failed saga has no driver: any delivery it shows in flight was dropped, never answered
            b.inFlight = false;
            b.retryAt = null;
            if (b.status === BranchStatus.Completing) {
              b.budgetBase = b.attempt; // a fresh retry budget
              deliver(b, b.phase, commands);
            }
          }
          compensateReady(state, commands);
        }
        break;
      case 'deferred':
        deferDelivery(state, event);
        // aborting: a step whose delivery was withdrawn is skipped or undone now, not at a wake-up
        compensateReady(state, commands);
        break;
      case 'register':
      case 'commit':
      case 'submit':
        // interactive mode is TCC/2PC only, and submit a message's: a saga's branches are all given up front
        break;
    }
    return { state, commands };
  },
};

function onOutcome(
  state: TransactionState,
  event: Extract<MachineEvent, { type: 'outcome' }>,
  now: number,
  commands: Command[],
): void {
  const b = state.branches.find((x) => x.id === event.branchId);
  // a duplicate, late or foreign answer: only the announced delivery of the current phase counts
  if (!b || !b.inFlight || b.phase !== event.phase || b.attempt !== event.attempt) return;
  b.inFlight = false;

  if (b.phase === Phase.Action) {
    if (state.status === TransactionStatus.Running) {
      if (event.outcome === Outcome.Yes) {
        b.status = BranchStatus.Succeeded;
        startReadyActions(state, commands);
        settle(state);
      } else if (event.outcome === Outcome.No) {
        b.status = BranchStatus.Rejected;
        beginAbort(state, `branch ${b.id} rejected its action`, commands);
      } else if (b.attempt - b.budgetBase < state.retry.maxAttempts) {
        b.retryAt = now + backoffDelayMs(state.retry, b.attempt - b.budgetBase, event.random01);
      } else {
        // a forward phase out of attempts counts as no; it may have taken effect, so it is compensated
        b.status = BranchStatus.Unknown;
        beginAbort(state, `branch ${b.id} action gave no answer after ${state.retry.maxAttempts} attempts`, commands);
      }
    } else {
      // the saga began aborting while this action was in flight; its answer tells whether to undo it
      b.status =
        event.outcome === Outcome.Yes
          ? BranchStatus.Succeeded
          : event.outcome === Outcome.No
            ? BranchStatus.Rejected
            : BranchStatus.Unknown;
      compensateReady(state, commands);
    }
    return;
  }

  // compensate: only "yes" completes it; a "no" from a completion phase is a protocol error, retried
  if (event.outcome === Outcome.Yes) {
    b.status = BranchStatus.Completed;
    compensateReady(state, commands);
  } else if (b.attempt - b.budgetBase < state.retry.maxAttempts) {
    b.retryAt = now + backoffDelayMs(state.retry, b.attempt - b.budgetBase, event.random01);
  } else if (state.status === TransactionStatus.Aborting) {
    state.status = TransactionStatus.Failed;
    state.error = `branch ${b.id} compensation not acknowledged after ${state.retry.maxAttempts} attempts`;
  }
}

function onWake(state: TransactionState, now: number, commands: Command[]): void {
  if (state.status === TransactionStatus.Running && now >= state.deadline) {
    beginAbort(state, 'transaction timed out', commands);
  }
  if (state.status === TransactionStatus.Failed) return;
  for (const b of state.branches) {
    if (!b.inFlight && b.retryAt !== null && b.retryAt <= now) {
      if (b.status === BranchStatus.Running && state.status === TransactionStatus.Running)
        deliver(b, b.phase, commands);
      else if (b.status === BranchStatus.Completing) deliver(b, b.phase, commands);
    }
  }
  compensateReady(state, commands);
}

function startReadyActions(state: TransactionState, commands: Command[]): void {
  const succeeded = new Set(state.branches.filter((b) => b.status === BranchStatus.Succeeded).map((b) => b.id));
  for (const b of state.branches) {
    if (b.status !== BranchStatus.Pending || !b.dependsOn.every((d) => succeeded.has(d))) continue;
    b.status = BranchStatus.Running;
    if (b.skippedPhases.includes(Phase.Action)) {
      b.status = BranchStatus.Succeeded;
      startReadyActions(state, commands);
      return;
    }
    deliver(b, Phase.Action, commands);
  }
}

function beginAbort(state: TransactionState, reason: string, commands: Command[]): void {
  state.status = TransactionStatus.Aborting;
  state.decision = 'abort';
  state.error = reason;
  compensateReady(state, commands);
}

/**
 * While aborting: mark what can never need compensation, start every compensation whose dependents
 * have all settled, and end the saga `aborted` once nothing is left.
 */
function compensateReady(state: TransactionState, commands: Command[]): void {
  if (state.status !== TransactionStatus.Aborting) return;
  for (const b of state.branches) {
    if (b.status === BranchStatus.Pending) b.status = BranchStatus.Skipped;
    // an action waiting for a retry is abandoned: its earlier delivery may have landed. One never
    // delivered (every call of it deferred: no live instance, an open circuit) cannot have, and has
    // nothing to compensate: waiting for its participant would hold up the others' compensations
    if (b.status === BranchStatus.Running && !b.inFlight) {
      b.status = b.attempt === 0 ? BranchStatus.Skipped : BranchStatus.Unknown;
      b.retryAt = null;
    }
  }
  let progressed = true;
  while (progressed) {
    progressed = false;
    for (const b of state.branches) {
      if (b.status !== BranchStatus.Succeeded && b.status !== BranchStatus.Unknown) continue;
      const dependents = state.branches.filter((d) => d.dependsOn.includes(b.id));
      if (!dependents.every(isSettledBackward)) continue;
      if (b.skippedPhases.includes(Phase.Compensate)) {
        b.status = BranchStatus.Skipped;
        b.phase = Phase.Compensate;
        progressed = true;
      } else {
        b.status = BranchStatus.Completing;
        b.budgetBase = 0;
        deliver(b, Phase.Compensate, commands, true);
      }
    }
  }
  settle(state);
}

function isSettledBackward(b: BranchState): boolean {
  return b.status === BranchStatus.Rejected || b.status === BranchStatus.Skipped || b.status === BranchStatus.Completed;
}

/** Ends the saga when nothing is left to do in its current direction. */
function settle(state: TransactionState): void {
  if (state.status === TransactionStatus.Running && state.branches.every((b) => b.status === BranchStatus.Succeeded)) {
    state.status = TransactionStatus.Committed;
    state.decision = 'commit';
  } else if (state.status === TransactionStatus.Aborting && state.branches.every(isSettledBackward)) {
    state.status = TransactionStatus.Aborted;
  }
}

function deliver(b: BranchState, phase: Phase, commands: Command[], newPhase = false): void {
  commands.push(announceCall(b, phase, newPhase));
}
