/** The log's ops as `txc_apply` reads them (snake_case JSON), and the stream's announcement of each. */
import { storedBody } from './stored-body';
import type { BranchChange, BranchRecord, NewEvent, StatusChange, StoreOp, StoredResponse } from './transaction-store';

const eventWire = (e: NewEvent) => ({
  seq: e.seq,
  at: e.at.toISOString(),
  type: e.type,
  branch_id: e.branchId,
  phase: e.phase,
  attempt: e.attempt,
  outcome: e.outcome,
  detail: e.detail ?? null,
});

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The fields of a branch that its steps change. */
const branchStateWire = (b: BranchChange) => ({
  id: b.id,
  status: b.status,
  phase: b.phase,
  attempt: b.attempt,
  budget_base: b.budgetBase,
  in_flight: b.inFlight,
  retry_at: iso(b.retryAt),
});

const branchWire = (b: BranchRecord) => ({
  ...branchStateWire(b),
  position: b.position,
  participant: b.participant,
  depends_on: b.dependsOn,
  paths: b.paths,
  skipped_phases: b.skippedPhases,
  payload: b.payload ?? null,
});

const responseWire = (r: StoredResponse) => ({
  key: r.key,
  status: r.status,
  body: storedBody(r.body),
  headers: r.headers,
});

/** The stream notification of an op that changes a transaction's status (a {@link StatusChange} as JSON), or null. */
export function announcementOf(op: StoreOp): string | null {
  const change: StatusChange | null =
    op.op === 'create'
      ? { id: op.txn.id, protocol: op.txn.protocol, status: op.txn.status, updatedAt: op.txn.createdAt.toISOString() }
      : op.op === 'advance' && op.announce
        ? {
            id: op.id,
            protocol: op.announce.protocol,
            status: op.txn.status,
            updatedAt: (op.at ?? new Date()).toISOString(),
          }
        : null;
  return change && JSON.stringify(change);
}

/** An op in the snake_case shape `txc_apply` reads. */
export function toWire(op: StoreOp): unknown {
  switch (op.op) {
    case 'create':
      return {
        op: 'create',
        txn: {
          id: op.txn.id,
          protocol: op.txn.protocol,
          mode: op.txn.mode,
          status: op.txn.status,
          decision: op.txn.decision,
          timeout_ms: op.txn.timeoutMs,
          deadline: op.txn.deadline.toISOString(),
          retry: op.txn.retry,
          request_hash: op.txn.requestHash,
          participants: op.txn.participants,
          error: op.txn.error,
          owner: op.txn.owner,
          wake_at: iso(op.txn.wakeAt),
          created_at: op.txn.createdAt.toISOString(),
        },
        branches: op.branches.map(branchWire),
        events: op.events.map(eventWire),
        ...(op.idempotency
          ? {
              idem: {
                key: op.idempotency.key,
                hash: op.idempotency.requestHash,
                expires_at: op.idempotency.expiresAt.toISOString(),
                holder: op.idempotency.holder ?? null,
              },
            }
          : {}),
      };
    case 'advance':
      return {
        op: 'advance',
        ...(op.newBranches?.length ? { new_branches: op.newBranches.map(branchWire) } : {}),
        ...(op.at ? { at: op.at.toISOString() } : {}),
        id: op.id,
        version: op.version,
        txn: {
          status: op.txn.status,
          decision: op.txn.decision,
          error: op.txn.error,
          owner: op.txn.owner,
          wake_at: iso(op.txn.wakeAt),
        },
        branches: op.branches.map((b) => ({
          ...branchStateWire(b),
          set_result: b.setResult ?? false,
          result: b.result ?? null,
        })),
        events: op.events.map(eventWire),
        ...(op.respond ? { respond: responseWire(op.respond) } : {}),
      };
    case 'respond':
      return { op: 'respond', ...responseWire(op) };
  }
}
