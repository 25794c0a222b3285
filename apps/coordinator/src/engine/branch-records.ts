import { PROTOCOL_PHASES, type BranchRequest, type Phase, type StartTransactionRequest } from '#contracts';
import type { BranchRecord } from '#store';

/** Branch rows of a new transaction; a saga without any `dependsOn` runs its branches in order. */
export function branchRecords(request: StartTransactionRequest): BranchRecord[] {
  const sequential = request.protocol === 'saga' && request.branches.every((b) => !b.dependsOn);
  const firstPhase = PROTOCOL_PHASES[request.protocol][0];
  return request.branches.map((b, i) => ({
    ...branchRecord(b, i, firstPhase),
    dependsOn: sequential ? (i ? [request.branches[i - 1].id] : []) : (b.dependsOn ?? []),
  }));
}

/** A new branch row, not started. */
export function branchRecord(b: BranchRequest, position: number, firstPhase: Phase): BranchRecord {
  return {
    id: b.id,
    position,
    participant: b.participant,
    dependsOn: b.dependsOn ?? [],
    paths: b.paths ?? {},
    skippedPhases: Object.entries(b.paths ?? {})
      .filter(([, p]) => p === null)
      .map(([phase]) => phase as Phase),
    payload: b.payload ?? null,
    status: 'pending',
    phase: firstPhase,
    attempt: 0,
    budgetBase: 0,
    inFlight: false,
    retryAt: null,
    result: null,
  };
}
