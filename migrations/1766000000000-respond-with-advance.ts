import type { MigrationInterface, QueryRunner } from 'typeorm';
import { readMigrationSql } from './sql-files';

/**
 * An `advance` may carry the first response of an Idempotency-Key (`respond`), stored by the same
 * statement only if the advance applied: a start that waited for its transaction to settle stores
 * its answer with the settling write instead of in a flush of its own after it. The function's text
 * is `sql/1766000000000-respond-with-advance/txc_apply.sql`.
 */
export class RespondWithAdvance1766000000000 implements MigrationInterface {
  name = 'RespondWithAdvance1766000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(readMigrationSql('1766000000000-respond-with-advance', 'txc_apply'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(readMigrationSql('1765900000000-key-claim-without-lock', 'txc_apply'));
  }
}
