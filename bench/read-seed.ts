/**
 * Seeds the log of the read-path bench (bench/read-path.ts) with SQL only: `generate_series` makes
 * a chunk of transactions in a temporary table, and four INSERT ... SELECT statements write their
 * rows, branches, events and Idempotency-Keys from it, in the shapes the engine writes them (the
 * event types, details and error texts of libs/protocol and the transaction driver).
 *
 * In-flight rows are parked so the coordinator never drives them while it runs: `owner` NULL and
 * `wake_at` a week ahead. The sweeper (`findOrphans` in libs/store/src/transaction-store.pg.ts)
 * takes unowned rows only when `wake_at <= now()` or `wake_at IS NULL`, and owned rows only.
 */
import type { Client } from 'pg';

/** The 20 participants, registered in txc_participants; the first ones take part more often. */
export const PARTICIPANTS = [
  'payments',
  'inventory',
  'accounts',
  'shipping',
  'orders',
  'billing',
  'ledger',
  'pricing',
  'catalog',
  'wallet',
  'notifications',
  'loyalty',
  'fraud-check',
  'tax',
  'invoicing',
  'refunds',
  'warehouse',
  'email',
  'kyc',
  'sms',
];
/** Registered with a lease that lapsed an hour ago: their in-flight transactions are `waiting`. */
export const STALE_PARTICIPANTS = ['kyc', 'sms'];

/** Call errors, as the HTTP caller words them (no answer) or as an error status reads. */
const CALL_ERRORS = [
  'HTTP 503',
  'connect ECONNREFUSED 10.0.4.17:8080',
  'Headers Timeout Error: headers timeout after 10000 ms',
  'HTTP 500',
  'other side closed',
];

const sqlText = (a: string[]) => `ARRAY[${a.map((s) => `'${s.replace(/'/g, "''")}'`).join(', ')}]::text[]`;

export interface SeedOptions {
  total: number;
  chunk: number;
  /** The log spans this many days back from now; created_at grows with the row number. */
  days: number;
  onProgress?: (done: number, total: number) => void;
}

/** The mix, so the bench can say what it seeded (fractions of all transactions). */
export const MIX = {
  protocol: { saga: 0.6, tcc: 0.2, '2pc': 0.15, '3pc': 0.05 },
  status: { inFlight: 0.0045, failed: 0.02, aborted: 0.09, committed: 0.8855 },
  /** The newest rows are in flight more often, so the first pages hold some, as on a live log. */
  newestInFlight: { rows: 500, share: 0.1 },
  threeBranches: 0.3,
  idempotencyKey: 0.1,
};

/**
 * Writes `total` transactions in chunks (one Postgres transaction each), then registers the
 * participants. The caller runs VACUUM ANALYZE afterwards. `random()` is seeded, so two seeds of
 * the same size hold the same mix.
 */
export async function seedReadLog(db: Client, o: SeedOptions): Promise<void> {
  // seeding speed only: these settings live in this session, not in the coordinator's
  await db.query(`SET synchronous_commit = off`);
  await db.query(`SET work_mem = '64MB'`);
  await db.query(`SELECT setseed(0.4242)`);
  const { rows } = await db.query<{ start: Date }>(`SELECT now() - make_interval(days => $1) AS start`, [o.days]);
  const start = rows[0].start;
  for (let from = 1; from <= o.total; from += o.chunk) {
    const to = Math.min(o.total, from + o.chunk - 1);
    await db.query('BEGIN');
    try {
      await db.query(chunkTableSql(from, to, o.total, start, o.days));
      await db.query(TRANSACTIONS_SQL);
      await db.query(BRANCHES_SQL);
      await db.query(EVENTS_SQL);
      await db.query(KEYS_SQL);
      await db.query('COMMIT');
    } catch (e) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
    o.onProgress?.(to, o.total);
  }
  await db.query(
    `INSERT INTO txc_participants (name, url, ttl_seconds, created_at, updated_at, last_seen_at)
     SELECT name, 'http://127.0.0.1:9/' || name, CASE WHEN stale THEN 30 END,
            now() - interval '40 days', now() - interval '40 days',
            CASE WHEN stale THEN now() - interval '1 hour' ELSE now() END
       FROM unnest($1::text[]) AS name, LATERAL (SELECT name = ANY($2::text[]) AS stale) s`,
    [PARTICIPANTS, STALE_PARTICIPANTS],
  );
}

