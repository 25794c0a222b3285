import type { Provider } from '@nestjs/common';
import type { Pool } from 'pg';
import type { PgTransactionStore } from '#store';
import { WakeScheduler } from '../engine/wake-scheduler';
import { PG_POOL, STORE } from '../tokens';
import { CoordinatorMetrics } from './coordinator-metrics';

/** Wires the metrics that read the log writer, the log and the queue to them, once they exist. */
export const METRIC_SOURCES: Provider = {
  provide: 'metric-sources',
  inject: [CoordinatorMetrics, STORE, PG_POOL, WakeScheduler],
  useFactory: (metrics: CoordinatorMetrics, store: PgTransactionStore, pool: Pool, scheduler: WakeScheduler) => {
    store.observeBatches((size) => metrics.logBatchSize.observe(size));
    metrics.observe({
      logBacklog: () => store.backlog,
      failedTransactions: async () => {
        const { rows } = await pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM txc_transactions WHERE status = 'failed'`,
        );
        return rows[0].n;
      },
      queueDepth: () => scheduler.depth(),
    });
    return true;
  },
};
