import { hostname } from 'node:os';
import { Logger } from '@nestjs/common';
import type { TransactionStore } from '#store';
import type { Engine } from './engine.service';

/**
 * The recovery sweeper: heartbeats this instance, learns which instances are dead, and takes over
 * transactions nobody is advancing (unowned and due, or owned by a dead instance). Postgres alone
 * is enough for it, so a Redis flush or a crashed coordinator leaves nothing stuck.
 */
export class Sweeper {
  private readonly logger = new Logger(Sweeper.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private ticks = 0;

  constructor(
    private readonly engine: Engine,
    private readonly store: TransactionStore,
    private readonly options: { intervalMs: number; instanceTtlMs: number; batch: number; takeOver: boolean },
  ) {}

  start(): void {
    const loop = () => {
      this.timer = setTimeout(() => void this.sweep().finally(loop), this.options.intervalMs);
      this.timer.unref();
    };
    void this.sweep().finally(loop);
  }

  /** One pass; concurrent callers share the pass in progress. */
  sweep(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private async pass(): Promise<void> {
    try {
      const dead = await this.store.heartbeat(
        { id: this.engine.instanceId, host: hostname(), pid: process.pid },
        this.options.instanceTtlMs,
      );
      this.engine.deadOwners = dead.filter((id) => id !== this.engine.instanceId);
      if (this.options.takeOver) {
        const orphans = await this.store.findOrphans(this.engine.deadOwners, this.options.batch);
        for (const id of orphans) {
          if (this.engine.isDriving(id)) continue;
          await this.engine.resume(id).catch((e) => this.logger.warn(`resume ${id}: ${e}`));
        }
      }
      if (++this.ticks % 30 === 1) await this.store.expireIdempotencyKeys();
    } catch (error) {
      this.logger.warn(`sweep failed: ${error}`);
    }
  }
}