// the id is a UUIDv7 of created_at (48 bits of Unix ms, then md5 bits), like the engine's uuidV7()
const MS_HEX = `lpad(to_hex((extract(epoch FROM created_at) * 1000)::bigint), 12, '0')`;
const ID_SQL = `substr(${MS_HEX}, 1, 8) || '-' || substr(${MS_HEX}, 9, 4) || '-7' || substr(h, 1, 3) || '-' ||
  (ARRAY['8', '9', 'a', 'b'])[1 + g % 4] || substr(h, 4, 3) || '-' || substr(h, 7, 12)`;

/**
 * One chunk's transactions, with everything the other statements need to write consistent rows:
 * status, branch count, participants, the branch that said no (`f`, the last one), phases, timing.
 */
function chunkTableSql(from: number, to: number, total: number, start: Date, days: number): string {
  const m = MIX;
  const p = m.protocol;
  const s = m.status;
  return `
    CREATE TEMP TABLE seed_chunk ON COMMIT DROP AS
    WITH r AS (
      SELECT g, md5(g::text) AS h, random() AS rp, random() AS rs, random() AS rn, random() AS rb,
             random() AS rstep, random() AS rj, random() AS rd, random() AS re, random() AS ri
        FROM generate_series(${from}, ${to}) AS g
    ), a AS (
      SELECT g, h, rd, re, ri,
        -- the log grows in time order, a row every (days / total), with a little jitter
        '${start.toISOString()}'::timestamptz + (g - 1) * (interval '${days} days' / ${total})
          + rj * interval '2 seconds' AS created_at,
        CASE WHEN rp < ${p.saga} THEN 'saga' WHEN rp < ${p.saga + p.tcc} THEN 'tcc'
             WHEN rp < ${p.saga + p.tcc + p['2pc']} THEN '2pc' ELSE '3pc' END AS protocol,
        -- in flight: parked ones all over the log, and one in ten of the newest (what runs now)
        CASE WHEN rs < ${s.inFlight} OR (g > ${total - m.newestInFlight.rows} AND rs < ${m.newestInFlight.share})
             THEN (ARRAY['running', 'committing', 'aborting'])[1 + g % 3]
             WHEN rs < ${s.inFlight + s.failed} THEN 'failed'
             WHEN rs < ${s.inFlight + s.failed + s.aborted} THEN 'aborted' ELSE 'committed' END AS status0,
        CASE WHEN rn < ${1 - m.threeBranches} THEN 2 ELSE 3 END AS n,
        floor(20 * power(rb, 1.6))::int AS base, 1 + floor(rstep * 6)::int AS step
        FROM r
    ), b AS (
      SELECT a.*,
        -- a saga has no commit phase: in flight it is running or aborting
        CASE WHEN protocol = 'saga' AND status0 = 'committing' THEN 'running' ELSE status0 END AS status,
        ARRAY(SELECT (${sqlText(PARTICIPANTS)})[1 + (base + k * step) % 20] FROM generate_series(0, n - 1) k) AS participants,
        CASE protocol WHEN 'saga' THEN 'action' WHEN 'tcc' THEN 'try' WHEN '2pc' THEN 'prepare' ELSE 'can-commit' END AS fwd,
        CASE protocol WHEN 'saga' THEN NULL WHEN 'tcc' THEN 'confirm' WHEN '2pc' THEN 'commit' ELSE 'do-commit' END AS done,
        CASE protocol WHEN 'saga' THEN 'compensate' WHEN 'tcc' THEN 'cancel' WHEN '2pc' THEN 'rollback' ELSE 'abort' END AS undo,
        (${sqlText(CALL_ERRORS)})[1 + floor(re * ${CALL_ERRORS.length})::int] AS err,
        (ARRAY['checkout-svc', 'billing-svc', 'ops-alice', 'anonymous'])[1 + g % 4] AS actor
        FROM a
    )
    SELECT b.*, ${ID_SQL} AS id, n - 1 AS f,
      status IN ('running', 'committing', 'aborting') AS in_flight,
      status IN ('aborted', 'failed', 'aborting') AS decision_abort,
      status IN ('running', 'committing', 'aborting') AND g % 2 = 0 AS retrying,
      ri < ${m.idempotencyKey} AS keyed,
      created_at + make_interval(secs => CASE
        WHEN status IN ('committed', 'aborted') THEN 0.008 + 0.4 * power(rd, 3)
        WHEN status = 'failed' THEN 60 + 120 * rd
        ELSE 1 + 60 * rd END) AS updated_at
      FROM b`;
}

