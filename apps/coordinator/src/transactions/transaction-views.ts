import {
  Attention,
  BranchStatus,
  MSG_CHECK_ID,
  Outcome,
  Phase,
  SETTLED_STATUSES,
  TransactionStatus,
  type MessageCheckView,
  type AttemptView,
  type BranchView,
  type EventView,
  type TransactionSummary,
  type TransactionView,
} from '#contracts';
import type { BranchRecord, EventRecord, LoadedTransaction, TransactionRecord } from '#store';

const IN_PROGRESS: readonly BranchStatus[] = [BranchStatus.Running, BranchStatus.Completing];

/**
 * A branch retrying (as RETRYING_SQL): waiting out the backoff after a failed attempt, or making a
 * repeat of its phase. A call deferred before it was ever delivered (attempt 0 of its phase) has
 * failed nothing.
 */
function isRetrying(b: BranchRecord): boolean {
  return IN_PROGRESS.includes(b.status) && retriesItsPhase(b);
}

/** Waiting to try its phase again after a failed attempt, or trying it again now. */
function retriesItsPhase(b: BranchRecord): boolean {
  return (b.retryAt !== null && b.attempt > 0) || (b.inFlight && b.attempt > 1);
}

/**
 * The attention state (docs/operator-api.md), by the same rule as the store's ATTENTION_SQL:
 * failed, done, waiting on a lapsed participant, compensating, retrying, healthy.
 */
export function attentionOf(loaded: LoadedTransaction, staleParticipants: ReadonlySet<string>): Attention {
  const { status, participants } = loaded.txn;
  if (status === TransactionStatus.Failed) return Attention.Failed;
  if (status === TransactionStatus.Committed || status === TransactionStatus.Aborted) return Attention.Done;
  if (participants.some((p) => staleParticipants.has(p))) return Attention.Waiting;
  if (status === TransactionStatus.Aborting) return Attention.Compensating;
  // a message's check waiting for its first ask is scheduled, and a deferred call that was never
  // delivered failed nothing: neither is retrying (as RETRYING_SQL)
  if (loaded.branches.some((b) => b.status !== BranchStatus.Pending && retriesItsPhase(b))) {
    return Attention.Retrying;
  }
  return Attention.Healthy;
}

/** The list entry of a transaction. */
export function toSummary(t: TransactionRecord, attention: Attention): TransactionSummary {
  return {
    id: t.id,
    protocol: t.protocol,
    mode: t.mode,
    status: t.status,
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
    deadline: t.deadline.toISOString(),
    participants: t.participants,
    attention,
    error: t.error,
  };
}

/** The branches of a transaction as shown: a message's check is not a branch (see {@link checkView}). */
export function toBranchViews(loaded: LoadedTransaction, attempts: AttemptView[] = []): BranchView[] {
  // parked or final: nothing tries any branch again (a call abandoned when it failed still reads in flight)
  const stopped = SETTLED_STATUSES.includes(loaded.txn.status);
  return loaded.branches
    .filter((b) => b.id !== MSG_CHECK_ID)
    .map((b) => ({
      id: b.id,
      participant: b.participant,
      status: b.status,
      phase: b.phase,
      attempt: b.attempt,
      dependsOn: b.dependsOn,
      nextAttemptAt: b.retryAt && !stopped ? b.retryAt.toISOString() : null,
      retrying: !stopped && isRetrying(b),
      lastError: attempts.findLast((a) => a.branchId === b.id && a.error !== null)?.error ?? null,
      payload: b.payload,
      result: b.result ?? null,
    }));
}

/** A prepared message's check, from its row (stored like a branch, id `$check`), or undefined. */
export function checkView(loaded: LoadedTransaction, attempts: AttemptView[] = []): MessageCheckView | undefined {
  const c = loaded.branches.find((b) => b.id === MSG_CHECK_ID);
  if (!c) return undefined;
  return {
    participant: c.participant,
    path: c.paths[Phase.Check] ?? '',
    checkAfterMs: (c.payload as { checkAfterMs?: number } | null)?.checkAfterMs ?? 0,
    status: c.status,
    attempt: c.attempt,
    nextAttemptAt: c.retryAt ? c.retryAt.toISOString() : null,
    lastError: attempts.findLast((a) => a.branchId === MSG_CHECK_ID && a.error !== null)?.error ?? null,
    answer: c.result ?? null,
  };
}

