import type { LoggerService } from '@nestjs/common';
import type { StoredResponse, TransactionStore } from '#store';
import type { CoordinatorMetrics } from '../metrics/coordinator-metrics';
import type { CrashPoints } from './crash-points';
import type { ParticipantGateway } from './participant-gateway';
import type { ParticipantStats } from './participant-stats';
import type { Snapshot } from './settle-waiters';
import type { TransactionDriver } from './transaction-driver';

/** What a {@link TransactionDriver} needs from the engine around it. */
export interface EngineContext {
  readonly instanceId: string;
  readonly store: TransactionStore;
  readonly gateway: ParticipantGateway;
  readonly callTimeoutMs: number;
  readonly crash: CrashPoints;
  readonly metrics: CoordinatorMetrics;
  readonly stats: ParticipantStats;
  readonly logger: LoggerService;
  /**
   * The settling write of transaction `id` is being built, `snapshot` the transaction as it leaves
   * it: the first response of a keyed start waiting for it, for the write to store with the step,
   * or null. The driver reports the write's outcome with `responseWritten`.
   */
  respondOnSettle(id: string, snapshot: () => Snapshot): StoredResponse | null;
  /** The write that carried `response` applied (`stored`) or surely did not (`refused`: another owner). */
  responseWritten(id: string, response: StoredResponse, outcome: 'stored' | 'refused'): void;
  /** The driver let go of its transaction: settled, waiting until `wakeAt`, or taken over. */
  detach(driver: TransactionDriver, how: { settled: boolean; wakeAt: Date | null }): void;
}
