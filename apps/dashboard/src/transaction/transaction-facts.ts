import type { AttemptView, EventView, TransactionView } from '../api/wire-types';

/** The event that logged the decision (`transaction.committing` or `transaction.aborting`), if any. */
export function decisionEvent(view: TransactionView): { decision: 'commit' | 'abort'; event: EventView } | null {
  const event = view.events.find((e) => e.type === 'transaction.committing' || e.type === 'transaction.aborting');
  if (!event) return null;
  return { decision: event.type === 'transaction.committing' ? 'commit' : 'abort', event };
}

/** An attempt that did not end in yes: a no, no answer, or an error. */
export function isFailedAttempt(attempt: AttemptView): boolean {
  return attempt.finishedAt !== null && (attempt.outcome !== 'yes' || attempt.error !== null);
}

/** The earliest failed attempt, the one whose error usually explains the rest. */
export function firstFailedAttempt(attempts: readonly AttemptView[]): AttemptView | null {
  let first: AttemptView | null = null;
  for (const a of attempts) {
    if (isFailedAttempt(a) && (!first || Date.parse(a.startedAt) < Date.parse(first.startedAt))) first = a;
  }
  return first;
}

export function attemptKey(a: Pick<AttemptView, 'branchId' | 'phase' | 'attempt'>): string {
  return `${a.branchId}/${a.phase}/${a.attempt}`;
}

/** The operator actions the transaction's state allows (docs/operator-api.md "Operator actions"). */
export function allowedActions(view: TransactionView): { replay: boolean; retry: boolean; abort: boolean } {
  const inFlight = !['committed', 'aborted', 'failed'].includes(view.status);
  return {
    replay: view.status === 'failed',
    retry: inFlight && view.branches.some((b) => b.nextAttemptAt !== null),
    abort: view.status === 'pending' || view.status === 'running',
  };
}
