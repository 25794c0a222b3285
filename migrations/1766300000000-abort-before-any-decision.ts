import type { MigrationInterface, QueryRunner } from 'typeorm';
import { readMigrationSql } from './sql-files';

/** `txc_apply` again, unchanged: the next commit's diff of this copy is the change. */
export class AbortBeforeAnyDecision1766300000000 implements MigrationInterface {
  name = 'AbortBeforeAnyDecision1766300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(readMigrationSql('1766300000000-abort-before-any-decision', 'txc_apply'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(readMigrationSql('1766100000000-abort-before-commit', 'txc_apply'));
  }
}
