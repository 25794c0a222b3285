import type { Pool } from 'pg';
import { FINAL_STATUSES } from '#contracts';

/** What one {@link purgeFinishedBatch} deleted. */
export interface PurgedRows {
  transactions: number;
  branches: number;
  events: number;
  idempotencyKeys: number;
}

/**
 * Deletes up to `limit` finished transactions (committed or aborted) last updated before `before`,
 * with their branches, events and idempotency keys, in one statement (one short transaction).
 *
 * Precondition: none; safe to run from several instances at once. `failed` and in-flight
 * transactions are never touched: a failed one waits for an operator, whatever its age.
 * Locks: the chosen transaction rows are locked with SKIP LOCKED (a row another session holds is
 * left for the next batch, nobody waits on the purge), and the batch's rows only for as long as the
 * statement runs; `limit` keeps that short. The oldest go first (`txc_transactions_updated`), and
 * the child rows are found by their primary keys (and `txc_idempotency_keys_transaction`).
 */
export async function purgeFinishedBatch(pool: Pool, before: Date, limit: number): Promise<PurgedRows> {
  const { rows } = await pool.query<{ t: number; b: number; e: number; k: number }>(
    `WITH doomed AS (
       SELECT id FROM txc_transactions
        WHERE updated_at < $1 AND status = ANY($3::text[])
        ORDER BY updated_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED
     ), b AS (
       DELETE FROM txc_branches WHERE transaction_id IN (SELECT id FROM doomed) RETURNING 1
     ), e AS (
       DELETE FROM txc_events WHERE transaction_id IN (SELECT id FROM doomed) RETURNING 1
     ), k AS (
       DELETE FROM txc_idempotency_keys WHERE transaction_id IN (SELECT id FROM doomed) RETURNING 1
     ), t AS (
       DELETE FROM txc_transactions WHERE id IN (SELECT id FROM doomed) RETURNING 1
     )
     SELECT (SELECT count(*) FROM t)::int AS t, (SELECT count(*) FROM b)::int AS b,
            (SELECT count(*) FROM e)::int AS e, (SELECT count(*) FROM k)::int AS k`,
    [before, limit, FINAL_STATUSES],
  );
  const r = rows[0];
  return { transactions: r.t, branches: r.b, events: r.e, idempotencyKeys: r.k };
}

/**
 * Deletes up to `limit` alerts raised before `before` and delivered (an undelivered one is still
 * being retried to the webhook), in one statement. An overdue transaction's alert stays while the
 * transaction exists: its key is what keeps the alert from being raised again every sweep.
 */
export async function purgeAlertsBatch(pool: Pool, before: Date, limit: number): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM txc_alerts WHERE id IN (
       SELECT a.id FROM txc_alerts a
        WHERE a.created_at < $1 AND a.delivered_at IS NOT NULL
          AND (a.kind <> 'transaction.overdue'
               OR NOT EXISTS (SELECT 1 FROM txc_transactions t WHERE t.id = a.payload->>'transactionId'))
        ORDER BY a.created_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED)`,
    [before, limit],
  );
  return rowCount ?? 0;
}
