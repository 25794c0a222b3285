import { BranchStatus, Phase, type Protocol } from '#contracts';
import {
  MACHINES,
  nextWakeAt,
  type CallCommand,
  type MachineEvent,
  type ProtocolMachine,
  type TransactionState,
} from '#protocol';
import {
  PermanentStoreError,
  type AdvanceOp,
  type BranchRecord,
  type EventRecord,
  type LoadedTransaction,
  type StoreResult,
} from '#store';
import { lineAbout } from '../logging/log-context';
import { TransactionTrace } from '../tracing/transaction-trace';
import { abortReason, operatorOf } from './operator-note';
import type { EngineContext } from './engine-context';
import type { Snapshot } from './settle-waiters';
import { WrittenRows } from './held-rows';
import { Mailbox } from './mailbox';
import { StagedStep, releaseOnly, type SealedStep } from './staged-step';
import { toBranchState } from './state-mapping';
import { BranchWaiters } from './branch-waiters';
import { CallDelivery } from './call-delivery';
import { writeStep } from './write-step';
import { forwardCalls, notMade, withdrawal } from './unsent-calls';

/** What an interactive registration does when its turn comes (see TransactionDriver.register). */
export type RegistrationTurn = { record: BranchRecord } | { existing: BranchRecord } | { refused: Error };

/**
 * Drives one transaction while this instance owns it. Events are applied one at a time (a mailbox);
 * each step decides with the protocol machine, commits the new state and its timeline, and only
 * then makes the calls that state announces. A step whose write finds another owner stops the driver.
 * Answers that arrive while a step's write still waits for the log, with nothing else queued, are
 * decided onto that step and written with it (see {@link StagedStep}): the order of events is the
 * same, parallel branches' answers just share a write.
 */
export class TransactionDriver {
  private readonly mailbox = new Mailbox((what, error) => this.stepFailed(what, error));
  /** Of that, interactive registrations (each lets go after its own: see {@link letGoIfIdle}). */
  private registrationsQueued = 0;
  /** The step whose write waits for the log and may still take in answers, if any. */
  private open: StagedStep | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly branchWaiters = new BranchWaiters();
  private active = true;
  /** A flagged abort is being acted on (see {@link actOnAbortFlag}). */
  private actingOnAbortFlag = false;
  /** Stopping cleanly (see {@link withdrawAndStop}): no call goes out any more. */
  private withdrawing = false;
  private readonly machine: ProtocolMachine;
  private readonly trace: TransactionTrace;
  private readonly calls: CallDelivery;

  private state: TransactionState;
  private readonly rows: WrittenRows;

  /**
   * `history` is the transaction's whole event log when the driver starts with it (a transaction this
   * instance created), so a settled transaction can be shown without reading it back; null otherwise.
   */
  constructor(
    private readonly ctx: EngineContext,
    loaded: LoadedTransaction,
    state: TransactionState,
    history: EventRecord[] | null,
  ) {
    this.rows = new WrittenRows(loaded, history);
    this.state = state;
    this.machine = MACHINES[loaded.txn.protocol]!;
    this.trace = new TransactionTrace(loaded.txn.id, loaded.txn.protocol);
    this.calls = new CallDelivery(ctx, this.trace, {
      id: loaded.txn.id,
      protocol: loaded.txn.protocol,
      deadline: () => this.state.deadline,
      branch: (id) => this.rows.branch(id),
      post: (event, note, result) => this.post(event, note, result),
    });
  }

  get id(): string {
    return this.rows.id;
  }

  get protocol(): Protocol {
    return this.rows.protocol;
  }

  /** The transaction as last written, with its whole timeline, or null when the driver does not hold all of it. */
  snapshot(): Snapshot | null {
    return this.rows.snapshot();
  }

  get status() {
    return this.state.status;
  }

  get decision() {
    return this.state.decision;
  }

  get branchCount(): number {
    return this.rows.branchCount;
  }

  /** The stored record of a branch (interactive registration compares against it). */
  branch(id: string): BranchRecord | undefined {
    return this.rows.branch(id);
  }

