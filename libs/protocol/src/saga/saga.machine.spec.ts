import type { Outcome, Phase } from '#contracts';
import type { Decided, TransactionState } from '../machine';
import { nextWakeAt } from '../machine';
import { chain, sagaState } from './saga-fixtures';
import { sagaMachine } from './saga.machine';

const answer = (s: TransactionState, branchId: string, phase: Phase, outcome: Outcome, now = 0): Decided => {
  const b = s.branches.find((x) => x.id === branchId)!;
  return sagaMachine.decide(s, { type: 'outcome', branchId, phase, attempt: b.attempt, outcome, random01: 0.5 }, now);
};
const calls = (d: Decided) => d.commands.map((c) => `${c.branchId}:${c.phase}#${c.attempt}`);

describe('sagaMachine', () => {
  it('runs a sequential saga branch by branch to committed', () => {
    let d = sagaMachine.decide(sagaState(chain(3)), { type: 'start' }, 0);
    expect(d.state.status).toBe('running');
    expect(calls(d)).toEqual(['b0:action#1']);
    d = answer(d.state, 'b0', 'action', 'yes');
    expect(calls(d)).toEqual(['b1:action#1']);
    d = answer(d.state, 'b1', 'action', 'yes');
    d = answer(d.state, 'b2', 'action', 'yes');
    expect(d.state.status).toBe('committed');
    expect(d.commands).toEqual([]);
  });

  it('starts independent branches of a DAG together and joins them', () => {
    let d = sagaMachine.decide(sagaState([[], [], ['b0', 'b1']]), { type: 'start' }, 0);
    expect(calls(d)).toEqual(['b0:action#1', 'b1:action#1']);
    d = answer(d.state, 'b1', 'action', 'yes');
    expect(calls(d)).toEqual([]);
    d = answer(d.state, 'b0', 'action', 'yes');
    expect(calls(d)).toEqual(['b2:action#1']);
  });

  it('compensates succeeded branches in reverse order after a no', () => {
    let d = sagaMachine.decide(sagaState(chain(3)), { type: 'start' }, 0);
    d = answer(d.state, 'b0', 'action', 'yes');
    d = answer(d.state, 'b1', 'action', 'yes');
    d = answer(d.state, 'b2', 'action', 'no');
    expect(d.state.status).toBe('aborting');
    expect(d.state.branches.map((b) => b.status)).toEqual(['succeeded', 'completing', 'rejected']);
    expect(calls(d)).toEqual(['b1:compensate#1']);
    d = answer(d.state, 'b1', 'compensate', 'yes');
    expect(calls(d)).toEqual(['b0:compensate#1']);
    d = answer(d.state, 'b0', 'compensate', 'yes');
    expect(d.state.status).toBe('aborted');
  });

  it('retries an unknown action with backoff, then counts exhaustion as no and compensates it', () => {
    let d = sagaMachine.decide(sagaState(chain(1), { maxAttempts: 2 }), { type: 'start' }, 0);
    d = answer(d.state, 'b0', 'action', 'unknown', 100);
    expect(d.state.branches[0].retryAt).toBe(105); // 0.5 * min(100, 10 * 2^0)
    expect(nextWakeAt(d.state)).toBe(105);
    expect(sagaMachine.decide(d.state, { type: 'wake' }, 104).commands).toEqual([]);
    d = sagaMachine.decide(d.state, { type: 'wake' }, 105);
    expect(calls(d)).toEqual(['b0:action#2']);
    d = answer(d.state, 'b0', 'action', 'unknown', 200);
    expect(d.state.status).toBe('aborting');
    expect(calls(d)).toEqual(['b0:compensate#1']);
  });

  it('parks a saga as failed when a compensation exhausts its budget, and replay resumes it', () => {
    let d = sagaMachine.decide(sagaState(chain(2), { maxAttempts: 1 }), { type: 'start' }, 0);
    d = answer(d.state, 'b0', 'action', 'yes');
    d = answer(d.state, 'b1', 'action', 'no');
    d = answer(d.state, 'b0', 'compensate', 'no');
    expect(d.state.status).toBe('failed');
    expect(sagaMachine.decide(d.state, { type: 'wake' }, 1e9).commands).toEqual([]);
    const abortedFor = d.state.error;
    d = sagaMachine.decide(d.state, { type: 'replay', abortReason: 'branch b1 rejected its action' }, 0);
    expect(d.state.status).toBe('aborting');
    expect(calls(d)).toEqual(['b0:compensate#2']);
    d = answer(d.state, 'b0', 'compensate', 'yes');
    expect(d.state.status).toBe('aborted');
    // it says why it aborted again, not why it failed
    expect(d.state.error).toBe('branch b1 rejected its action');
    expect(abortedFor).not.toBe(d.state.error);
  });

  it('ignores duplicate and stale answers', () => {
    let d = sagaMachine.decide(sagaState(chain(2)), { type: 'start' }, 0);
    const afterYes = answer(d.state, 'b0', 'action', 'yes');
    const dup = sagaMachine.decide(
      afterYes.state,
      { type: 'outcome', branchId: 'b0', phase: 'action', attempt: 1, outcome: 'no', random01: 0 },
      0,
    );
    expect(dup.state).toEqual(afterYes.state);
    expect(dup.commands).toEqual([]);
    d = sagaMachine.decide(
      afterYes.state,
      { type: 'outcome', branchId: 'b1', phase: 'action', attempt: 7, outcome: 'yes', random01: 0 },
      0,
    );
    expect(d.state.status).toBe('running');
  });

  it('awaits an action in flight at the abort and compensates it only if it may have landed', () => {
    let d = sagaMachine.decide(sagaState([[], []]), { type: 'start' }, 0);
    d = answer(d.state, 'b0', 'action', 'no');
    expect(d.state.status).toBe('aborting');
    expect(calls(d)).toEqual([]);
    d = answer(d.state, 'b1', 'action', 'yes');
    expect(calls(d)).toEqual(['b1:compensate#1']);
  });

  it('skips, not compensates, an action never delivered (every call deferred) at the abort', () => {
    let d = sagaMachine.decide(sagaState(chain(2)), { type: 'start' }, 0);
    d = answer(d.state, 'b0', 'action', 'yes');
    // b1's participant has no live instance: its call was never made
    const deferred = { type: 'deferred', branchId: 'b1', phase: 'action', attempt: 1, retryAt: 500 } as const;
    d = sagaMachine.decide(d.state, { ...deferred, delivered: false }, 10);
    d = sagaMachine.decide(d.state, { type: 'abort', reason: 'operator' }, 20);
    expect(d.state.branches.map((b) => b.status)).toEqual(['completing', 'skipped']);
    expect(calls(d)).toEqual(['b0:compensate#1']);
    // one made as a failed probe may have landed: compensated
    let p = sagaMachine.decide(sagaState(chain(2)), { type: 'start' }, 0);
    p = answer(p.state, 'b0', 'action', 'yes');
    p = sagaMachine.decide(p.state, { ...deferred, delivered: true }, 10);
    p = sagaMachine.decide(p.state, { type: 'abort', reason: 'operator' }, 20);
    expect(calls(p)).toEqual(['b1:compensate#1']);
  });

  it('aborts at the deadline and on request, but not after the decision', () => {
    let d = sagaMachine.decide(sagaState(chain(2)), { type: 'start' }, 0);
    d = answer(d.state, 'b0', 'action', 'yes');
    const timedOut = sagaMachine.decide(d.state, { type: 'wake' }, 1_000_000);
    expect(timedOut.state.status).toBe('aborting');
    expect(timedOut.state.error).toBe('transaction timed out');
    const aborted = sagaMachine.decide(d.state, { type: 'abort', reason: 'operator' }, 0);
    expect(aborted.state.status).toBe('aborting');
    d = answer(d.state, 'b1', 'action', 'yes');
    expect(sagaMachine.decide(d.state, { type: 'abort', reason: 'late' }, 0).state.status).toBe('committed');
  });

  it('re-delivers announced calls after a recovery', () => {
    let d = sagaMachine.decide(sagaState(chain(2)), { type: 'start' }, 0);
    d = sagaMachine.decide(d.state, { type: 'recover' }, 50);
    expect(calls(d)).toEqual(['b0:action#2']);
  });

  it('skips a compensation mapped to null', () => {
    let d = sagaMachine.decide(sagaState(chain(2), { noCompensate: ['b0'] }), { type: 'start' }, 0);
    d = answer(d.state, 'b0', 'action', 'yes');
    d = answer(d.state, 'b1', 'action', 'no');
    expect(d.state.status).toBe('aborted');
    expect(d.state.branches[0].status).toBe('skipped');
  });

  it('does not mutate its input', () => {
    const s = sagaState(chain(2));
    const copy = structuredClone(s);
    sagaMachine.decide(s, { type: 'start' }, 0);
    expect(s).toEqual(copy);
  });
});
