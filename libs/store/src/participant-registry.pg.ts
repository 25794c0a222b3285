import type { Pool } from 'pg';
import { inTransaction } from './pg-transaction';

/** A registration as the registry stores it: the participant's settings and one instance. */
export interface InstanceRegistration {
  name: string;
  instanceId: string;
  url: string;
  transport: string;
  ttlSeconds: number | null;
  secret: string | null;
  metadata: Record<string, unknown>;
  maxConcurrency: number | null;
  ratePerSecond: number | null;
  autoReplay: boolean;
}

/** An alert as its webhook receives it (`id` is its unique key). */
export interface AlertRecord {
  id: string;
  kind: string;
  payload: Record<string, unknown>;
  attempts: number;
}

/**
 * Participant instances, their leases and published circuit states, and the alert outbox, in
 * Postgres (ADR 0006). Each method is one statement (or one transaction) whose guard makes it safe
 * for several coordinators to run at once.
 */
export class PgParticipantRegistry {
  constructor(private readonly pool: Pool) {}

  /**
   * Upserts the participant's settings and the instance, in one transaction. The instance is up
   * again (no longer draining, lease renewed now); its published circuit state is kept. A new
   * participant is healthy from now: what fails after it did not fail before a recovery, so
   * `autoReplay` leaves it alone. Returns whether the participant or the instance is new.
   */
  async register(r: InstanceRegistration): Promise<{ created: boolean }> {
    return inTransaction(this.pool, 'BEGIN', async (client) => {
      const p = await client.query<{ inserted: boolean }>(
        `INSERT INTO txc_participants (name, url, transport, ttl_seconds, secret, metadata, max_concurrency,
                                       rate_per_second, auto_replay, healthy_since)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
         ON CONFLICT (name) DO UPDATE SET url = EXCLUDED.url, transport = EXCLUDED.transport,
           ttl_seconds = EXCLUDED.ttl_seconds, secret = EXCLUDED.secret, metadata = EXCLUDED.metadata,
           max_concurrency = EXCLUDED.max_concurrency, rate_per_second = EXCLUDED.rate_per_second,
           auto_replay = EXCLUDED.auto_replay, updated_at = now(), last_seen_at = now()
         RETURNING (xmax = 0) AS inserted`,
        [
          r.name,
          r.url,
          r.transport,
          r.ttlSeconds,
          r.secret,
          JSON.stringify(r.metadata),
          r.maxConcurrency,
          r.ratePerSecond,
          r.autoReplay,
        ],
      );
      const i = await client.query<{ inserted: boolean }>(
        `INSERT INTO txc_participant_instances (participant, instance_id, url, transport, ttl_seconds, metadata)
           VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (participant, instance_id) DO UPDATE SET url = EXCLUDED.url, transport = EXCLUDED.transport,
           ttl_seconds = EXCLUDED.ttl_seconds, metadata = EXCLUDED.metadata, left_at = NULL, last_seen_at = now()
         RETURNING (xmax = 0) AS inserted`,
        [r.name, r.instanceId, r.url, r.transport, r.ttlSeconds, JSON.stringify(r.metadata)],
      );
      return { created: p.rows[0].inserted || i.rows[0].inserted };
    });
  }

  /**
   * Renews the lease of instance `instanceId`, or without one of the one instance registered without
   * one (named by its URL). A draining instance is not renewed. `participant` when the participant
   * is unknown, `instance` when no instance matched (the caller should register again), `left` when
   * the instance left or was removed (it stays out until it registers again), `ambiguous` (with how
   * many) when no `instanceId` is given and several instances are named by their URLs: renewing them
   * all would keep a dead one's lease alive with a live one's heartbeat. Only a renewal writes
   * anything, the participant's `lastSeenAt` included.
   */
  async heartbeat(
    name: string,
    instanceId: string | undefined,
  ): Promise<'ok' | 'participant' | 'instance' | 'left' | { ambiguous: number }> {
    const { rows } = await this.pool.query<{ known: boolean; renewed: boolean; matched: number }>(
      `WITH matched AS (
         SELECT instance_id, left_at FROM txc_participant_instances
          WHERE participant = $1 AND (instance_id = $2 OR ($2 IS NULL AND instance_id = url))),
       renewed AS (
         UPDATE txc_participant_instances i SET last_seen_at = now() FROM matched m
          WHERE i.participant = $1 AND i.instance_id = m.instance_id AND m.left_at IS NULL
            AND (SELECT count(*) FROM matched) = 1
         RETURNING 1),
       seen AS (
         UPDATE txc_participants SET last_seen_at = now() WHERE name = $1 AND EXISTS (SELECT 1 FROM renewed) RETURNING 1)
       SELECT EXISTS (SELECT 1 FROM txc_participants WHERE name = $1) AS known,
              EXISTS (SELECT 1 FROM renewed) AS renewed, (SELECT count(*)::int FROM matched) AS matched`,
      [name, instanceId ?? null],
    );
    const { known, renewed, matched } = rows[0];
    if (!known) return 'participant';
    if (renewed) return 'ok';
    if (matched > 1) return { ambiguous: matched };
    return matched ? 'left' : 'instance';
  }