  /**
   * Interactive mode: registers branch `id` (its row is inserted by the same write that announces its
   * first phase) and resolves with the branch's status once its forward phase has an answer, or null
   * if the driver let go of the transaction first. `admit` is asked in the registration's turn, after
   * every step queued before it, so registrations sent together see each other (the branch limit,
   * one id registered twice): it answers the record to register, a refusal to throw, or the branch
   * already registered under that id (then waited for and returned as `existing`). `let-go` when the
   * driver let go of the transaction before that turn: nothing was decided, the caller acquires the
   * transaction again.
   */
  async register(
    id: string,
    admit: () => RegistrationTurn,
  ): Promise<{ status: BranchStatus | null; existing?: BranchRecord } | 'let-go'> {
    const settled = this.waitForBranch(id);
    let turn: RegistrationTurn | null = null;
    this.registrationsQueued += 1;
    try {
      await this.enqueue('register', async () => {
        this.registrationsQueued -= 1;
        if (!this.active) return;
        turn = admit();
        if ('record' in turn)
          await this.step({ type: 'register', branch: toBranchState(turn.record) }, null, undefined, turn.record);
      });
    } finally {
      // refused here, by the machine (past the deadline, already decided) or by the log: no row, nothing to wait for
      if (!this.rows.branch(id)) this.branchWaiters.resolve(id, null);
    }
    const taken = turn as RegistrationTurn | null;
    if (!taken) return 'let-go';
    if ('refused' in taken) throw taken.refused;
    if ('existing' in taken) {
      // a repeat: its vote, or null while it is still asked (the caller then reads the log for its own
      // `wait`). Waiting here would hold the transaction until the branch's next attempt, however far
      const voted = this.state.branches.find((b) => b.id === id)?.status;
      const status = voted === BranchStatus.Pending || voted === BranchStatus.Running ? null : (voted ?? null);
      return { status, existing: taken.existing };
    }
    return { status: await settled };
  }

  /** Resolves once branch `id` has left pending/running (or null if the driver stops first). */
  waitForBranch(id: string): Promise<BranchStatus | null> {
    const current = this.state.branches.find((b) => b.id === id);
    if (current && current.status !== BranchStatus.Pending && current.status !== BranchStatus.Running) {
      return Promise.resolve(current.status);
    }
    return this.branchWaiters.wait(id);
  }

  /** Makes the calls of a state that is already durable (a new transaction's first calls). */
  launch(commands: CallCommand[]): void {
    this.makeCalls(commands);
    this.armTimer();
  }

  private makeCalls(commands: CallCommand[]): void {
    if (this.withdrawing) return; // left in flight for the withdrawal to take back
    for (const c of commands) void this.calls.make(c);
  }

  /** Queues an event; resolves once it has been applied, ignored because the driver stopped, or failed (logged). */
  post(
    event: MachineEvent,
    note: Record<string, unknown> | null = null,
    result?: unknown,
    newBranch?: BranchRecord,
  ): Promise<void> {
    if (!newBranch && this.rideAlong(event, note, result)) return this.mailbox.drained;
    void this.submit(event, note, result, newBranch).catch(() => undefined);
    return this.mailbox.drained;
  }

  /**
   * Decides a call's answer onto the step whose write is waiting for the log, when nothing else is
   * queued before it (the answer would be that step's next event anyway). The answer is applied,
   * and its calls made, when that write is durable; false when it must take a step of its own.
   */
  private rideAlong(event: MachineEvent, note: Record<string, unknown> | null, result: unknown): boolean {
    const open = this.open;
    if (!open || open.sealed || this.mailbox.queued > 0 || !this.active) return false;
    if (event.type !== 'outcome' && event.type !== 'deferred') return false;
    try {
      return open.ride(event, note, result, Date.now());
    } catch {
      return false; // its own step meets the same error, and stops the driver as any failed step does
    }
  }

  /**
   * Queues an event like {@link post}, but rejects when its step failed. A step that failed changed
   * nothing, in memory or in the log. A registration the log refused (its payload cannot be stored)
   * fails alone; any other failure stops the driver without writing, and the transaction, still
   * owned here, is taken up again from its log by the sweeper's stuck detector.
   */
  submit(
    event: MachineEvent,
    note: Record<string, unknown> | null = null,
    result?: unknown,
    newBranch?: BranchRecord,
  ): Promise<void> {
    return this.enqueue(event.type, async () => void (await this.step(event, note, result, newBranch)));
  }

