import type { LoggerService } from '@nestjs/common';
import type { TransactionStore } from '#store';
import type { CoordinatorMetrics } from '../metrics/coordinator-metrics';
import type { CrashPoints } from './crash-points';
import type { ParticipantGateway } from './participant-gateway';
import type { ParticipantStats } from './participant-stats';
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
  /** The driver let go of its transaction: settled, waiting until `wakeAt`, or taken over. */
  detach(driver: TransactionDriver, how: { settled: boolean; wakeAt: Date | null }): void;
}
