/**
 * The 3PC participant timers (docs/protocols/3pc.md, Participant), in two layers:
 *
 * - {@link ThreePhaseTimers}: in-memory timers, one per branch, on a clock you can replace. A branch
 *   that voted yes to can-commit is armed to **abort** at `deadline + margin`; one that acknowledged
 *   pre-commit is re-armed to **commit** at that instant. Hearing do-commit or abort disarms it.
 * - {@link ThreePhaseParticipant} (three-phase-participant.ts): the four phases on Postgres behind the
 *   exactly-once {@link Barrier}, with a state row per branch so that the timers survive a restart
 *   ({@link ThreePhaseParticipant.recover}) and so that a late do-commit or abort can be told apart
 *   from one that agrees with what the participant did on its own.
 *
 * `deadline` is the one the coordinator puts on can-commit and pre-commit: the transaction's deadline,
 * the instant at which it gives up on the forward rounds. The margin (default
 * {@link DEFAULT_3PC_TIMER_MARGIN_MS}) lets an abort decided at the deadline reach a participant the
 * coordinator can still reach before that participant acts alone (docs/protocols/3pc-vs-2pc.md, N4).
 * It cannot close the window for a participant the coordinator cannot reach (N1).
 */

/**
 * Default delay after the call's `deadline` before a participant acts on its own. It must cover
 * what the coordinator does to act on its deadline when no call is in flight (a wake-up from the
 * queue, a log write, the abort's call and the participant's barrier): tens of milliseconds on a
 * quiet machine, hundreds under load. 200 ms lost the race under a modest burst of other work.
 */
export const DEFAULT_3PC_TIMER_MARGIN_MS = 2_000;

/** Where a 3PC branch stands at the participant. */
export type ThreePhaseStatus = 'voted' | 'pre-committed' | 'committed' | 'aborted';

/** The two statuses a timer is armed in. */
export type ThreePhasePendingStatus = 'voted' | 'pre-committed';

/** What a participant does on its own when its timer fires. */
export type OwnDecision = 'commit' | 'abort';

/** Who moved a branch to `committed` or `aborted`. */
export type ResolvedBy = 'coordinator' | 'timer';

/** One branch at one participant. */
export interface BranchKey {
  transactionId: string;
  branchId: string;
}

/**
 * The rule of the participant timers: after pre-commit, a participant that hears nothing commits on its own;
 * before pre-commit (voted yes, nothing since), it aborts on its own.
 */
export function ownDecisionOf(status: ThreePhasePendingStatus): OwnDecision {
  return status === 'pre-committed' ? 'commit' : 'abort';
}

/** The instant (epoch ms) a timer taken from `deadline` fires: the deadline plus the margin. */
export function timerFireAt(deadline: Date | string | number, marginMs: number): number {
  const at =
    deadline instanceof Date ? deadline.getTime() : typeof deadline === 'string' ? Date.parse(deadline) : deadline;
  if (!Number.isFinite(at)) throw new TypeError(`invalid deadline: ${String(deadline)}`);
  return at + marginMs;
}

/** The time source of the timers; tests pass a fake one. */
export interface TimerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock. Its timers are unref'd: pending 3PC timers never keep a process alive. */
export const SYSTEM_CLOCK: TimerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Node's setTimeout limit; a longer wait is done in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** How {@link ThreePhaseTimers} schedules and retries. */
export interface ThreePhaseTimersOptions {
  /** Added to every deadline. Default {@link DEFAULT_3PC_TIMER_MARGIN_MS}. */
  marginMs?: number;
  /** The clock the timers read and sleep on; default {@link SYSTEM_CLOCK} (tests pass a fake one). */
  clock?: TimerClock;
  /** After a failed `fire` (database down), try again this much later. Default 1000. */
  retryMs?: number;
  /** Told about every failed `fire` (it is retried). Default: ignore. */
  onError?: (error: unknown, key: BranchKey, decision: OwnDecision) => void;
}

