import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * API keys created through the admin API (only a SHA-256 hash of the secret is kept; keys from
 * `API_KEYS` never reach the database), and an index on `updated_at` so a live-stream client that
 * reconnects with an id this instance no longer buffers is caught up from the log; `abort_note`
 * carries the actor and reason of an abort flagged for the instance that owns the transaction.
 */
export class AccessAndStream1764400000000 implements MigrationInterface {
  name = 'AccessAndStream1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE txc_api_keys (
        name        text PRIMARY KEY,
        role        text NOT NULL CHECK (role IN ('viewer', 'client', 'participant', 'operator', 'admin')),
        secret_hash text NOT NULL UNIQUE,
        created_by  text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX txc_transactions_updated ON txc_transactions (updated_at)`);
    // who asked for an abort flagged for another instance, and why: written to the log by whoever acts on it
    await q.query(`ALTER TABLE txc_transactions ADD COLUMN abort_note jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE txc_transactions DROP COLUMN abort_note`);
    await q.query(`DROP INDEX txc_transactions_updated`);
    await q.query(`DROP TABLE txc_api_keys`);
  }
}
