import type { BranchState, MachineEvent, TransactionState } from '#protocol';
import type { BranchChange, BranchRecord, NewEvent, TransactionRecord } from '#store';
import { operatorOf } from './operator-note';

/** The machine's view of a stored transaction. */
export function toMachineState(txn: TransactionRecord, branches: BranchRecord[]): TransactionState {
  return {
    status: txn.status,
    decision: txn.decision,
    deadline: txn.deadline.getTime(),
    retry: txn.retry,
    error: txn.error,
    mode: txn.mode,
    branches: branches.map(toBranchState),
  };
}

/** A branch row as the machine sees it. */
export function toBranchState(b: BranchRecord): BranchState {
  return {
    id: b.id,
    dependsOn: b.dependsOn,
    skippedPhases: b.skippedPhases,
    status: b.status,
    phase: b.phase,
    attempt: b.attempt,
    budgetBase: b.budgetBase,
    inFlight: b.inFlight,
    retryAt: b.retryAt ? b.retryAt.getTime() : null,
  };
}

/** The persisted fields of branch `id` in a machine state, as a branch row's. */
export function branchFields(state: TransactionState, id: string): Partial<BranchRecord> {
  const b = state.branches.find((x) => x.id === id)!;
  return {
    status: b.status,
    phase: b.phase,
    attempt: b.attempt,
    budgetBase: b.budgetBase,
    inFlight: b.inFlight,
    retryAt: b.retryAt === null ? null : new Date(b.retryAt),
  };
}

/** The branches whose persisted fields changed between two machine states. */
export function changedBranches(before: TransactionState, after: TransactionState): BranchChange[] {
  const previous = new Map(before.branches.map((b) => [b.id, b]));
  return after.branches
    .filter((b) => {
      const p = previous.get(b.id);
      return (
        !p ||
        p.status !== b.status ||
        p.phase !== b.phase ||
        p.attempt !== b.attempt ||
        p.budgetBase !== b.budgetBase ||
        p.inFlight !== b.inFlight ||
        p.retryAt !== b.retryAt
      );
    })
    .map((b) => ({
      id: b.id,
      status: b.status,
      phase: b.phase,
      attempt: b.attempt,
      budgetBase: b.budgetBase,
      inFlight: b.inFlight,
      retryAt: b.retryAt === null ? null : new Date(b.retryAt),
    }));
}

/**
 * The timeline entries a step adds: the event that caused it, status changes, retries scheduled and
 * calls announced. `seq` continues from `lastSeq`.
 */
export function timelineOf(
  before: TransactionState,
  after: TransactionState,
  event: MachineEvent,
  callNote: Record<string, unknown> | null,
  commands: { branchId: string; phase: BranchState['phase']; attempt: number }[],
  lastSeq: number,
  at: Date,
): NewEvent[] {
  const out: NewEvent[] = [];
  const push = (e: Omit<NewEvent, 'seq' | 'at'>) => out.push({ ...e, seq: lastSeq + out.length + 1, at });
  const none = { branchId: null, phase: null, attempt: null, outcome: null };
  const operator = operatorOf(callNote);
  if (operator) {
    // recorded even when the machine ignores the event (an abort that came too late): it was asked for
    push({ ...none, type: `operator.${operator.action}`, detail: { actor: operator.actor, reason: operator.reason } });
  }
  switch (event.type) {
    case 'outcome':
      push({
        type: 'call.finished',
        branchId: event.branchId,
        phase: event.phase,
        attempt: event.attempt,
        outcome: event.outcome,
        detail: callNote,
      });
      break;
    case 'recover':
      push({ ...none, type: 'transaction.recovered', detail: callNote });
      break;
    case 'abort':
      push({ ...none, type: 'transaction.abort-requested', detail: { reason: event.reason } });
      break;
    case 'replay':
      push({ ...none, type: 'transaction.replayed', detail: null });
      break;
    case 'register':
      if (
        after.branches.some((b) => b.id === event.branch.id) &&
        !before.branches.some((b) => b.id === event.branch.id)
      ) {
        push({ type: 'branch.registered', branchId: event.branch.id, phase: null, attempt: null, outcome: null });
      }
      break;
    case 'commit':
      // a commit refused (a branch has not said yes) changed nothing: it is answered 409, not logged
      if (before.decision === null && after.decision !== null) {
        push({ ...none, type: 'transaction.commit-requested', detail: null });
      }
      break;
    case 'deferred':
      // one entry says both that the call waits and until when (no `retry.scheduled` beside it)
      push({
        type: 'call.deferred',
        branchId: event.branchId,
        phase: event.phase,
        attempt: event.attempt,
        outcome: null,
        detail: callNote,
      });
      break;
    case 'start':
    case 'wake':
      break;
  }
  if (before.status !== after.status) {
    push({ ...none, type: `transaction.${after.status}`, detail: after.error ? { error: after.error } : null });
  }
  const previous = new Map(before.branches.map((b) => [b.id, b]));
  for (const b of after.branches) {
    if (event.type === 'deferred' && event.branchId === b.id) continue;
    if (b.retryAt !== null && previous.get(b.id)?.retryAt !== b.retryAt) {
      push({
        type: 'retry.scheduled',
        branchId: b.id,
        phase: b.phase,
        attempt: b.attempt + 1,
        outcome: null,
        detail: { at: new Date(b.retryAt).toISOString() },
      });
    }
  }
  for (const c of commands) {
    push({ type: 'call.started', branchId: c.branchId, phase: c.phase, attempt: c.attempt, outcome: null });
  }
  return out;
}
