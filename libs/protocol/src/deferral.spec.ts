import type { Phase } from '#contracts';
import { nextWakeAt, type Decided, type ProtocolMachine, type TransactionState } from './machine';
import { MACHINES } from './machine-registry';
import { commitState } from './two-phase/atomic-commit-fixtures';
import { sagaState } from './saga/saga-fixtures';

/** Each machine with a fresh state whose first call goes to branch b0 in phase `first`. */
const cases: [string, ProtocolMachine, TransactionState, Phase][] = [
  ['saga', MACHINES.saga!, sagaState([[]], { maxAttempts: 2 }), 'action'],
  ['tcc', MACHINES.tcc!, commitState(1, 'try', { maxAttempts: 2 }), 'try'],
  ['2pc', MACHINES['2pc']!, commitState(1, 'prepare', { maxAttempts: 2 }), 'prepare'],
  ['3pc', MACHINES['3pc']!, commitState(1, 'can-commit', { maxAttempts: 2 }), 'can-commit'],
];

describe.each(cases)('%s: a deferred delivery', (_name, machine, initial, first) => {
  const defer = (d: Decided, retryAt: number, attempt = d.state.branches[0].attempt, delivered = false): Decided =>
    machine.decide(d.state, { type: 'deferred', branchId: 'b0', phase: first, attempt, retryAt, delivered }, 0);

  it.each([
    ['never made', false],
    ['made as a failed probe', true],
  ])('%s: burns no attempt, however many times it is deferred, and is re-issued at retryAt', (_how, delivered) => {
    let d = machine.decide(initial, { type: 'start' }, 0);
    for (let i = 0; i < 10; i++) {
      const at = 100 * (i + 1);
      d = defer(d, at, d.state.branches[0].attempt, delivered);
      expect(d.state.branches[0]).toMatchObject({ inFlight: false, retryAt: at });
      expect(nextWakeAt(d.state)).toBe(at);
      d = machine.decide(d.state, { type: 'wake' }, at);
      expect(d.commands).toHaveLength(1);
      // a withdrawn delivery gives its number back: the attempt still counts deliveries made
      expect(d.commands[0].attempt).toBe(delivered ? i + 2 : 1);
    }
    // ten deferrals later the budget of two attempts is intact: one unknown answer is still retried
    const b = d.state.branches[0];
    d = machine.decide(
      d.state,
      { type: 'outcome', branchId: 'b0', phase: first, attempt: b.attempt, outcome: 'unknown', random01: 0 },
      2_000,
    );
    expect(d.state.status).toBe('running');
    expect(d.state.branches[0].retryAt).not.toBeNull();
  });

  it('is ignored unless it answers the announced delivery', () => {
    const d = machine.decide(initial, { type: 'start' }, 0);
    const stale = defer(d, 500, d.state.branches[0].attempt + 1);
    expect(stale.state).toEqual(d.state);
  });

  it('still gives up on a forward phase at the deadline', () => {
    let d = machine.decide({ ...initial, deadline: 1_000 }, { type: 'start' }, 0);
    d = defer(d, 5_000);
    expect(nextWakeAt(d.state)).toBe(1_000);
    d = machine.decide(d.state, { type: 'wake' }, 1_000);
    expect(d.state.decision).toBe('abort');
  });
});