  /**
   * Queues an event like {@link submit} and resolves with whether it was applied: false when the
   * driver let go of the transaction before the event's turn (a step queued ahead of it settled the
   * transaction, released it to wait for a wake-up, or found another owner) or when its step failed.
   * A caller whose event must not be lost (an operator's abort or commit) then goes through the log.
   */
  offer(event: MachineEvent, note: Record<string, unknown> | null = null): Promise<boolean> {
    return this.enqueue(event.type, () => this.step(event, note, undefined)).then(
      (applied) => applied,
      () => false,
    );
  }

  /**
   * {@link offer}, but only when `applies` holds for the state the event would meet in its turn:
   * `refused` (nothing written) when it does not, `let-go` when the driver let go first or the step
   * failed. Two operators' concurrent replays or aborts are told apart this way: the second meets
   * the first's result, not the state both saw before.
   */
  offerIf(
    event: MachineEvent,
    note: Record<string, unknown> | null,
    applies: (state: TransactionState) => boolean,
  ): Promise<'applied' | 'refused' | 'let-go'> {
    return this.enqueue(event.type, async () => {
      if (!this.active) return 'let-go' as const;
      if (!applies(this.state)) return 'refused' as const;
      return (await this.step(event, note, undefined)) ? ('applied' as const) : ('let-go' as const);
    }).catch(() => 'let-go' as const);
  }

  /**
   * Operator's retry now: every branch waiting out a backoff is due at once, and the step that calls
   * it records the operator's note. False when no branch was waiting (nothing is written then),
   * `let-go` when the driver let go of the transaction before the retry's turn or its write found
   * another owner (nothing was done: the caller claims the transaction again).
   */
  retryNow(note: Record<string, unknown>): Promise<boolean | 'let-go'> {
    return this.enqueue('retry', async () => {
      const now = Date.now();
      // a message's check not yet asked waits for `checkAfterMs`, not a backoff: it is not hurried
      const waiting = this.state.branches.filter(
        (b) => b.retryAt !== null && b.retryAt > now && b.status !== BranchStatus.Pending,
      );
      if (!this.active) return 'let-go' as const;
      if (waiting.length === 0) return false;
      this.state = {
        ...this.state,
        branches: this.state.branches.map((b) => (waiting.includes(b) ? { ...b, retryAt: now } : b)),
      };
      return (await this.step({ type: 'wake' }, note, undefined)) || ('let-go' as const);
    });
  }

  /** Runs `work` after every step queued before it; a failed step stops the driver (see {@link submit}). */
  private enqueue<T>(what: string, work: () => Promise<T>): Promise<T> {
    return this.mailbox.enqueue(what, work);
  }

  private stepFailed(what: string, error: unknown): void {
    if (error instanceof PermanentStoreError && what === 'register') {
      this.ctx.logger.warn(`transaction ${this.id}: branch registration refused by the log: ${error.message}`);
      return;
    }
    this.ctx.logger.error(`transaction ${this.id}: ${what} step failed, letting go: ${String(error)}`);
    this.stop();
    this.ctx.detach(this, { settled: false, wakeAt: null });
  }

  /**
   * Lets go of the transaction when this driver holds it with nothing in flight: one claimed for an
   * action that then wrote nothing (a repeated or refused registration, a retry-now that found
   * nothing waiting). Held, it would keep another instance asked to act on it waiting (or, with an
   * abort flagged there, never see the flag). One write that only clears the owner. Not while a
   * registration waits behind it: that one lets go after its own, and registrations sent together
   * are not made to take the transaction over one by one.
   */
  letGoIfIdle(): Promise<void> {
    return this.enqueue('let-go', async () => {
      if (!this.active || this.registrationsQueued > 0 || this.state.branches.some((b) => b.inFlight)) return;
      const op = releaseOnly(this.id, this.rows.version, this.state);
      const written = await writeStep(
        this.ctx.store,
        () => op,
        this.rows.lastSeq,
        () => this.active,
        this.ctx.logger,
      );
      this.stop();
      if (written === 'stale') return this.ctx.detach(this, { settled: false, wakeAt: null });
      this.rows.remember(op);
      // an abort flagged meanwhile is acted on by whoever claims the transaction next, at once
      const due = written === 'abort-requested' ? Date.now() : (op.txn.wakeAt?.getTime() ?? null);
      this.ctx.detach(this, { settled: false, wakeAt: due === null ? null : new Date(due) });
    });
  }

