import {
  Limits,
  PROTOCOL_PHASES,
  Protocol,
  SETTLED_STATUSES,
  TransactionBusyError,
  TransactionConflictError,
  TransactionNotFoundError,
  storableText,
  TransactionStatus,
  ValidationError,
  type BranchRequest,
  type BranchStatus,
  type Phase,
} from '#contracts';
import { PermanentStoreError, type BranchRecord, type TransactionStore } from '#store';
import { abortReason, operatorStep, type OperatorNote } from './operator-note';
import { branchRecord } from './branch-records';
import { UNDECIDED, type TransactionClaims } from './transaction-claims';
import type { TransactionState } from '#protocol';
import type { RegistrationTurn, TransactionDriver } from './transaction-driver';

/** What the actions asked of one transaction need from the engine. */
export interface ActionDeps {
  readonly store: TransactionStore;
  /** False on a `ROLE=api` instance: a retry claims nothing there. */
  readonly drives: boolean;
  /** Whether this instance's heartbeat is overdue now: it then claims nothing. */
  fenced(): boolean;
  /** This instance's drivers, by transaction id. */
  readonly drivers: ReadonlyMap<string, TransactionDriver>;
  readonly claims: TransactionClaims;
  /** Takes the transaction over if nobody is advancing it; whether this instance drives it now. */
  resume(id: string): Promise<boolean>;
}

/**
 * The actions asked of one transaction by id (an operator's abort or retry, an interactive
 * registration or commit, a message's submit), applied by whichever driver can act on them: this
 * instance's, one it claims, or, for an abort, the owner's through a flag in the log. None is lost
 * to a driver letting go first. What each answers is documented on the engine's method for it.
 */
export class TransactionActions {
  constructor(private readonly deps: ActionDeps) {}

  async abort(id: string, note?: OperatorNote): Promise<'accepted' | 'already' | 'decided' | 'failed' | 'not-found'> {
    const local = this.deps.drivers.get(id);
    if (local) {
      // an abort flagged through another instance, which this driver has not met yet (it learns of
      // it with its next write), came first: that one is the abort accepted, acted on now with its note
      const row = (await this.deps.store.load(id))?.txn;
      if (row?.abortRequested && row.decision === null) {
        await local.actOnAbortFlag(row.abortNote ?? null);
        return 'already';
      }
      // decided in the abort's turn, so of two concurrent aborts only the first is the one accepted;
      // a driver that let go first (to wait out a backoff, say) leaves it to the log below
      const undecided = (state: TransactionState) => state.decision === null && UNDECIDED.includes(state.status);
      const offered = await local.offerIf({ type: 'abort', reason: abortReason(note) }, operatorStep(note), undecided);
      if (offered === 'applied') return local.decision === 'abort' ? 'accepted' : 'decided';
      if (offered === 'refused') return local.decision === 'abort' ? 'already' : 'decided';
    }
    const loaded = await this.deps.store.load(id);
    if (!loaded) return 'not-found';
    const { status, decision } = loaded.txn;
    if (decision === null && UNDECIDED.includes(status)) {
      // the owner (this instance after `resume`, or another live one) acts on the flag and records the note
      const flagged = await this.deps.store.requestAbort(id, operatorStep(note));
      if (flagged === 'decided') return this.abort(id, note); // decided meanwhile: answered as it is now
      if (flagged === 'already') return 'already'; // the first abort is the one accepted and recorded
      await this.deps.resume(id);
      return 'accepted';
    }
    if (decision !== 'abort') return 'decided';
    // parked while aborting: nothing an abort does moves it on (a replay does)
    return status === TransactionStatus.Failed ? 'failed' : 'already';
  }

