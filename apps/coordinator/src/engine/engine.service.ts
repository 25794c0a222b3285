import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  Limits,
  Mode,
  PROTOCOL_PHASES,
  Protocol,
  SETTLED_STATUSES,
  TransactionBusyError,
  TransactionConflictError,
  TransactionNotFoundError,
  storableText,
  TransactionStatus,
  UnsupportedProtocolError,
  ValidationError,
  type BranchRequest,
  type BranchStatus,
  type Phase,
  type StartTransactionRequest,
} from '#contracts';
import { MACHINES, nextWakeAt, type TransactionState } from '#protocol';
import {
  PermanentStoreError,
  type BranchRecord,
  type CreateOp,
  type EventRecord,
  type LoadedTransaction,
  type NewEvent,
  type TransactionStore,
} from '#store';
import { CONFIG, STORE } from '../tokens';
import type { Config } from '../config/config';
import { CoordinatorMetrics } from '../metrics/coordinator-metrics';
import { CrashPoints } from './crash-points';
import type { EngineContext } from './engine-context';
import { ParticipantCallerByTransport } from './participant-caller.by-transport';
import type { ParticipantCaller } from './participant-caller';
import { ParticipantDirectory } from './participant-directory';
import { CircuitBreakers, type CircuitChange } from './circuit-breakers';
import { ParticipantGateway } from './participant-gateway';
import { ParticipantStats } from './participant-stats';
import { branchFields, timelineOf, toMachineState } from './state-mapping';
import { TransactionDriver } from './transaction-driver';
import { uuidV7 } from './uuid-v7';
import { WakeScheduler } from './wake-scheduler';
import { inParallel } from './in-parallel';
import { abortReason, operatorStep, type OperatorNote } from './operator-note';
import { branchRecord, branchRecords } from './branch-records';
import { writeNewTransaction } from './write-new-transaction';
import { SettleWaiters, type Snapshot } from './settle-waiters';

export type { Snapshot };

const INTERACTIVE_PROTOCOLS: readonly Protocol[] = [Protocol.Tcc, Protocol.TwoPhase];
/** Statuses in which a transaction without a decision may still be aborted. */
const UNDECIDED: readonly TransactionStatus[] = [
  TransactionStatus.Pending,
  TransactionStatus.Prepared,
  TransactionStatus.Running,
];

export type BeginResult =
  | { result: 'created'; id: string; snapshot: LoadedTransaction; events: NewEvent[] }
  | { result: 'exists'; id: string }
  | { result: 'key-taken'; id: string };

/**
 * Owns the drivers of the transactions this instance is advancing, starts new ones, takes over
 * orphans, and routes operator actions (abort, replay) to whichever instance can act on them.
 */
@Injectable()
export class Engine implements EngineContext {
  readonly instanceId = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  readonly logger = new Logger('Engine');
  readonly caller: ParticipantCaller;
  readonly crash: CrashPoints;
  readonly callTimeoutMs: number;
  readonly stats = new ParticipantStats();
  readonly gateway: ParticipantGateway;
  /** Told of every circuit state change on this coordinator (the health service publishes them). */
  onCircuitChange: (change: CircuitChange) => void = () => undefined;
  /** Instances whose heartbeat lapsed, kept fresh by the sweeper. */
  deadOwners: string[] = [];
  /**
   * A row owned by a live instance and untouched this long is not being driven (every call it
   * announced has timed out and no step was written since): anyone may take it over, fencing the owner.
   */
  readonly stuckAfterMs: number;
  /** Set while this instance's own heartbeat is overdue: it drives nothing, since others may take its work. */
  private fenced = false;
  private readonly drivers = new Map<string, TransactionDriver>();
  /** Take-overs under way in this instance, by transaction id. */
  private readonly claiming = new Map<string, Promise<TransactionDriver | null>>();
  private readonly settleWaiters = new SettleWaiters();
  /** False on a `ROLE=api` instance: it writes new transactions for workers and drives none itself. */
  readonly drives: boolean;

