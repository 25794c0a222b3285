import type { Pool } from 'pg';

/** Rows a fresh demo starts with: accounts A, B, C at 1000 and skus widget, gadget at 100. */
export const SEED_SQL = [
  `INSERT INTO demo_accounts (id, balance)
     SELECT id, balance FROM (VALUES ('A', 1000), ('B', 1000), ('C', 1000)) AS seed(id, balance)
      WHERE NOT EXISTS (SELECT 1 FROM demo_accounts)
   ON CONFLICT (id) DO NOTHING`,
  `INSERT INTO demo_stock (sku, available)
     SELECT sku, available FROM (VALUES ('widget', 100), ('gadget', 100)) AS seed(sku, available)
      WHERE NOT EXISTS (SELECT 1 FROM demo_stock)
   ON CONFLICT (sku) DO NOTHING`,
];

/**
 * Creates the demo's tables if missing and, when `seed` is set, fills the empty ones. Safe to run
 * from several demo processes at once.
 */
export async function installSchema(pool: Pool, ddl: string[], seed: boolean): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalog; serialize the installers
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('txc-demo-schema'))`);
    for (const sql of ddl) await client.query(sql);
    if (seed) for (const sql of SEED_SQL) await client.query(sql);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
