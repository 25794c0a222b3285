import {
  BranchStatus,
  CheckState,
  FORWARD_PHASES,
  Outcome,
  Phase,
  SETTLED_STATUSES,
  findUnstorable,
  Transport,
  storableText,
  type Protocol,
} from '#contracts';
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
  isTransientStoreError,
  type AdvanceOp,
  type BranchRecord,
  type EventRecord,
  type LoadedTransaction,
  type StoreResult,
  type TransactionRecord,
} from '#store';
import { aboutBranch, aboutTransaction } from '../logging/log-context';
import { TransactionTrace, type CallSpan } from '../tracing/transaction-trace';
import { reasonOf } from './call-reason';
import { abortReason, operatorOf } from './operator-note';
import type { EngineContext } from './engine-context';
import type { CallRequest, CallResult } from './participant-caller';
import type { Delivery } from './participant-gateway';
import { branchFields, changedBranches, timelineOf, toBranchState } from './state-mapping';

/**
 * Drives one transaction while this instance owns it. Events are applied one at a time (a mailbox);
 * each step decides with the protocol machine, commits the new state and its timeline, and only
 * then makes the calls that state announces. A step whose write finds another owner stops the driver.
 */
export class TransactionDriver {
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private readonly branchWaiters = new Map<string, ((status: BranchStatus | null) => void)[]>();
  private active = true;
  /** A flagged abort is being acted on (see {@link actOnAbortFlag}). */
  private actingOnAbortFlag = false;
  private readonly machine: ProtocolMachine;
  private readonly trace: TransactionTrace;

  private txn: TransactionRecord;
  private readonly branches: Map<string, BranchRecord>;
  private state: TransactionState;
  private version: number;
  private lastSeq: number;

  /**
   * `history` is the transaction's whole event log when the driver starts with it (a transaction this
   * instance created), so a settled transaction can be shown without reading it back; null otherwise.
   */
  constructor(
    private readonly ctx: EngineContext,
    loaded: LoadedTransaction,
    state: TransactionState,
    private readonly history: EventRecord[] | null,
  ) {
    this.txn = { ...loaded.txn };
    this.branches = new Map(loaded.branches.map((b) => [b.id, { ...b }]));
    this.state = state;
    this.version = loaded.txn.version;
    this.lastSeq = loaded.lastSeq;
    this.machine = MACHINES[loaded.txn.protocol]!;
    this.trace = new TransactionTrace(loaded.txn.id, loaded.txn.protocol);
  }

  get id(): string {
    return this.txn.id;
  }

  get protocol(): Protocol {
    return this.txn.protocol;
  }

  /** The transaction as last written, with its whole timeline, or null when the driver does not hold all of it. */
  snapshot(): { loaded: LoadedTransaction; events: EventRecord[] } | null {
    if (!this.history) return null;
    const branches = [...this.branches.values()].sort((a, b) => a.position - b.position);
    return { loaded: { txn: { ...this.txn }, branches, lastSeq: this.lastSeq }, events: [...this.history] };
  }

  get status() {
    return this.state.status;
  }

  get decision() {
    return this.state.decision;
  }

  get branchCount(): number {
    return this.branches.size;
  }

  /** The stored record of a branch (interactive registration compares against it). */
  branch(id: string): BranchRecord | undefined {
    return this.branches.get(id);
  }

  /**
   * Interactive mode: registers a branch (its row is inserted by the same write that announces its
   * first phase) and resolves with the branch's status once its forward phase has an answer, or null
   * if the driver let go of the transaction first.
   */
  async register(record: BranchRecord): Promise<BranchStatus | null> {
    const settled = this.waitForBranch(record.id);
    try {
      await this.submit({ type: 'register', branch: toBranchState(record) }, null, undefined, record);
    } finally {
      // refused by the machine (past the deadline, already decided) or by the log: no row, nothing to wait for
      if (!this.branches.has(record.id)) this.resolveWaiters(record.id, null);
    }
    return settled;
  }

