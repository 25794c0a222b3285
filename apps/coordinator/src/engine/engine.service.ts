import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  Mode,
  PROTOCOL_PHASES,
  SETTLED_STATUSES,
  TransactionStatus,
  UnsupportedProtocolError,
  type Phase,
  type StartTransactionRequest,
} from '#contracts';
import { MACHINES, nextWakeAt, type TransactionState } from '#protocol';
import type { BranchRecord, CreateOp, LoadedTransaction, NewEvent, StoreResult, TransactionStore } from '#store';
import { CONFIG, STORE } from '../tokens';
import type { Config } from '../config/config';
import { CoordinatorMetrics } from '../metrics/coordinator-metrics';
import { CrashPoints } from './crash-points';
import type { EngineContext } from './engine-context';
import { HttpParticipantCaller } from './participant-caller.http';
import type { ParticipantCaller } from './participant-caller';
import { ParticipantDirectory } from './participant-directory';
import { timelineOf, toMachineState } from './state-mapping';
import { TransactionDriver } from './transaction-driver';
import { uuidV7 } from './uuid-v7';
import { WakeScheduler } from './wake-scheduler';

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
  readonly caller: ParticipantCaller = new HttpParticipantCaller();
  readonly crash: CrashPoints;
  readonly callTimeoutMs: number;
  /** Instances whose heartbeat lapsed, kept fresh by the sweeper. */
  deadOwners: string[] = [];
  private readonly drivers = new Map<string, TransactionDriver>();
  private readonly settleListeners = new Map<string, Set<() => void>>();
  private readonly drives: boolean;

  constructor(
    @Inject(STORE) readonly store: TransactionStore,
    @Inject(CONFIG) config: Config,
    readonly directory: ParticipantDirectory,
    readonly metrics: CoordinatorMetrics,
    private readonly scheduler: WakeScheduler,
  ) {
    this.crash = new CrashPoints(config.CRASH_AT);
    this.callTimeoutMs = config.CALL_TIMEOUT_MS;
    this.drives = config.ROLE !== 'api';
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
  ): Promise<BeginResult> {
    const machine = MACHINES[request.protocol];
    if (!machine) throw new UnsupportedProtocolError(`protocol "${request.protocol}"`);
    if (request.mode === Mode.Interactive) throw new UnsupportedProtocolError(`interactive mode for ${request.protocol}`);
    const id = request.id ?? uuidV7();
    const now = Date.now();
    const records = branchRecords(request);
    const initial = toMachineState(
      {
        status: TransactionStatus.Pending,
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
        detail: { protocol: request.protocol, mode: request.mode, branches: records.length },
      },
      ...timelineOf(initial, state, { type: 'start' }, null, commands, 1, at),
    ];
    const owned = this.drives && !settled;
    const wake = owned ? null : settled ? null : now;
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
        wakeAt: owned ? toDate(nextWakeAt(state)) : toDate(wake),
        createdAt: at,
      },
      branches: records.map((b, i) => ({ ...b, ...persisted(state, i) })),
      events,
      idempotency,
    };
    const result: StoreResult = await this.store.apply(op);
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
    } else if (owned) {
      this.adopt(snapshot, state).launch(commands);
    } else {
      void this.scheduler.schedule(id, at).catch((e) => this.logger.warn(`schedule ${id}: ${e}`));
    }
    return { result: 'created', id, snapshot, events };
  }

  /**
   * Takes over transaction `id` if nobody live owns it (a due wake-up, an orphan of a dead instance,
   * or `forReplay` a failed one) and re-drives it from its log. Returns whether this instance drives it now.
   */
  async resume(id: string, forReplay = false): Promise<boolean> {
    if (!this.drives) return false;
    const local = this.drivers.get(id);
    if (local) {
      await local.post(forReplay ? { type: 'replay' } : { type: 'wake' });
      return true;
    }
    const loaded = await this.store.claim(id, this.instanceId, this.deadOwners, forReplay);
    if (!loaded) return false;
    const driver = this.adopt(loaded);
    this.metrics.recovered.inc();
    if (forReplay) await driver.post({ type: 'replay' });
    else if (loaded.txn.status === TransactionStatus.Pending) await driver.post({ type: 'start' });
    else if (loaded.branches.some((b) => b.inFlight)) await driver.post({ type: 'recover' }, { by: this.instanceId });
    else await driver.post({ type: 'wake' });
    if (loaded.txn.abortRequested) await driver.post({ type: 'abort', reason: 'abort requested' });
    return true;
  }

  /**
   * Aborts a transaction before its decision. `accepted`: aborting now (or flagged for its owner);
   * `already`: it is aborting or aborted; `decided`: too late (committed or committing).
   */
  async abort(id: string): Promise<'accepted' | 'already' | 'decided' | 'not-found'> {
    const local = this.drivers.get(id);
    if (local && (local.status === TransactionStatus.Running || local.status === TransactionStatus.Pending)) {
      await local.post({ type: 'abort', reason: 'abort requested' });
      return 'accepted';
    }
    const loaded = await this.store.load(id);
    if (!loaded) return 'not-found';
    const { status, decision } = loaded.txn;
    if (status === TransactionStatus.Pending || status === TransactionStatus.Running) {
      if (!(await this.store.requestAbort(id))) return this.abort(id);
      await this.resume(id);
      return 'accepted';
    }
    return decision === 'abort' ? 'already' : 'decided';
  }

  /** Re-drives a failed transaction with a fresh retry budget; false if it is not failed (or is being replayed). */
  async replay(id: string): Promise<boolean> {
    return this.resume(id, true);
  }

  /** Resolves true once the transaction is settled (committed, aborted, failed), false after `ms`. */
  async waitSettled(id: string, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    for (;;) {
      const local = this.drivers.get(id);
      if (!local) {
        const loaded = await this.store.load(id);
        if (!loaded || SETTLED_STATUSES.includes(loaded.txn.status)) return true;
      }
      const left = until - Date.now();
      if (left <= 0) return false;
      // a local driver signals its settlement; another instance's is polled
      await new Promise<void>((resolve) => {
        const listeners = this.settleListeners.get(id) ?? new Set();
        const done = () => {
          clearTimeout(timer);
          listeners.delete(done);
          resolve();
        };
        const timer = setTimeout(done, local ? left : Math.min(left, 250));
        listeners.add(done);
        this.settleListeners.set(id, listeners);
      });
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
      void this.scheduler.schedule(driver.id, how.wakeAt).catch((e) => this.logger.warn(`schedule ${driver.id}: ${e}`));
    }
    const listeners = this.settleListeners.get(driver.id);
    if (listeners) {
      this.settleListeners.delete(driver.id);
      for (const l of listeners) l();
    }
  }

  /** Stops every driver without writing; the transactions are released for others (or a restart) to take. */
  async shutdown(): Promise<void> {
    for (const d of this.drivers.values()) d.stop();
    this.drivers.clear();
    await this.store.releaseAll(this.instanceId).catch(() => undefined);
    await this.caller.close();
  }

  private adopt(loaded: LoadedTransaction, state?: TransactionState): TransactionDriver {
    const driver = new TransactionDriver(
      this,
      loaded.txn.id,
      loaded.txn.protocol,
      state ?? toMachineState(loaded.txn, loaded.branches),
      loaded.txn.version,
      loaded.lastSeq,
      new Map(loaded.branches.map((b) => [b.id, b])),
    );
    this.drivers.set(driver.id, driver);
    this.metrics.driving.set(this.drivers.size);
    return driver;
  }
}

