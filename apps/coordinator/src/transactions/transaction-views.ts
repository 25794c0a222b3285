import type { AttemptView, BranchView, EventView, TransactionSummary, TransactionView } from '#contracts';
import type { EventRecord, LoadedTransaction, TransactionRecord } from '#store';

/** The list entry of a transaction. */
export function toSummary(t: TransactionRecord): TransactionSummary {
  return {
    id: t.id,
    protocol: t.protocol,
    mode: t.mode,
    status: t.status,
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
    deadline: t.deadline.toISOString(),
    participants: t.participants,
  };
}

export function toBranchViews(loaded: LoadedTransaction): BranchView[] {
  return loaded.branches.map((b) => ({
    id: b.id,
    participant: b.participant,
    status: b.status,
    phase: b.phase,
    attempt: b.attempt,
    dependsOn: b.dependsOn,
    nextAttemptAt: b.retryAt ? b.retryAt.toISOString() : null,
    payload: b.payload,
    result: b.result ?? null,
  }));
}

/** The whole transaction: branches, every attempt, and the event timeline. */
export function toView(loaded: LoadedTransaction, events: EventRecord[]): TransactionView {
  return {
    ...toSummary(loaded.txn),
    timeoutMs: loaded.txn.timeoutMs,
    retry: loaded.txn.retry,
    error: loaded.txn.error,
    branches: toBranchViews(loaded),
    attempts: attemptsOf(events),
    events: events.map((e): EventView => ({
      seq: e.seq,
      at: e.at.toISOString(),
      type: e.type,
      branchId: e.branchId,
      phase: e.phase,
      attempt: e.attempt,
      outcome: e.outcome,
      detail: e.detail,
    })),
  };
}

/** Pairs each `call.started` with its `call.finished` (a started call with no end was cut short by a crash). */
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
    }
  }
  return attempts;
}
