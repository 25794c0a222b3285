import type { TransactionView } from '../api/wire-types';
import { allowedActions, branchLabel } from './transaction-facts';

describe('allowedActions', () => {
  /** A prepared message whose check is as given, with no delivery started. */
  const prepared = (check: { status: string; nextAttemptAt: string | null }) =>
    ({
      status: 'prepared',
      decision: null,
      branches: [{ id: 'm1', status: 'pending', nextAttemptAt: null }],
      check: { ...check, participant: 'orders', path: '/check', attempt: check.status === 'pending' ? 0 : 1 },
    }) as unknown as TransactionView;

  it('offers no Retry now for a message whose first check is only scheduled (the coordinator refuses it)', () => {
    const view = prepared({ status: 'pending', nextAttemptAt: '2026-12-01T09:00:00.000Z' });
    expect(allowedActions(view)).toEqual({ replay: false, retry: false, abort: true });
  });

  it('offers Retry now once a check failed and waits for its next ask', () => {
    const view = prepared({ status: 'running', nextAttemptAt: '2026-12-01T09:00:00.000Z' });
    expect(allowedActions(view).retry).toBe(true);
  });
});

describe('branchLabel', () => {
  it('names a completion under way, and one a failed transaction parked', () => {
    expect(branchLabel({ status: 'completing', phase: 'compensate' })).toBe('compensating');
    expect(branchLabel({ status: 'completing', phase: 'compensate' }, true)).toBe('compensation parked');
    expect(branchLabel({ status: 'completing', phase: 'commit' }, true)).toBe('commit parked');
    expect(branchLabel({ status: 'completed', phase: 'compensate' }, true)).toBe('compensated');
    expect(branchLabel({ status: 'succeeded', phase: 'action' })).toBe('succeeded · action');
  });
});
