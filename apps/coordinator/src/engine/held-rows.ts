import type { Protocol } from '#contracts';
import type { AdvanceOp, BranchRecord, EventRecord, LoadedTransaction, TransactionRecord } from '#store';
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

/**
 * The rows of one transaction as its driver last wrote them, with the version and sequence its next
 * write builds on: what the driver answers from (a branch's record, a settled transaction's
 * snapshot) without reading the log back. `history` is the whole timeline when the driver started
 * with it (a transaction this instance created); without it no snapshot can be built.
 */
export class WrittenRows {
  private rows: Omit<HeldRows, 'events'>;
  /** The version the next write expects (the row's optimistic lock). */
  version: number;
  /** The sequence number of the last event written. */
  lastSeq: number;

  constructor(
    loaded: LoadedTransaction,
    private readonly history: EventRecord[] | null,
  ) {
    this.rows = { txn: { ...loaded.txn }, branches: new Map(loaded.branches.map((b) => [b.id, { ...b }])) };
    this.version = loaded.txn.version;
    this.lastSeq = loaded.lastSeq;
  }

  get id(): string {
    return this.rows.txn.id;
  }

  get protocol(): Protocol {
    return this.rows.txn.protocol;
  }

  branch(id: string): BranchRecord | undefined {
    return this.rows.branches.get(id);
  }

  get branchCount(): number {
    return this.rows.branches.size;
  }

  /** The transaction as last written, with its whole timeline; null without the history. */
  snapshot(): Snapshot | null {
    if (!this.history) return null;
    return snapshotOf({ ...this.rows, events: this.history }, this.lastSeq);
  }

  /** Whether the whole timeline is held, so that snapshots can be built. */
  get holdsHistory(): boolean {
    return this.history !== null;
  }

  /** The transaction as it will be once `op` is written (see {@link holdsHistory}). */
  snapshotAfter(op: AdvanceOp): Snapshot {
    const events = this.history ?? [];
    return snapshotOf(rowsAfter({ ...this.rows, events }, op), this.lastSeq + op.events.length);
  }

  /** `op` was written: the copy, its version and its sequence follow. */
  remember(op: AdvanceOp): void {
    const after = rowsAfter({ ...this.rows, events: [] }, op);
    this.rows = { txn: after.txn, branches: after.branches };
    this.history?.push(...after.events);
    this.version += 1;
    this.lastSeq += op.events.length;
  }
}
