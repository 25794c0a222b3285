import type { MigrationInterface, QueryRunner } from 'typeorm';
import { readMigrationSql } from './sql-files';

/**
 * An abort flagged in the log goes before any decision taken after it, not only a commit: an
 * advance that would decide abort for another reason (a branch said no, the deadline passed)
 * without recording the operator's abort answers `abort-first` too. The owner then takes the
 * flagged abort first, and the step that ends the transaction never lands before the one that
 * records who asked and why (a reader that saw `aborted` saw the operator's abort with it). The
 * functions' text is in `sql/1766300000000-abort-before-any-decision/`. A step records the abort
 * when it carries `transaction.abort-requested` (every abort step does) or `operator.abort`
 * (`txc_records_abort`): a flag whose note could not be read still ends, with no one named.
 */
export class AbortBeforeAnyDecision1766300000000 implements MigrationInterface {
  name = 'AbortBeforeAnyDecision1766300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(readMigrationSql('1766300000000-abort-before-any-decision', 'txc_records_abort'));
    await q.query(readMigrationSql('1766300000000-abort-before-any-decision', 'txc_apply'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(readMigrationSql('1766100000000-abort-before-commit', 'txc_apply'));
    await q.query('DROP FUNCTION txc_records_abort(jsonb)');
  }
}
