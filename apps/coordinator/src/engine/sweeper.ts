import { hostname } from 'node:os';
import { Logger } from '@nestjs/common';
import type { TransactionStore } from '#store';
import type { Engine } from './engine.service';
import { inParallel } from './in-parallel';
import { processExists, processScope } from './process-scope';

/** Take-overs a pass runs at once: a dead instance's backlog is re-driven in parallel, not one by one. */
const TAKE_OVER_PARALLELISM = 32;
/** Full batches a pass takes one after the other before it yields to the next interval. */
const MAX_BATCHES_PER_PASS = 1_000;

export interface SweeperOptions {
  intervalMs: number;
  instanceTtlMs: number;
  batch: number;
  takeOver: boolean;
  /** More work for every pass, after the take-overs (participant health). */
  onPass?: () => Promise<void>;
}

/**
 * The recovery sweeper. Two loops that never wait for each other:
 * - the heartbeat keeps this instance alive in `txc_instances`, learns which instances are dead,
 *   and fences this instance (stops its drivers) when its own heartbeat has not gone through for
 *   most of the TTL, before any other instance may take its work;
 * - the sweep takes over transactions nobody is advancing: unowned and due, owned by a dead
 *   instance, or stuck (no wake-up at all, or owned but untouched past the stuck threshold: the
 *   stuck detector). Postgres alone is enough for it, so a Redis flush, a crashed coordinator or a
 *   lost commit acknowledgement leaves nothing stuck.
 */
export class Sweeper {
  private readonly logger = new Logger(Sweeper.name);
  private sweepTimer: NodeJS.Timeout | null = null;
  private beatTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private beating: Promise<void> | null = null;
  /** When the last heartbeat that went through was sent (ms); a later one may still be in flight. */
  private lastBeatSentAt = Date.now();
  private ticks = 0;
  private stopped = false;
  private readonly scope = processScope();

  constructor(
    private readonly engine: Engine,
    private readonly store: TransactionStore,
    private readonly options: SweeperOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.lastBeatSentAt = Date.now();
    // the heartbeat's own timer: a slow sweep (many orphans, a write retried) cannot delay it
    const beat = () => {
      this.checkFence();
      this.beating ??= this.heartbeat().finally(() => (this.beating = null));
      if (!this.stopped) this.beatTimer = setTimeout(beat, this.beatIntervalMs).unref();
    };
    beat();
    const loop = () => {
      if (!this.stopped) this.sweepTimer = setTimeout(() => void this.sweep().finally(loop), this.options.intervalMs);
      this.sweepTimer?.unref();
    };
    void this.beating!.then(() => this.sweep()).finally(loop);
  }

  /** One sweep; concurrent callers share the pass in progress. */
  sweep(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    if (this.beatTimer) clearTimeout(this.beatTimer);
    this.sweepTimer = this.beatTimer = null;
    await this.running;
  }

  /** The sweep interval, and at most a sixth of the TTL: several beats fit in the fencing margin. */
  private get beatIntervalMs(): number {
    return Math.max(25, Math.min(this.options.intervalMs, this.options.instanceTtlMs / 6));
  }

  /**
   * Others call this instance dead once its heartbeat row is `instanceTtlMs` old. It stops driving
   * at three quarters of that, counted from the last beat that went through, so its drivers are
   * gone before anyone else may start the same transactions.
   */
  private checkFence(): void {
    if (Date.now() - this.lastBeatSentAt >= this.options.instanceTtlMs * 0.75) this.engine.fence();
  }

  private async heartbeat(): Promise<void> {
    const sentAt = Date.now();
    try {
      const self = this.engine.instanceId;
      const dead = await this.store.heartbeat(
        { id: self, host: hostname(), pid: process.pid, processScope: this.scope, drives: this.options.takeOver },
        this.options.instanceTtlMs,
      );
      this.lastBeatSentAt = sentAt;
      const gone = await this.goneInScope();
      this.engine.deadOwners = [...new Set([...dead, ...gone])].filter((id) => id !== self);
      this.checkFence();
      if (Date.now() - sentAt < this.options.instanceTtlMs * 0.75) this.engine.unfence();
    } catch (error) {
      this.logger.warn(`heartbeat failed: ${error}`);
    }
  }

  /**
   * Instances in this instance's process scope whose process is gone: dead for certain, so their
   * transactions are taken now rather than when their heartbeat is a TTL old (a restart after a crash).
   */
  private async goneInScope(): Promise<string[]> {
    if (!this.scope) return [];
    const peers = await this.store.instancesInScope(this.scope, this.engine.instanceId).catch(() => []);
    return peers.filter((p) => !processExists(p.pid)).map((p) => p.id);
  }

  private async pass(): Promise<void> {
    try {
      // a full batch taken whole means more are waiting (a dead instance's backlog): the next is taken at once
      for (let batch = 0; this.options.takeOver && batch < MAX_BATCHES_PER_PASS && !this.stopped; batch++) {
        const orphans = await this.store.findOrphans(this.engine.deadOwners, this.options.batch, {
          self: this.engine.instanceId,
          selfGraceMs: Math.max(1_000, 2 * this.options.intervalMs),
          stuckAfterMs: this.engine.stuckAfterMs,
        });
        // a live owner's rows are restarted one by one; unowned and dead owners' rows are claimed together
        const stuck = orphans.filter((o) => o.owner !== null && !this.engine.deadOwners.includes(o.owner));
        const orphaned = orphans.filter((o) => !stuck.includes(o) && !this.engine.isDriving(o.id)).map((o) => o.id);
        let taken = await this.engine
          .resumeAll(orphaned, TAKE_OVER_PARALLELISM)
          .catch((e) => (this.logger.warn(`resuming ${orphaned.length} transaction(s) failed: ${e}`), 0));
        await inParallel(stuck, TAKE_OVER_PARALLELISM, async ({ id, stalled }) => {
          const restarted = this.engine.restartStuck(id, stalled);
          if (await restarted.catch((e) => this.logger.warn(`transaction ${id}: resuming failed: ${e}`))) taken += 1;
        });
        // only a batch taken whole says more are waiting: rows found but left (a live driver waiting on
        // its calls) would be found again, and again
        if (orphans.length < this.options.batch || taken < orphans.length) break;
      }
      if (++this.ticks % 30 === 1) await this.store.expireIdempotencyKeys();
      await this.options.onPass?.();
    } catch (error) {
      this.logger.warn(`sweep failed: ${error}`);
    }
  }
}
