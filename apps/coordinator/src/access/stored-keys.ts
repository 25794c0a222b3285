import type { Pool } from 'pg';

/**
 * Deletes the stored key `name`; false when there is none, or when `keepLast` holds and it is the
 * last one (no `API_KEYS` configured: deleting it would silently open the coordinator to everyone).
 * Two revokes at once, on two instances, would each count the other's key and delete both: the
 * count and the delete are taken one revoke at a time, under a lock no other revoke shares.
 */
export async function deleteStoredKey(pool: Pool, name: string, { keepLast }: { keepLast: boolean }): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('LOCK TABLE txc_api_keys IN SHARE ROW EXCLUSIVE MODE');
    const { rowCount } = await client.query(
      `DELETE FROM txc_api_keys WHERE name = $1
         AND (NOT $2 OR (SELECT count(*) FROM txc_api_keys) > 1)`,
      [name, keepLast],
    );
    await client.query('COMMIT');
    client.release();
    return (rowCount ?? 0) > 0;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release(error as Error); // a connection in an unknown state is not reused
    throw error;
  }
}