  /** Marks an instance as leaving (draining); false when there is no such instance. */
  async leave(name: string, instanceId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE txc_participant_instances SET left_at = coalesce(left_at, now())
        WHERE participant = $1 AND instance_id = $2`,
      [name, instanceId],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Deletes a participant and its instances; false when it was not registered. */
  async remove(name: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `WITH instances AS (DELETE FROM txc_participant_instances WHERE participant = $1)
       DELETE FROM txc_participants WHERE name = $1`,
      [name],
    );
    return (rowCount ?? 0) > 0;
  }

  /**
   * Publishes a circuit state seen by a coordinator. Guarded: answers the state it replaced only to
   * the write that changed it (null otherwise, or for an unknown instance), so of several
   * coordinators seeing the same change, one acts on it (an alert).
   */
  async publishCircuit(name: string, instanceId: string, state: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ before: string }>(
      `UPDATE txc_participant_instances i SET circuit = $3, circuit_changed_at = now()
         FROM (SELECT circuit AS before FROM txc_participant_instances
                WHERE participant = $1 AND instance_id = $2 FOR UPDATE) old
        WHERE i.participant = $1 AND i.instance_id = $2 AND old.before <> $3
        RETURNING old.before`,
      [name, instanceId, state],
    );
    return rows[0]?.before ?? null;
  }

  /**
   * Records which participants are healthy now (an instance not draining, lease live, circuit
   * published closed): `healthy_since` is set when one becomes healthy and cleared when it stops
   * being so. Only rows whose health changed are written.
   */
  async updateHealth(): Promise<void> {
    await this.pool.query(
      `UPDATE txc_participants p SET healthy_since = CASE WHEN h.healthy THEN now() END
         FROM (SELECT q.name, EXISTS (
                 SELECT 1 FROM txc_participant_instances i
                  WHERE i.participant = q.name AND i.left_at IS NULL AND i.circuit = 'closed'
                    AND (i.ttl_seconds IS NULL OR i.last_seen_at > now() - make_interval(secs => i.ttl_seconds))
               ) AS healthy FROM txc_participants q) h
        WHERE h.name = p.name AND (p.healthy_since IS NULL) = h.healthy`,
    );
  }

  /** Participants with `autoReplay`, healthy now, with transactions that failed before they became healthy. */
  async autoReplayReady(): Promise<string[]> {
    const { rows } = await this.pool.query<{ name: string }>(
      `SELECT p.name FROM txc_participants p
        WHERE p.auto_replay AND p.healthy_since IS NOT NULL
          AND EXISTS (SELECT 1 FROM txc_transactions t WHERE t.status = 'failed'
                         AND t.participants @> ARRAY[p.name] AND t.updated_at < p.healthy_since)`,
    );
    return rows.map((r) => r.name);
  }

  /**
   * Participants with `autoReplay` that nothing would ever probe: not healthy, an instance up whose
   * published circuit has not been closed for `halfOpenMs` (its half-open probe is due), `failed`
   * transactions, and none in flight. Their failed transactions are all there is to call them with,
   * so one of them is replayed as the probe.
   */
  async autoReplayProbeDue(halfOpenMs: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ name: string }>(
      `SELECT p.name FROM txc_participants p
        WHERE p.auto_replay AND p.healthy_since IS NULL
          AND EXISTS (SELECT 1 FROM txc_participant_instances i
                       WHERE i.participant = p.name AND i.left_at IS NULL AND i.circuit <> 'closed'
                         AND coalesce(i.circuit_changed_at, i.registered_at) < now() - make_interval(secs => $1::float8 / 1000)
                         AND (i.ttl_seconds IS NULL OR i.last_seen_at > now() - make_interval(secs => i.ttl_seconds)))
          AND EXISTS (SELECT 1 FROM txc_transactions t WHERE t.status = 'failed' AND t.participants @> ARRAY[p.name])
          AND NOT EXISTS (SELECT 1 FROM txc_transactions t
                           WHERE t.status IN ('pending', 'running', 'committing', 'aborting')
                             AND t.participants @> ARRAY[p.name])`,
      [halfOpenMs],
    );
    return rows.map((r) => r.name);
  }

  /**
   * `failed` transactions involving `participant` that failed before it last became healthy (or,
   * with `probe`, any of them: see {@link autoReplayProbeDue}), oldest first, at most `limit`,
   * replayed automatically (an `operator.replay` by `actor`) fewer than `maxReplays` times: one that
   * keeps failing is left to an operator.
   */
  async autoReplayable(
    participant: string,
    actor: string,
    maxReplays: number,
    limit: number,
    probe = false,
  ): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT t.id FROM txc_transactions t JOIN txc_participants p ON p.name = $1
        WHERE t.status = 'failed' AND t.participants @> ARRAY[$1::text] AND ($5 OR t.updated_at < p.healthy_since)
          AND (SELECT count(*) FROM txc_events e
                WHERE e.transaction_id = t.id AND e.type = 'operator.replay' AND e.detail->>'actor' = $2) < $3
        ORDER BY t.created_at, t.id LIMIT $4`,
      [participant, actor, maxReplays, limit, probe],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Participants with instances whose every instance has expired or left (the last one leaving
   * counts: nothing is left to call), the last lease having lapsed within the last hour, with when.
   */
  async lapsedParticipants(): Promise<{ name: string; lapsedAt: Date }[]> {
    const { rows } = await this.pool.query<{ name: string; lapsed_at: Date }>(
      `SELECT participant AS name,
              max(coalesce(left_at, last_seen_at + make_interval(secs => ttl_seconds))) AS lapsed_at
         FROM txc_participant_instances
        GROUP BY participant
       HAVING bool_and(left_at IS NOT NULL OR (ttl_seconds IS NOT NULL
                AND last_seen_at + make_interval(secs => ttl_seconds) < now()))
          AND max(coalesce(left_at, last_seen_at + make_interval(secs => ttl_seconds))) > now() - interval '1 hour'`,
    );
    return rows.map((r) => ({ name: r.name, lapsedAt: r.lapsed_at }));
  }

  /** Forgets instances that expired or left more than an hour ago. */
  async pruneInstances(): Promise<number> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM txc_participant_instances
        WHERE left_at < now() - interval '1 hour'
           OR (ttl_seconds IS NOT NULL AND last_seen_at + make_interval(secs => ttl_seconds) < now() - interval '1 hour')`,
    );
    return rowCount ?? 0;
  }

  /** Every registered instance (up, expired or draining, until pruned): its participant and instance id. */
  async instanceIds(): Promise<{ participant: string; instanceId: string }[]> {
    const { rows } = await this.pool.query<{ participant: string; instance_id: string }>(
      'SELECT participant, instance_id FROM txc_participant_instances',
    );
    return rows.map((r) => ({ participant: r.participant, instanceId: r.instance_id }));
  }

  /**
   * The ids of coordinators whose heartbeat is younger than `ttlMs`: every role calls participants
   * (an api instance those of the interactive calls it drives). Those that drive transactions come
   * first, so that they take the remainder of a divided limit, sorted by id within each kind.
   */
  async liveCoordinators(ttlMs: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT id FROM txc_instances
        WHERE heartbeat_at >= now() - make_interval(secs => $1::float8 / 1000) ORDER BY drives DESC, id`,
      [ttlMs],
    );
    return rows.map((r) => r.id);
  }

  /** Stores an alert unless one with the same key exists; true when stored. */
  async raiseAlert(key: string, kind: string, payload: Record<string, unknown>): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO txc_alerts (key, kind, payload) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING`,
      [key, kind, JSON.stringify(payload)],
    );
    return (rowCount ?? 0) > 0;
  }

  /**
   * Failed transactions changed within the last hour and transactions still undecided `graceMs`
   * past their deadline, each with its version (a replayed transaction that fails again is a new alert).
   */
  async alertableTransactions(graceMs: number): Promise<{ id: string; status: string; version: number }[]> {
    const { rows } = await this.pool.query<{ id: string; status: string; version: number }>(
      `SELECT id, status, version FROM txc_transactions
        WHERE status = 'failed' AND updated_at > now() - interval '1 hour'
       UNION ALL
       SELECT id, status, 0 FROM txc_transactions
        WHERE status IN ('pending', 'prepared', 'running') AND deadline < now() - make_interval(secs => $1::float8 / 1000)
        LIMIT 1000`,
      [graceMs],
    );
    return rows;
  }

  /**
   * Takes up to `limit` alerts due for delivery and holds them for `holdMs` (another coordinator
   * skips them meanwhile; one that crashed mid-delivery lets them come due again).
   */
  async claimAlerts(limit: number, holdMs: number): Promise<AlertRecord[]> {
    const { rows } = await this.pool.query<{
      key: string;
      kind: string;
      payload: Record<string, unknown>;
      attempts: number;
    }>(
      `UPDATE txc_alerts SET next_at = now() + make_interval(secs => $2::float8 / 1000)
        WHERE id IN (SELECT id FROM txc_alerts WHERE delivered_at IS NULL AND next_at <= now()
                      ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING key, kind, payload, attempts`,
      [limit, holdMs],
    );
    return rows.map((r) => ({ id: r.key, kind: r.kind, payload: r.payload, attempts: r.attempts }));
  }

  async alertDelivered(key: string): Promise<void> {
    await this.pool.query(`UPDATE txc_alerts SET delivered_at = now(), attempts = attempts + 1 WHERE key = $1`, [key]);
  }

  async alertFailed(key: string, error: string, retryInMs: number): Promise<void> {
    await this.pool.query(
      `UPDATE txc_alerts SET attempts = attempts + 1, last_error = $2,
              next_at = now() + make_interval(secs => $3::float8 / 1000)
        WHERE key = $1`,
      [key, error.slice(0, 500), retryInMs],
    );
  }
}
