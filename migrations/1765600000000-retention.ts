import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Retention (`RETENTION_DAYS`) deletes a finished transaction's idempotency keys with it: this
 * index finds them by transaction, where the purge would otherwise scan every key per batch.
 * Cost: one index entry per transaction started with an `Idempotency-Key` (none without one).
 */
export class Retention1765600000000 implements MigrationInterface {
  name = 'Retention1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX txc_idempotency_keys_transaction ON txc_idempotency_keys (transaction_id) WHERE transaction_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX txc_idempotency_keys_transaction`);
  }
}
