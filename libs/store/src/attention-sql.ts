/** The attention states (docs/operator-api.md) in SQL, over a transaction row aliased `t`. */
import type { Attention } from '#contracts';

/** The statuses a transaction is driven in (not final), as an SQL list. */
export const ACTIVE_SQL = `('pending', 'prepared', 'running', 'committing', 'aborting')`;

/**
 * An in-flight transaction one of whose registered participants has no live instance (`t` is the
 * transaction): none that has not left and whose own lease, if it has one, has not lapsed. The
 * rule of the transaction's page (ParticipantDirectory.stale): the participant row's own lease
 * fields are whatever its last registration said, not whether any instance is up.
 */
export const WAITING_SQL = `EXISTS (SELECT 1 FROM txc_participants p WHERE p.name = ANY(t.participants)
  AND NOT EXISTS (SELECT 1 FROM txc_participant_instances i WHERE i.participant = p.name AND i.left_at IS NULL
    AND (i.ttl_seconds IS NULL OR i.last_seen_at >= now() - make_interval(secs => i.ttl_seconds))))`;
/**
 * A branch retrying: waiting out the backoff after a failed attempt, or making a repeat of its phase
 * (the attempt before it failed: a retry in flight is still retrying, not healthy work). Waits that
 * follow no failed attempt are not retrying: a call deferred before it was ever delivered (its
 * participant's limit, an open circuit, no live instance) leaves its attempt count at 0, and a
 * prepared message's check not yet asked has its first ask scheduled the same way (it stays `pending`).
 */
export const RETRYING_SQL = `EXISTS (SELECT 1 FROM txc_branches b WHERE b.transaction_id = t.id AND b.status <> 'pending'
  AND ((b.retry_at IS NOT NULL AND b.attempt > 0) OR (b.in_flight AND b.attempt > 1)))`;

/** The attention state of transaction `t` (docs/operator-api.md), computed in the query that lists it. */
export const ATTENTION_SQL = `CASE
  WHEN t.status = 'failed' THEN 'failed'
  WHEN t.status IN ('committed', 'aborted') THEN 'done'
  WHEN ${WAITING_SQL} THEN 'waiting'
  WHEN t.status = 'aborting' THEN 'compensating'
  WHEN ${RETRYING_SQL} THEN 'retrying'
  ELSE 'healthy' END`;

/** The statuses each attention state holds: a list filtered on a state reads a page per status. */
export const ATTENTION_STATUSES: Record<Attention, string[]> = {
  failed: ['failed'],
  done: ['committed', 'aborted'],
  waiting: ['pending', 'prepared', 'running', 'committing', 'aborting'],
  compensating: ['aborting'],
  retrying: ['pending', 'prepared', 'running', 'committing'],
  healthy: ['pending', 'prepared', 'running', 'committing'],
};

/** The same states as filters, each led by a status condition an index serves. */
export const ATTENTION_FILTER: Record<Attention, string> = {
  failed: `t.status = 'failed'`,
  done: `t.status IN ('committed', 'aborted')`,
  waiting: `t.status IN ${ACTIVE_SQL} AND ${WAITING_SQL}`,
  compensating: `t.status = 'aborting' AND NOT ${WAITING_SQL}`,
  retrying: `t.status IN ('pending', 'prepared', 'running', 'committing') AND NOT ${WAITING_SQL} AND ${RETRYING_SQL}`,
  healthy: `t.status IN ('pending', 'prepared', 'running', 'committing') AND NOT ${WAITING_SQL} AND NOT ${RETRYING_SQL}`,
};
