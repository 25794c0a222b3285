import { MSG_CHECK_ID, type Mode } from '#contracts';
import type { BranchState, TransactionState } from '../machine';

/** The first check of fixture messages is due at this time (as if `checkAfterMs` after 0). */
export const CHECK_AT = 1_000;
/** Fixture messages' deadline. */
export const DEADLINE = 100_000;

/**
 * A fresh message for tests: `deps[i]` lists the delivery ids `b{i}` depends on; `prepared` adds
 * its check entry with its first ask due at {@link CHECK_AT}.
 */
export function msgState(deps: string[][], opts: { mode?: Mode; maxAttempts?: number } = {}): TransactionState {
  const mode = opts.mode ?? 'prepared';
  const branches = deps.map((d, i): BranchState => ({
    id: `b${i}`,
    dependsOn: d,
    skippedPhases: [],
    status: 'pending',
    phase: 'action',
    attempt: 0,
    budgetBase: 0,
    inFlight: false,
    retryAt: null,
  }));
  if (mode === 'prepared') {
    branches.push({
      id: MSG_CHECK_ID,
      dependsOn: [],
      skippedPhases: [],
      status: 'pending',
      phase: 'check',
      attempt: 0,
      budgetBase: 0,
      inFlight: false,
      retryAt: CHECK_AT,
    });
  }
  return {
    status: 'pending',
    decision: null,
    deadline: DEADLINE,
    error: null,
    mode,
    retry: { maxAttempts: opts.maxAttempts ?? 3, initialBackoffMs: 10, maxBackoffMs: 100 },
    branches,
  };
}
