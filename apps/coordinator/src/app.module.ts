import { Logger, Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule, getRepositoryToken } from '@nestjs/typeorm';
import { Pool } from 'pg';
import type { Repository } from 'typeorm';
import {
  ENTITIES,
  ParticipantEntity,
  ParticipantInstanceEntity,
  PgParticipantRegistry,
  PgTransactionStore,
  answerTimeouts,
  connectionLimits,
  dataSourceOptions,
} from '#store';
import { AccessGuard } from './access/access.guard';
import { KeyRegistry } from './access/key-registry';
import { KeysController } from './access/keys.controller';
import type { Config } from './config/config';
import { EngineLifecycle } from './engine/engine-lifecycle';
import { Engine } from './engine/engine.service';
import { ParticipantDirectory } from './engine/participant-directory';
import { WakeScheduler } from './engine/wake-scheduler';
import { HealthController } from './health/health.controller';
import { IdempotencyService } from './http/idempotency.service';
import { CoordinatorMetrics } from './metrics/coordinator-metrics';
import { MetricsController } from './metrics/metrics.controller';
import { METRIC_SOURCES } from './metrics/metric-sources';
import { RetentionSweeper } from './retention/retention-sweeper';
import { ParticipantsController } from './participants/participants.controller';
import { ParticipantsService } from './participants/participants.service';
import { ParticipantHealth } from './participants/participant-health';
import { CONFIG, DATABASE_URL, PG_POOL, STORE } from './tokens';
import { StatsController } from './stats/stats.controller';
import { StatsService } from './stats/stats.service';
import { StatusFeed } from './stream/status-feed';
import { StreamController } from './stream/stream.controller';
import { TransactionsController } from './transactions/transactions.controller';
import { OperatorActionsService } from './transactions/operator-actions.service';
import { TransactionsService } from './transactions/transactions.service';

/** The coordinator. `ROLE=worker` serves only health and metrics; `api` and `all` serve the client API. */
@Module({})
export class AppModule {
  static forRoot(config: Config, databaseUrl: string): DynamicModule {
    const providers: Provider[] = [
      { provide: CONFIG, useValue: config },
      { provide: DATABASE_URL, useValue: databaseUrl },
      {
        provide: PG_POOL,
        useFactory: () => {
          const pool = new Pool({
            connectionString: databaseUrl,
            max: config.DB_POOL_SIZE,
            ...connectionLimits,
            ...answerTimeouts(config.DB_QUERY_TIMEOUT_MS),
          });
          // an idle connection cut by a Postgres restart is dropped and replaced, not fatal
          pool.on('error', (e) => new Logger('Postgres').warn(`idle connection lost: ${e.message}`));
          return pool;
        },
      },
      { provide: STORE, useFactory: (pool: Pool) => new PgTransactionStore(pool), inject: [PG_POOL] },
      { provide: WakeScheduler, useFactory: () => new WakeScheduler(config, databaseUrl) },
      {
        provide: PgParticipantRegistry,
        useFactory: (pool: Pool) => new PgParticipantRegistry(pool),
        inject: [PG_POOL],
      },
      {
        provide: ParticipantDirectory,
        useFactory: (repo: Repository<ParticipantEntity>, instances: Repository<ParticipantInstanceEntity>) =>
          new ParticipantDirectory(repo, instances),
        inject: [getRepositoryToken(ParticipantEntity), getRepositoryToken(ParticipantInstanceEntity)],
      },
      CoordinatorMetrics,
      METRIC_SOURCES,
      RetentionSweeper,
      Engine,
      EngineLifecycle,
      IdempotencyService,
      TransactionsService,
      OperatorActionsService,
      ParticipantsService,
      ParticipantHealth,
      KeyRegistry,
      StatusFeed,
      StatsService,
      AccessGuard,
      { provide: APP_GUARD, useExisting: AccessGuard },
      {
        provide: 'pool-closer',
        useFactory: (pool: Pool) => ({ onApplicationShutdown: () => pool.end() }),
        inject: [PG_POOL],
      },
    ];
    const api =
      config.ROLE === 'worker'
        ? []
        : [TransactionsController, ParticipantsController, KeysController, StreamController, StatsController];
    return {
      module: AppModule,
      imports: [
        // migrated before (main.ts, with no statement timeout): the registry's reads and writes
        // here are bounded by DB_QUERY_TIMEOUT_MS like the log's
        TypeOrmModule.forRoot({
          ...dataSourceOptions(databaseUrl, 4),
          extra: { max: 4, ...connectionLimits, ...answerTimeouts(config.DB_QUERY_TIMEOUT_MS) },
        }),
        TypeOrmModule.forFeature(ENTITIES),
        TerminusModule,
      ],
      controllers: [...api, HealthController, MetricsController],
      providers,
      exports: [Engine, EngineLifecycle, STORE],
    };
  }
}