const TRANSACTIONS_SQL = `
  INSERT INTO txc_transactions (id, protocol, mode, status, decision, timeout_ms, deadline, retry, request_hash,
      participants, error, owner, version, wake_at, created_at, updated_at)
  SELECT id, protocol, 'driven', status,
      CASE WHEN status IN ('committed', 'committing') THEN 'commit'
           WHEN status IN ('aborted', 'aborting', 'failed') THEN 'abort' END,
      60000, created_at + interval '60 seconds',
      '{"maxAttempts": 8, "maxBackoffMs": 30000, "initialBackoffMs": 200}'::jsonb,
      substr(h || md5(h), 1, 43), participants,
      CASE WHEN status IN ('aborted', 'aborting') THEN 'branch ' || (ARRAY['reserve', 'charge', 'ship'])[f + 1] || ' rejected its action'
           WHEN status = 'failed' THEN 'branch reserve compensation not acknowledged after 8 attempts' END,
      NULL, CASE WHEN in_flight THEN 3 ELSE 5 END,
      -- parked: the sweeper takes unowned rows only once wake_at is due
      CASE WHEN in_flight THEN now() + interval '7 days' END,
      created_at, updated_at
    FROM seed_chunk ORDER BY g`;

/** Branch k's final state, by the transaction's status (the rejecting branch is the last one, f). */
const BRANCHES_SQL = `
  INSERT INTO txc_branches (transaction_id, id, position, participant, payload, status, phase, attempt, in_flight,
      retry_at, result)
  SELECT c.id, (ARRAY['reserve', 'charge', 'ship'])[k + 1], k, c.participants[k + 1],
      jsonb_build_object('order', 'o-' || c.g, 'amount', 1 + (c.g * 7 + k) % 500),
      st.status, st.phase, st.attempt,
      c.in_flight AND NOT c.retrying AND k = 0,
      CASE WHEN c.retrying AND k = 0 THEN now() + interval '7 days' END,
      CASE WHEN st.status IN ('succeeded', 'completed') THEN '{}'::jsonb END
    FROM seed_chunk c, generate_series(0, c.n - 1) AS k,
    LATERAL (SELECT * FROM (VALUES
      (c.status = 'committed' AND c.done IS NULL, 'succeeded', c.fwd, 1),
      (c.status = 'committed', 'completed', c.done, 1),
      (c.status IN ('aborted', 'failed', 'aborting') AND k = c.f, 'rejected', c.fwd, 1),
      (c.status = 'failed' AND k = 0, 'completing', c.undo, 8),
      (c.status = 'aborting' AND k = 0, 'completing', c.undo, 1),
      (c.status = 'aborting', 'succeeded', c.fwd, 1),
      (c.status IN ('aborted', 'failed'), 'completed', c.undo, 1),
      (c.status = 'running' AND k = 0, 'running', c.fwd, 1),
      (c.status = 'running', 'pending', c.fwd, 0),
      (c.status = 'committing' AND k = 0, 'completing', c.done, 1),
      (c.status = 'committing', 'succeeded', c.fwd, 1)
    ) AS v(hit, status, phase, attempt) WHERE hit LIMIT 1) st
    ORDER BY c.g, k`;

