import type { Pool, PoolClient } from 'pg';

/**
 * Runs `fn` in one transaction opened by `begin` on a client of its own from `pool`: COMMIT when it
 * returns, ROLLBACK when it throws (the error propagates). A client whose ROLLBACK failed (cut,
 * restarted server) is dropped, never pooled again with a transaction open.
 *
 * While a client is checked out the pool no longer listens for its errors, and an `error` event
 * nobody listens for ends the process: a connection cut between two statements of the transaction
 * would take the coordinator down with it. The client is listened to until it is given back.
 */
export async function inTransaction<T>(pool: Pool, begin: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // the statement in flight fails with the same error; nothing else to do with it here
  const ignore = () => undefined;
  client.on('error', ignore);
  let broken: Error | undefined;
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
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
