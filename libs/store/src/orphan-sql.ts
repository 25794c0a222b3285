/** The sweeper's query for in-flight transactions nobody is driving, and how it is run. */
import { ACTIVE_SQL } from './attention-sql';

/**
 * Opens the transaction the query runs in. Plain index scans, not bitmap scans: every step of an
 * owned transaction leaves an index entry whose deadline then passes, and only a plain scan marks
 * such an entry dead when it finds its row version gone, so the next sweep skips it; a bitmap scan
 * reads it again on every sweep until a vacuum. Sequential scans are off so that no estimate (a
 * young table has no statistics) reads the whole log.
 */
export const ORPHAN_SCAN_BEGIN = 'BEGIN READ ONLY; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off';

/**
 * Parameters: $1 dead owners, $2 the limit per half, $3 the stuck threshold in ms; with `stuck`,
 * also $4 this instance and $5 the grace for its own rows. Rows: id, owner, stalled.
 *
 * Each half reads only in-flight rows through a partial index (due and unscheduled: the wake_at
 * index; owned: the owner or wake_at index), so a sweep costs what is in flight, not what the log
 * holds. The stuck half sorts behind a fence (OFFSET 0): with its own ORDER BY updated_at LIMIT, the
 * planner walked the updated_at index from the oldest row of the whole log, a read per transaction
 * ever written on every sweep.
 */
export function orphanScanSql(stuck: boolean): string {
  const stalled = `updated_at < now() - make_interval(secs => $3::float8 / 1000)`;
  const halves = [
    `SELECT id, owner, ${stalled} AS stalled FROM txc_transactions
       WHERE status IN ${ACTIVE_SQL} AND owner IS NULL AND wake_at <= now() ORDER BY wake_at LIMIT $2`,
    `SELECT id, owner, ${stalled} AS stalled FROM txc_transactions
       WHERE owner = ANY($1::text[]) AND status IN ${ACTIVE_SQL} LIMIT $2`,
  ];
  if (stuck) {
    halves.push(
      `SELECT id, owner, ${stalled} AS stalled FROM txc_transactions
         WHERE status IN ${ACTIVE_SQL} AND owner IS NULL AND wake_at IS NULL LIMIT $2`,
      `SELECT id, owner, stalled FROM (
         SELECT id, owner, updated_at, ${stalled} AS stalled FROM txc_transactions
          WHERE owner IS NOT NULL AND status IN ${ACTIVE_SQL}
            AND updated_at < now() - make_interval(secs => (CASE WHEN owner = $4 THEN $5 ELSE $3 END)::float8 / 1000)
         OFFSET 0) owned ORDER BY updated_at LIMIT $2`,
    );
  }
  return halves.map((h) => `(${h})`).join(' UNION ');
}
