import type { Pool } from 'pg';
import type { Attention, Protocol, TransactionStatus } from '#contracts';
import { ATTENTION_SQL } from './attention-sql';

/** The overview figures of a window, as the store reads them (the API shapes them). */
export interface StatsRows {
  started: { at: Date; n: number }[];
  settled: { at: Date; status: TransactionStatus; n: number }[];
  inFlight: { protocol: Protocol; status: TransactionStatus; n: number }[];
  attention: { attention: Attention; n: number }[];
  duration: { count: number; p50: number | null; p99: number | null };
  failing: { participant: string; failures: number; calls: number }[];
  topErrors: { participant: string; phase: string; error: string; transactions: number; example: string }[];
}

/** Call figures look at the calls of at most this many transactions touched in the window (newest first). */
export const STATS_SAMPLE = 20_000;

/**
 * A call that got no answer or an error status, or a half-open probe that failed. An unknown outcome
 * that came with a 2xx is an answer (a message's check saying "pending"), not a failure.
 */
const FAILED_CALL = `(e.type = 'call.deferred' OR (e.outcome = 'unknown'
  AND coalesce((e.detail->>'httpStatus')::int, 0) NOT BETWEEN 200 AND 299))`;

/** An event that records a call made: an answered or failed attempt, or a failed half-open probe (a deferral that was a call). */
const CALL_MADE = `(e.type = 'call.finished' OR (e.type = 'call.deferred' AND e.detail->>'reason' = 'probe-failed'))`;

/**
 * Reads the overview of the window from `from` to now in buckets of `bucketSeconds`. Each query is
 * led by an indexed column (created_at, updated_at, status), so the cost follows the window's
 * traffic, not the size of the log.
 */
export async function readStats(pool: Pool, from: Date, bucketSeconds: number): Promise<StatsRows> {
  const bucket = `${bucketSeconds} seconds`;
  const sample = `(SELECT id FROM txc_transactions WHERE updated_at >= $1 ORDER BY updated_at DESC LIMIT ${STATS_SAMPLE})`;
  const [started, settled, inFlight, attention, duration, failing, topErrors] = await Promise.all([
    pool.query(
      `SELECT date_bin($2::interval, created_at, $1) AS at, count(*)::int AS n FROM txc_transactions
        WHERE created_at >= $1 GROUP BY 1`,
      [from, bucket],
    ),
    pool.query(
      `SELECT date_bin($2::interval, updated_at, $1) AS at, status, count(*)::int AS n FROM txc_transactions
        WHERE updated_at >= $1 AND status IN ('committed', 'aborted', 'failed') GROUP BY 1, 2`,
      [from, bucket],
    ),
    pool.query(
      `SELECT protocol, status, count(*)::int AS n FROM txc_transactions
        WHERE status IN ('pending', 'prepared', 'running', 'committing', 'aborting') GROUP BY 1, 2 ORDER BY 1, 2`,
    ),
    // `failed` needs no row but its status (an index-only count); the other states read the in-flight rows
    pool.query(
      `SELECT 'failed' AS attention, count(*)::int AS n FROM txc_transactions WHERE status = 'failed' HAVING count(*) > 0
       UNION ALL
       SELECT ${ATTENTION_SQL} AS attention, count(*)::int AS n FROM txc_transactions t
        WHERE t.status IN ('pending', 'prepared', 'running', 'committing', 'aborting') GROUP BY 1`,
    ),
    pool.query(
      `SELECT count(*)::int AS count,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at)) * 1000 AS p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at)) * 1000 AS p99
         FROM txc_transactions WHERE updated_at >= $1 AND status IN ('committed', 'aborted', 'failed')`,
      [from],
    ),
    pool.query(
      `SELECT b.participant, count(*) FILTER (WHERE ${FAILED_CALL})::int AS failures, count(*)::int AS calls
         FROM txc_events e JOIN txc_branches b ON b.transaction_id = e.transaction_id AND b.id = e.branch_id
        WHERE e.transaction_id IN ${sample} AND ${CALL_MADE} AND e.at >= $1
        GROUP BY 1 HAVING count(*) FILTER (WHERE ${FAILED_CALL}) > 0 ORDER BY 2 DESC, 1 LIMIT 10`,
      [from],
    ),
    // what failed and stuck transactions have in common: participant, phase and error text
    pool.query(
      `SELECT b.participant, e.phase, e.detail->>'error' AS error, count(DISTINCT e.transaction_id)::int AS transactions,
              min(e.transaction_id) AS example
         FROM txc_events e JOIN txc_branches b ON b.transaction_id = e.transaction_id AND b.id = e.branch_id
        WHERE e.transaction_id IN (SELECT id FROM txc_transactions
                WHERE status IN ('failed', 'prepared', 'running', 'committing', 'aborting') ORDER BY updated_at DESC LIMIT ${STATS_SAMPLE})
          AND e.type = 'call.finished' AND e.detail ? 'error'
        GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2 LIMIT 10`,
    ),
  ]);
  const d = duration.rows[0];
  return {
    started: started.rows,
    settled: settled.rows,
    inFlight: inFlight.rows,
    attention: attention.rows,
    duration: {
      count: d.count,
      p50: d.p50 === null ? null : Number(d.p50),
      p99: d.p99 === null ? null : Number(d.p99),
    },
    failing: failing.rows,
    topErrors: topErrors.rows,
  };
}