  private resolveWaiters(id: string, status: BranchStatus | null): void {
    const waiters = this.branchWaiters.get(id) ?? [];
    this.branchWaiters.delete(id);
    for (const w of waiters) w(status);
  }

  /** Resolves once branch `id` has left pending/running (or null if the driver stops first). */
  waitForBranch(id: string): Promise<BranchStatus | null> {
    const current = this.state.branches.find((b) => b.id === id);
    if (current && current.status !== BranchStatus.Pending && current.status !== BranchStatus.Running) {
      return Promise.resolve(current.status);
    }
    return new Promise((resolve) => {
      const list = this.branchWaiters.get(id) ?? [];
      list.push(resolve);
      this.branchWaiters.set(id, list);
    });
  }

  /** Makes the calls of a state that is already durable (a new transaction's first calls). */
  launch(commands: CallCommand[]): void {
    aboutTransaction(this.id, () => {
      for (const c of commands) void this.call(c);
      this.armTimer();
    });
  }

  /** Queues an event; resolves once it has been applied, ignored because the driver stopped, or failed (logged). */
  post(
    event: MachineEvent,
    note: Record<string, unknown> | null = null,
    result?: unknown,
    newBranch?: BranchRecord,
  ): Promise<void> {
    void this.submit(event, note, result, newBranch).catch(() => undefined);
    return this.chain;
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
   * Operator's retry now: every branch waiting out a backoff is due at once, and the step that calls
   * it records the operator's note. False when no branch was waiting (nothing is written then).
   */
  retryNow(note: Record<string, unknown>): Promise<boolean> {
    return this.enqueue('retry', async () => {
      const now = Date.now();
      const waiting = this.state.branches.filter((b) => b.retryAt !== null && b.retryAt > now);
      if (!this.active || waiting.length === 0) return false;
      this.state = {
        ...this.state,
        branches: this.state.branches.map((b) => (waiting.includes(b) ? { ...b, retryAt: now } : b)),
      };
      await this.step({ type: 'wake' }, note, undefined);
      return true;
    });
  }

  /** Runs `work` after every step queued before it; a failed step stops the driver (see {@link submit}). */
  private enqueue<T>(what: string, work: () => Promise<T>): Promise<T> {
    // every line logged by the step, its calls and its timers carries the transaction's id
    return aboutTransaction(this.id, () => this.chainUp(what, work));
  }

  private chainUp<T>(what: string, work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work);
    this.chain = run.then(
      () => undefined,
      (error) => {
        if (error instanceof PermanentStoreError && what === 'register') {
          this.ctx.logger.warn(`transaction ${this.id}: branch registration refused by the log: ${error.message}`);
          return;
        }
        this.ctx.logger.error(`transaction ${this.id}: ${what} step failed, letting go: ${error}`);
        this.stop();
        this.ctx.detach(this, { settled: false, wakeAt: null });
      },
    );
    return run;
  }

