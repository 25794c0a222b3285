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
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw error;
    }
  } finally {
    client.release(broken);
  }
}
