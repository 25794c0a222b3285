import type { Outcome, TransactionStatus } from '#contracts';
import { nextWakeAt } from '../machine';
import type { CallCommand, Decision, MachineEvent, ProtocolMachine, TransactionState } from '../machine';
import { commitState, pendingBranch } from './atomic-commit-fixtures';
import { BarrierParticipant, type ProtocolPhases } from './atomic-commit-participant-harness';
import { MAX_BRANCHES, type Scenario } from './atomic-commit-scenario-harness';

/**
 * Test support: one run of a scenario on an atomic-commit machine, and what the run did.
 *
 * The harness models the engine, not a kinder one: every answer the engine would drop is never fed
 * to the machine. The engine drops (i) every answer to a call still in flight once a step leaves the
 * transaction `failed` (the driver releases it at once), and (ii) the previous owner's answers after
 * a crash and take-over. A take-over feeds `recover` when a branch is marked in flight (`wake`
 * otherwise); an operator's replay runs as a fresh owner and feeds `replay` alone. All
 * randomness comes from the scenario, so a failure replays from its seed and shrinks.
 */

/**
 * The events fed for an operator's replay of a failed transaction: `replay-only` is what the engine
 * does (the machine's replay treats deliveries shown in flight as dropped); `recover-then-replay`
 * must be just as live, since a recover on a failed transaction only forgets those deliveries.
 */
export type ReplayModel = 'recover-then-replay' | 'replay-only';

/** The events of an operator's replay under `model`. */
export function replayEvents(model: ReplayModel): MachineEvent[] {
  return model === 'replay-only' ? [{ type: 'replay' }] : [{ type: 'recover' }, { type: 'replay' }];
}

/** What one run did. */
export interface Trace {
  /** The decision after every step, in order. */
  decisions: (Decision | null)[];
  /** Steps after which the participants' effects broke atomicity. */
  atomicityBreaks: string[];
  /** Calls announced without their branch inFlight at that attempt with no retry pending. */
  badCalls: string[];
  /** Status once the run settled (before any replay), and the state then. */
  settled: TransactionStatus;
  settledState: TransactionState;
  /** After a replay of a failed run under a calm network (the same as `settled` otherwise). */
  final: TransactionState;
  participant: BarrierParticipant;
  /** Calls whose effect was applied by a participant more than once (raw deliveries minus the barrier). */
  completionDeliveries: number;
  /**
   * Liveness: states in which the transaction was neither settled nor failed, yet had no call in
   * flight and no retry or deadline due, so nothing would ever move it again.
   */
  stalls: string[];
  /** Whether the run was replayed after it settled failed, and the steps the replayed run took to settle. */
  replayed: boolean;
  stepsAfterReplay: number;
}

const FINAL: readonly TransactionStatus[] = ['committed', 'aborted', 'failed'];

/**
 * Runs `sc` on `machine`: the random steps, then a calm network until settled, then, if failed, an
 * operator's replay (as `model` says the engine feeds it) and a calm network again.
 */