  /** Stops driving without writing (shutdown, or another instance took over). */
  stop(): void {
    this.trace.end(this.state.status);
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const waiters of this.branchWaiters.values()) for (const w of waiters) w(null);
    this.branchWaiters.clear();
  }

  private async step(
    event: MachineEvent,
    note: Record<string, unknown> | null,
    result: unknown,
    newBranch?: BranchRecord,
  ): Promise<boolean> {
    if (!this.active) return false;
    // a registration the machine ignored (duplicate id, or too late) inserts no row
    const registering = newBranch && !this.branches.has(newBranch.id) ? newBranch : undefined;
    const now = Date.now();
    const before = this.state;
    const { state, commands } = this.machine.decide(before, event, now);
    const branches = changedBranches(before, state);
    const events = timelineOf(before, state, event, note, commands, this.lastSeq, new Date(now));
    if (branches.length === 0 && events.length === 0) {
      this.armTimer();
      return true;
    }
    const inserted = registering && state.branches.some((b) => b.id === registering.id) ? registering : undefined;
    // a forward phase's yes carries its result; a check's deciding answer (committed or rolledback) is kept too
    const kept =
      event.type === 'outcome' &&
      ((event.outcome === Outcome.Yes && FORWARD_PHASES.includes(event.phase)) ||
        (event.phase === Phase.Check && event.outcome !== Outcome.Unknown));
    if (event.type === 'outcome' && kept) {
      const change = branches.find((b) => b.id === event.branchId);
      if (change) Object.assign(change, { setResult: true, result: result ?? null });
    }
    const settled = SETTLED_STATUSES.includes(state.status);
    // an owner with nothing in flight lets go: the wake-up is scheduled, and whoever runs it claims the transaction
    const release = settled || !state.branches.some((b) => b.inFlight);
    const wakeAt = settled ? null : nextWakeAt(state);
    const op: AdvanceOp = {
      op: 'advance',
      id: this.id,
      version: this.version,
      at: new Date(now),
      txn: {
        status: state.status,
        decision: state.decision,
        error: state.error,
        owner: release ? null : this.ctx.instanceId,
        wakeAt: wakeAt === null ? null : new Date(wakeAt),
      },
      branches: inserted ? branches.filter((b) => b.id !== inserted.id) : branches,
      events,
      newBranches: inserted ? [{ ...inserted, ...branchFields(state, inserted.id) }] : undefined,
      announce: before.status !== state.status ? { protocol: this.protocol } : undefined,
    };
    const written = await this.write(op);
    if (written === 'stale') {
      this.ctx.logger.warn(`transaction ${this.id}: taken over by another instance; stopping`);
      this.stop();
      this.ctx.detach(this, { settled: false, wakeAt: null });
      return false;
    }
    this.version += 1;
    this.lastSeq += events.length;
    if (before.status !== state.status) this.ctx.logger.debug?.(`${before.status} -> ${state.status}`, 'Engine');
    this.state = state;
    this.remember(op);
    this.notifyBranchWaiters();
    // the decision is durable from here: a crash must re-drive it, never reverse it
    if (before.decision === null && state.decision !== null) this.ctx.crash.reach('after-decision');
    if (commands.some((c) => c.phase === Phase.Compensate)) this.ctx.crash.reach('during-compensation');
    for (const c of commands) void this.call(c);
    if (release) {
      this.stop();
      // an abort flagged in the log meanwhile is acted on by whoever claims the transaction next:
      // at once, not when the retry it now waits for is due
      const flagged = written === 'abort-requested' && !settled;
      const next = flagged ? now : wakeAt;
      this.ctx.detach(this, { settled, wakeAt: next === null ? null : new Date(next) });
    } else {
      this.armTimer();
      if (written === 'abort-requested') void this.actOnAbortFlag();
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
    if (this.actingOnAbortFlag || this.state.decision !== null) return Promise.resolve();
    this.actingOnAbortFlag = true;
    void this.enqueue('abort', async () => {
      const note = known !== undefined ? known : await this.ctx.store.abortNote(this.id).catch(() => null);
      await this.step({ type: 'abort', reason: abortReason(operatorOf(note)) }, note, undefined);
    }).catch(() => undefined);
    return this.chain;
  }

  /**
   * Writes until Postgres answers, while this driver is active (an instance that loses Postgres
   * fences itself and stops its drivers). When an earlier try may have committed before its answer
   * was lost, a `stale` answer is checked against the row before it is believed. An error that
   * retrying cannot fix is thrown as {@link PermanentStoreError}: nothing was written.
   */
  private async write(op: AdvanceOp): Promise<StoreResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await this.ctx.store.apply(op);
        if (result !== 'stale' || attempt === 0) return result;
        const now = await this.ctx.store.load(this.id);
        const landed = now && now.txn.version === op.version + 1 && now.lastSeq >= this.lastSeq + op.events.length;
        return landed ? 'ok' : 'stale';
      } catch (error) {
        if (!this.active) return 'stale';
        if (!isTransientStoreError(error)) throw PermanentStoreError.of(error);
        this.ctx.logger.warn(`transaction ${this.id}: log write failed (try ${attempt + 1}), retrying: ${error}`);
        await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
      }
    }
  }

  private call(c: CallCommand): Promise<void> {
    return aboutBranch(c.branchId, () => this.deliver(c));
  }

  private async deliver(c: CallCommand): Promise<void> {
    const branch = this.branches.get(c.branchId)!;
    // a check decides a message that is still undecided, so like a forward phase it is bounded by the deadline
    const forward = FORWARD_PHASES.includes(c.phase) || c.phase === Phase.Check;
    const path = branch.paths[c.phase] ?? `/${this.protocol}/${c.phase}`;
    let span: CallSpan | null = null;
    let delivery: Delivery = await this.ctx.gateway
      .deliver(branch.participant, (participant, instance) => {
        span?.finish(null); // built again (another instance): the earlier request never went out
        span = this.trace.startCall({
          branch: c.branchId,
          participant: participant.name,
          phase: c.phase,
          attempt: c.attempt,
        });
        // the timeout is taken when the call goes out: time spent waiting for a limit is not the participant's
        const timeoutMs = forward
          ? Math.max(100, Math.min(this.ctx.callTimeoutMs, this.state.deadline - Date.now()))
          : this.ctx.callTimeoutMs;
        const overHttp = instance.transport === Transport.Http;
        return {
          traceparent: span.traceparent,
          url: overHttp ? joinUrl(instance.url, path) : instance.url,
          transport: instance.transport as Transport,
          participant: participant.name,
          path,
          secret: participant.secret,
          timeoutMs,
          body: {
            transactionId: this.id,
            // a message's check is asked of its sender, not of a branch: the envelope has no branchId
            ...(c.phase === Phase.Check ? {} : { branchId: c.branchId }),
            protocol: this.protocol,
            phase: c.phase,
            attempt: c.attempt,
            deadline: new Date(forward ? this.state.deadline : Date.now() + timeoutMs).toISOString(),
            payload: c.phase === Phase.Check ? null : branch.payload,
          } as CallRequest['body'],
        };
      })
      .catch((error: unknown): Delivery => {
        // the registry could not be read: a wait, not a failed attempt
        this.ctx.logger.warn(`participant lookup failed: ${error}`, 'Engine');
        return { kind: 'deferred', reason: 'no-live-instance', retryAt: Date.now() + 1_000 };
      });
    // the call's span ends with whatever answer came back (a failed probe is an answer too)
    (span as CallSpan | null)?.finish(('result' in delivery && delivery.result) || null);
    if (delivery.kind === 'deferred') {
      // a failed probe is forgiven only until the deadline: past it, the probes a broken participant
      // keeps failing use up the attempts, so a completion that can never succeed parks as `failed`
      // (visible, alerted, replayable) instead of waiting for good
      const overdue = delivery.reason === 'probe-failed' && delivery.result && Date.now() >= this.state.deadline;
      if (!overdue) return this.defer(c, branch.participant, delivery);
      delivery = { kind: 'called', result: delivery.result!, instanceId: delivery.instanceId ?? 'unknown' };
    }
    let result: CallResult =
      delivery.kind === 'called'
        ? delivery.result
        : {
            outcome: Outcome.Unknown,
            httpStatus: null,
            result: null,
            error: `participant "${branch.participant}" is not registered`,
            durationMs: 0,
          };
    if (c.phase === Phase.Check && delivery.kind === 'called') result = checkOutcome(result);
    const answer = `${c.phase} to ${branch.participant} (attempt ${c.attempt}): ${result.outcome}`;
    if (result.outcome === Outcome.Unknown) this.ctx.logger.warn(`${answer} (${result.error})`, 'Engine');
    else this.ctx.logger.debug?.(answer, 'Engine');
    this.ctx.metrics.calls.inc({ participant: branch.participant, phase: c.phase, outcome: result.outcome });
    this.ctx.stats.record(branch.participant, result.outcome, result.error, result.durationMs);
    if (delivery.kind === 'called')
      this.ctx.metrics.instanceCalls.inc({
        participant: branch.participant,
        instance: delivery.instanceId,
        outcome: result.outcome,
      });
    this.ctx.metrics.callSeconds.observe({ phase: c.phase }, result.durationMs / 1000);
    this.ctx.crash.reach('after-call');
    const reason = reasonOf(result.httpStatus, result.result);
    if (reason) result = { ...result, error: reason };
    const unstorable = findUnstorable(result.result);
    if (unstorable) {
      // a reply the log cannot hold must not jam the transaction: the outcome counts, the body is dropped
      result = { ...result, result: null, error: `reply not stored: ${unstorable.path} ${unstorable.rule}` };
    }
    await this.post(
      {
        type: 'outcome',
        branchId: c.branchId,
        phase: c.phase,
        attempt: c.attempt,
        outcome: result.outcome,
        random01: Math.random(),
      },
      {
        httpStatus: result.httpStatus,
        durationMs: result.durationMs,
        ...(result.error ? { error: storableText(result.error) } : {}),
      },
      result.result,
    );
  }

  /**
   * The gateway did not make the call (or made it as a failed circuit probe): the log records why and
   * when the branch is due again, and the attempt is not counted. The driver lets go if nothing else
   * is in flight, and the wake-up is scheduled like any retry's (durable: the sweeper finds it in Postgres).
   */
  private async defer(c: CallCommand, participant: string, d: Extract<Delivery, { kind: 'deferred' }>): Promise<void> {
    this.ctx.metrics.deferred.inc({ participant, reason: d.reason });
    const made = d.result
      ? {
          instanceId: d.instanceId,
          httpStatus: d.result.httpStatus,
          durationMs: d.result.durationMs,
          ...(d.result.error ? { error: storableText(d.result.error) } : {}),
        }
      : {};
    await this.post(
      {
        type: 'deferred',
        branchId: c.branchId,
        phase: c.phase,
        attempt: c.attempt,
        retryAt: d.retryAt,
        delivered: d.result !== undefined,
      },
      { reason: d.reason, until: new Date(d.retryAt).toISOString(), ...made },
    );
  }

  /** Keeps the in-memory copy of the rows equal to what `op` wrote. */
  private remember(op: AdvanceOp): void {
    this.txn = { ...this.txn, ...op.txn, version: this.version, updatedAt: op.at ?? this.txn.updatedAt };
    for (const b of op.newBranches ?? []) this.branches.set(b.id, { ...b });
    for (const change of op.branches) {
      const b = this.branches.get(change.id);
      if (!b) continue;
      const { setResult, result, ...fields } = change;
      Object.assign(b, fields, setResult ? { result } : {});
    }
    this.history?.push(...op.events.map((e) => ({ ...e, detail: e.detail ?? null })));
  }

  private notifyBranchWaiters(): void {
    for (const id of [...this.branchWaiters.keys()]) {
      const b = this.state.branches.find((x) => x.id === id);
      if (!b || b.status === BranchStatus.Pending || b.status === BranchStatus.Running) continue;
      this.resolveWaiters(id, b.status);
    }
  }

  private armTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const wake = nextWakeAt(this.state);
    if (!this.active || wake === null) return;
    this.timer = setTimeout(() => void this.post({ type: 'wake' }), Math.max(0, wake - Date.now()));
    this.timer.unref();
  }
}

/**
 * A check's outcome is read from its answer, not its status: only a 2xx `{"state": "committed"}`
 * (yes: deliver) or `{"state": "rolledback"}` (no: abort) decides; `pending`, any other body or
 * status, or no answer is unknown, and the check is asked again.
 */
export function checkOutcome(result: CallResult): CallResult {
  if (result.outcome !== Outcome.Yes) return { ...result, outcome: Outcome.Unknown };
  const state = (result.result as { state?: unknown } | null)?.state;
  if (state === CheckState.Committed) return result;
  if (state === CheckState.RolledBack) return { ...result, outcome: Outcome.No };
  const said = typeof state === 'string' ? `"${state}"` : 'no state';
  return { ...result, outcome: Outcome.Unknown, error: result.error ?? `check answered ${said.slice(0, 80)}` };
}

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}
