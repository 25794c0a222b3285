/** Rows of the log's tables as the store reads them. */
import type { BranchRecord, TransactionRecord } from './transaction-store';

/** The columns of a transaction row that {@link toTransaction} reads. */
export const TXN_COLUMNS = `id, protocol, mode, status, decision, timeout_ms, deadline, retry, request_hash, participants,
  error, owner, version, wake_at, abort_requested, abort_note, created_at, updated_at`;

/** The columns of a branch row that {@link toBranch} reads. */
export const BRANCH_COLUMNS = `id, position, participant, depends_on, paths, skipped_phases, payload, status, phase, attempt,
  budget_base, in_flight, retry_at, result`;

export function toBranch(r: Record<string, any>): BranchRecord {
  return {
    id: r.id,
    position: r.position,
    participant: r.participant,
    dependsOn: r.depends_on,
    paths: r.paths,
    skippedPhases: r.skipped_phases,
    payload: r.payload,
    status: r.status,
    phase: r.phase,
    attempt: r.attempt,
    budgetBase: r.budget_base,
    inFlight: r.in_flight,
    retryAt: r.retry_at,
    result: r.result,
  };
}

export function toTransaction(r: Record<string, any>): TransactionRecord {
  return {
    id: r.id,
    protocol: r.protocol,
    mode: r.mode,
    status: r.status,
    decision: r.decision,
    timeoutMs: r.timeout_ms,
    deadline: r.deadline,
    retry: r.retry,
    requestHash: r.request_hash,
    participants: r.participants,
    error: r.error,
    owner: r.owner,
    version: r.version,
    wakeAt: r.wake_at,
    abortRequested: r.abort_requested,
    abortNote: r.abort_note ?? null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