/** One armed timer, as {@link ThreePhaseTimers.armed} lists it. */
export interface ArmedTimer {
  key: BranchKey;
  status: ThreePhasePendingStatus;
  decision: OwnDecision;
  fireAt: number;
}

interface Entry extends ArmedTimer {
  handle: unknown;
  generation: number;
}

/**
 * In-memory 3PC timers, one per branch. `fire(key, decision)` is called once the branch's `deadline +
 * margin` has passed without {@link disarm}; it must be idempotent and must itself check, atomically,
 * that the branch is still in the status it was armed in (a decision may land while the timer fires).
 * A `fire` that throws is retried after `retryMs` until it succeeds or the branch is disarmed.
 */
export class ThreePhaseTimers {
  readonly marginMs: number;
  private readonly clock: TimerClock;
  private readonly retryMs: number;
  private readonly entries = new Map<string, Entry>();
  private readonly running = new Set<Promise<void>>();
  private generation = 0;
  private closed = false;

  constructor(
    private readonly fire: (key: BranchKey, decision: OwnDecision) => Promise<void>,
    private readonly options: ThreePhaseTimersOptions = {},
  ) {
    this.marginMs = options.marginMs ?? DEFAULT_3PC_TIMER_MARGIN_MS;
    if (!Number.isFinite(this.marginMs) || this.marginMs < 0) throw new RangeError('marginMs must be >= 0');
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.retryMs = options.retryMs ?? 1000;
  }

  /**
   * Arms (or re-arms, replacing the previous timer) the branch's timer: at `deadline + margin` it
   * fires the decision of {@link ownDecisionOf}(`status`). A time already passed fires on the next tick.
   */
  arm(key: BranchKey, status: ThreePhasePendingStatus, deadline: Date | string | number): void {
    if (this.closed) return;
    this.disarm(key);
    const entry: Entry = {
      key: { transactionId: key.transactionId, branchId: key.branchId },
      status,
      decision: ownDecisionOf(status),
      fireAt: timerFireAt(deadline, this.marginMs),
      handle: null,
      generation: ++this.generation,
    };
    this.entries.set(keyOf(key), entry);
    this.schedule(entry, entry.fireAt - this.clock.now());
  }

  /** The decision was heard: the branch's timer will not fire. No-op when none is armed. */
  disarm(key: BranchKey): void {
    const id = keyOf(key);
    const entry = this.entries.get(id);
    if (!entry) return;
    this.clock.clearTimeout(entry.handle);
    this.entries.delete(id);
  }

  /** The armed timers, soonest first. */
  armed(): ArmedTimer[] {
    return [...this.entries.values()]
      .map(({ key, status, decision, fireAt }) => ({ key: { ...key }, status, decision, fireAt }))
      .sort((a, b) => a.fireAt - b.fireAt);
  }

  /** Clears every timer (nothing fires any more) and waits for the fires already running. */
  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.entries.values()) this.clock.clearTimeout(entry.handle);
    this.entries.clear();
    await Promise.allSettled([...this.running]);
  }

  private schedule(entry: Entry, delayMs: number): void {
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, delayMs));
    entry.handle = this.clock.setTimeout(() => this.due(entry), wait);
  }

  private due(entry: Entry): void {
    if (!this.isCurrent(entry)) return;
    const early = entry.fireAt - this.clock.now();
    if (early > 0) return this.schedule(entry, early); // a wait longer than one setTimeout
    const run = this.fire(entry.key, entry.decision).then(
      () => {
        if (this.isCurrent(entry)) this.entries.delete(keyOf(entry.key));
      },
      (error: unknown) => {
        this.options.onError?.(error, entry.key, entry.decision);
        if (this.isCurrent(entry) && !this.closed) this.schedule(entry, this.retryMs);
      },
    );
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  private isCurrent(entry: Entry): boolean {
    return !this.closed && this.entries.get(keyOf(entry.key))?.generation === entry.generation;
  }
}

function keyOf(key: BranchKey): string {
  return JSON.stringify([key.transactionId, key.branchId]);
}
