import type { MigrationInterface, QueryRunner } from 'typeorm';
import { readMigrationSql } from './sql-files';

/**
 * `txc_apply` claims a create's Idempotency-Key without locking a live key's row: a repeat of the
 * key (`key-taken`) only reads it, where `ON CONFLICT ... DO UPDATE ... WHERE expired` locked the
 * row until the repeat's batch committed, so the first request's `respond` could wait on it (or
 * deadlock with a batch holding the crossed pair). An expired key is still taken over, by an update
 * guarded on its expiry. The function's text is `sql/1765900000000-key-claim-without-lock/txc_apply.sql`.
 */
export class KeyClaimWithoutLock1765900000000 implements MigrationInterface {
  name = 'KeyClaimWithoutLock1765900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(readMigrationSql('1765900000000-key-claim-without-lock', 'txc_apply'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(readMigrationSql('1765800000000-set-based-apply', 'txc_apply'));
  }
}