  constructor(
    @Inject(STORE) readonly store: TransactionStore,
    @Inject(CONFIG) config: Config,
    readonly directory: ParticipantDirectory,
    readonly metrics: CoordinatorMetrics,
    private readonly scheduler: WakeScheduler,
  ) {
    this.caller = new ParticipantCallerByTransport({ allowList: config.PARTICIPANT_URL_ALLOWLIST });
    this.crash = new CrashPoints(config.CRASH_AT);
    this.callTimeoutMs = config.CALL_TIMEOUT_MS;
    this.stuckAfterMs = config.CALL_TIMEOUT_MS + config.INSTANCE_TTL_MS;
    this.drives = config.ROLE !== 'api';
    const circuits = new CircuitBreakers(
      {
        consecutiveFailures: config.CIRCUIT_CONSECUTIVE_FAILURES,
        failureRate: config.CIRCUIT_FAILURE_RATE,
        window: config.CIRCUIT_WINDOW,
        halfOpenAfterMs: config.CIRCUIT_HALF_OPEN_MS,
      },
      (change) => {
        const level = { closed: 0, 'half-open': 1, open: 2 }[change.state];
        this.metrics.circuit.set({ participant: change.participant, instance: change.instanceId }, level);
        this.onCircuitChange(change);
      },
    );
    this.gateway = new ParticipantGateway(directory, this.caller, circuits, this.stats, {
      limitWaitMs: config.LIMIT_WAIT_MS,
      noInstanceRetryMs: config.NO_INSTANCE_RETRY_MS,
    });
  }

  /**
   * Writes a new transaction with its first calls announced, then makes them. On `exists` or
   * `key-taken` nothing was written. An `api`-role instance writes it pending and unowned, for a
   * worker to start.
   */
  async begin(
    request: StartTransactionRequest,
    requestHash: string,
    idempotency?: { key: string; requestHash: string; expiresAt: Date },
    actor: string | null = null,
  ): Promise<BeginResult> {
    const machine = MACHINES[request.protocol];
    if (!machine) throw new UnsupportedProtocolError(`protocol "${request.protocol}"`);
    if (request.mode === Mode.Interactive && !INTERACTIVE_PROTOCOLS.includes(request.protocol)) {
      throw new UnsupportedProtocolError(`interactive mode for ${request.protocol} (only tcc and 2pc)`);
    }
    const id = request.id ?? uuidV7();
    const now = Date.now();
    const records = branchRecords(request, now);
    const initial = toMachineState(
      {
        status: TransactionStatus.Pending,
        mode: request.mode,
        decision: null,
        deadline: new Date(now + request.timeoutMs),
        retry: request.retry,
        error: null,
      } as LoadedTransaction['txn'],
      records,
    );
    const { state, commands } = this.drives
      ? machine.decide(initial, { type: 'start' }, now)
      : { state: initial, commands: [] };
    const settled = SETTLED_STATUSES.includes(state.status);
    const at = new Date(now);
    const events = [
      {
        seq: 1,
        at,
        type: 'transaction.created',
        branchId: null,
        phase: null,
        attempt: null,
        outcome: null,
        detail: { protocol: request.protocol, mode: request.mode, branches: records.length, actor },
      },
      ...timelineOf(initial, state, { type: 'start' }, null, commands, 1, at),
    ];
    // an owner with nothing to call (interactive mode, or the api role) lets go at once and is woken
    const owned = this.drives && !settled && commands.length > 0;
    const wake = settled ? null : this.drives ? nextWakeAt(state) : now;
    const op: CreateOp = {
      op: 'create',
      txn: {
        id,
        protocol: request.protocol,
        mode: request.mode,
        status: state.status,
        decision: state.decision,
        timeoutMs: request.timeoutMs,
        deadline: new Date(state.deadline),
        retry: request.retry,
        requestHash,
        participants: [...new Set(records.map((b) => b.participant))],
        error: state.error,
        owner: owned ? this.instanceId : null,
        wakeAt: toDate(wake),
        createdAt: at,
      },
      branches: records.map((b) => ({ ...b, ...branchFields(state, b.id) })),
      events,
      idempotency,
    };
    const result = await writeNewTransaction(this.store, op, this.logger);
    if (result === 'exists' || result === 'key-taken') return { result, id };
    this.metrics.transactionsStarted.inc({ protocol: request.protocol });
    this.crash.reach('after-create');
    const snapshot: LoadedTransaction = {
      txn: { ...op.txn, version: 1, abortRequested: false, updatedAt: at },
      branches: op.branches,
      lastSeq: events.length,
    };
    if (settled) {
      this.metrics.transactionsSettled.inc({ protocol: request.protocol, status: state.status });
    } else if (owned && result === 'ok') {
      this.adopt(
        snapshot,
        state,
        events.map((e) => ({ ...e, detail: e.detail ?? null })),
      ).launch(commands);
    } else if (wake !== null) {
      void this.scheduler
        .schedule(id, new Date(wake))
        .catch((e) => this.logger.warn(`transaction ${id}: scheduling its wake-up failed: ${e}`));
    }
    return { result: 'created', id, snapshot, events };
  }