export function simulate(
  machine: ProtocolMachine,
  phases: ProtocolPhases,
  sc: Scenario,
  model: ReplayModel = 'replay-only',
): Trace {
  const skipOf = (id: string) => sc.skip[Number(id.slice(1))] ?? [];
  const participant = new BarrierParticipant(phases, skipOf);
  let now = 0;
  let state: TransactionState = commitState(sc.branches, phases.rounds[0], {
    maxAttempts: sc.maxAttempts,
    deadline: sc.deadline,
    mode: sc.interactive ? 'interactive' : 'driven',
    skip: Object.fromEntries(sc.skip.map((s, i) => [`b${i}`, s])),
  });
  /** Calls of the current owner whose answers it will hear. */
  let pending: CallCommand[] = [];
  /** Calls whose answers nobody will hear (a dead owner's, or dropped at `failed`); they may still land. */
  const wire: CallCommand[] = [];
  /** Answers the current owner recorded (a duplicate of one may be fed again). */
  let answered: MachineEvent[] = [];
  const stalls: string[] = [];
  const decisions: (Decision | null)[] = [];
  const atomicityBreaks: string[] = [];
  const badCalls: string[] = [];
  let registered = sc.branches;

  const apply = (event: MachineEvent, label: string) => {
    const d = machine.decide(state, event, now);
    for (const c of d.commands) {
      const b = d.state.branches.find((x) => x.id === c.branchId);
      if (!b || !b.inFlight || b.attempt !== c.attempt || b.retryAt !== null || b.phase !== c.phase) {
        badCalls.push(`${label}: ${c.branchId}:${c.phase}#${c.attempt}`);
      }
    }
    const wasFailed = state.status === 'failed';
    state = d.state;
    decisions.push(state.decision);
    pending.push(...d.commands);
    if (state.status === 'failed' && !wasFailed) {
      // the driver releases a failed transaction at once: answers to calls still in flight are dropped
      wire.push(...pending.splice(0));
      answered = [];
    }
    if (participant.atomicityBroken()) atomicityBreaks.push(label);
  };
  /** A fresh owner: the engine feeds `recover` when a branch is marked in flight, else `wake`. */
  const takeOver = (label: string) => {
    answered = [];
    apply(state.branches.some((b) => b.inFlight) ? { type: 'recover' } : { type: 'wake' }, label);
  };
  const operatorReplay = () => {
    if (state.status !== 'failed') return;
    answered = [];
    for (const event of replayEvents(model)) apply(event, `operator ${event.type}`);
  };
  const deliver = (call: CallCommand, script: Outcome, loss: 'none' | 'reply' | 'request', random01: number) => {
    const reply = loss === 'request' ? 'unknown' : participant.receive(call, script);
    const event: MachineEvent = {
      type: 'outcome',
      branchId: call.branchId,
      phase: call.phase,
      attempt: call.attempt,
      outcome: loss === 'none' ? reply : 'unknown',
      random01,
    };
    answered.push(event);
    apply(event, `${call.branchId}:${call.phase}#${call.attempt} ${event.outcome}`);
  };
  /** Answers every call yes until settled; returns the steps it took. */
  const calm = (label: string): number => {
    let commitAsked = false;
    let steps = 0;
    for (; steps < 2000 && !FINAL.includes(state.status); steps++) {
      const awaitingClient = sc.interactive && state.status === 'running' && !commitAsked;
      if (!pending.length && !awaitingClient && nextWakeAt(state) === null) {
        stalls.push(`${label}: ${state.status} with nothing in flight and nothing due`);
        break;
      }
      if (pending.length) {
        deliver(pending.shift()!, 'yes', 'none', 0.5);
      } else if (sc.interactive && state.status === 'running' && !commitAsked) {
        commitAsked = true;
        apply({ type: 'commit' }, 'calm commit');
      } else {
        now += 10_000;
        apply({ type: 'wake' }, 'calm wake');
      }
    }
    return steps;
  };
  /** Whatever a dead owner (or a released driver) left on the wire arrives in the end. */
  const drainWire = () => {
    for (const call of wire.splice(0)) participant.receive(call, 'yes');
    if (participant.atomicityBroken()) atomicityBreaks.push('late calls');
  };

  apply({ type: 'start' }, 'start');
  for (const step of sc.steps) {
    switch (step.kind) {
      case 'deliver':
        if (pending.length)
          deliver(pending.splice(step.pick % pending.length, 1)[0], step.answer, step.loss, step.jitter);
        break;
      case 'crash':
        pending.forEach((call, i) => {
          if ((step.keepMask >> i) & 1) wire.push(call);
        });
        pending = [];
        now += step.downMs;
        // a failed transaction has no owner to lose: nothing takes it over until the operator replays it
        if (state.status !== 'failed') takeOver('take-over');
        break;
      case 'ghost':
        if (wire.length) {
          participant.receive(wire.splice(step.pick % wire.length, 1)[0], 'yes');
          if (participant.atomicityBroken()) atomicityBreaks.push('ghost');
        }
        break;
      case 'echo':
        if (pending.length) participant.receive(pending[step.pick % pending.length], 'yes');
        break;
      case 'duplicate':
        if (answered.length) apply(answered[step.pick % answered.length], 'duplicate');
        break;
      case 'abort':
        apply({ type: 'abort', reason: 'client' }, 'abort');
        break;
      case 'tick':
        now += step.ms;
        // a failed transaction has no wake-up scheduled
        if (step.wake && state.status !== 'failed') apply({ type: 'wake' }, 'wake');
        break;
      case 'register':
        if (registered < MAX_BRANCHES) {
          const id = `b${registered}`;
          const d = { type: 'register' as const, branch: pendingBranch(id, phases.rounds[0], skipOf(id)) };
          apply(d, `register ${id}`);
          if (state.branches.some((b) => b.id === id)) registered++;
        }
        break;
      case 'commit':
        apply({ type: 'commit' }, 'commit');
        break;
      case 'replay':
        operatorReplay();
        break;
    }
  }
  calm('settling');
  const settled = state.status;
  const settledState = state;
  const replayed = state.status === 'failed';
  let stepsAfterReplay = 0;
  if (replayed) {
    operatorReplay();
    stepsAfterReplay = calm('after replay');
  }
  drainWire();
  return {
    decisions,
    atomicityBreaks,
    badCalls,
    settled,
    settledState,
    final: state,
    participant,
    completionDeliveries: participant.completionDeliveries,
    stalls,
    replayed,
    stepsAfterReplay,
  };
}
