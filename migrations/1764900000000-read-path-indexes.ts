import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Two indexes for the operator API's reads on a large log (bench/RESULTS.md, "Read path with
 * 1,000,000 transactions"):
 *
 * - `txc_transactions_id_prefix`: `GET /v1/transactions?q=` matches an id prefix with `LIKE 'q%'`.
 *   The primary key serves that only under the C collation; under any other (C.UTF-8, en_US.UTF-8)
 *   every search was a sequential scan of the log (0.1 s alone at a million rows, seconds under
 *   load). `text_pattern_ops` orders by bytes whatever the collation. Cost: one more index entry
 *   per transaction created; the id never changes, so updates stay HOT.
 * - `txc_branches_retrying`: the branches waiting out a backoff (`retry_at` set), the "retrying"
 *   attention state. Without it, telling whether a transaction is retrying planned a sequential
 *   scan of every branch (a hashed subplan) as soon as a page held one in-flight transaction.
 *   Cost: nothing on the happy path (`retry_at` stays NULL, branch updates stay HOT); a branch
 *   update that sets or clears `retry_at` is no longer HOT.
 *
 * Built inside the migration's transaction (not CONCURRENTLY): writes to the two tables wait while
 * it builds, about a second per million transactions.
 */
export class ReadPathIndexes1764900000000 implements MigrationInterface {
  name = 'ReadPathIndexes1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX txc_transactions_id_prefix ON txc_transactions (id text_pattern_ops)`);
    await q.query(`CREATE INDEX txc_branches_retrying ON txc_branches (transaction_id) WHERE retry_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX txc_branches_retrying`);
    await q.query(`DROP INDEX txc_transactions_id_prefix`);
  }
}