  /**
   * Takes over transaction `id` if nobody is advancing it (a due wake-up, an orphan of a dead
   * instance, a stuck one, or `forReplay` a failed one) and re-drives it from its log. Deliveries the
   * log shows in flight are treated as lost (`recover`) before anything else, a replay included.
   * Returns whether this instance drives it now.
   */
  async resume(id: string, forReplay = false, note?: OperatorNote): Promise<boolean> {
    if (!this.drives || this.fenced) return false;
    await this.claiming.get(id); // a take-over of the same id already under way here: use its driver
    const local = this.drivers.get(id);
    // a driver that let go before the event's turn left the transaction to the log: claim it below
    if (local && (await local.offer(forReplay ? { type: 'replay' } : { type: 'wake' }, operatorStep(note)))) {
      return true;
    }
    const driver = await this.takeOver(id, forReplay, true);
    if (!driver) return false;
    this.metrics.recovered.inc();
    if (forReplay) await driver.post({ type: 'replay' }, operatorStep(note));
    return true;
  }

  /**
   * Claims `id` and starts a driver on it from its log, once at a time per id in this instance (the
   * claim admits this instance's own rows, so two concurrent claims here would both succeed).
   * Deliveries the log shows in flight are treated as lost (`recover`, or the replay itself) before
   * anything else: whoever announced them is gone or fenced, and their answers will never be applied.
   */
  private takeOver(id: string, forReplay = false, dueOnly = false): Promise<TransactionDriver | null> {
    const claim = (async () => {
      const loaded = await this.store.claim(id, this.instanceId, this.deadOwners, {
        forReplay,
        stuckAfterMs: this.stuckAfterMs,
        dueOnly,
      });
      return loaded ? this.drive(loaded, forReplay) : null;
    })().finally(() => this.claiming.delete(id));
    this.claiming.set(id, claim);
    return claim;
  }

  /**
   * {@link resume} for many transactions at once (a sweep's orphans: a dead instance's backlog):
   * one claim statement and one read for all of them, then up to `parallelism` started at a time.
   * Ids driven or being claimed here are left out. Returns how many this instance drives now.
   */
  async resumeAll(ids: string[], parallelism: number): Promise<number> {
    if (!this.drives || this.fenced) return 0;
    const free = ids.filter((id) => !this.drivers.has(id) && !this.claiming.has(id));
    if (free.length === 0) return 0;
    const batch = (async () => {
      const claimed = await this.store.claimMany(free, this.instanceId, this.deadOwners, {
        stuckAfterMs: this.stuckAfterMs,
        dueOnly: true,
      });
      const started = new Map<string, TransactionDriver>();
      await inParallel(claimed, parallelism, async (loaded) =>
        started.set(loaded.txn.id, await this.drive(loaded, false)),
      );
      return started;
    })();
    // a resume or take-over of one of these ids meanwhile waits for the batch and uses its driver
    for (const id of free) {
      const mine = batch.then((started) => started.get(id) ?? null);
      this.claiming.set(id, mine);
      void mine.finally(() => this.claiming.get(id) === mine && this.claiming.delete(id)).catch(() => undefined);
    }
    const started = await batch;
    this.metrics.recovered.inc(started.size);
    return started.size;
  }

