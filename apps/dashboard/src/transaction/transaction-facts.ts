import type { AttemptView, BranchView, EventView, Phase, TransactionView } from '../api/wire-types';

export type AttemptRef = Pick<AttemptView, 'branchId' | 'phase' | 'attempt'>;

/**
 * The decision (the view's `decision`) and the log event that made it durable: the first
 * `transaction.committing` or `transaction.aborting`.
 */
export function decisionOf(view: TransactionView): { decision: 'commit' | 'abort'; event: EventView | null } | null {
  const event =
    view.events.find((e) => e.type === 'transaction.committing' || e.type === 'transaction.aborting') ?? null;
  const decision = view.decision ?? (event ? (event.type === 'transaction.committing' ? 'commit' : 'abort') : null);
  return decision ? { decision, event } : null;
}

/** An attempt that did not end in yes: a no, no answer, or an error. */
export function isFailedAttempt(attempt: AttemptView): boolean {
  return attempt.finishedAt !== null && (attempt.outcome !== 'yes' || attempt.error !== null);
}

/** The first failed attempt: the one `firstError` names (kept across replays), else the earliest failed one. */
export function firstFailedAttempt(view: TransactionView): AttemptRef | null {
  if (view.firstError) return view.firstError;
  let first: AttemptView | null = null;
  for (const a of view.attempts) {
    if (isFailedAttempt(a) && (!first || Date.parse(a.startedAt) < Date.parse(first.startedAt))) first = a;
  }
  return first;
}

export function attemptKey(a: AttemptRef): string {
  return `${a.branchId}/${a.phase}/${a.attempt}`;
}

/** The operator actions the transaction's state allows (docs/operator-api.md "Operator actions"). */
export function allowedActions(view: TransactionView): { replay: boolean; retry: boolean; abort: boolean } {
  const inFlight = !['committed', 'aborted', 'failed'].includes(view.status);
  return {
    replay: view.status === 'failed',
    // a message's check not asked yet waits for checkAfterMs, which nothing hurries (the coordinator refuses it)
    retry:
      inFlight &&
      (view.branches.some((b) => b.nextAttemptAt !== null) ||
        (view.check?.nextAttemptAt != null && view.check.status !== 'pending')),
    // a submitted message (running, decided) is past its decision: only an undecided one aborts
    abort: view.decision === null && ['pending', 'prepared', 'running'].includes(view.status),
  };
}

/**
 * A branch's state in words: status and phase read together (`completing` + `compensate` is
 * "compensating", `completed` + `compensate` "compensated", `completed` + `confirm` "confirmed").
 */
export function branchLabel(branch: Pick<BranchView, 'status' | 'phase'>, parked = false): string {
  // a transaction parked as failed runs nothing: its unfinished completions wait for a replay
  if (branch.status === 'completing' && parked)
    return branch.phase === 'compensate' ? 'compensation parked' : `${branch.phase} parked`;
  if (branch.status === 'completing')
    return branch.phase === 'compensate' ? 'compensating' : `${branch.phase} in progress`;
  if (branch.status !== 'completed') return `${branch.status} · ${branch.phase}`;
  return COMPLETED[branch.phase] ?? `${branch.phase} done`;
}

const COMPLETED: Partial<Record<Phase, string>> = {
  compensate: 'compensated',
  confirm: 'confirmed',
  cancel: 'cancelled',
  commit: 'committed',
  rollback: 'rolled back',
  'do-commit': 'committed',
  abort: 'aborted',
};
