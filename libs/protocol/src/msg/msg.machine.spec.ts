import { MSG_CHECK_ID, type Outcome, type Phase } from '#contracts';
import type { Decided, MachineEvent, TransactionState } from '../machine';
import { nextWakeAt } from '../machine';
import { chain } from '../saga/saga-fixtures';
import { CHECK_AT, DEADLINE, msgState } from './msg-fixtures';
import { msgMachine } from './msg.machine';

const CHECK = MSG_CHECK_ID;
const decide = (s: TransactionState, e: MachineEvent, now = 0): Decided => msgMachine.decide(s, e, now);
const answer = (s: TransactionState, branchId: string, phase: Phase, outcome: Outcome, now = 0): Decided => {
  const b = s.branches.find((x) => x.id === branchId)!;
  return decide(s, { type: 'outcome', branchId, phase, attempt: b.attempt, outcome, random01: 0.5 }, now);
};
const calls = (d: Decided) => d.commands.map((c) => `${c.branchId}:${c.phase}#${c.attempt}`);
const statuses = (d: Decided) => d.state.branches.map((b) => b.status);
const prepared = (deps = chain(2)) => decide(msgState(deps), { type: 'start' });

describe('msgMachine', () => {
  it('logs a prepared message without delivering it, and wakes for the check at checkAfterMs', () => {
    const d = prepared();
    expect(d.state.status).toBe('prepared');
    expect(d.state.decision).toBeNull();
    expect(calls(d)).toEqual([]);
    expect(nextWakeAt(d.state)).toBe(CHECK_AT);
  });

  it('delivers in order once submitted, and commits when every consumer acknowledged', () => {
    let d = decide(prepared().state, { type: 'submit' }, 10);
    expect(d.state.status).toBe('running');
    expect(d.state.decision).toBe('commit');
    expect(calls(d)).toEqual(['b0:action#1']);
    expect(d.state.branches.find((b) => b.id === CHECK)!.status).toBe('skipped');
    d = answer(d.state, 'b0', 'action', 'yes');
    expect(calls(d)).toEqual(['b1:action#1']);
    d = answer(d.state, 'b1', 'action', 'yes');
    expect(d.state.status).toBe('committed');
  });

  it('delivers a dependsOn DAG: independent consumers together, the join after both', () => {
    let d = decide(prepared([[], [], ['b0', 'b1']]).state, { type: 'submit' });
    expect(calls(d)).toEqual(['b0:action#1', 'b1:action#1']);
    d = answer(d.state, 'b1', 'action', 'yes');
    expect(calls(d)).toEqual([]);
    d = answer(d.state, 'b0', 'action', 'yes');
    expect(calls(d)).toEqual(['b2:action#1']);
  });

  it('delivers a driven message at once, without a check', () => {
    const d = decide(msgState(chain(1), { mode: 'driven' }), { type: 'start' });
    expect(d.state.status).toBe('running');
    expect(calls(d)).toEqual(['b0:action#1']);
  });

  it('a second submit, or a submit after the check decided, changes nothing', () => {
    const once = decide(prepared().state, { type: 'submit' });
    const twice = decide(once.state, { type: 'submit' });
    expect(twice.state).toEqual(once.state);
    expect(twice.commands).toEqual([]);
  });

  it('asks the check when it is due, never before', () => {
    const s = prepared().state;
    expect(calls(decide(s, { type: 'wake' }, CHECK_AT - 1))).toEqual([]);
    const d = decide(s, { type: 'wake' }, CHECK_AT);
    expect(calls(d)).toEqual([`${CHECK}:check#1`]);
    expect(d.state.status).toBe('prepared');
  });

  it('check answered committed → delivered', () => {
    let d = decide(prepared().state, { type: 'wake' }, CHECK_AT);
    d = answer(d.state, CHECK, 'check', 'yes', CHECK_AT + 5);
    expect(d.state.status).toBe('running');
    expect(d.state.decision).toBe('commit');
    expect(calls(d)).toEqual(['b0:action#1']);
    expect(d.state.branches.find((b) => b.id === CHECK)!.status).toBe('succeeded');
  });

  it('check answered rolledback → aborted, and no consumer is ever called', () => {
    let d = decide(prepared().state, { type: 'wake' }, CHECK_AT);
    d = answer(d.state, CHECK, 'check', 'no', CHECK_AT + 5);
    expect(d.state.status).toBe('aborted');
    expect(d.state.error).toMatch(/rolled back/);
    expect(statuses(d)).toEqual(['skipped', 'skipped', 'rejected']);
    expect(decide(d.state, { type: 'submit' }).commands).toEqual([]);
    expect(nextWakeAt(d.state)).toBeNull();
  });

  it('check with no answer (or pending) → asked again with backoff, however often, until the deadline', () => {
    let d = decide(prepared().state, { type: 'wake' }, CHECK_AT);
    for (let i = 1; i <= 6; i++) {
      // more than maxAttempts (3): a check is not bounded by the retry budget, only by the deadline
      d = answer(d.state, CHECK, 'check', 'unknown', CHECK_AT + i * 1000);
      const retryAt = d.state.branches.find((b) => b.id === CHECK)!.retryAt!;
      expect(retryAt).toBeGreaterThanOrEqual(CHECK_AT + i * 1000);
      expect(d.state.status).toBe('prepared');
      d = decide(d.state, { type: 'wake' }, retryAt);
      expect(calls(d)).toEqual([`${CHECK}:check#${i + 1}`]);
    }
  });

  it('no answer by the deadline → aborted; a check still in flight at the deadline is awaited', () => {
    let d = decide(prepared().state, { type: 'wake' }, CHECK_AT);
    // in flight at the deadline: its answer decides
    const waiting = decide(d.state, { type: 'wake' }, DEADLINE);
    expect(waiting.state.status).toBe('prepared');
    expect(answer(waiting.state, CHECK, 'check', 'yes', DEADLINE + 50).state.status).toBe('running');
    expect(answer(waiting.state, CHECK, 'check', 'unknown', DEADLINE + 50).state.status).toBe('aborted');
    // not in flight at the deadline: asked one last time, and no usable answer to that aborts
    d = answer(d.state, CHECK, 'check', 'unknown', CHECK_AT + 10);
    d = decide(d.state, { type: 'wake' }, DEADLINE);
    expect(calls(d)).toEqual([`${CHECK}:check#2`]);
    d = answer(d.state, CHECK, 'check', 'unknown', DEADLINE + 50);
    expect(d.state.status).toBe('aborted');
    expect(d.state.error).toMatch(/deadline/);
    expect(d.state.branches.find((b) => b.id === CHECK)!.status).toBe('unknown');
  });

  it('a check retry that falls on the deadline is made, and a sender that committed meanwhile is delivered', () => {
    let d = decide(prepared().state, { type: 'wake' }, CHECK_AT);
    d = answer(d.state, CHECK, 'check', 'unknown', DEADLINE - 1); // its backoff is capped at the deadline
    expect(d.state.branches.find((b) => b.id === CHECK)!.retryAt).toBe(DEADLINE);
    expect(nextWakeAt(d.state)).toBe(DEADLINE);
    d = decide(d.state, { type: 'wake' }, DEADLINE);
    expect(calls(d)).toEqual([`${CHECK}:check#2`]);
    d = answer(d.state, CHECK, 'check', 'yes', DEADLINE + 50);
    expect(d.state.status).toBe('running');
    expect(calls(d)).toEqual(['b0:action#1']);
  });

  it('a takeover past the deadline asks again the check its dead owner had in flight', () => {
    let d = decide(prepared().state, { type: 'wake' }, CHECK_AT);
    d = decide(d.state, { type: 'recover' }, DEADLINE + 5_000);
    expect(calls(d)).toEqual([`${CHECK}:check#2`]);
    expect(answer(d.state, CHECK, 'check', 'yes', DEADLINE + 5_050).state.status).toBe('running');
  });

  it('a last ask held back past the deadline is made when let through; held back a minute, the message aborts', () => {
    let d = decide(prepared().state, { type: 'wake' }, CHECK_AT);
    const deferred = (now: number, retryAt: number) =>
      decide(
        d.state,
        { type: 'deferred', branchId: CHECK, phase: 'check', attempt: 1, retryAt, delivered: false },
        now,
      );
    // the circuit is open until after the deadline: the deadline itself changes nothing
    d = deferred(CHECK_AT + 5, DEADLINE + 2_000);
    expect(nextWakeAt(d.state)).toBe(DEADLINE + 2_000);
    expect(decide(d.state, { type: 'wake' }, DEADLINE).state.status).toBe('prepared');
    d = decide(d.state, { type: 'wake' }, DEADLINE + 2_000);
    expect(calls(d)).toEqual([`${CHECK}:check#1`]);
    expect(answer(d.state, CHECK, 'check', 'yes', DEADLINE + 2_050).state.status).toBe('running');
    // held back again and again: aborted once a minute has passed since the deadline
    d = deferred(DEADLINE + 2_010, DEADLINE + 3_000);
    expect(d.state.status).toBe('prepared');
    d = decide(d.state, { type: 'wake' }, DEADLINE + 60_000);
    d = deferred(DEADLINE + 60_000, DEADLINE + 61_000);
    expect(d.state.status).toBe('aborted');
    expect(d.state.error).toMatch(/could not be asked/);
  });

  it('brings a last ask held back for long (no live instance, 30 s) back by a minute past the deadline, and aborts then', () => {
    let d = decide(prepared().state, { type: 'wake' }, CHECK_AT);
    d = decide(
      d.state,
      { type: 'deferred', branchId: CHECK, phase: 'check', attempt: 1, retryAt: DEADLINE + 88_500, delivered: false },
      DEADLINE + 58_500,
    );
    expect(d.state.status).toBe('prepared');
    expect(nextWakeAt(d.state)).toBe(DEADLINE + 60_000);
    d = decide(d.state, { type: 'wake' }, DEADLINE + 60_000);
    d = decide(
      d.state,
      { type: 'deferred', branchId: CHECK, phase: 'check', attempt: 1, retryAt: DEADLINE + 90_000, delivered: false },
      DEADLINE + 60_001,
    );
    expect(d.state.status).toBe('aborted');
  });

  it('sets no wake-up at a deadline already passed while the check is in flight (no busy loop)', () => {
    const d = decide(prepared().state, { type: 'wake' }, CHECK_AT);
    expect(nextWakeAt(d.state)).toBeNull();
  });

  it('a check answer that arrives after the submit is ignored', () => {
    let d = decide(prepared().state, { type: 'wake' }, CHECK_AT);
    d = decide(d.state, { type: 'submit' }, CHECK_AT + 1);
    const late = answer({ ...d.state }, CHECK, 'check', 'no', CHECK_AT + 2);
    expect(late.state.status).toBe('running');
  });

  it('abort before the decision aborts; a submitted message is past its decision', () => {
    expect(decide(prepared().state, { type: 'abort', reason: 'client' }).state.status).toBe('aborted');
    const submitted = decide(prepared().state, { type: 'submit' });
    expect(decide(submitted.state, { type: 'abort', reason: 'client' }).state.status).toBe('running');
  });

  it('retries a consumer transient failure with backoff, and acknowledges it later', () => {
    let d = decide(prepared(chain(1)).state, { type: 'submit' });
    d = answer(d.state, 'b0', 'action', 'unknown', 100);
    expect(d.state.branches[0].retryAt).toBe(105);
    d = decide(d.state, { type: 'wake' }, 105);
    expect(calls(d)).toEqual(['b0:action#2']);
    d = answer(d.state, 'b0', 'action', 'yes', 110);
    expect(d.state.status).toBe('committed');
  });

  it("a consumer's no parks the message failed (nothing compensated); replay re-delivers it", () => {
    let d = decide(prepared().state, { type: 'submit' });
    d = answer(d.state, 'b0', 'action', 'no');
    expect(d.state.status).toBe('failed');
    expect(d.state.error).toMatch(/b0 refused/);
    expect(calls(d)).toEqual([]);
    d = decide(d.state, { type: 'replay' });
    expect(d.state.status).toBe('running');
    expect(calls(d)).toEqual(['b0:action#2']);
    d = answer(d.state, 'b0', 'action', 'yes');
    d = answer(d.state, 'b1', 'action', 'yes');
    expect(d.state.status).toBe('committed');
  });

  it('attempts exhausted → failed once the independent deliveries have settled; replay gives a fresh budget', () => {
    let d = decide(prepared([[], []]).state, { type: 'submit' });
    d = answer(d.state, 'b0', 'action', 'unknown', 0);
    d = decide(d.state, { type: 'wake' }, 1_000);
    d = answer(d.state, 'b0', 'action', 'unknown', 1_000);
    d = decide(d.state, { type: 'wake' }, 2_000);
    d = answer(d.state, 'b0', 'action', 'unknown', 2_000);
    expect(d.state.branches[0].status).toBe('unknown');
    expect(d.state.status).toBe('running'); // b1 is still in flight
    d = answer(d.state, 'b1', 'action', 'yes');
    expect(d.state.status).toBe('failed');
    d = decide(d.state, { type: 'replay' });
    expect(calls(d)).toEqual(['b0:action#4']);
    d = answer(d.state, 'b0', 'action', 'unknown', 3_000);
    expect(d.state.branches[0].status).toBe('running'); // budget counted from the replay
  });

  it('recover makes every announced call again, the check included', () => {
    const asked = decide(prepared().state, { type: 'wake' }, CHECK_AT);
    expect(calls(decide(asked.state, { type: 'recover' }, CHECK_AT + 1))).toEqual([`${CHECK}:check#2`]);
    const delivering = decide(prepared().state, { type: 'submit' });
    expect(calls(decide(delivering.state, { type: 'recover' }, 5))).toEqual(['b0:action#2']);
  });

  it('ignores duplicate and stale answers', () => {
    let d = decide(prepared().state, { type: 'submit' });
    d = answer(d.state, 'b0', 'action', 'yes');
    const dup = decide(d.state, {
      type: 'outcome',
      branchId: 'b0',
      phase: 'action',
      attempt: 1,
      outcome: 'no',
      random01: 0,
    });
    expect(dup.state).toEqual(d.state);
  });

  it('a submitted message has no deadline: a consumer is retried past it', () => {
    let d = decide(prepared(chain(1)).state, { type: 'submit' });
    d = answer(d.state, 'b0', 'action', 'unknown', DEADLINE + 1);
    expect(d.state.status).toBe('running');
    expect(nextWakeAt(d.state)).toBe(d.state.branches[0].retryAt);
  });
});
