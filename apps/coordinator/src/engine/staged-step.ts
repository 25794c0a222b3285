import { FORWARD_PHASES, Outcome, Phase, SETTLED_STATUSES, type Protocol } from '#contracts';
import {
  nextWakeAt,
  type CallCommand,
  type MachineEvent,
  type ProtocolMachine,
  type TransactionState,
} from '#protocol';
import type { AdvanceOp, BranchRecord, NewEvent } from '#store';
import { branchFields, changedBranches, timelineOf } from './state-mapping';

/** What a sealed step writes, and what its driver does once the write is durable. */
export interface SealedStep {
  op: AdvanceOp;
  settled: boolean;
  /** The owner lets go with the write: settled, or nothing in flight (a wake-up is scheduled instead). */
  release: boolean;
  wakeAt: number | null;
}

/**
 * A driver's step, from its first event until its write is built: the events decided so far on top
 * of the state last written, the timeline they add and the calls they announce. While the write
 * waits for the log (a flush is in flight), the answers that arrive meanwhile are decided onto it and
 * ride in the same write instead of each waiting for a write of its own; its calls are made only
 * once the write holding them is durable, as for any step.
 */
export class StagedStep {
  private current: TransactionState;
  private readonly announced: CallCommand[] = [];
  private readonly timeline: NewEvent[] = [];
  /** The results kept from answers, by branch: a forward phase's yes, a check's deciding answer. */
  private readonly results = new Map<string, unknown>();
  private lastAt = 0;
  private sealedAs: SealedStep | null = null;
  /** The events taken in, in order, as they were given: taken again if the log refuses the step. */
  readonly inputs: { event: MachineEvent; note: Record<string, unknown> | null; result: unknown }[] = [];

  constructor(
    private readonly machine: ProtocolMachine,
    readonly before: TransactionState,
    private readonly lastSeq: number,
  ) {
    this.current = before;
  }

  /** The state once every event taken in is applied. */
  get state(): TransactionState {
    return this.current;
  }

  /** The calls the taken-in events announce, in order. */
  get commands(): CallCommand[] {
    return this.announced;
  }

  /** When the last event was taken in (ms). */
  get at(): number {
    return this.lastAt;
  }

  /** Whether its write is built: from then on nothing more can ride in it. */
  get sealed(): boolean {
    return this.sealedAs !== null;
  }

  /** Decides `event` on top of what is staged; false (and nothing taken in) when it changes nothing. */
  take(event: MachineEvent, note: Record<string, unknown> | null, result: unknown, now: number): boolean {
    return this.decide(event, note, result, now, false) === 'taken';
  }

  /**
   * Takes in an answer that arrived while the write waits, unless it would change the status a
   * second time: the live stream announces each write's status change, and one status must not
   * hide another, so that answer takes a step (and a write) of its own. False when refused.
   */
  ride(event: MachineEvent, note: Record<string, unknown> | null, result: unknown, now: number): boolean {
    return this.decide(event, note, result, now, true) !== 'refused';
  }

  private decide(
    event: MachineEvent,
    note: Record<string, unknown> | null,
    result: unknown,
    now: number,
    oneStatusChange: boolean,
  ): 'taken' | 'unchanged' | 'refused' {
    if (this.sealedAs) throw new Error('a sealed step takes no more events');
    const { state, commands } = this.machine.decide(this.current, event, now);
    const changed = changedBranches(this.current, state);
    const seq = this.lastSeq + this.timeline.length;
    const events = timelineOf(this.current, state, event, note, commands, seq, new Date(now));
    if (events.length === 0 && changed.length === 0) return 'unchanged';
    const statusChangedAgain = this.current.status !== this.before.status && state.status !== this.current.status;
    if (oneStatusChange && statusChangedAgain) return 'refused';
    this.current = state;
    this.announced.push(...commands);
    this.timeline.push(...events);
    this.lastAt = now;
    this.inputs.push({ event, note, result });
    // kept only from an answer the machine acted on: a late one it ignored leaves the branch's result alone
    if (keepsResult(event) && changed.some((b) => b.id === event.branchId)) {
      this.results.set(event.branchId, result ?? null);
    }
    return 'taken';
  }

  /** Builds the write (once): the step's changes against the state last written. */
  seal(
    ctx: { id: string; version: number; instanceId: string; protocol: Protocol },
    inserted?: BranchRecord,
  ): SealedStep {
    if (this.sealedAs) return this.sealedAs;
    const state = this.current;
    const branches = changedBranches(this.before, state);
    for (const change of branches) {
      if (this.results.has(change.id)) Object.assign(change, { setResult: true, result: this.results.get(change.id) });
    }
    const settled = SETTLED_STATUSES.includes(state.status);
    const release = settled || !state.branches.some((b) => b.inFlight);
    const wakeAt = settled ? null : nextWakeAt(state);
    const op: AdvanceOp = {
      op: 'advance',
      id: ctx.id,
      version: ctx.version,
      at: new Date(this.lastAt),
      txn: {
        status: state.status,
        decision: state.decision,
        error: state.error,
        owner: release ? null : ctx.instanceId,
        wakeAt: wakeAt === null ? null : new Date(wakeAt),
      },
      branches: inserted ? branches.filter((b) => b.id !== inserted.id) : branches,
      events: this.timeline,
      newBranches: inserted ? [{ ...inserted, ...branchFields(state, inserted.id) }] : undefined,
      announce: this.before.status !== state.status ? { protocol: ctx.protocol } : undefined,
    };
    this.sealedAs = { op, settled, release, wakeAt };
    return this.sealedAs;
  }
}

/** A forward phase's yes carries its result; a check's deciding answer (committed or rolledback) is kept too. */
function keepsResult(event: MachineEvent): event is Extract<MachineEvent, { type: 'outcome' }> {
  return (
    event.type === 'outcome' &&
    ((event.outcome === Outcome.Yes && FORWARD_PHASES.includes(event.phase)) ||
      (event.phase === Phase.Check && event.outcome !== Outcome.Unknown))
  );
}

/**
 * A write that changes nothing but the owner: the transaction is let go (owner cleared, its wake-up
 * kept) by a driver that took it over and then had nothing to write.
 */
export function releaseOnly(id: string, version: number, state: TransactionState): AdvanceOp {
  const wakeAt = nextWakeAt(state);
  return {
    op: 'advance',
    id,
    version,
    at: new Date(),
    txn: {
      status: state.status,
      decision: state.decision,
      error: state.error,
      owner: null,
      wakeAt: wakeAt === null ? null : new Date(wakeAt),
    },
    branches: [],
    events: [],
  };
}