  async retryNow(id: string, note: OperatorNote): Promise<'retried' | 'nothing-waits' | 'busy' | 'not-found'> {
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.deps.claims.underWay(id);
      const driver =
        this.deps.drivers.get(id) ??
        (this.deps.drives && !this.deps.fenced() ? await this.deps.claims.takeOver(id) : null);
      if (!driver) break;
      const retried = await driver.retryNow({ operator: note });
      if (retried === true) return 'retried';
      if (retried === 'let-go') continue; // it let go first (to wait out that backoff, say): claim it again
      await driver.letGoIfIdle().catch(() => undefined); // claimed here for nothing
      return 'nothing-waits';
    }
    const row = await this.deps.store.load(id);
    if (!row) return 'not-found';
    if (SETTLED_STATUSES.includes(row.txn.status)) return 'nothing-waits';
    return 'busy';
  }

  async registerBranch(
    id: string,
    request: BranchRequest,
  ): Promise<{ status: BranchStatus | null; existing?: BranchRecord }> {
    return this.onDriver(id, 10, async (driver) => {
      try {
        return await this.registerWith(driver, request);
      } finally {
        // held for nothing more (the branch voted, or the registration wrote nothing): let it go; of
        // registrations sent together, each lets go after its own, so a later one may find it let go
        await driver.letGoIfIdle().catch(() => undefined);
      }
    });
  }

  private async registerWith(
    driver: TransactionDriver,
    request: BranchRequest,
  ): Promise<{ status: BranchStatus | null; existing?: BranchRecord } | 'let-go'> {
    const { id } = driver;
    for (const phase of Object.keys(request.paths ?? {})) {
      if (!PROTOCOL_PHASES[driver.protocol].includes(phase as Phase)) {
        throw new ValidationError(`paths.${phase} is not a phase of ${driver.protocol}`, [
          { field: `paths.${phase}`, rule: `is not a phase of ${driver.protocol}` },
        ]);
      }
    }
    // decided in the registration's turn: registrations sent together must see each other
    const admit = (): RegistrationTurn => {
      const existing = driver.branch(request.id);
      if (existing) return { existing };
      if (driver.decision !== null || driver.status !== TransactionStatus.Running) {
        return { refused: new TransactionConflictError(`transaction "${id}" is ${driver.status}: no more branches`) };
      }
      if (driver.branchCount >= Limits.maxBranches) {
        const rule = `at most ${Limits.maxBranches} branches per transaction`;
        return {
          refused: new ValidationError(`transaction "${id}" has ${driver.branchCount} branches: ${rule}`, [
            { field: 'branches', rule },
          ]),
        };
      }
      const index = driver.branchCount;
      return { record: { ...branchRecord(request, index, PROTOCOL_PHASES[driver.protocol][0]), dependsOn: [] } };
    };
    let registered: Awaited<ReturnType<TransactionDriver['register']>>;
    try {
      registered = await driver.register(request.id, admit);
    } catch (error) {
      if (!(error instanceof PermanentStoreError)) throw error;
      throw new ValidationError(`the branch cannot be stored: ${storableText(error.message)}`, [
        { field: 'payload', rule: 'must be storable (Postgres refused it)' },
      ]);
    }
    if (registered !== 'let-go' && registered.status === null && !driver.branch(request.id)) {
      throw new TransactionConflictError(`transaction "${id}" is ${driver.status}: the branch was not registered`);
    }
    return registered;
  }

  async commit(id: string): Promise<boolean> {
    try {
      return await this.onDriver(id, 3, async (driver) => {
        if (driver.decision === null && !(await driver.offer({ type: 'commit' }))) return 'let-go';
        // refused (a branch said no or is still trying): nothing was written, and nothing keeps it here
        if (driver.decision === null) await driver.letGoIfIdle().catch(() => undefined);
        return driver.decision === 'commit';
      });
    } catch (error) {
      // settled with its commit decided: a repeat of a commit whose answer was lost is answered as it was
      if (error instanceof TransactionConflictError && (await this.deps.store.load(id))?.txn.decision === 'commit') {
        return true;
      }
      throw error;
    }
  }

  /**
   * Runs `act` on this instance's driver of transaction `id` (see {@link acquire}) until it applies:
   * `act` answers `let-go` when the driver let go of the transaction before the action's turn (a step
   * queued ahead of it released the transaction to wait out a backoff, or another action let it go),
   * having applied nothing, and the transaction is acquired again. Busy after `attempts` such turns.
   */
  private async onDriver<T>(
    id: string,
    attempts: number,
    act: (driver: TransactionDriver) => Promise<T | 'let-go'>,
  ): Promise<T> {
    for (let attempt = 0; attempt < attempts; attempt++) {
      const done = await act(await this.acquire(id));
      if (done !== 'let-go') return done;
    }
    throw new TransactionBusyError(id);
  }

  /**
   * This instance's driver of transaction `id`: the local one, or a claim of it when nobody live owns
   * it. Waits a little while another live instance holds it.
   */
  private async acquire(id: string): Promise<TransactionDriver> {
    for (let attempt = 0; attempt < 40; attempt++) {
      const local = this.deps.drivers.get(id);
      if (local) return local;
      await this.deps.claims.underWay(id);
      if (this.deps.drivers.has(id)) continue;
      const driver = this.deps.fenced() ? null : await this.deps.claims.takeOver(id);
      if (driver) {
        if (this.deps.drivers.get(id) === driver) return driver;
        continue; // it settled or let go while catching up: look again
      }
      const row = await this.deps.store.load(id);
      if (!row) throw new TransactionNotFoundError(id);
      if (SETTLED_STATUSES.includes(row.txn.status) || row.txn.decision !== null) {
        throw new TransactionConflictError(`transaction "${id}" is ${row.txn.status}`);
      }
      await new Promise((r) => setTimeout(r, Math.min(25 * (attempt + 1), 250)));
    }
    throw new TransactionBusyError(id);
  }

  async submit(id: string): Promise<'submitted' | 'aborted' | 'not-found'> {
    const row = await this.deps.store.load(id);
    if (!row) return 'not-found';
    if (row.txn.protocol !== Protocol.Msg) {
      throw new TransactionConflictError(`transaction "${id}" is a ${row.txn.protocol}: only a message is submitted`);
    }
    if (row.txn.decision === null && UNDECIDED.includes(row.txn.status)) {
      try {
        await this.onDriver(id, 3, async (driver) =>
          driver.decision !== null || (await driver.offer({ type: 'submit' })) ? 'offered' : 'let-go',
        );
      } catch (error) {
        // decided meanwhile (a check answered, the deadline passed): the log says which way; busy
        // (let go each time) is told below, from the log too
        if (!(error instanceof TransactionConflictError) && !(error instanceof TransactionBusyError)) throw error;
      }
    }
    const now = await this.deps.store.load(id);
    if (now?.txn.decision === 'abort') return 'aborted';
    if (now?.txn.decision === 'commit') return 'submitted';
    // the submit's step did not land (the log was unreachable, or another instance holds it): the caller retries
    throw new TransactionBusyError(id);
  }
}
