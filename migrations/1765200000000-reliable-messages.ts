import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reliable messages (`protocol: "msg"`): a prepared message waits in the new status `prepared` for
 * its submit or its check, with a wake-up (the check's first ask) like any transaction in flight. The
 * due-work index is partial over the driveable statuses, so it is rebuilt with `prepared` in it: the
 * sweeper would otherwise scan the table for due prepared messages. Nothing else in the schema
 * changes: a message's check is stored as a row of `txc_branches` (id `$check`), and `txc_apply` is
 * status-agnostic.
 */
export class ReliableMessages1765200000000 implements MigrationInterface {
  name = 'ReliableMessages1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX txc_transactions_due`);
    await q.query(
      `CREATE INDEX txc_transactions_due ON txc_transactions (wake_at)
        WHERE status IN ('pending', 'prepared', 'running', 'committing', 'aborting')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX txc_transactions_due`);
    await q.query(
      `CREATE INDEX txc_transactions_due ON txc_transactions (wake_at) WHERE status IN ('pending', 'running', 'committing', 'aborting')`,
    );
  }
}