/** Branch rows of a new transaction; a saga without any `dependsOn` runs its branches in order. */
function branchRecords(request: StartTransactionRequest): BranchRecord[] {
  const sequential = request.protocol === 'saga' && request.branches.every((b) => !b.dependsOn);
  const firstPhase = PROTOCOL_PHASES[request.protocol][0];
  return request.branches.map((b, i) => ({
    id: b.id,
    position: i,
    participant: b.participant,
    dependsOn: sequential ? (i ? [request.branches[i - 1].id] : []) : (b.dependsOn ?? []),
    paths: b.paths ?? {},
    skippedPhases: Object.entries(b.paths ?? {})
      .filter(([, p]) => p === null)
      .map(([phase]) => phase as Phase),
    payload: b.payload ?? null,
    status: 'pending',
    phase: firstPhase,
    attempt: 0,
    budgetBase: 0,
    inFlight: false,
    retryAt: null,
    result: null,
  }));
}

function persisted(state: TransactionState, i: number): Partial<BranchRecord> {
  const b = state.branches[i];
  return {
    status: b.status,
    phase: b.phase,
    attempt: b.attempt,
    budgetBase: b.budgetBase,
    inFlight: b.inFlight,
    retryAt: toDate(b.retryAt),
  };
}

function toDate(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}
