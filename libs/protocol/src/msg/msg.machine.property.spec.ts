import fc from 'fast-check';
import { MSG_CHECK_ID, type Outcome } from '#contracts';
import { nextWakeAt } from '../machine';
import type { CallCommand, MachineEvent, TransactionState } from '../machine';
import { DEADLINE, msgState } from './msg-fixtures';
import { msgMachine } from './msg.machine';

/**
 * The sender as the participant SDK's outbox makes it: its local transaction is open, then commits
 * or rolls back. A check while it is open either waits (no answer in time: unknown) or wins the race
 * by writing the `rolledback` marker, which makes the sender's later commit fail (it rolls back). A
 * check after it ended answers what happened. So a check's answer is always the truth.
 */
class Sender {
  state: 'open' | 'committed' | 'rolledback' = 'open';
  answerCheck(raceWins: boolean): Outcome {
    if (this.state === 'open') {
      if (!raceWins) return 'unknown';
      this.state = 'rolledback';
    }
    return this.state === 'committed' ? 'yes' : 'no';
  }
}

/** A consumer with the barrier: an action applies once, however often it is delivered. */
class Consumer {
  readonly applied = new Map<string, number>();
  receive(call: CallCommand, script: Outcome): Outcome {
    if (script !== 'no') this.applied.set(call.branchId, 1);
    return script;
  }
}

type Step =
  | { kind: 'sender'; commit: boolean; submit: boolean }
  | { kind: 'deliver'; pick: number; answer: Outcome; lose: boolean; raceWins: boolean }
  | { kind: 'crash' }
  | { kind: 'tick'; ms: number }
  | { kind: 'resubmit' }
  | { kind: 'replay' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('sender' as const), commit: fc.boolean(), submit: fc.boolean() }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('deliver' as const),
      pick: fc.nat(),
      answer: fc.constantFrom<Outcome>('yes', 'yes', 'no', 'unknown'),
      lose: fc.boolean(),
      raceWins: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'resubmit' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'replay' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 40_000 }) }) },
);

const dagArb = fc
  .integer({ min: 1, max: 4 })
  .chain((n) =>
    fc.tuple(...Array.from({ length: n }, (_, i) => fc.subarray(Array.from({ length: i }, (_, j) => `b${j}`)))),
  );

describe('msgMachine properties', () => {
  it('never delivers a message its sender rolled back, never aborts one it committed before the deadline, and always settles', () => {
    fc.assert(
      fc.property(dagArb, fc.array(stepArb, { maxLength: 40 }), (deps, steps) => {
        const sender = new Sender();
        const consumer = new Consumer();
        let now = 0;
        let state: TransactionState = msgState(deps);
        let pending: CallCommand[] = [];
        /** When the sender committed, if it did. */
        let committedAt: number | null = null;
        const apply = (event: MachineEvent) => {
          const before = state;
          const d = msgMachine.decide(state, event, now);
          state = d.state;
          for (const c of d.commands) {
            // a delivery only once the decision is commit, and that only once the sender committed
            if (c.phase === 'action') {
              expect(state.decision).toBe('commit');
              expect(sender.state).toBe('committed');
            }
          }
          if (before.status !== 'aborted' && state.status === 'aborted') {
            // aborted only if the sender did not commit, or the deadline passed without an answer:
            // an ask's answer lost at or after the deadline, never the deadline alone
            if (sender.state === 'committed') {
              expect(now).toBeGreaterThanOrEqual(DEADLINE);
              expect(event.type).toBe('outcome');
            }
            expect(consumer.applied.size).toBe(0);
          }
          if (state.status === 'failed' && before.status !== 'failed') pending = []; // a failed message is released
          pending.push(...d.commands);
        };
        const deliver = (call: CallCommand, script: Outcome, lose: boolean, raceWins: boolean) => {
          const reply = call.branchId === MSG_CHECK_ID ? sender.answerCheck(raceWins) : consumer.receive(call, script);
          apply({
            type: 'outcome',
            branchId: call.branchId,
            phase: call.phase,
            attempt: call.attempt,
            outcome: lose ? 'unknown' : reply,
            random01: 0.5,
          });
        };
        const senderSubmits = () => {
          if (sender.state === 'committed') apply({ type: 'submit' });
        };

        apply({ type: 'start' });
        for (const step of steps) {
          switch (step.kind) {
            case 'sender':
              if (sender.state === 'open') {
                sender.state = step.commit ? 'committed' : 'rolledback';
                if (step.commit) committedAt = now;
                if (step.commit && step.submit) senderSubmits(); // else it crashed before its submit
              }
              break;
            case 'deliver':
              if (pending.length)
                deliver(pending.splice(step.pick % pending.length, 1)[0], step.answer, step.lose, step.raceWins);
              break;
            case 'crash':
              pending = [];
              apply({ type: 'recover' });
              break;
            case 'resubmit':
              senderSubmits();
              break;
            case 'tick':
              now += step.ms;
              if (nextWakeAt(state) !== null && nextWakeAt(state)! <= now) apply({ type: 'wake' });
              break;
            case 'replay':
              if (state.status === 'failed') apply({ type: 'replay' });
              break;
          }
        }
        // calm: the sender ends its transaction, every call is answered, wake-ups happen, failed is replayed
        if (sender.state === 'open') sender.state = 'rolledback';
        for (let n = 0; n < 500 && state.status !== 'committed' && state.status !== 'aborted'; n++) {
          if (state.status === 'failed') apply({ type: 'replay' });
          else if (pending.length) deliver(pending.shift()!, 'yes', false, true);
          else {
            const wake = nextWakeAt(state);
            // liveness: an unsettled message always has a call in flight or a wake-up due
            expect(wake).not.toBeNull();
            now = Math.max(now, wake!);
            apply({ type: 'wake' });
          }
        }
        expect(['committed', 'aborted']).toContain(state.status);
        if (state.status === 'committed') {
          expect(sender.state).toBe('committed');
          expect(consumer.applied.size).toBe(deps.length);
        } else if (sender.state === 'committed') {
          // a committed sender's message is lost only past the deadline (its submit and checks all failed)
          expect(now).toBeGreaterThanOrEqual(DEADLINE);
          expect(committedAt).not.toBeNull();
        }
      }),
      { numRuns: 500 },
    );
  });
});
