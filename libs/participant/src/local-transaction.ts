import type { Pool, PoolClient } from 'pg';

/**
 * Runs `work` inside one local transaction on a client of `pool`: COMMIT when it returns, ROLLBACK
 * when it throws (and the error propagates). A client whose ROLLBACK failed is destroyed, never
 * returned to the pool with a transaction still open.
 */
export async function inTransaction<R>(
  pool: Pick<Pool, 'connect'>,
  work: (client: PoolClient) => Promise<R>,
): Promise<R> {
  return withPooledClient(pool, async (client) => {
    await client.query('BEGIN');
    const result = await work(client);
    // Postgres answers COMMIT of a transaction a failed statement aborted with ROLLBACK, not an error
    if ((await client.query('COMMIT')).command !== 'COMMIT') throw new LocalTransactionRolledBack();
    return result;
  });
}

/**
 * The local transaction did not commit: one of its statements failed and the error was caught, so
 * Postgres had aborted it and rolled it back at COMMIT. Nothing it wrote (the barrier rows included)
 * was kept; the phase answers 500 and the coordinator delivers it again.
 */
export class LocalTransactionRolledBack extends Error {
  constructor() {
    super(
      'the local transaction was rolled back: a statement in it failed (its error was caught), so Postgres aborted it; nothing was kept',
    );
    this.name = 'LocalTransactionRolledBack';
  }
}

/**
 * Throws {@link LocalTransactionRolledBack} when `client`'s transaction was aborted by a failed
 * statement, before a COMMIT that would only roll it back: what runs on a client whose COMMIT result
 * is not seen (TypeORM's `commitTransaction`) checks this first.
 */
export async function refuseAbortedTransaction(client: PoolClient): Promise<void> {
  // a pg client that tracks the server's transaction status ('E': failed) says so for free, but only
  // once the reply's last message has been read: a failed statement's error reaches its caller before
  // the ReadyForQuery carrying the status, so a client still waiting for one asks, as an older pg does
  const tracked = client as { getTransactionStatus?: () => string | null; readyForQuery?: boolean };
  const status = tracked.readyForQuery === true ? tracked.getTransactionStatus?.() : undefined;
  if (status === 'E') throw new LocalTransactionRolledBack();
  if (status !== undefined) return;
  await client.query('SELECT 1').catch((error: { code?: string }) => {
    throw error.code === ABORTED_TRANSACTION ? new LocalTransactionRolledBack() : error;
  });
}

/** SQLSTATE in_failed_sql_transaction: a statement sent after a failed one in the same transaction. */
const ABORTED_TRANSACTION = '25P02';

/**
 * Runs `work` on a client of `pool` and gives it back: after a ROLLBACK when `work` throws, and
 * destroyed when that ROLLBACK failed. While a client is checked out the pool no longer listens for
 * its errors, and an `error` event nobody listens for ends the process: a database connection cut
 * between two statements would take the participant down. The client is listened to until given back.
 */
export async function withPooledClient<R>(
  pool: Pick<Pool, 'connect'>,
  work: (client: PoolClient) => Promise<R>,
): Promise<R> {
  const client = await pool.connect();
  // the statement in flight fails with the same error; nothing else to do with it here
  const ignore = () => undefined;
  client.on('error', ignore);
  let broken: Error | undefined;
  try {
    return await work(client);
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.off('error', ignore);
    client.release(broken);
  }
}
