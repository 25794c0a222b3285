import type { DataSourceOptions } from 'typeorm';
import { InitialSchema1763800000000 } from '../../../migrations/1763800000000-initial-schema';
import { AccessAndStream1764400000000 } from '../../../migrations/1764400000000-access-and-stream';
import { ReadPathIndexes1764900000000 } from '../../../migrations/1764900000000-read-path-indexes';
import { ReliableMessages1765200000000 } from '../../../migrations/1765200000000-reliable-messages';
import { ParticipantInstances1765500000000 } from '../../../migrations/1765500000000-participant-instances';
import { Retention1765600000000 } from '../../../migrations/1765600000000-retention';
import { InstanceProcessScope1765700000000 } from '../../../migrations/1765700000000-instance-process-scope';
import { SetBasedApply1765800000000 } from '../../../migrations/1765800000000-set-based-apply';
import { KeyClaimWithoutLock1765900000000 } from '../../../migrations/1765900000000-key-claim-without-lock';
import { RespondWithAdvance1766000000000 } from '../../../migrations/1766000000000-respond-with-advance';
import { AbortBeforeCommit1766100000000 } from '../../../migrations/1766100000000-abort-before-commit';
import { InstanceDrives1766200000000 } from '../../../migrations/1766200000000-instance-drives';
import { AbortBeforeAnyDecision1766300000000 } from '../../../migrations/1766300000000-abort-before-any-decision';
import { KeyHolder1766400000000 } from '../../../migrations/1766400000000-key-holder';
import { AlertEntity } from './entities/alert.entity';
import { ParticipantInstanceEntity } from './entities/participant-instance.entity';
import { ApiKeyEntity } from './entities/api-key.entity';
import { BranchEntity } from './entities/branch.entity';
import { EventEntity } from './entities/event.entity';
import { IdempotencyKeyEntity } from './entities/idempotency-key.entity';
import { InstanceEntity } from './entities/instance.entity';
import { ParticipantEntity } from './entities/participant.entity';
import { TransactionEntity } from './entities/transaction.entity';

export const ENTITIES = [
  ParticipantEntity,
  InstanceEntity,
  TransactionEntity,
  BranchEntity,
  EventEntity,
  IdempotencyKeyEntity,
  ApiKeyEntity,
  ParticipantInstanceEntity,
  AlertEntity,
];
export const MIGRATIONS = [
  InitialSchema1763800000000,
  AccessAndStream1764400000000,
  ReadPathIndexes1764900000000,
  ReliableMessages1765200000000,
  ParticipantInstances1765500000000,
  Retention1765600000000,
  InstanceProcessScope1765700000000,
  SetBasedApply1765800000000,
  KeyClaimWithoutLock1765900000000,
  RespondWithAdvance1766000000000,
  AbortBeforeCommit1766100000000,
  InstanceDrives1766200000000,
  AbortBeforeAnyDecision1766300000000,
  KeyHolder1766400000000,
];

/**
 * How long Postgres lets a session of the coordinator sit idle inside a transaction before it ends
 * the session. Its transactions run their statements back to back, so a session idle this long
 * belongs to an instance cut off mid-transaction (a partition): its row locks would otherwise stall
 * every other instance until the dead connection is noticed, which takes hours with default TCP
 * keepalives. Set on every pool of the coordinator (`connectionLimits`).
 */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 10_000;

/** Session settings for every connection the coordinator opens to its log database. */
export const connectionLimits = { idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS } as const;

/**
 * How long a pool's client waits for Postgres: to answer a statement, and to hand out a connection
 * (opening one included). A partition that drops packets leaves a connection open and silent, which
 * TCP alone notices only after a quarter of an hour or more; a statement past this fails as a lost
 * connection (its outcome unknown: it may have committed) and its connection is dropped. Not for
 * the migrations, which may rightly run longer.
 */
export function answerTimeouts(ms: number) {
  return { query_timeout: ms, connectionTimeoutMillis: ms } as const;
}

/** The advisory lock that makes instances starting together on a new database migrate one at a time. */
const MIGRATION_LOCK = 7_412_086_001;

/**
 * Applies the log database's pending migrations on a connection of its own, with no statement
 * timeout (a migration on a large log may rightly run long); answers the names applied. Instances
 * started together take turns (a session advisory lock on the one connection): the second finds
 * the work done, instead of failing on the first one's half-made types and tables.
 */
export async function migrateDatabase(url: string, transaction: 'all' | 'each' = 'all'): Promise<string[]> {
  const { DataSource } = await import('typeorm'); // loaded when migrating only
  // one connection: the lock and the migrations share its session
  const source = await new DataSource(dataSourceOptions(url, 1)).initialize();
  try {
    await source.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    return (await source.runMigrations({ transaction })).map((m) => m.name);
  } finally {
    await source.destroy(); // ends the session, and the lock with it
  }
}

/** TypeORM options for the log database. Schema changes only through migrations, never `synchronize`. */
export function dataSourceOptions(url: string, poolSize: number): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'txc_migrations',
    synchronize: false,
    extra: { max: poolSize, ...connectionLimits },
  };
}
