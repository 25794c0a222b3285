import type { Pool } from 'pg';
import type { FreshDatabase } from '#testing';
import { migratedDatabase } from '../../../../libs/store/src/migrated-database-fixtures';
import { loadConfig } from '../config/config';
import { KeyRegistry } from './key-registry';

/** Revoking stored keys with no API_KEYS configured: the last key always stays (real Postgres). */
describe('KeyRegistry.revoke (real Postgres)', () => {
  let db: FreshDatabase;
  let pool: Pool;
  let registry: KeyRegistry;

  beforeAll(async () => {
    ({ db, pool } = await migratedDatabase('key_revoke', 8));
    registry = new KeyRegistry(loadConfig({ KEY_CACHE_MS: '0' }), pool);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('keeps one key when the last two are revoked at the same time, every time', async () => {
    for (let round = 0; round < 20; round++) {
      await pool.query('DELETE FROM txc_api_keys');
      await registry.create('a', 'admin', 'test');
      await registry.create('b', 'admin', 'test');
      const results = await Promise.allSettled([registry.revoke('a'), registry.revoke('b')]);
      const { rows } = await pool.query('SELECT name FROM txc_api_keys');
      expect([round, rows.length]).toEqual([round, 1]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(await registry.isOpen()).toBe(false);
    }
  });
});
