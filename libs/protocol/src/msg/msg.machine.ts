import { BranchStatus, Mode, MSG_CHECK_ID, Outcome, Phase, TransactionStatus } from '#contracts';
import { announceCall, awaitsItsCheck, cloneState, deferDelivery } from '../machine';
import type { BranchState, Command, Decided, MachineEvent, ProtocolMachine, TransactionState } from '../machine';
import { backoffDelayMs } from '../retry/retry-policy';

/**
 * The reliable-message machine (two-phase message). A `prepared` message is logged, not delivered:
 * its sender's `submit`, or a check answered `committed`, starts delivery; a check answered
 * `rolledback` aborts it; a check with no usable answer is asked again with backoff until the
 * deadline. At the deadline the check is asked one last time (unless an ask is in flight: that one
 * is awaited), and an unusable last answer aborts the message: a sender that committed before the
 * deadline is always asked after its commit. `driven` messages are delivered at once.
 *
 * The check is kept as an entry of `branches` with id {@link MSG_CHECK_ID} and phase `check`: its
 * first ask is scheduled by the entry's `retryAt` (written with the message, `checkAfterMs` after
 * it), and its calls are announced, retried and recovered like any delivery's. Every other entry is
 * a consumer delivery of `action`, started once all of its `dependsOn` succeeded.
 *
 * Delivery has no compensation: the sender has committed, so the decision is `commit` from the
 * submit on, and the message is never aborted after it. A consumer's no, or a delivery out of
 * attempts, parks the message `failed` once nothing else can progress; `replay` re-delivers those
 * with a fresh retry budget.
 *
 * Guarantees (msg.machine.property.spec.ts): a message the check answered `rolledback` delivers
 * nothing; a submitted message is never aborted; every run ends `committed` with every delivery
 * acknowledged, `aborted` with none started, or `failed` with one parked for replay; an outcome for
 * a phase or attempt that is not current is ignored.
 */
