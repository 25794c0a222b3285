import fc from 'fast-check';
import type { Outcome } from '#contracts';
import { nextWakeAt } from '../machine';
import type { CallCommand, MachineEvent, TransactionState } from '../machine';
import { sagaState } from './saga-fixtures';
import { sagaMachine } from './saga.machine';

/**
 * A participant with the SDK's barrier semantics: an action applies once; a compensation applies
 * once and only if the action applied; a compensation seen first blocks a late action; an action
 * that said no is remembered, so a late delivery of it says no again and applies nothing.
 */
class BarrierParticipant {
  readonly applied = new Set<string>();
  readonly compensated = new Set<string>();
  readonly compensateSeen = new Set<string>();
  readonly refused = new Set<string>();
  actionEffects = 0;
  compensationEffects = 0;

  receive(call: CallCommand, script: Outcome): Outcome {
    if (call.phase === 'action') {
      if (this.compensateSeen.has(call.branchId) || this.refused.has(call.branchId)) return 'no';
      // a repeat of an applied action is a no-op that answers as the first delivery did
      if (this.applied.has(call.branchId)) return script === 'unknown' ? 'unknown' : 'yes';
      if (script === 'no') {
        this.refused.add(call.branchId);
        return 'no';
      }
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

/**
 * An operator's replay of a failed saga: the engine, as a fresh owner, feeds `replay` alone (the
 * machine's replay treats deliveries shown in flight as dropped); `recover-then-replay` must be as live.
 */
type ReplayModel = 'recover-then-replay' | 'replay-only';
const replayEvents = (model: ReplayModel): MachineEvent[] =>
  model === 'replay-only' ? [{ type: 'replay' }] : [{ type: 'recover' }, { type: 'replay' }];

type Step =
  | { kind: 'deliver'; pick: number; answer: Outcome; lose: boolean; jitter: number }
  /** The owner dies and another takes over; the calls on the wire that `keepMask` keeps may land later. */
  | { kind: 'crash'; keepMask: number }
  /** A call nobody listens to any more (a dead owner's, or dropped at `failed`) reaches its participant. */
  | { kind: 'ghost'; pick: number }
  | { kind: 'duplicate'; pick: number }
  | { kind: 'abort' }
  | { kind: 'tick'; ms: number }
  /** The operator replays the saga if it is failed. */
  | { kind: 'replay' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('deliver' as const),
      pick: fc.nat(),
      answer: fc.constantFrom<Outcome>('yes', 'yes', 'yes', 'no', 'unknown'),
      lose: fc.boolean(),
      jitter: fc.integer({ min: 0, max: 99 }).map((n) => n / 100),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), keepMask: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('ghost' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'replay' as const }) },
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

const FINAL: readonly string[] = ['committed', 'aborted', 'failed'];
/** Steps a replayed saga may take under a calm network: one answer per branch, plus wakes. */
const REPLAY_STEP_BOUND = 2 * 5 + 2;

interface SagaRun {
  participant: BarrierParticipant;
  /** Status once the random steps and a calm network settled it, before any replay. */
  settled: TransactionState;
  /** After an operator's replay of a failed run under a calm network (`settled` otherwise). */
  final: TransactionState;
  /** States neither settled nor failed with no call in flight and nothing due: nothing would move them. */
  stalls: string[];
  stepsAfterReplay: number;
}

/**
 * Runs a saga through `steps`, then a calm network, then (if failed) an operator's replay fed as
 * `model` says and a calm network again, then lets every call left on the wire land. Models the
 * engine: answers to calls in flight when a step leaves the saga `failed` are dropped (the driver
 * releases it at once), and so are a dead owner's; a take-over feeds `recover` when a branch is
 * marked in flight, `wake` otherwise. Checks on the way that a compensation is only sent once every
 * dependent that may have acted is compensated.
 */
function simulateSaga(
  deps: string[][],
  steps: Step[],
  noCompensate: string[],
  maxAttempts: number,
  model: ReplayModel = 'replay-only',
): SagaRun {
  const participant = new BarrierParticipant();
  let now = 0;
  let state: TransactionState = sagaState(deps, { maxAttempts, noCompensate });
  /** Calls of the current owner whose answers it will hear. */
  let pending: CallCommand[] = [];
  /** Calls whose answers nobody will hear; they may still land. */
  const wire: CallCommand[] = [];
  /** Answers the current owner recorded (a duplicate of one may be fed again). */
  let answered: MachineEvent[] = [];
  const stalls: string[] = [];
  const apply = (event: MachineEvent) => {
    const d = sagaMachine.decide(state, event, now);
    const wasFailed = state.status === 'failed';
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
    if (state.status === 'failed' && !wasFailed) {
      // the driver releases a failed saga at once: answers to calls still in flight are dropped
      wire.push(...pending.splice(0));
      answered = [];
    }
  };
  const deliver = (call: CallCommand, script: Outcome, lose: boolean, random01: number) => {
    const reply = participant.receive(call, script);
    const event: MachineEvent = {
      type: 'outcome',
      branchId: call.branchId,
      phase: call.phase,
      attempt: call.attempt,
      outcome: lose ? 'unknown' : reply,
      random01,
    };
    answered.push(event);
    apply(event);
  };
  const operatorReplay = () => {
    if (state.status !== 'failed') return;
    answered = [];
    for (const event of replayEvents(model)) apply(event);
  };
  /** Every call answered yes until settled; returns the steps it took. */
  const calm = (label: string): number => {
    let n = 0;
    for (; n < 1000 && !FINAL.includes(state.status); n++) {
      if (!pending.length && nextWakeAt(state) === null) {
        stalls.push(`${label}: ${state.status} with nothing in flight and nothing due`);
        break;
      }
      if (pending.length) deliver(pending.shift()!, 'yes', false, 0.5);
      else {
        now += 10_000;
        apply({ type: 'wake' });
      }
    }
    return n;
  };

  apply({ type: 'start' });
  for (const step of steps) {
    switch (step.kind) {
      case 'deliver':
        if (pending.length)
          deliver(pending.splice(step.pick % pending.length, 1)[0], step.answer, step.lose, step.jitter);
        break;
      case 'crash':
        // calls on the wire may still arrive later (reordered), but their answers are lost with the owner
        pending.forEach((call, i) => {
          if ((step.keepMask >> i) & 1) wire.push(call);
        });
        pending = [];
        // a failed saga has no owner to lose: nothing takes it over until the operator replays it
        if (state.status !== 'failed') {
          answered = [];
          apply(state.branches.some((b) => b.inFlight) ? { type: 'recover' } : { type: 'wake' });
        }
        break;
      case 'ghost':
        if (wire.length) participant.receive(wire.splice(step.pick % wire.length, 1)[0], 'yes');
        break;
      case 'duplicate':
        if (answered.length) apply(answered[step.pick % answered.length]);
        break;
      case 'abort':
        apply({ type: 'abort', reason: 'test' });
        break;
      case 'tick':
        now += step.ms;
        // a failed saga has no wake-up scheduled
        if (state.status !== 'failed') apply({ type: 'wake' });
        break;
      case 'replay':
        operatorReplay();
        break;
    }
  }
  calm('settling');
  const settled = state;
  let stepsAfterReplay = 0;
  if (state.status === 'failed') {
    operatorReplay();
    stepsAfterReplay = calm('after replay');
  }
  // whatever nobody listens to any more lands in the end
  for (const call of wire.splice(0)) participant.receive(call, 'yes');
  return { participant, settled, final: state, stalls, stepsAfterReplay };
}

const scenario = fc.tuple(
  dagArb,
  fc.array(stepArb, { maxLength: 120 }),
  fc.subarray(['b0', 'b1', 'b2', 'b3', 'b4']),
  fc.integer({ min: 1, max: 3 }),
);

/** Liveness of an operator's replay of a failed saga with healthy participants, under `model`. */
function replayLiveness(model: ReplayModel) {
  return fc.property(scenario, ([deps, steps, noCompensate, maxAttempts]) => {
    const run = simulateSaga(deps, steps, noCompensate, maxAttempts, model);
    expect(run.stalls).toEqual([]);
    expect(['committed', 'aborted']).toContain(run.final.status);
    expect(run.stepsAfterReplay).toBeLessThanOrEqual(REPLAY_STEP_BOUND);
  });
}

describe('sagaMachine properties', () => {
  it('ends committed with every action done once, or aborted with every landed action compensated once, or failed and parked; a replayed failure ends aborted', () => {
    fc.assert(
      fc.property(scenario, ([deps, steps, noCompensate, maxAttempts]) => {
        const { participant, settled, final } = simulateSaga(deps, steps, noCompensate, maxAttempts);
        expect(FINAL).toContain(settled.status);
        if (settled.status === 'failed') {
          expect(settled.branches.some((b) => b.status === 'completing')).toBe(true);
        }
        expect(['committed', 'aborted']).toContain(final.status);
        if (final.status === 'committed') {
          expect(final.branches.every((b) => b.status === 'succeeded')).toBe(true);
          expect(participant.applied.size).toBe(final.branches.length);
          expect(participant.compensationEffects).toBe(0);
        }
        if (final.status === 'aborted') {
          for (const b of final.branches) {
            const mustUndo = participant.applied.has(b.id) && !noCompensate.includes(b.id);
            expect(participant.compensated.has(b.id)).toBe(mustUndo);
          }
        }
        // the barrier bounds effects; the machine must never need more than one of each
        expect(participant.actionEffects).toBeLessThanOrEqual(final.branches.length);
        expect(participant.compensationEffects).toBeLessThanOrEqual(participant.actionEffects);
      }),
      { numRuns: 500 },
    );
  });

  it('liveness: a failed saga replayed with healthy participants settles in bounded steps, never stalling', () => {
    fc.assert(replayLiveness('recover-then-replay'), { numRuns: 500 });
  });

  it('liveness holds for the engine, which replays without a recover: a call in flight at the failure is re-driven', () => {
    // before issue 6 the replay skipped branches still marked in flight and this hung (seed 1, run 78)
    fc.assert(replayLiveness('replay-only'), { numRuns: 500, seed: 1 });
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
        const feed = (event: MachineEvent) => {
          const d = sagaMachine.decide(state, event, 0);
          state = d.state;
          calls = d.commands;
        };
        const answer = (c: CallCommand, outcome: Outcome) =>
          feed({ type: 'outcome', branchId: c.branchId, phase: c.phase, attempt: c.attempt, outcome, random01: 0 });
        for (let i = 0; i < n - 1; i++) answer(calls[0], 'yes');
        answer(calls[0], 'no');
        answer(calls[0], 'unknown');
        expect(state.status).toBe('failed');
        // a recover before the replay (a take-over) changes nothing the replay would not do itself
        feed({ type: 'recover' });
        expect(calls).toEqual([]);
        feed({ type: 'replay' });
        while (calls.length) answer(calls[0], 'yes');
        expect(state.status).toBe('aborted');
      }),
    );
  });
});
