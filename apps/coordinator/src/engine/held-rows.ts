import type { AdvanceOp, BranchRecord, EventRecord, TransactionRecord } from '#store';
import type { Snapshot } from './settle-waiters';

/** A transaction's rows as a driver holds them. */
export interface HeldRows {
  txn: TransactionRecord;
  branches: Map<string, BranchRecord>;
  events: EventRecord[];
}

/** `rows` once `op` is written (copies; `rows` is left alone). `events` are the timeline with `op`'s after it. */
export function rowsAfter(rows: HeldRows, op: AdvanceOp): HeldRows {
  const txn = { ...rows.txn, ...op.txn, version: op.version + 1, updatedAt: op.at ?? rows.txn.updatedAt };
  const branches = new Map([...rows.branches].map(([id, b]) => [id, { ...b }]));
  for (const b of op.newBranches ?? []) branches.set(b.id, { ...b });
  for (const change of op.branches) {
    const b = branches.get(change.id);
    if (!b) continue;
    const { setResult, result, ...fields } = change;
    Object.assign(b, fields, setResult ? { result } : {});
  }
  return { txn, branches, events: [...rows.events, ...op.events.map((e) => ({ ...e, detail: e.detail ?? null }))] };
}

export function snapshotOf(rows: HeldRows, lastSeq: number): Snapshot {
  const branches = [...rows.branches.values()].sort((a, b) => a.position - b.position);
  return { loaded: { txn: { ...rows.txn }, branches, lastSeq }, events: [...rows.events] };
}