/**
 * The timeline, in the engine's order (timelineOf in apps/coordinator/src/engine/state-mapping.ts):
 * `ord` places each event, `seq` numbers them, `at` spreads them between created_at and updated_at.
 */
const EVENTS_SQL = `
  INSERT INTO txc_events (transaction_id, seq, at, type, branch_id, phase, attempt, outcome, detail)
  SELECT c.id, row_number() OVER (PARTITION BY c.g ORDER BY e.ord)::int,
      c.created_at + (e.ord / 100.0) * (c.updated_at - c.created_at),
      e.type, e.branch, e.phase, e.attempt, e.outcome, e.detail
    FROM seed_chunk c CROSS JOIN LATERAL (
      SELECT 0 AS ord, 'transaction.created' AS type, NULL::text AS branch, NULL::text AS phase, NULL::int AS attempt,
             NULL::text AS outcome,
             jsonb_build_object('mode', 'driven', 'actor', c.actor, 'branches', c.n, 'protocol', c.protocol) AS detail
      UNION ALL SELECT 1, 'transaction.running', NULL, NULL, NULL, NULL, NULL
      -- forward phase: one call per branch (only the first while running)
      UNION ALL SELECT 10 + 2 * k, 'call.started', (ARRAY['reserve', 'charge', 'ship'])[k + 1], c.fwd, 1, NULL, NULL
        FROM generate_series(0, CASE WHEN c.status = 'running' THEN 0 ELSE c.n - 1 END) k
      UNION ALL SELECT 11 + 2 * k, 'call.finished', (ARRAY['reserve', 'charge', 'ship'])[k + 1], c.fwd, 1, o.outcome, o.detail
        FROM generate_series(0, CASE WHEN c.status = 'running' THEN 0 ELSE c.n - 1 END) k,
        LATERAL (SELECT
          CASE WHEN c.status = 'running' THEN 'unknown' WHEN c.decision_abort AND k = c.f THEN 'no' ELSE 'yes' END AS outcome,
          CASE WHEN c.status = 'running' THEN jsonb_build_object('httpStatus', NULL, 'durationMs', 10000, 'error', c.err)
               WHEN c.decision_abort AND k = c.f THEN jsonb_build_object('httpStatus', 409, 'durationMs', 3 + (c.g + k) % 40, 'error', 'HTTP 409')
               ELSE jsonb_build_object('httpStatus', 200, 'durationMs', 2 + (hashint4(c.g * 8 + k) & 63)) END AS detail) o
        WHERE c.status <> 'running' OR c.retrying
      UNION ALL SELECT 20, 'retry.scheduled', 'reserve', c.fwd, 2, NULL, jsonb_build_object('at', now() + interval '7 days')
        WHERE c.status = 'running' AND c.retrying
      -- commit phase of TCC / 2PC / 3PC
      UNION ALL SELECT 30, 'transaction.committing', NULL, NULL, NULL, NULL, NULL
        WHERE c.done IS NOT NULL AND c.status IN ('committed', 'committing')
      UNION ALL SELECT 31 + 2 * k, 'call.started', (ARRAY['reserve', 'charge', 'ship'])[k + 1], c.done, 1, NULL, NULL
        FROM generate_series(0, CASE WHEN c.status = 'committing' THEN 0 ELSE c.n - 1 END) k
        WHERE c.done IS NOT NULL AND c.status IN ('committed', 'committing')
      UNION ALL SELECT 32 + 2 * k, 'call.finished', (ARRAY['reserve', 'charge', 'ship'])[k + 1], c.done, 1,
          CASE WHEN c.status = 'committing' THEN 'unknown' ELSE 'yes' END,
          CASE WHEN c.status = 'committing' THEN jsonb_build_object('httpStatus', NULL, 'durationMs', 10000, 'error', c.err)
               ELSE jsonb_build_object('httpStatus', 200, 'durationMs', 1 + (hashint4(c.g * 8 + k + 4) & 31)) END
        FROM generate_series(0, CASE WHEN c.status = 'committing' THEN 0 ELSE c.n - 1 END) k
        WHERE c.done IS NOT NULL AND (c.status = 'committed' OR (c.status = 'committing' AND c.retrying))
      UNION ALL SELECT 37, 'retry.scheduled', 'reserve', c.done, 2, NULL, jsonb_build_object('at', now() + interval '7 days')
        WHERE c.status = 'committing' AND c.retrying
      -- aborting: undo what succeeded; failed = the first branch's undo never acknowledged (8 attempts)
      UNION ALL SELECT 40, 'transaction.aborting', NULL, NULL, NULL, NULL,
          jsonb_build_object('error', 'branch ' || (ARRAY['reserve', 'charge', 'ship'])[c.f + 1] || ' rejected its action')
        WHERE c.decision_abort
      UNION ALL SELECT 41 + 2 * k, 'call.started', (ARRAY['reserve', 'charge', 'ship'])[k + 1], c.undo, 1, NULL, NULL
        FROM generate_series(CASE WHEN c.status = 'aborted' THEN 0 ELSE 1 END, c.f - 1) k WHERE c.status IN ('aborted', 'failed')
      UNION ALL SELECT 42 + 2 * k, 'call.finished', (ARRAY['reserve', 'charge', 'ship'])[k + 1], c.undo, 1, 'yes',
          jsonb_build_object('httpStatus', 200, 'durationMs', 1 + (hashint4(c.g * 8 + k + 2) & 31))
        FROM generate_series(CASE WHEN c.status = 'aborted' THEN 0 ELSE 1 END, c.f - 1) k WHERE c.status IN ('aborted', 'failed')
      UNION ALL SELECT 50 + 3 * a, 'call.started', 'reserve', c.undo, a, NULL, NULL
        FROM generate_series(1, CASE WHEN c.status = 'failed' THEN 8 ELSE 1 END) a WHERE c.status IN ('failed', 'aborting')
      UNION ALL SELECT 51 + 3 * a, 'call.finished', 'reserve', c.undo, a, 'unknown',
          jsonb_build_object('httpStatus', NULL, 'durationMs', 10000, 'error', c.err)
        FROM generate_series(1, CASE WHEN c.status = 'failed' THEN 8 ELSE 1 END) a
        WHERE c.status = 'failed' OR (c.status = 'aborting' AND c.retrying)
      UNION ALL SELECT 52 + 3 * a, 'retry.scheduled', 'reserve', c.undo, a + 1, NULL,
          jsonb_build_object('at', CASE WHEN c.status = 'failed' THEN c.created_at + make_interval(secs => 10 * a)
                                        ELSE now() + interval '7 days' END)
        FROM generate_series(1, CASE WHEN c.status = 'failed' THEN 7 ELSE 1 END) a
        WHERE c.status = 'failed' OR (c.status = 'aborting' AND c.retrying)
      -- the final status
      UNION ALL SELECT 99, 'transaction.' || c.status, NULL, NULL, NULL, NULL,
          CASE WHEN c.status = 'aborted' THEN jsonb_build_object('error', 'branch ' || (ARRAY['reserve', 'charge', 'ship'])[c.f + 1] || ' rejected its action')
               WHEN c.status = 'failed' THEN jsonb_build_object('error', 'branch reserve compensation not acknowledged after 8 attempts') END
        WHERE NOT c.in_flight
    ) e
    ORDER BY c.g, e.ord`;

/** About one transaction in ten was started with an Idempotency-Key (kept a week, so the rows stay). */
const KEYS_SQL = `
  INSERT INTO txc_idempotency_keys (key, request_hash, transaction_id, response_status, response_body,
      response_headers, created_at, expires_at)
  SELECT 'chk-' || g || '-' || substr(h, 20, 8), substr(h || md5(h), 1, 43), id, 201,
      jsonb_build_object('id', id, 'protocol', protocol, 'status', 'running'),
      jsonb_build_object('location', '/v1/transactions/' || id),
      created_at, now() + interval '7 days'
    FROM seed_chunk WHERE keyed ORDER BY g`;

export const SEED_STATEMENTS = { TRANSACTIONS_SQL, BRANCHES_SQL, EVENTS_SQL, KEYS_SQL };
