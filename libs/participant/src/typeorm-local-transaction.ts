import type { PoolClient } from 'pg';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import type { Barrier, BarrierCall, BarrierResult } from './barrier';
import { refuseAbortedTransaction } from './local-transaction';

/**
 * Runs the barrier for `call` and, when it says so, `work`, in one local transaction of `dataSource`
 * (which must be a Postgres DataSource): the barrier rows go through the query runner's own pg client
 * and `work` gets that runner's EntityManager, so both commit together or not at all.
 *
 * Commits when the barrier returns (a `rejected` verdict included: the refusal must be kept),
 * rolls back and rethrows when anything throws, and always releases the connection.
 */
export function runBarrierWithManager<T>(
  dataSource: DataSource,
  barrier: Barrier,
  call: BarrierCall,
  work: (manager: EntityManager) => Promise<T>,
): Promise<BarrierResult<T>> {
  return runWithManager(dataSource, (client, manager) => barrier.runInTransaction(client, call, () => work(manager)));
}

/**
 * Runs `work` in one local transaction of the Postgres `dataSource`, given both the pg client the
 * transaction runs on and the EntityManager bound to it: SQL sent through either commits together.
 * Commits when `work` returns, rolls back and rethrows when it throws, always releases the connection.
 */
export async function runWithManager<T>(
  dataSource: DataSource,
  work: (client: PoolClient, manager: EntityManager) => Promise<T>,
): Promise<T> {
  const runner = dataSource.createQueryRunner() as QueryRunner & PostgresRelease;
  let broken: Error | undefined;
  try {
    // the Postgres query runner's connection is the pg PoolClient its transaction runs on
    const client = (await runner.connect()) as PoolClient;
    await runner.startTransaction();
    try {
      const result = await work(client, runner.manager);
      await refuseAbortedTransaction(client);
      await runner.commitTransaction();
      return result;
    } catch (error) {
      if (runner.isTransactionActive) {
        await runner.rollbackTransaction().catch((rollbackError: Error) => {
          broken = rollbackError;
        });
      }
      throw error;
    }
  } finally {
    // a connection whose ROLLBACK failed may still hold the transaction open: the pool must destroy
    // it, not hand it to the next caller
    if (broken && runner.releasePostgresConnection) await runner.releasePostgresConnection(broken);
    else await runner.release();
  }
}

/** PostgresQueryRunner's release with an error, which makes pg destroy the connection. */
interface PostgresRelease {
  releasePostgresConnection?(error?: Error): Promise<void>;
}
