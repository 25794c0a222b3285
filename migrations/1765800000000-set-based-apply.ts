import type { MigrationInterface, QueryRunner } from 'typeorm';
import { readMigrationSql } from './sql-files';

/**
 * `txc_apply` applies the common ops of a batch set-based: when no transaction appears twice in the
 * batch, every create without an Idempotency-Key and every advance without new branches is written by
 * one statement each (transactions, branches and events together) instead of four statements per op.
 * Results and effects are the same as the op-by-op loop's, which still handles the other ops, and
 * every op of a batch that touches one transaction twice (their order matters).
 * The function's text is `sql/1765800000000-set-based-apply/txc_apply.sql`.
 */
export class SetBasedApply1765800000000 implements MigrationInterface {
  name = 'SetBasedApply1765800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(readMigrationSql('1765800000000-set-based-apply', 'txc_apply'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      readMigrationSql('1763800000000-initial-schema', 'txc_apply').replace(
        'CREATE FUNCTION',
        'CREATE OR REPLACE FUNCTION',
      ),
    );
  }
}