  /**
   * Starts a driver on a transaction just claimed. Deliveries the log shows in flight are treated
   * as lost (`recover`) first; a replay re-delivers them itself (a failed transaction has no driver,
   * so whatever it shows in flight was dropped; a `recover` first would settle it again as failed).
   */
  private async drive(loaded: LoadedTransaction, forReplay: boolean): Promise<TransactionDriver> {
    const driver = this.adopt(loaded);
    if (forReplay) return driver;
    const inFlight = loaded.branches.some((b) => b.inFlight);
    if (inFlight) await driver.post({ type: 'recover' }, { by: this.instanceId });
    const undecided = loaded.txn.decision === null && UNDECIDED.includes(loaded.txn.status);
    if (loaded.txn.abortRequested && undecided) {
      // before anything starts: a pending transaction flagged for abort never calls a participant
      await driver.actOnAbortFlag(loaded.txn.abortNote ?? null);
    } else if (loaded.txn.status === TransactionStatus.Pending) await driver.post({ type: 'start' });
    else if (!inFlight) await driver.post({ type: 'wake' });
    return driver;
  }

  /**
   * The sweeper found `id` not advancing: owned here without a driver (a lost commit acknowledgement,
   * a failed step), owned here by a driver that wrote nothing for `stuckAfterMs`, or owned by another
   * live instance that did not. The local driver, if any, is dropped, and the transaction is claimed
   * and re-driven from its log.
   */
  async restartStuck(id: string, stalled: boolean): Promise<boolean> {
    const local = this.drivers.get(id);
    if (local) {
      if (!stalled) return false; // a live driver waiting on its calls
      this.logger.warn(`transaction ${id}: its driver wrote nothing for ${this.stuckAfterMs} ms; restarting it`);
      local.stop();
      this.detach(local, { settled: false, wakeAt: null });
    }
    return this.resume(id);
  }

  /**
   * This instance's heartbeat is overdue: others may already consider it dead and take its
   * transactions, so it stops every driver (without writing) and takes nothing new until `unfence`.
   */
  fence(): void {
    if (this.fenced) return;
    this.fenced = true;
    this.logger.error(`heartbeat overdue: this instance stops driving ${this.drivers.size} transaction(s)`);
    for (const d of [...this.drivers.values()]) {
      d.stop();
      this.detach(d, { settled: false, wakeAt: null });
    }
  }

  /** The heartbeat is through again: transactions still owned here are picked up by the sweeper. */
  unfence(): void {
    if (!this.fenced) return;
    this.fenced = false;
    this.logger.log('heartbeat restored: driving again');
  }

  /**
   * Aborts a transaction before its decision. `accepted`: aborting now (or flagged for its owner);
   * `already`: it is aborting or aborted; `decided`: too late (committed or committing).
   */
  async abort(id: string, note?: OperatorNote): Promise<'accepted' | 'already' | 'decided' | 'not-found'> {
    const local = this.drivers.get(id);
    if (local && local.decision === null && UNDECIDED.includes(local.status)) {
      // not applied when the driver let go before the abort's turn (it released the transaction to
      // wait out a backoff, say): the abort is then flagged in the log below, never dropped
      if (await local.offer({ type: 'abort', reason: abortReason(note) }, operatorStep(note))) {
        return local.decision === 'abort' ? 'accepted' : 'decided';
      }
    }
    const loaded = await this.store.load(id);
    if (!loaded) return 'not-found';
    const { status, decision } = loaded.txn;
    if (decision === null && UNDECIDED.includes(status)) {
      // the owner (this instance after `resume`, or another live one) acts on the flag and records the note
      if (!(await this.store.requestAbort(id, operatorStep(note)))) return this.abort(id, note);
      await this.resume(id);
      return 'accepted';
    }
    return decision === 'abort' ? 'already' : 'decided';
  }

