import {
  Limits,
  Mode,
  MSG_CHECK_ID,
  Phase,
  PROTOCOL_PHASES,
  type BranchRequest,
  type StartTransactionRequest,
} from '#contracts';
import type { BranchRecord } from '#store';

/**
 * Branch rows of a new transaction; a saga or message without any `dependsOn` runs its branches in
 * order. A prepared message gets one more row, its check (see {@link checkRecord}).
 */
export function branchRecords(request: StartTransactionRequest, now: number): BranchRecord[] {
  const ordered = request.protocol === 'saga' || request.protocol === 'msg';
  const sequential = ordered && request.branches.every((b) => !b.dependsOn);
  const firstPhase = PROTOCOL_PHASES[request.protocol][0];
  const records = request.branches.map((b, i) => ({
    ...branchRecord(b, i, firstPhase),
    dependsOn: sequential ? (i ? [request.branches[i - 1].id] : []) : (b.dependsOn ?? []),
  }));
  if (request.protocol === 'msg' && request.mode === Mode.Prepared && request.check) {
    records.push(checkRecord(request, records.length, now));
  }
  return records;
}

/**
 * A prepared message's check, as a row of its own: the sender's check participant and path, its
 * first ask due `checkAfterMs` after the message was written (so it survives restarts like any
 * scheduled retry), and `checkAfterMs` kept in its payload for the view.
 */
function checkRecord(request: StartTransactionRequest, position: number, now: number): BranchRecord {
  const checkAfterMs = request.checkAfterMs ?? Limits.defaultCheckAfterMs;
  return {
    id: MSG_CHECK_ID,
    position,
    participant: request.check!.participant,
    dependsOn: [],
    paths: { [Phase.Check]: request.check!.path },
    skippedPhases: [],
    payload: { checkAfterMs },
    status: 'pending',
    phase: Phase.Check,
    attempt: 0,
    budgetBase: 0,
    inFlight: false,
    retryAt: new Date(now + checkAfterMs),
    result: null,
  };
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
