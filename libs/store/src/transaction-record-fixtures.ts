import type { CreateOp, TransactionRecord } from './transaction-store';

/**
 * A new running, driven transaction row as a create op carries it, owned by `i1`, with a 30 s
 * deadline from `createdAt`: the store's integration tests' common starting point.
 */
export function runningTransaction(
  id: string,
  createdAt: Date,
  over: Partial<Pick<TransactionRecord, 'protocol' | 'requestHash' | 'participants'>> = {},
): CreateOp['txn'] {
  return {
    id,
    protocol: over.protocol ?? 'saga',
    mode: 'driven',
    status: 'running',
    decision: null,
    timeoutMs: 30_000,
    deadline: new Date(createdAt.getTime() + 30_000),
    retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1000 },
    requestHash: over.requestHash ?? 'h1',
    participants: over.participants ?? ['p1'],
    error: null,
    owner: 'i1',
    wakeAt: null,
    createdAt,
  };
}