  /**
   * Operator's retry now: the branches waiting out a backoff are called at once. A transaction
   * waiting on a backoff has no owner (its wake-up is scheduled), so it is claimed here.
   */
  async retryNow(id: string, note: OperatorNote): Promise<'retried' | 'nothing-waits' | 'busy' | 'not-found'> {
    await this.claiming.get(id);
    const driver = this.drivers.get(id) ?? (this.drives && !this.fenced ? await this.takeOver(id) : null);
    if (driver) return (await driver.retryNow({ operator: note })) ? 'retried' : 'nothing-waits';
    const row = await this.store.load(id);
    if (!row) return 'not-found';
    if (SETTLED_STATUSES.includes(row.txn.status)) return 'nothing-waits';
    return 'busy';
  }

  /**
   * Interactive mode: registers a branch and delivers its first phase. Resolves with the branch's
   * status once that phase has an answer (`succeeded` = yes), or `null` if the answer is not in yet.
   */
  async registerBranch(
    id: string,
    request: BranchRequest,
  ): Promise<{ status: BranchStatus | null; existing?: BranchRecord }> {
    const driver = await this.acquire(id);
    const existing = driver.branch(request.id);
    if (existing) return { status: await driver.waitForBranch(request.id), existing };
    if (driver.decision !== null || driver.status !== TransactionStatus.Running) {
      throw new TransactionConflictError(`transaction "${id}" is ${driver.status}: no more branches`);
    }
    if (driver.branchCount >= Limits.maxBranches) {
      const rule = `at most ${Limits.maxBranches} branches per transaction`;
      throw new ValidationError(`transaction "${id}" has ${driver.branchCount} branches: ${rule}`, [
        { field: 'branches', rule },
      ]);
    }
    for (const phase of Object.keys(request.paths ?? {})) {
      if (!PROTOCOL_PHASES[driver.protocol].includes(phase as Phase)) {
        throw new ValidationError(`paths.${phase} is not a phase of ${driver.protocol}`, [
          { field: `paths.${phase}`, rule: `is not a phase of ${driver.protocol}` },
        ]);
      }
    }
    const record: BranchRecord = {
      ...branchRecord(request, driver.branchCount, PROTOCOL_PHASES[driver.protocol][0]),
      dependsOn: [],
    };
    let status: BranchStatus | null;
    try {
      status = await driver.register(record);
    } catch (error) {
      if (!(error instanceof PermanentStoreError)) throw error;
      throw new ValidationError(`the branch cannot be stored: ${storableText(error.message)}`, [
        { field: 'payload', rule: 'must be storable (Postgres refused it)' },
      ]);
    }
    if (status === null && !driver.branch(record.id)) {
      throw new TransactionConflictError(`transaction "${id}" is ${driver.status}: the branch was not registered`);
    }
    return { status };
  }