  /**
   * A clean stop: after the steps queued before it, the calls in flight are withdrawn in one write
   * (each `call.deferred`, due now, its attempt forgiven) that also lets go of the transaction, and
   * the driver stops. The next owner then delivers those phases again under the same key; a
   * take-over that found them in flight would treat them as lost, as after a crash (before a
   * decision: presumed abort). No call goes out from the moment this is asked.
   */
  withdrawAndStop(): Promise<void> {
    this.withdrawing = true;
    if (this.timer) clearTimeout(this.timer);
    return this.enqueue('withdraw', async () => {
      if (!this.active) return;
      const staged = withdrawal(this.machine, this.state, this.rows.lastSeq, Date.now());
      const writing = {
        id: this.id,
        version: this.rows.version,
        instanceId: this.ctx.instanceId,
        protocol: this.protocol,
      };
      if (staged)
        await writeStep(
          this.ctx.store,
          () => staged.seal(writing).op,
          this.rows.lastSeq,
          () => this.active,
          this.ctx.logger,
        );
      this.stop();
    }).catch(() => this.stop());
  }

  /** Stops driving without writing (shutdown, or another instance took over). */
  stop(): void {
    this.trace.end(this.state.status);
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.branchWaiters.releaseAll();
  }

  private async step(
    event: MachineEvent,
    note: Record<string, unknown> | null,
    result: unknown,
    newBranch?: BranchRecord,
  ): Promise<boolean> {
    if (!this.active) return false;
    // a registration the machine ignored (duplicate id, or too late) inserts no row
    const registering = newBranch && !this.rows.branch(newBranch.id) ? newBranch : undefined;
    const before = this.state;
    const staged = new StagedStep(this.machine, before, this.rows.lastSeq);
    if (!staged.take(event, note, result, Date.now())) {
      this.armTimer();
      return true;
    }
    const inserted =
      registering && staged.state.branches.some((b) => b.id === registering.id) ? registering : undefined;
    const writing = {
      id: this.id,
      version: this.rows.version,
      instanceId: this.ctx.instanceId,
      protocol: this.protocol,
    };
    // answers that come back while this write waits for the log ride in it; not in a registration's,
    // whose refusal by the log leaves the driver running (it fails alone, and must fail nothing else)
    if (!newBranch) this.open = staged;
    let written: StoreResult | undefined;
    try {
      const build = () => this.withResponse(staged.seal(writing, inserted));
      written = await writeStep(this.ctx.store, build, this.rows.lastSeq, () => this.active, this.ctx.logger);
    } finally {
      if (this.open === staged) this.open = null;
      const carried = staged.sealed ? staged.seal(writing, inserted).op.respond : undefined;
      // an answer's fate is told only when known: after a lost connection on a driver that let go
      // (`stale` then means "not checked") or a failed write, its waiter reads the key instead
      if (carried && (written === 'ok' || written === 'abort-requested')) {
        this.ctx.responseWritten(this.id, carried, 'stored');
      } else if (carried && written === 'stale' && this.active) {
        this.ctx.responseWritten(this.id, carried, 'refused');
      }
    }
    if (written === 'stale') {
      this.ctx.logger.warn(`transaction ${this.id}: taken over by another instance; stopping`);
      this.stop();
      this.ctx.detach(this, { settled: false, wakeAt: null });
      return false;
    }
    if (written === 'abort-first') return this.abortFirst(staged);
    const { op, settled, release, wakeAt } = staged.seal(writing, inserted);
    const { state, commands } = staged;
    if (before.status !== state.status)
      this.ctx.logger.debug?.(lineAbout({ txId: this.id }, `${before.status} -> ${state.status}`), 'Engine');
    this.state = state;
    this.rows.remember(op);
    this.branchWaiters.notify(this.state.branches);
    // the decision is durable from here: a crash must re-drive it, never reverse it
    if (before.decision === null && state.decision !== null) this.ctx.crash.reach('after-decision');
    if (commands.some((c) => c.phase === Phase.Compensate)) this.ctx.crash.reach('during-compensation');
    // an abort flagged before this write is taken before anything else: the forward calls the write
    // announced do not go out after it was accepted, they are answered as never made (see below)
    const held = written === 'abort-requested' && !release && state.decision === null ? forwardCalls(commands) : [];
    this.makeCalls(commands.filter((c) => !held.includes(c)));
    if (release) {
      this.stop();
      // an abort flagged in the log meanwhile is acted on by whoever claims the transaction next:
      // at once, not when the retry it now waits for is due
      const flagged = written === 'abort-requested' && !settled;
      const next = flagged ? staged.at : wakeAt;
      this.ctx.detach(this, { settled, wakeAt: next === null ? null : new Date(next) });
    } else {
      this.armTimer();
      if (written === 'abort-requested') void this.actOnAbortFlag();
      const now = Date.now();
      const note = { reason: 'abort-requested', until: new Date(now).toISOString() };
      for (const c of held) void this.post(notMade(c, now), note);
    }
    return true;
  }

