import fc from 'fast-check';
import type { Outcome } from '#contracts';
import type { CallCommand, MachineEvent, TransactionState } from '../machine';
import { sagaState } from './saga-fixtures';
import { sagaMachine } from './saga.machine';

/**
 * A participant with the SDK's barrier semantics: an action applies once; a compensation applies
 * once and only if the action applied; a compensation seen first blocks a late action.
 */
class BarrierParticipant {
  readonly applied = new Set<string>();
  readonly compensated = new Set<string>();
  readonly compensateSeen = new Set<string>();
  actionEffects = 0;
  compensationEffects = 0;

  receive(call: CallCommand, script: Outcome): Outcome {
    if (call.phase === 'action') {
      if (this.compensateSeen.has(call.branchId)) return 'no';
      // a repeat of an applied action is a no-op that answers as the first delivery did
      if (this.applied.has(call.branchId)) return script === 'unknown' ? 'unknown' : 'yes';
      if (script === 'no') return 'no';
      if (!this.applied.has(call.branchId)) {
        this.applied.add(call.branchId);
        this.actionEffects++;
      }
      return script;
    }
    this.compensateSeen.add(call.branchId);
    if (script === 'no') return 'unknown';
    if (this.applied.has(call.branchId) && !this.compensated.has(call.branchId)) {
      this.compensated.add(call.branchId);
      this.compensationEffects++;
    }
    return script;
  }
}

type Step =
  | { kind: 'deliver'; pick: number; answer: Outcome; lose: boolean }
  | { kind: 'crash' }
  | { kind: 'duplicate'; pick: number }
  | { kind: 'abort' }
  | { kind: 'tick'; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('deliver' as const),
      pick: fc.nat(),
      answer: fc.constantFrom<Outcome>('yes', 'yes', 'yes', 'no', 'unknown'),
      lose: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'abort' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 300 }) }) },
);

/** Random DAGs: each branch depends on a subset of the earlier ones. */
const dagArb = fc
  .integer({ min: 1, max: 5 })
  .chain((n) =>
    fc.tuple(...Array.from({ length: n }, (_, i) => fc.subarray(Array.from({ length: i }, (_, j) => `b${j}`)))),
  );

describe('sagaMachine properties', () => {
  it('ends committed with every action done once, or aborted with every landed action compensated once, or failed and parked', () => {
    fc.assert(
      fc.property(
        dagArb,
        fc.array(stepArb, { maxLength: 120 }),
        fc.subarray(['b0', 'b1', 'b2', 'b3', 'b4']),
        (deps, steps, noCompensate) => {
          const participant = new BarrierParticipant();
          let now = 0;
          let state: TransactionState = sagaState(deps, { maxAttempts: 3, noCompensate });
          let pending: CallCommand[] = [];
          const answered: MachineEvent[] = [];
          const apply = (event: MachineEvent) => {
            const d = sagaMachine.decide(state, event, now);
            state = d.state;
            for (const c of d.commands) {
              // a compensation is only sent once every dependent that may have acted is compensated
              if (c.phase === 'compensate') {
                for (const dep of state.branches.filter((b) => b.dependsOn.includes(c.branchId))) {
                  if (participant.applied.has(dep.id) && !noCompensate.includes(dep.id)) {
                    expect(participant.compensated.has(dep.id)).toBe(true);
                  }
                }
              }
            }
            pending.push(...d.commands);
          };
          const deliver = (call: CallCommand, script: Outcome, lose: boolean) => {
            const reply = participant.receive(call, script);
            const event: MachineEvent = {
              type: 'outcome',
              branchId: call.branchId,
              phase: call.phase,
              attempt: call.attempt,
              outcome: lose ? 'unknown' : reply,
              random01: 0.5,
            };
            answered.push(event);
            apply(event);
          };

          apply({ type: 'start' });
          for (const step of steps) {
            switch (step.kind) {
              case 'deliver':
                if (pending.length) deliver(pending.splice(step.pick % pending.length, 1)[0], step.answer, step.lose);
                break;
              case 'crash':
                // calls on the wire may still arrive (reordered), but their answers are lost with the owner
                for (const call of pending.splice(0)) if (Math.random() < 0.5) participant.receive(call, 'yes');
                apply({ type: 'recover' });
                break;
              case 'duplicate':
                if (answered.length) apply(answered[step.pick % answered.length]);
                break;
              case 'abort':
                apply({ type: 'abort', reason: 'test' });
                break;
              case 'tick':
                now += step.ms;
                apply({ type: 'wake' });
                break;
            }
          }
          // then a calm network: every call answered yes until nothing is left
          for (let guard = 0; guard < 1000 && !['committed', 'aborted', 'failed'].includes(state.status); guard++) {
            if (pending.length) deliver(pending.shift()!, 'yes', false);
            else {
              now += 10_000;
              apply({ type: 'wake' });
            }
          }

          expect(['committed', 'aborted', 'failed']).toContain(state.status);
          if (state.status === 'committed') {
            expect(state.branches.every((b) => b.status === 'succeeded')).toBe(true);
            expect(participant.applied.size).toBe(state.branches.length);
            expect(participant.compensationEffects).toBe(0);
          }
          if (state.status === 'aborted') {
            for (const b of state.branches) {
              const mustUndo = participant.applied.has(b.id) && !noCompensate.includes(b.id);
              expect(participant.compensated.has(b.id)).toBe(mustUndo);
            }
          }
          if (state.status === 'failed') {
            expect(state.branches.some((b) => b.status === 'completing')).toBe(true);
          }
          // the barrier bounds effects; the machine must never need more than one of each
          expect(participant.actionEffects).toBeLessThanOrEqual(state.branches.length);
          expect(participant.compensationEffects).toBeLessThanOrEqual(participant.actionEffects);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a failed saga replayed under a calm network ends aborted', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5 }), (n) => {
        let state = sagaState(
          Array.from({ length: n }, (_, i) => (i ? [`b${i - 1}`] : [])),
          { maxAttempts: 1 },
        );
        let calls: CallCommand[] = sagaMachine.decide(state, { type: 'start' }, 0).commands;
        state = sagaMachine.decide(state, { type: 'start' }, 0).state;
        const answer = (c: CallCommand, outcome: Outcome) => {
          const d = sagaMachine.decide(
            state,
            { type: 'outcome', branchId: c.branchId, phase: c.phase, attempt: c.attempt, outcome, random01: 0 },
            0,
          );
          state = d.state;
          calls = d.commands;
        };
        for (let i = 0; i < n - 1; i++) answer(calls[0], 'yes');
        answer(calls[0], 'no');
        answer(calls[0], 'unknown');
        expect(state.status).toBe('failed');
        const replayed = sagaMachine.decide(state, { type: 'replay' }, 0);
        state = replayed.state;
        calls = replayed.commands;
        while (calls.length) answer(calls[0], 'yes');
        expect(state.status).toBe('aborted');
      }),
    );
  });
});
