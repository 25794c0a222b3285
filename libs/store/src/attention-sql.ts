/** The attention states (docs/operator-api.md) in SQL, over a transaction row aliased `t`. */

/** An in-flight transaction one of whose participants' lease lapsed (`t` is the transaction). */
export const WAITING_SQL = `EXISTS (SELECT 1 FROM txc_participants p WHERE p.name = ANY(t.participants)
  AND p.ttl_seconds IS NOT NULL AND p.last_seen_at < now() - make_interval(secs => p.ttl_seconds))`;
/**
 * A branch waiting out the backoff after a failed attempt (a prepared message's check not yet asked
 * has its first ask scheduled the same way, but has failed nothing: it stays `pending`).
 */
export const RETRYING_SQL = `EXISTS (SELECT 1 FROM txc_branches b WHERE b.transaction_id = t.id AND b.retry_at IS NOT NULL
  AND b.status <> 'pending')`;

/** The attention state of transaction `t` (docs/operator-api.md), computed in the query that lists it. */
export const ATTENTION_SQL = `CASE
  WHEN t.status = 'failed' THEN 'failed'
  WHEN t.status IN ('committed', 'aborted') THEN 'done'
  WHEN ${WAITING_SQL} THEN 'waiting'
  WHEN t.status = 'aborting' THEN 'compensating'
  WHEN ${RETRYING_SQL} THEN 'retrying'
  ELSE 'healthy' END`;
