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
    await client.query('COMMIT');
    return result;
  });
}

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
