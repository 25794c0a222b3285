import type { MigrationInterface, QueryRunner } from 'typeorm';
import { readMigrationSql } from './sql-files';

/**
 * An abort flagged in the log (by an instance other than the owner) goes before a commit decided
 * after it: an advance that would set `decision = 'commit'` (or register a branch) on a transaction
 * whose abort is flagged and undecided is not applied, and answers `abort-first`, so the owner takes
 * the abort first and the operator's accepted abort is never overtaken. The flag is cleared by the
 * step that records the abort (`operator.abort`), not by a step that begins aborting (or ends
 * aborted) for another reason, so who asked and why is always written. The function's text is
 * `sql/1766100000000-abort-before-commit/txc_apply.sql`.
 */
export class AbortBeforeCommit1766100000000 implements MigrationInterface {
  name = 'AbortBeforeCommit1766100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(readMigrationSql('1766100000000-abort-before-commit', 'txc_apply'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(readMigrationSql('1766000000000-respond-with-advance', 'txc_apply'));
  }
}
