import { BranchStatus, Phase, TransactionStatus } from '#contracts';
import type { BranchRecord, LoadedTransaction } from '#store';
import { toBranchViews } from './transaction-views';

const at = new Date('2026-12-02T10:00:00Z');

/** A TCC transaction in `status` whose branch `b` is on its second confirm, the first having failed. */
function confirming(status: TransactionStatus, b: Partial<BranchRecord>): LoadedTransaction {
  const branch: BranchRecord = {
    id: 'b',
    position: 0,
    participant: 'p1',
    dependsOn: [],
    paths: {},
    skippedPhases: [],
    payload: null,
    status: BranchStatus.Completing,
    phase: Phase.Confirm,
    attempt: 2,
    budgetBase: 0,
    inFlight: true,
    retryAt: null,
    result: null,
    ...b,
  };
  return {
    txn: {
      id: 't',
      protocol: 'tcc',
      mode: 'driven',
      status,
      decision: 'commit',
      timeoutMs: 30_000,
      deadline: at,
      retry: { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100 },
      requestHash: '',
      participants: ['p1'],
      error: null,
      owner: null,
      version: 3,
      wakeAt: null,
      abortRequested: false,
      createdAt: at,
      updatedAt: at,
    },
    branches: [branch],
    lastSeq: 9,
  };
}

describe('toBranchViews: retrying', () => {
  it('is a repeat of the phase in flight, or a backoff after a failed attempt, while the transaction goes on', () => {
    expect(toBranchViews(confirming(TransactionStatus.Committing, {}))[0]).toMatchObject({ retrying: true });
    const waiting = confirming(TransactionStatus.Committing, { inFlight: false, retryAt: at });
    expect(toBranchViews(waiting)[0]).toMatchObject({ retrying: true, nextAttemptAt: at.toISOString() });
  });

  // another branch ran out of attempts while this one's second confirm was out: the call was
  // abandoned with the transaction parked, and the view said it would be tried again
  it('is false, with no next attempt, once the transaction is parked as failed or final', () => {
    for (const status of [TransactionStatus.Failed, TransactionStatus.Committed, TransactionStatus.Aborted]) {
      for (const b of [{}, { inFlight: false, retryAt: at }]) {
        expect(toBranchViews(confirming(status, b))[0]).toMatchObject({ retrying: false, nextAttemptAt: null });
      }
    }
  });
});