  /** Interactive mode: decides commit if every branch said yes; returns whether it did. */
  async commit(id: string): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const driver = await this.acquire(id);
      // a driver that let go before the commit's turn did not apply it: acquire the transaction again
      if (driver.decision !== null || (await driver.offer({ type: 'commit' }))) return driver.decision === 'commit';
    }
    throw new TransactionBusyError(id);
  }

  /**
   * This instance's driver of transaction `id`: the local one, or a claim of it when nobody live owns
   * it. Waits a little while another live instance holds it.
   */
  private async acquire(id: string): Promise<TransactionDriver> {
    for (let attempt = 0; attempt < 40; attempt++) {
      const local = this.drivers.get(id);
      if (local) return local;
      await this.claiming.get(id);
      if (this.drivers.has(id)) continue;
      const driver = this.fenced ? null : await this.takeOver(id);
      if (driver) {
        if (this.drivers.get(id) === driver) return driver;
        continue; // it settled or let go while catching up: look again
      }
      const row = await this.store.load(id);
      if (!row) throw new TransactionNotFoundError(id);
      if (SETTLED_STATUSES.includes(row.txn.status) || row.txn.decision !== null) {
        throw new TransactionConflictError(`transaction "${id}" is ${row.txn.status}`);
      }
      await new Promise((r) => setTimeout(r, Math.min(25 * (attempt + 1), 250)));
    }
    throw new TransactionBusyError(id);
  }

  /**
   * A prepared message's sender committed: delivery starts. `submitted`: it is delivering now (or was
   * already); `aborted`: too late, the message was aborted (its check said rolledback, the deadline
   * passed, or it was aborted by hand); `not-found`.
   */
  async submit(id: string): Promise<'submitted' | 'aborted' | 'not-found'> {
    const row = await this.store.load(id);
    if (!row) return 'not-found';
    if (row.txn.protocol !== Protocol.Msg) {
      throw new TransactionConflictError(`transaction "${id}" is a ${row.txn.protocol}: only a message is submitted`);
    }
    if (row.txn.decision === null && UNDECIDED.includes(row.txn.status)) {
      try {
        const driver = await this.acquire(id);
        if (driver.decision === null) await driver.post({ type: 'submit' });
      } catch (error) {
        // decided meanwhile (a check answered, the deadline passed): the log says which way
        if (!(error instanceof TransactionConflictError)) throw error;
      }
    }
    const now = await this.store.load(id);
    if (now?.txn.decision === 'abort') return 'aborted';
    if (now?.txn.decision === 'commit') return 'submitted';
    // the submit's step did not land (the log was unreachable, or the driver let go): the caller retries
    throw new TransactionBusyError(id);
  }

  /** Re-drives a failed transaction with a fresh retry budget; false if it is not failed (or is being replayed). */
  async replay(id: string, note?: OperatorNote): Promise<boolean> {
    return this.resume(id, true, note);
  }

  /**
   * Resolves once the transaction is settled (committed, aborted, failed) or `ms` passed. A
   * transaction settled by this instance's driver comes with its final snapshot, so nothing is read back.
   */
  async waitSettled(id: string, ms: number): Promise<{ settled: boolean; snapshot: Snapshot | null }> {
    const until = Date.now() + ms;
    for (;;) {
      const local = this.drivers.get(id);
      if (!local) {
        const loaded = await this.store.load(id);
        if (!loaded || SETTLED_STATUSES.includes(loaded.txn.status)) return { settled: true, snapshot: null };
      }
      const left = until - Date.now();
      if (left <= 0) return { settled: false, snapshot: null };
      // a local driver signals its settlement; another instance's is polled
      const snapshot = await this.settleWaiters.wait(id, local ? left : Math.min(left, 250));
      if (snapshot) return { settled: true, snapshot };
    }
  }

  isDriving(id: string): boolean {
    return this.drivers.has(id);
  }

  detach(driver: TransactionDriver, how: { settled: boolean; wakeAt: Date | null }): void {
    if (this.drivers.get(driver.id) === driver) this.drivers.delete(driver.id);
    this.metrics.driving.set(this.drivers.size);
    if (how.settled) {
      this.metrics.transactionsSettled.inc({ protocol: driver.protocol, status: driver.status });
    } else if (how.wakeAt) {
      void this.scheduler
        .schedule(driver.id, how.wakeAt)
        .catch((e) => this.logger.warn(`transaction ${driver.id}: scheduling its wake-up failed: ${e}`));
    }
    this.settleWaiters.notify(driver.id, () => (how.settled ? driver.snapshot() : null));
  }

  /** Stops every driver without writing; the transactions are released for others (or a restart) to take. */
  async shutdown(): Promise<void> {
    for (const d of this.drivers.values()) d.stop();
    this.drivers.clear();
    await this.store.releaseAll(this.instanceId).catch(() => undefined);
    await this.caller.close();
  }

  private adopt(
    loaded: LoadedTransaction,
    state?: TransactionState,
    history: EventRecord[] | null = null,
  ): TransactionDriver {
    const driver = new TransactionDriver(this, loaded, state ?? toMachineState(loaded.txn, loaded.branches), history);
    this.drivers.set(driver.id, driver);
    this.metrics.driving.set(this.drivers.size);
    return driver;
  }
}

function toDate(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}
