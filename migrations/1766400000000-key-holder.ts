import type { MigrationInterface, QueryRunner } from 'typeorm';
import { readMigrationSql } from './sql-files';

/**
 * `txc_idempotency_keys.holder`: the coordinator instance whose request claimed the key. A repeat
 * of a request whose key is still unanswered learns from it whether the first request's process is
 * dead (its instance is), and answers at once rather than after the age at which a claim of a live
 * process can no longer be in progress. Null for keys claimed before this migration: those keep
 * the age rule. `txc_apply` records the holder of the key a create claims; its text is in
 * `sql/1766400000000-key-holder/`.
 */
export class KeyHolder1766400000000 implements MigrationInterface {
  name = 'KeyHolder1766400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE txc_idempotency_keys ADD COLUMN holder text`);
    await q.query(readMigrationSql('1766400000000-key-holder', 'txc_apply'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(readMigrationSql('1766300000000-abort-before-any-decision', 'txc_apply'));
    await q.query(`ALTER TABLE txc_idempotency_keys DROP COLUMN holder`);
  }
}
