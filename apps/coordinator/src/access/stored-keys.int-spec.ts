import type { Pool } from 'pg';
import type { FreshDatabase } from '#testing';
import { migratedDatabase } from '../../../../libs/store/src/migrated-database-fixtures';
import { deleteStoredKey } from './stored-keys';

/** Revoking stored keys with no API_KEYS configured: the last key always stays (real Postgres). */
describe('deleteStoredKey (real Postgres)', () => {
  let db: FreshDatabase;
  let pool: Pool;

  beforeAll(async () => {
    ({ db, pool } = await migratedDatabase('key_revoke', 8));
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const storeKeys = (...names: string[]) =>
    pool.query(
      `INSERT INTO txc_api_keys (name, role, secret_hash, created_by)
       SELECT n, 'admin', md5(n), 'test' FROM unnest($1::text[]) AS n`,
      [names],
    );

  it('keeps one key when the last two are revoked at the same time, every time', async () => {
    for (let round = 0; round < 30; round++) {
      await pool.query('DELETE FROM txc_api_keys');
      await storeKeys('a', 'b');
      const deleted = await Promise.all(['a', 'b'].map((n) => deleteStoredKey(pool, n, { keepLast: true })));
      const { rows } = await pool.query('SELECT name FROM txc_api_keys');
      expect([round, rows.length, deleted.filter(Boolean).length]).toEqual([round, 1, 1]);
    }
  });

  it('deletes the last key when access control does not rest on it (API_KEYS configured)', async () => {
    await pool.query('DELETE FROM txc_api_keys');
    await storeKeys('only');
    expect(await deleteStoredKey(pool, 'only', { keepLast: true })).toBe(false);
    expect(await deleteStoredKey(pool, 'only', { keepLast: false })).toBe(true);
    expect(await deleteStoredKey(pool, 'only', { keepLast: false })).toBe(false);
  });
});
