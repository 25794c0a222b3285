import type { BranchStatus, Mode, Outcome, Phase, TransactionStatus } from '#contracts';
import type { BranchState, Decided, Decision, MachineEvent, ProtocolMachine, TransactionState } from '../machine';

/** Test support for the 2PC, TCC and 3PC machines: state builders and a scripted scenario runner. */

export interface CommitStateOptions {
  maxAttempts?: number;
  deadline?: number;
  mode?: Mode;
  /** Phases skipped per branch id. */
  skip?: Record<string, Phase[]>;
}

/** A fresh branch `id` whose first phase is `firstPhase`. */
export function pendingBranch(id: string, firstPhase: Phase, skippedPhases: Phase[] = []): BranchState {
  return {
    id,
    dependsOn: [],
    skippedPhases,
    status: 'pending',
    phase: firstPhase,
    attempt: 0,
    budgetBase: 0,
    inFlight: false,
    retryAt: null,
  };
}

/** A pending transaction with branches `b0..b{n-1}`. Backoff: 10 ms doubling, capped at 100 ms. */
export function commitState(n: number, firstPhase: Phase, opts: CommitStateOptions = {}): TransactionState {
  return {
    status: 'pending',
    decision: null,
    deadline: opts.deadline ?? 1_000_000,
    error: null,
    retry: { maxAttempts: opts.maxAttempts ?? 3, initialBackoffMs: 10, maxBackoffMs: 100 },
    ...(opts.mode ? { mode: opts.mode } : {}),
    branches: Array.from({ length: n }, (_, i) => pendingBranch(`b${i}`, firstPhase, opts.skip?.[`b${i}`] ?? [])),
  };
}

/** What a scripted step expects of the machine's answer; omitted fields are not checked. */
export interface Expect {
  status?: TransactionStatus;
  decision?: Decision | null;
  /** Calls announced by this step, as `branch:phase#attempt`. */
  calls?: string[];
  /** Every branch as `status/phase`, in order. */
  branches?: string[];
  /** The step changed nothing at all. */
  unchanged?: true;
  error?: string | null;
  wakeAt?: number | null;
}

/**
 * One step of a scenario. Written as text:
 * `start` · `commit` · `replay` · `abort` · `wake@T` · `recover@T` · `register b3` ·
 * `b0 try yes` (the answer to the branch's current attempt) · `b0 try#1 no` (to attempt 1) ·
 * an `@T` suffix sets the clock (default 0).
 */
export type Step = [string, Expect];

export function eventOf(
  text: string,
  state: TransactionState,
  firstPhase: Phase,
): { event: MachineEvent; now: number } {
  const [body, at] = text.split('@');
  const now = at === undefined ? 0 : Number(at);
  const words = body.trim().split(/\s+/);
  switch (words[0]) {
    case 'start':
    case 'commit':
    case 'replay':
    case 'wake':
    case 'recover':
      return { event: { type: words[0] } as MachineEvent, now };
    case 'abort':
      return { event: { type: 'abort', reason: 'client' }, now };
    case 'register':
      return { event: { type: 'register', branch: pendingBranch(words[1], firstPhase) }, now };
  }
  const [branchId, phaseText, outcome] = words;
  const [phase, attemptText] = phaseText.split('#');
  const branch = state.branches.find((b) => b.id === branchId);
  const attempt = attemptText ? Number(attemptText) : (branch?.attempt ?? 1);
  return {
    event: { type: 'outcome', branchId, phase: phase as Phase, attempt, outcome: outcome as Outcome, random01: 0.5 },
    now,
  };
}

export const callsOf = (d: Decided): string[] => d.commands.map((c) => `${c.branchId}:${c.phase}#${c.attempt}`);
export const branchesOf = (s: TransactionState): string[] =>
  s.branches.map((b) => `${b.status satisfies BranchStatus}/${b.phase}`);

/** Runs `steps` from `initial`, checking each expectation, and returns the final state. */
export function runScript(
  machine: ProtocolMachine,
  initial: TransactionState,
  steps: Step[],
  nextWakeAt: (s: TransactionState) => number | null,
): TransactionState {
  let state = initial;
  const firstPhase = initial.branches[0]?.phase ?? 'try';
  for (const [text, want] of steps) {
    const { event, now } = eventOf(text, state, firstPhase);
    const before = structuredClone(state);
    const d = machine.decide(state, event, now);
    expect(state).toEqual(before); // decide never mutates its input
    const got: Expect = {};
    if (want.status !== undefined) got.status = d.state.status;
    if (want.decision !== undefined) got.decision = d.state.decision;
    if (want.calls !== undefined) got.calls = callsOf(d);
    if (want.branches !== undefined) got.branches = branchesOf(d.state);
    if (want.error !== undefined) got.error = d.state.error;
    if (want.wakeAt !== undefined) got.wakeAt = nextWakeAt(d.state);
    if (want.unchanged) {
      expect({ step: text, state: d.state, commands: d.commands }).toEqual({ step: text, state, commands: [] });
      got.unchanged = true;
    }
    expect({ step: text, ...got }).toEqual({ step: text, ...want });
    for (const c of d.commands) {
      const b = d.state.branches.find((x) => x.id === c.branchId)!;
      expect({ inFlight: b.inFlight, attempt: b.attempt, retryAt: b.retryAt, phase: b.phase }).toEqual({
        inFlight: true,
        attempt: c.attempt,
        retryAt: null,
        phase: c.phase,
      });
    }
    state = d.state;
  }
  return state;
}
