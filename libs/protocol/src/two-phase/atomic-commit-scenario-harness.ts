import fc from 'fast-check';
import type { Outcome, Phase } from '#contracts';
import type { ProtocolPhases } from './atomic-commit-participant-harness';

/** Test support: the random scenarios the atomic-commit harness runs, drawn by fast-check so a failure shrinks. */

/**
 * One event of a scenario. A `pick` selects among the calls (or answers) there are, modulo their
 * count, and a step with nothing to act on does nothing, so every drawn step can be run.
 */
export type Step =
  | { kind: 'deliver'; pick: number; answer: Outcome; loss: 'none' | 'reply' | 'request'; jitter: number }
  /**
   * The owner dies; another takes over `downMs` later. Calls on the wire (those kept by `keepMask`)
   * may still reach participants later.
   */
  | { kind: 'crash'; keepMask: number; downMs: number }
  /** A call from a dead owner reaches its participant; nobody hears the answer. */
  | { kind: 'ghost'; pick: number }
  /** The network duplicates a call on the wire. */
  | { kind: 'echo'; pick: number }
  /** An answer already recorded is fed again. */
  | { kind: 'duplicate'; pick: number }
  | { kind: 'abort' }
  /** The clock moves; `wake` says whether the engine's timer fires now or some other event comes first. */
  | { kind: 'tick'; ms: number; wake: boolean }
  | { kind: 'register' }
  | { kind: 'commit' }
  /** The operator replays the transaction if it is failed (a fresh owner: see {@link replayEvents}). */
  | { kind: 'replay' };

/**
 * A random run: the branches the transaction starts with (`b0..b{branches-1}`; none in interactive
 * mode) and the steps fed to it, where `register` steps may add more up to {@link MAX_BRANCHES}.
 */
export interface Scenario {
  branches: number;
  interactive: boolean;
  maxAttempts: number;
  deadline: number;
  /** Skipped phases of `b{i}`. */
  skip: Phase[][];
  steps: Step[];
}

/** Branches a scenario may have, the registered ones included. */
export const MAX_BRANCHES = 5;

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('deliver' as const),
      pick: fc.nat(),
      answer: fc.constantFrom<Outcome>('yes', 'yes', 'yes', 'no', 'unknown'),
      loss: fc.constantFrom('none' as const, 'none' as const, 'none' as const, 'reply' as const, 'request' as const),
      jitter: fc.integer({ min: 0, max: 99 }).map((n) => n / 100),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('crash' as const),
      keepMask: fc.nat(),
      downMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5_000 })),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('ghost' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('echo' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'abort' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('tick' as const),
      ms: fc.integer({ min: 1, max: 300 }),
      wake: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'register' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'commit' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'replay' as const }) },
);

/** Scenarios for a protocol; `interactive` draws both modes for TCC/2PC, driven only for 3PC. */
export function scenarioArb(phases: ProtocolPhases, interactive: boolean): fc.Arbitrary<Scenario> {
  const all = [...phases.rounds, phases.commit, phases.abort];
  const skipArb = fc.oneof(
    { weight: 4, arbitrary: fc.constant<Phase[]>([]) },
    { weight: 1, arbitrary: fc.subarray(all) },
  );
  return fc
    .record({
      interactive: interactive ? fc.boolean() : fc.constant(false),
      driven: fc.integer({ min: 1, max: 4 }),
      maxAttempts: fc.integer({ min: 1, max: 3 }),
      deadline: fc.integer({ min: 500, max: 10_000 }),
      skip: fc.array(skipArb, { minLength: MAX_BRANCHES, maxLength: MAX_BRANCHES }),
      steps: fc.array(stepArb, { maxLength: 120 }),
    })
    .map(({ driven, ...rest }) => ({ ...rest, branches: rest.interactive ? 0 : driven }));
}