/** The whole transaction: branches, every attempt, and the event timeline. */
export function toView(
  loaded: LoadedTransaction,
  events: EventRecord[],
  staleParticipants: ReadonlySet<string> = new Set(),
): TransactionView {
  const attempts = attemptsOf(events);
  if (SETTLED_STATUSES.includes(loaded.txn.status)) closeUnanswered(attempts);
  // a yes whose reply was not stored has an error too, but it did not fail
  const first = attempts.find((a) => a.error !== null && a.outcome !== Outcome.Yes && a.finishedAt !== null);
  const check = checkView(loaded, attempts);
  return {
    ...toSummary(loaded.txn, attentionOf(loaded, staleParticipants)),
    timeoutMs: loaded.txn.timeoutMs,
    retry: loaded.txn.retry,
    decision: loaded.txn.decision,
    createdBy: (events.find((e) => e.type === 'transaction.created')?.detail?.actor as string | undefined) ?? null,
    firstError: first
      ? {
          branchId: first.branchId,
          phase: first.phase,
          attempt: first.attempt,
          at: first.startedAt,
          error: first.error!,
        }
      : null,
    branches: toBranchViews(loaded, attempts),
    ...(check ? { check } : {}),
    attempts,
    events: events.map((e): EventView => ({
      seq: e.seq,
      at: e.at.toISOString(),
      type: e.type,
      // an event just made (a start's answer) may leave out what the log then stores as null
      branchId: e.branchId ?? null,
      phase: e.phase ?? null,
      attempt: e.attempt ?? null,
      outcome: e.outcome ?? null,
      detail: e.detail ?? null,
    })),
  };
}
/**
 * A settled transaction has nothing in flight: a call it shows started and never finished had its
 * answer dropped (a TCC or 2PC forward call overtaken by the abort), or was cut short by a crash and
 * delivered again. Shown as unknown, saying so, never as in flight.
 */
function closeUnanswered(attempts: AttemptView[]): void {
  for (const a of attempts) {
    if (a.finishedAt !== null || a.outcome !== null) continue;
    a.outcome = Outcome.Unknown;
    a.error = 'no answer recorded: the transaction went on without it';
  }
}

/**
 * Pairs each `call.started` with its `call.finished` (a started call with no end was cut short by a
 * crash). A `call.deferred` withdraws the call it answers when it was never made (no live instance,
 * an open circuit, a limit); a failed circuit probe was made, and ends as unknown with its error.
 */
export function attemptsOf(events: EventRecord[]): AttemptView[] {
  const open = new Map<string, AttemptView>();
  const attempts: AttemptView[] = [];
  for (const e of events) {
    if (!e.branchId || !e.phase || e.attempt === null) continue;
    const key = `${e.branchId}/${e.phase}/${e.attempt}`;
    if (e.type === 'call.started') {
      const a: AttemptView = {
        branchId: e.branchId,
        phase: e.phase,
        attempt: e.attempt,
        startedAt: e.at.toISOString(),
        finishedAt: null,
        outcome: null,
        httpStatus: null,
        error: null,
      };
      open.set(key, a);
      attempts.push(a);
    } else if (e.type === 'call.finished') {
      const a = open.get(key);
      if (!a) continue;
      a.finishedAt = e.at.toISOString();
      a.outcome = e.outcome;
      a.httpStatus = (e.detail?.httpStatus as number | null) ?? null;
      a.error = (e.detail?.error as string | undefined) ?? null;
    } else if (e.type === 'call.deferred') {
      const a = open.get(key);
      if (!a) continue;
      open.delete(key);
      if (e.detail?.httpStatus === undefined) {
        attempts.splice(attempts.indexOf(a), 1);
        continue;
      }
      a.finishedAt = e.at.toISOString();
      a.outcome = 'unknown';
      a.httpStatus = (e.detail.httpStatus as number | null) ?? null;
      a.error = (e.detail.error as string | undefined) ?? `circuit probe failed (${String(e.detail.reason)})`;
    }
  }
  return attempts;
}
