import { TransactionStatus } from '#contracts';
import type { LoadedTransaction, TransactionStore } from '#store';
import { inParallel } from './in-parallel';
import type { TransactionDriver } from './transaction-driver';

/** Statuses in which a transaction without a decision may still be aborted. */
export const UNDECIDED: readonly TransactionStatus[] = [
  TransactionStatus.Pending,
  TransactionStatus.Prepared,
  TransactionStatus.Running,
];

/** What claiming transactions needs from the engine. */
export interface ClaimDeps {
  readonly store: TransactionStore;
  readonly instanceId: string;
  /** How long a row owned by a live instance may go untouched before anyone may take it over. */
  readonly stuckAfterMs: number;
  /** Instances whose heartbeat lapsed, read at each claim: the sweeper replaces the list. */
  deadOwners(): string[];
  /** Starts this instance's driver on a transaction just claimed, as the one that drives it here. */
  adopt(loaded: LoadedTransaction): TransactionDriver;
}

/**
 * This instance's take-overs of transactions from the log: at most one claim of an id under way
 * here at a time, and a driver started on each transaction claimed.
 */
export class TransactionClaims {
  /** Take-overs under way in this instance, by transaction id. */
  private readonly claiming = new Map<string, Promise<TransactionDriver | null>>();

  constructor(private readonly deps: ClaimDeps) {}

  /** The take-over of `id` under way here, if any: whoever waits for it then finds its driver. */
  underWay(id: string): Promise<TransactionDriver | null> | undefined {
    return this.claiming.get(id);
  }

  has(id: string): boolean {
    return this.claiming.has(id);
  }

  /**
   * Claims `id` and starts a driver on it from its log, once at a time per id in this instance (the
   * claim admits this instance's own rows, so two concurrent claims here would both succeed).
   * Deliveries the log shows in flight are treated as lost (`recover`, or the replay itself) before
   * anything else: whoever announced them is gone or fenced, and their answers will never be applied.
   */
  takeOver(id: string, forReplay = false, dueOnly = false): Promise<TransactionDriver | null> {
    const claim = (async () => {
      const loaded = await this.deps.store.claim(id, this.deps.instanceId, this.deps.deadOwners(), {
        forReplay,
        stuckAfterMs: this.deps.stuckAfterMs,
        dueOnly,
      });
      return loaded ? this.drive(loaded, forReplay) : null;
    })().finally(() => this.claiming.delete(id));
    this.claiming.set(id, claim);
    return claim;
  }

  /**
   * {@link takeOver} for many due transactions at once, none of them driven or being claimed here:
   * one claim statement and one read for all of them, then up to `parallelism` started at a time.
   * Resolves with the drivers started, by transaction id.
   */
  takeOverMany(free: string[], parallelism: number): Promise<Map<string, TransactionDriver>> {
    const batch = (async () => {
      const claimed = await this.deps.store.claimMany(free, this.deps.instanceId, this.deps.deadOwners(), {
        stuckAfterMs: this.deps.stuckAfterMs,
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
    return batch;
  }

  /**
   * Starts a driver on a transaction just claimed. Deliveries the log shows in flight are treated
   * as lost (`recover`) first; a replay re-delivers them itself (a failed transaction has no driver,
   * so whatever it shows in flight was dropped; a `recover` first would settle it again as failed).
   */
  private async drive(loaded: LoadedTransaction, forReplay: boolean): Promise<TransactionDriver> {
    const driver = this.deps.adopt(loaded);
    if (forReplay) return driver;
    const inFlight = loaded.branches.some((b) => b.inFlight);
    if (inFlight) await driver.post({ type: 'recover' }, { by: this.deps.instanceId });
    const undecided = loaded.txn.decision === null && UNDECIDED.includes(loaded.txn.status);
    if (loaded.txn.abortRequested && (undecided || loaded.txn.decision === 'abort')) {
      // before anything starts: a pending transaction flagged for abort never calls a participant (and
      // one that began aborting for another reason meanwhile still records who asked and why)
      await driver.actOnAbortFlag(loaded.txn.abortNote ?? null);
    } else if (loaded.txn.status === TransactionStatus.Pending) await driver.post({ type: 'start' });
    else if (!inFlight) await driver.post({ type: 'wake' });
    return driver;
  }
}