  /**
   * Acts on an abort flagged for this transaction (by another instance, or found on taking it over),
   * recording who asked for it: once, however many writes report the flag until the abort lands.
   * `known` is the flag's note when the caller has it (a take-over read it with the row). The abort
   * takes its turn now, before the answers of calls the flagging write announced: a step that
   * answered meanwhile must not reach the decision first (a saga's last step would commit it).
   */
  actOnAbortFlag(known?: Record<string, unknown> | null): Promise<void> {
    // aborting already (a branch said no meanwhile): the step still records who asked and why
    if (this.actingOnAbortFlag || this.state.decision === 'commit') return Promise.resolve();
    this.actingOnAbortFlag = true;
    void this.enqueue('abort', async () => {
      const note = known !== undefined ? known : await this.ctx.store.abortNote(this.id).catch(() => null);
      await this.step({ type: 'abort', reason: abortReason(operatorOf(note)) }, note, undefined);
    }).catch(() => undefined);
    return this.mailbox.drained;
  }

  /**
   * The log refused `refused`, a step deciding commit: an abort was flagged (through another
   * instance) before it, and an accepted abort must not be overtaken. The abort takes its step
   * first; then the events the refused step carried are taken again on top of it (a late yes is only
   * recorded then, and an interactive commit finds the transaction aborting).
   */
  private async abortFirst(refused: StagedStep): Promise<boolean> {
    this.actingOnAbortFlag = true;
    const note = await this.ctx.store.abortNote(this.id).catch(() => null);
    if (!(await this.step({ type: 'abort', reason: abortReason(operatorOf(note)) }, note, undefined))) return false;
    for (const { event, note: carried, result } of refused.inputs) {
      // a registration after the abort is refused by the machine: its caller hears the transaction is aborting
      if (event.type === 'register') continue;
      if (!(await this.step(event, carried, result))) return false;
    }
    return true;
  }

  /**
   * The settling write's op, carrying the first response of a keyed start waiting for it (built from
   * the transaction as this write leaves it), so the key's answer is stored with the step instead of
   * in a write of its own after it. Only a driver holding the whole timeline can build that answer.
   */
  private withResponse(sealed: SealedStep): AdvanceOp {
    const { op } = sealed;
    if (!sealed.settled || op.respond || !this.rows.holdsHistory) return op;
    const response = this.ctx.respondOnSettle(this.id, () => this.rows.snapshotAfter(op));
    if (response) op.respond = response;
    return op;
  }

  private armTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const wake = nextWakeAt(this.state);
    if (!this.active || this.withdrawing || wake === null) return;
    this.timer = setTimeout(() => void this.post({ type: 'wake' }), Math.max(0, wake - Date.now()));
    this.timer.unref();
  }
}
