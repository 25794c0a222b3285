import type { BranchState, TransactionState } from '../machine';

/** A fresh saga state for tests: `deps[i]` lists the branch ids branch `b{i}` depends on. */
export function sagaState(
  deps: string[][],
  opts: { maxAttempts?: number; noCompensate?: string[] } = {},
): TransactionState {
  return {
    status: 'pending',
    decision: null,
    deadline: 1_000_000,
    error: null,
    retry: { maxAttempts: opts.maxAttempts ?? 3, initialBackoffMs: 10, maxBackoffMs: 100 },
    branches: deps.map((d, i): BranchState => ({
      id: `b${i}`,
      dependsOn: d,
      skippedPhases: opts.noCompensate?.includes(`b${i}`) ? ['compensate'] : [],
      status: 'pending',
      phase: 'action',
      attempt: 0,
      budgetBase: 0,
      inFlight: false,
      retryAt: null,
    })),
  };
}

/** A sequential saga of `n` branches: each depends on the one before. */
export function chain(n: number): string[][] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? [] : [`b${i - 1}`]));
}