export const msgMachine: ProtocolMachine = {
  decide(input: TransactionState, event: MachineEvent, now: number): Decided {
    const state = cloneState(input);
    const commands: Command[] = [];
    switch (event.type) {
      case 'start':
        if (state.status === TransactionStatus.Pending) {
          if (state.mode === Mode.Prepared) state.status = TransactionStatus.Prepared;
          else beginDelivery(state, commands);
        }
        break;
      case 'submit':
        if (state.status === TransactionStatus.Prepared || state.status === TransactionStatus.Pending) {
          beginDelivery(state, commands);
        }
        break;
      case 'outcome':
        onOutcome(state, event, now, commands);
        break;
      case 'recover':
        for (const b of state.branches) {
          if (b.inFlight) {
            // the previous owner announced this call and died: its fate is unknown, make it again now
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
        // only before the decision: a submitted message has been committed by its sender
        if (state.status === TransactionStatus.Prepared || state.status === TransactionStatus.Pending) {
          abortMessage(state, event.reason);
        }
        break;
      case 'replay':
        if (state.status === TransactionStatus.Failed) {
          state.status = TransactionStatus.Running;
          state.error = null;
          for (const b of deliveries(state)) {
            const outstanding = [BranchStatus.Running, BranchStatus.Rejected, BranchStatus.Unknown] as BranchStatus[];
            if (!outstanding.includes(b.status)) continue;
            // a failed message has no driver: a delivery it shows in flight was dropped, never answered
            b.status = BranchStatus.Running;
            b.inFlight = false;
            b.retryAt = null;
            b.budgetBase = b.attempt; // a fresh retry budget
            commands.push(announceCall(b, Phase.Action));
          }
          startReadyDeliveries(state, commands);
          settle(state, commands);
        }
        break;
      case 'deferred':
        deferDelivery(state, event);
        if (event.branchId === MSG_CHECK_ID && state.status === TransactionStatus.Prepared) {
          // held back by the sender's protections (circuit, limits, no live instance) past the deadline
          const lastChance = state.deadline + FINAL_CHECK_GRACE_MS;
          if (now >= lastChance) {
            abortMessage(state, 'not submitted, and the check could not be asked within a minute of the deadline');
          } else {
            // a long wait (no live instance: up to 30 s) must not carry it past the minute's end
            const check = checkOf(state)!;
            if (check.retryAt !== null && check.retryAt > lastChance) check.retryAt = lastChance;
          }
        }
        break;
      case 'register':
      case 'commit':
        // a message's deliveries are all given up front, and it commits by submit or check
        break;
    }
    return { state, commands };
  },
};

/** The consumer deliveries (every entry but the check). */
function deliveries(state: TransactionState): BranchState[] {
  return state.branches.filter((b) => b.id !== MSG_CHECK_ID);
}

function checkOf(state: TransactionState): BranchState | undefined {
  return state.branches.find((b) => b.id === MSG_CHECK_ID);
}

/**
 * How long past its deadline a prepared message's last ask may be held back by the sender's
 * protections (an open circuit, its limits, no live instance) before the message is aborted unasked.
 */
export const FINAL_CHECK_GRACE_MS = 60_000;

/**
 * The sender committed (submit, or the check said so): the decision is commit, an outstanding check
 * is dropped (its answer no longer matters), and the deliveries whose dependencies are met start.
 */
function beginDelivery(state: TransactionState, commands: Command[], checkAnswered = false): void {
  state.status = TransactionStatus.Running;
  state.decision = 'commit';
  const check = checkOf(state);
  if (check && !checkAnswered) {
    check.status = BranchStatus.Skipped;
    check.inFlight = false;
    check.retryAt = null;
  }
  startReadyDeliveries(state, commands);
  settle(state, commands);
}

function abortMessage(state: TransactionState, reason: string): void {
  state.status = TransactionStatus.Aborted;
  state.decision = 'abort';
  state.error = reason;
  for (const b of state.branches) {
    if (b.status === BranchStatus.Pending) b.status = BranchStatus.Skipped;
    // a check asked and never answered usably: it stopped without an answer
    if (b.id === MSG_CHECK_ID && b.status === BranchStatus.Running) b.status = BranchStatus.Unknown;
    b.inFlight = false;
    b.retryAt = null;
  }
}

function onOutcome(
  state: TransactionState,
  event: Extract<MachineEvent, { type: 'outcome' }>,
  now: number,
  commands: Command[],
): void {
  const b = state.branches.find((x) => x.id === event.branchId);
  // a duplicate, late or foreign answer: only the announced call of the current phase counts
  if (!b || !b.inFlight || b.phase !== event.phase || b.attempt !== event.attempt) return;
  b.inFlight = false;

  if (b.id === MSG_CHECK_ID) {
    if (state.status !== TransactionStatus.Prepared) return;
    if (event.outcome === Outcome.Yes) {
      b.status = BranchStatus.Succeeded;
      beginDelivery(state, commands, true);
    } else if (event.outcome === Outcome.No) {
      b.status = BranchStatus.Rejected;
      abortMessage(state, 'the sender rolled back: its check answered rolledback');
    } else if (now >= state.deadline) {
      abortMessage(state, 'not submitted, and the check gave no answer before the deadline');
    } else {
      // no answer, pending, or anything else: ask again later, however often, until the deadline
      b.retryAt = Math.min(state.deadline, now + backoffDelayMs(state.retry, b.attempt, event.random01));
    }
    return;
  }

  if (state.status !== TransactionStatus.Running) return;
  if (event.outcome === Outcome.Yes) {
    b.status = BranchStatus.Succeeded;
    startReadyDeliveries(state, commands);
  } else if (event.outcome === Outcome.No) {
    b.status = BranchStatus.Rejected;
    state.error = `consumer ${b.id} refused the message`;
  } else if (b.attempt - b.budgetBase < state.retry.maxAttempts) {
    b.retryAt = now + backoffDelayMs(state.retry, b.attempt - b.budgetBase, event.random01);
  } else {
    b.status = BranchStatus.Unknown;
    state.error = `consumer ${b.id} gave no answer after ${state.retry.maxAttempts} attempts`;
  }
  settle(state, commands);
}

function onWake(state: TransactionState, now: number, commands: Command[]): void {
  if (state.status === TransactionStatus.Prepared || state.status === TransactionStatus.Pending) {
    const check = checkOf(state);
    if (state.status === TransactionStatus.Prepared && awaitsItsCheck(state)) {
      // an ask is in flight (awaited, even past the deadline: its answer decides) or due: the one due
      // at or after the deadline (a retry that fell on it, a call a dead owner left, one held back by
      // the sender's protections) is the last, and its answer decides too
      if (check && !check.inFlight && check.retryAt !== null && check.retryAt <= now) {
        check.status = BranchStatus.Running;
        commands.push(announceCall(check, Phase.Check));
      }
      return;
    }
    if (now >= state.deadline) abortMessage(state, 'not submitted, and the check gave no answer before the deadline');
    return;
  }
  if (state.status !== TransactionStatus.Running) return;
  for (const b of deliveries(state)) {
    if (b.status === BranchStatus.Running && !b.inFlight && b.retryAt !== null && b.retryAt <= now) {
      commands.push(announceCall(b, Phase.Action));
    }
  }
}

function startReadyDeliveries(state: TransactionState, commands: Command[]): void {
  const succeeded = new Set(
    deliveries(state)
      .filter((b) => b.status === BranchStatus.Succeeded)
      .map((b) => b.id),
  );
  for (const b of deliveries(state)) {
    if (b.status !== BranchStatus.Pending || !b.dependsOn.every((d) => succeeded.has(d))) continue;
    if (b.skippedPhases.includes(Phase.Action)) {
      b.status = BranchStatus.Succeeded;
      startReadyDeliveries(state, commands);
      return;
    }
    b.status = BranchStatus.Running;
    commands.push(announceCall(b, Phase.Action, true));
  }
}

/**
 * Committed once every delivery succeeded; `failed` once one was refused or ran out of attempts and
 * nothing else is in flight or waiting for a retry (independent deliveries are not held back by it).
 */
function settle(state: TransactionState, commands: Command[]): void {
  if (state.status !== TransactionStatus.Running) return;
  const all = deliveries(state);
  if (all.every((b) => b.status === BranchStatus.Succeeded)) {
    state.status = TransactionStatus.Committed;
    return;
  }
  const moving = all.some((b) => b.status === BranchStatus.Running) || commands.length > 0;
  const stuck = all.some((b) => b.status === BranchStatus.Rejected || b.status === BranchStatus.Unknown);
  if (!moving && stuck) state.status = TransactionStatus.Failed;
}
