import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Pool } from 'pg';
import { purgeAlertsBatch, purgeFinishedBatch } from '#store';
import type { Config } from '../config/config';
import { CoordinatorMetrics } from '../metrics/coordinator-metrics';
import { CONFIG, PG_POOL } from '../tokens';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Deletes finished transactions (committed, aborted) last updated more than RETENTION_DAYS ago,
 * with their branches, events and idempotency keys, and the alerts delivered before then. Off when RETENTION_DAYS is unset (the log is
 * kept forever). Runs on instances that drive work (`ROLE` `all` or `worker`), every
 * RETENTION_INTERVAL_MS: batches of RETENTION_BATCH_SIZE transactions, each its own short
 * statement, one after the other until a batch comes back short. Several instances may run it at
 * once: a batch skips the rows another holds.
 */
@Injectable()
export class RetentionSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Retention');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly metrics: CoordinatorMetrics,
  ) {}

  onApplicationBootstrap(): void {
    const days = this.config.RETENTION_DAYS;
    if (days === undefined || this.config.ROLE === 'api') return;
    this.logger.log(`retention on: finished transactions older than ${days} day(s) are deleted`);
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.sweep()
        .catch((e) => this.logger.warn(`retention sweep failed, trying again later: ${e}`))
        .finally(() => {
          this.running = null;
          this.schedule(this.config.RETENTION_INTERVAL_MS);
        });
    }, delayMs);
    this.timer.unref();
  }

  /** One pass: batches until one comes back short (or the process stops). */
  private async sweep(): Promise<void> {
    const horizon = new Date(Date.now() - this.config.RETENTION_DAYS! * DAY_MS);
    const size = this.config.RETENTION_BATCH_SIZE;
    let total = 0;
    for (;;) {
      const purged = await purgeFinishedBatch(this.pool, horizon, size);
      total += purged.transactions;
      this.metrics.retentionDeleted.inc({ table: 'transactions' }, purged.transactions);
      this.metrics.retentionDeleted.inc({ table: 'branches' }, purged.branches);
      this.metrics.retentionDeleted.inc({ table: 'events' }, purged.events);
      this.metrics.retentionDeleted.inc({ table: 'idempotency_keys' }, purged.idempotencyKeys);
      if (purged.transactions < size || this.stopped) break;
    }
    if (total > 0)
      this.logger.log(`deleted ${total} finished transaction(s) last updated before ${horizon.toISOString()}`);
    // the alerts delivered before the horizon go too: one is raised per failure, lapse and opened circuit
    for (;;) {
      const alerts = await purgeAlertsBatch(this.pool, horizon, size);
      this.metrics.retentionDeleted.inc({ table: 'alerts' }, alerts);
      if (alerts < size || this.stopped) break;
    }
  }
}
