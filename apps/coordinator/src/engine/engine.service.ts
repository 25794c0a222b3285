import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  SETTLED_STATUSES,
  TransactionStatus,
  type BranchRequest,
  type BranchStatus,
  type StartTransactionRequest,
} from '#contracts';
import type { TransactionState } from '#protocol';
import type {
  BranchRecord,
  CreateOp,
  EventRecord,
  LoadedTransaction,
  NewEvent,
  StoredResponse,
  TransactionStore,
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
import { toMachineState } from './state-mapping';
import { TransactionDriver } from './transaction-driver';
import { WakeScheduler } from './wake-scheduler';
import { operatorStep, type OperatorNote } from './operator-note';
import { planNewTransaction } from './plan-new-transaction';
import { writeNewTransaction } from './write-new-transaction';
import { SettleWaiters, type SettleOutcome, type SettleResponder, type Snapshot } from './settle-waiters';
import { TransactionClaims } from './transaction-claims';
import { TransactionActions } from './transaction-actions';

/** How long a clean stop waits for the calls still out to be withdrawn in the log. */
const WITHDRAW_MS = 3_000;

export type { Snapshot };

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
  /** When this instance was last fenced (ms since the epoch; 0: never). */
  private lastFencedAt = 0;

  /** Whether this instance has paused driving because its own heartbeat is overdue (see {@link fence}). */
  get paused(): boolean {
    return this.fenced;
  }

  /**
   * Whether this instance has been fenced at any moment since `at` (ms): others may have taken it
   * for dead meanwhile, and acted on what it held (its transactions, its requests' keys).
   */
  fencedSince(at: number): boolean {
    return this.fenced || this.lastFencedAt >= at;
  }

  private readonly drivers = new Map<string, TransactionDriver>();
  /** Take-overs under way in this instance, by transaction id. */
  private readonly claims: TransactionClaims;
  /** Operator and interactive actions, routed to whichever driver can act on them. */
  private readonly actions: TransactionActions;
  private readonly settleWaiters = new SettleWaiters();
  /** Set by {@link shutdown}: waits end at once, unsettled, rather than polling the log. */
  private stopping = false;
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
      callTimeoutMs: config.CALL_TIMEOUT_MS,
    });
    this.claims = new TransactionClaims({
      store,
      instanceId: this.instanceId,
      stuckAfterMs: this.stuckAfterMs,
      deadOwners: () => this.deadOwners,
      adopt: (loaded) => this.adopt(loaded),
    });
    this.actions = new TransactionActions({
      store,
      drives: this.drives,
      fenced: () => this.fenced,
      drivers: this.drivers,
      claims: this.claims,
      resume: (id) => this.resume(id),
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
    idempotency?: CreateOp['idempotency'],
    actor: string | null = null,
  ): Promise<BeginResult> {
    const { id, at, state, commands, events, settled, owned, wake, op } = planNewTransaction(
      request,
      requestHash,
      idempotency,
      actor,
      { drives: this.drives, instanceId: this.instanceId },
    );
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
    await this.claims.underWay(id); // a take-over of the same id already under way here: use its driver
    const local = this.drivers.get(id);
    // a replay that aborts the transaction again restores why it aborted (its failure replaced it)
    const replay = forReplay ? { type: 'replay' as const, abortReason: await this.store.abortReason(id) } : null;
    // a driver that let go before the event's turn left the transaction to the log: claim it below
    if (local) {
      const offered = replay
        ? await local.offerIf(replay, operatorStep(note), isFailed)
        : (await local.offer({ type: 'wake' })) && 'applied';
      if (offered === 'applied') return true;
      if (offered === 'refused') return false; // replayed already (by a concurrent replay here)
    }
    const driver = await this.claims.takeOver(id, forReplay, true);
    if (!driver) return false;
    this.metrics.recovered.inc();
    if (replay) return (await driver.offerIf(replay, operatorStep(note), isFailed)) === 'applied';
    return true;
  }

  /**
   * {@link resume} for many transactions at once (a sweep's orphans: a dead instance's backlog):
   * one claim statement and one read for all of them, then up to `parallelism` started at a time.
   * Ids driven or being claimed here are left out. Returns how many this instance drives now.
   */
  async resumeAll(ids: string[], parallelism: number): Promise<number> {
    if (!this.drives || this.fenced) return 0;
    const free = ids.filter((id) => !this.drivers.has(id) && !this.claims.has(id));
    if (free.length === 0) return 0;
    const started = await this.claims.takeOverMany(free, parallelism);
    this.metrics.recovered.inc(started.size);
    return started.size;
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
    this.lastFencedAt = Date.now();
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
   * `already`: it is aborting or aborted; `decided`: too late (committed or committing); `failed`:
   * parked while aborting, for a replay to finish.
   */
  abort(id: string, note?: OperatorNote): Promise<'accepted' | 'already' | 'decided' | 'failed' | 'not-found'> {
    return this.actions.abort(id, note);
  }

  /**
   * Operator's retry now: the branches waiting out a backoff are called at once. A transaction
   * waiting on a backoff has no owner (its wake-up is scheduled), so it is claimed here.
   */
  retryNow(id: string, note: OperatorNote): Promise<'retried' | 'nothing-waits' | 'busy' | 'not-found'> {
    return this.actions.retryNow(id, note);
  }

  /**
   * Interactive mode: registers a branch and delivers its first phase. Resolves with the branch's
   * status once that phase has an answer (`succeeded` = yes), or `null` if the answer is not in yet.
   */
  registerBranch(
    id: string,
    request: BranchRequest,
  ): Promise<{ status: BranchStatus | null; existing?: BranchRecord }> {
    return this.actions.registerBranch(id, request);
  }

  /** Interactive mode: decides commit if every branch said yes; returns whether it did. */
  commit(id: string): Promise<boolean> {
    return this.actions.commit(id);
  }

  /**
   * A prepared message's sender committed: delivery starts. `submitted`: it is delivering now (or was
   * already); `aborted`: too late, the message was aborted (its check said rolledback, the deadline
   * passed, or it was aborted by hand); `not-found`.
   */
  submit(id: string): Promise<'submitted' | 'aborted' | 'not-found'> {
    return this.actions.submit(id);
  }

  /** Re-drives a failed transaction with a fresh retry budget; false if it is not failed (or is being replayed). */
  async replay(id: string, note?: OperatorNote): Promise<boolean> {
    return this.resume(id, true, note);
  }

  /**
   * Resolves once the transaction is settled (committed, aborted, failed) or `ms` passed. A
   * transaction settled by this instance's driver comes with its final snapshot, so nothing is read
   * back, and with `responder`'s answer when the settling write stored it for its key (`stored`);
   * `answerInFlight` when a write carrying that answer was still out (see {@link SettleOutcome}).
   */
  async waitSettled(
    id: string,
    ms: number,
    responder?: SettleResponder,
  ): Promise<{ settled: boolean } & SettleOutcome> {
    const until = Date.now() + ms;
    for (;;) {
      if (this.stopping) return { settled: false, snapshot: null, stored: null, answerInFlight: false };
      const local = this.drivers.get(id);
      if (!local) {
        const loaded = await this.store.load(id);
        if (!loaded || SETTLED_STATUSES.includes(loaded.txn.status)) {
          return { settled: true, snapshot: null, stored: null, answerInFlight: false };
        }
      }
      const left = until - Date.now();
      if (left <= 0) return { settled: false, snapshot: null, stored: null, answerInFlight: false };
      // a local driver signals its settlement; another instance's is polled
      const outcome = await this.settleWaiters.wait(id, local ? left : Math.min(left, 250), responder);
      if (outcome.answerInFlight) return { settled: false, ...outcome };
      if (outcome.snapshot || outcome.stored) return { settled: true, ...outcome };
    }
  }

  respondOnSettle(id: string, snapshot: () => Snapshot): StoredResponse | null {
    return this.settleWaiters.respondOnSettle(id, snapshot);
  }

  responseWritten(id: string, response: StoredResponse, outcome: 'stored' | 'refused'): void {
    this.settleWaiters.responseWritten(id, response, outcome);
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

  /** Shutting down: a request still waiting on a transaction answers now, with what it has. */
  get isStopping(): boolean {
    return this.stopping;
  }

  /**
   * Stops every driver; the transactions are released for others (or a restart) to take, and the
   * requests waiting on them answer now, with the transaction as the log has it. The calls still out
   * are withdrawn first (see TransactionDriver.withdrawAndStop), so the next owner delivers them
   * again rather than treating them as lost; for at most {@link WITHDRAW_MS}: what is not written by
   * then (Postgres unreachable) is released as it stands, as after a crash.
   */
  async shutdown(): Promise<void> {
    this.stopping = true;
    const drivers = [...this.drivers.values()];
    let bounded: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(drivers.map((d) => d.withdrawAndStop())),
      new Promise((r) => (bounded = setTimeout(r, WITHDRAW_MS))),
    ]);
    clearTimeout(bounded);
    for (const d of drivers) d.stop();
    this.drivers.clear();
    await this.store.releaseAll(this.instanceId).catch(() => undefined);
    this.settleWaiters.releaseAll();
    // the calls still out are ended next: their unknown outcomes are ours, not the participants'
    this.gateway.stopping = true;
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

/** Only a failed transaction is replayed: a second replay meets the first one's result. */
function isFailed(state: TransactionState): boolean {
  return state.status === TransactionStatus.Failed;
}
