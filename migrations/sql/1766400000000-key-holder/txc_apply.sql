-- txc_apply(ops jsonb): applies a batch of state changes (from many transactions) in one statement,
-- so one round trip and one commit carry them all (group commit). Returns one result per op, in order:
--  create:  insert a transaction, its branches and events (and claim an Idempotency-Key) ->
--           'ok' | 'exists' (the id is taken) | 'key-taken' (the key is claimed; nothing written)
--  advance: guarded update (id, version) of the transaction, its changed branches, new events, and
--           the first response of an Idempotency-Key when it carries one (`respond`, stored only if
--           the advance applied) -> 'ok' (with abort_requested) | 'stale' (another instance owns it
--           now; nothing written) | 'abort-first' (an abort was flagged before, and the step would
--           decide, commit or abort, without recording it, or would register a branch: nothing
--           written, the owner takes the flagged abort first). A flagged abort stays flagged until the
--           step that records it (`operator.abort`), which is the step that decides.
--  respond: store the first response of an Idempotency-Key -> 'ok'
--
-- Ops of different transactions commute, so when no transaction appears twice in the batch the
-- common ops (a create without a key, an advance without new branches) are applied set-based: one
-- statement writes all their transactions, branches and events, instead of four statements per op.
-- Everything else (and every op of a batch that touches a transaction twice, whose order matters)
-- goes through the op-by-op loop, in batch order.
CREATE OR REPLACE FUNCTION txc_apply(ops jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  op jsonb;
  t jsonb;
  i bigint;
  k integer;
  results text[] := array_fill(NULL::text, ARRAY[jsonb_array_length(ops)]);
  idx bigint[];
  res text[];
  n integer;
  flag boolean;
  commute boolean;
BEGIN
  SELECT count(*) = count(DISTINCT COALESCE(o->>'id', o->'txn'->>'id')) INTO commute
    FROM jsonb_array_elements(ops) o WHERE o->>'op' IN ('create', 'advance');

  IF commute THEN
    WITH c AS (
      SELECT o.i, o.op, o.op->'txn' AS t FROM jsonb_array_elements(ops) WITH ORDINALITY AS o(op, i)
        WHERE o.op->>'op' = 'create' AND NOT o.op ? 'idem'
    ), ins AS (
      INSERT INTO txc_transactions (id, protocol, mode, status, decision, timeout_ms, deadline, retry,
          request_hash, participants, error, owner, version, wake_at, created_at, updated_at)
        SELECT c.t->>'id', c.t->>'protocol', c.t->>'mode', c.t->>'status', c.t->>'decision',
            (c.t->>'timeout_ms')::int, (c.t->>'deadline')::timestamptz, c.t->'retry', c.t->>'request_hash',
            ARRAY(SELECT jsonb_array_elements_text(c.t->'participants')), c.t->>'error', c.t->>'owner', 1,
            (c.t->>'wake_at')::timestamptz, (c.t->>'created_at')::timestamptz, (c.t->>'created_at')::timestamptz
          FROM c
        ON CONFLICT (id) DO NOTHING
        RETURNING id
    ), done AS (
      SELECT c.i, c.op, c.t FROM c JOIN ins ON ins.id = c.t->>'id'
    ), branches AS (
      INSERT INTO txc_branches (transaction_id, id, position, participant, depends_on, paths, skipped_phases,
          payload, status, phase, attempt, budget_base, in_flight, retry_at)
        SELECT d.t->>'id', b.id, b.position, b.participant, ARRAY(SELECT jsonb_array_elements_text(b.depends_on)),
            b.paths, ARRAY(SELECT jsonb_array_elements_text(b.skipped_phases)), b.payload, b.status, b.phase,
            b.attempt, b.budget_base, b.in_flight, b.retry_at
          FROM done d, jsonb_to_recordset(d.op->'branches') AS b(id text, position int, participant text,
            depends_on jsonb, paths jsonb, skipped_phases jsonb, payload jsonb, status text, phase text,
            attempt int, budget_base int, in_flight boolean, retry_at timestamptz)
    ), events AS (
      INSERT INTO txc_events (transaction_id, seq, at, type, branch_id, phase, attempt, outcome, detail)
        SELECT d.t->>'id', e.seq, e.at, e.type, e.branch_id, e.phase, e.attempt, e.outcome, e.detail
          FROM done d, jsonb_to_recordset(COALESCE(d.op->'events', '[]'::jsonb)) AS e(seq int, at timestamptz,
            type text, branch_id text, phase text, attempt int, outcome text, detail jsonb)
    )
    SELECT array_agg(c.i), array_agg(CASE WHEN ins.id IS NULL THEN 'exists' ELSE 'ok' END) INTO idx, res
      FROM c LEFT JOIN ins ON ins.id = c.t->>'id';
    FOR k IN 1 .. coalesce(array_length(idx, 1), 0) LOOP
      results[idx[k]] := res[k];
    END LOOP;

    WITH a AS (
      SELECT o.i, o.op, o.op->'txn' AS t FROM jsonb_array_elements(ops) WITH ORDINALITY AS o(op, i)
        WHERE o.op->>'op' = 'advance' AND NOT o.op ? 'new_branches'
    ), upd AS (
      UPDATE txc_transactions AS tx SET
          status = a.t->>'status', decision = a.t->>'decision', error = a.t->>'error', owner = a.t->>'owner',
          wake_at = (a.t->>'wake_at')::timestamptz, version = tx.version + 1,
          updated_at = COALESCE((a.op->>'at')::timestamptz, now()),
          -- a flagged abort stays flagged until the step that records it
          abort_requested = tx.abort_requested AND NOT (a.t->>'status' = 'committed'
            OR txc_records_abort(a.op))
        FROM a
        WHERE tx.id = a.op->>'id' AND tx.version = (a.op->>'version')::int
          -- the flagged abort is the decision: a step deciding anything else first (a commit, or an
          -- abort because a branch said no) would end the transaction before who asked is recorded
          AND NOT (tx.abort_requested AND tx.decision IS NULL AND (a.t->>'decision') IS NOT NULL
            AND NOT txc_records_abort(a.op))
        RETURNING a.i, a.op, tx.abort_requested
    ), responded AS (
      UPDATE txc_idempotency_keys AS k SET response_status = (u.op->'respond'->>'status')::int,
          response_body = u.op->'respond'->'body', response_headers = u.op->'respond'->'headers'
        FROM upd u
        WHERE u.op ? 'respond' AND k.key = u.op->'respond'->>'key' AND k.response_status IS NULL
    ), branches AS (
      UPDATE txc_branches AS dst SET status = b.status, phase = b.phase, attempt = b.attempt,
          budget_base = b.budget_base, in_flight = b.in_flight, retry_at = b.retry_at,
          result = CASE WHEN b.set_result THEN b.result ELSE dst.result END
        FROM (SELECT u.op->>'id' AS transaction_id, c.*
                FROM upd u, jsonb_to_recordset(u.op->'branches') AS c(id text, status text, phase text, attempt int,
                  budget_base int, in_flight boolean, retry_at timestamptz, set_result boolean, result jsonb)) AS b
        WHERE dst.transaction_id = b.transaction_id AND dst.id = b.id
    ), events AS (
      INSERT INTO txc_events (transaction_id, seq, at, type, branch_id, phase, attempt, outcome, detail)
        SELECT u.op->>'id', e.seq, e.at, e.type, e.branch_id, e.phase, e.attempt, e.outcome, e.detail
          FROM upd u, jsonb_to_recordset(COALESCE(u.op->'events', '[]'::jsonb)) AS e(seq int, at timestamptz,
            type text, branch_id text, phase text, attempt int, outcome text, detail jsonb)
    )
    -- an advance not applied is left to the loop below, which tells `stale` from `abort-first` on a
    -- fresh read (this statement's snapshot may predate the flag that refused it)
    SELECT array_agg(a.i),
        array_agg(CASE WHEN upd.i IS NULL THEN NULL WHEN upd.abort_requested THEN 'ok:abort-requested' ELSE 'ok' END)
      INTO idx, res
      FROM a LEFT JOIN upd ON upd.i = a.i;
    FOR k IN 1 .. coalesce(array_length(idx, 1), 0) LOOP
      results[idx[k]] := res[k];
    END LOOP;
  END IF;

  FOR op, i IN SELECT o.op, o.i FROM jsonb_array_elements(ops) WITH ORDINALITY AS o(op, i) LOOP
    CONTINUE WHEN results[i] IS NOT NULL;
    t := op->'txn';
    IF op->>'op' = 'create' THEN
      INSERT INTO txc_transactions (id, protocol, mode, status, decision, timeout_ms, deadline, retry,
          request_hash, participants, error, owner, version, wake_at, created_at, updated_at)
        VALUES (t->>'id', t->>'protocol', t->>'mode', t->>'status', t->>'decision', (t->>'timeout_ms')::int,
          (t->>'deadline')::timestamptz, t->'retry', t->>'request_hash',
          ARRAY(SELECT jsonb_array_elements_text(t->'participants')), t->>'error', t->>'owner', 1,
          (t->>'wake_at')::timestamptz, (t->>'created_at')::timestamptz, (t->>'created_at')::timestamptz)
        ON CONFLICT (id) DO NOTHING;
      GET DIAGNOSTICS n = ROW_COUNT;
      IF n = 0 THEN
        results[i] := 'exists';
        CONTINUE;
      END IF;
      IF op ? 'idem' THEN
        -- a live key is only read (DO NOTHING locks nothing: DO UPDATE would lock its row even when its
        -- WHERE is false, and the first request's respond would wait for this batch); an expired one is
        -- taken over by an update guarded on the expiry, which a concurrent take-over re-checks
        INSERT INTO txc_idempotency_keys (key, request_hash, transaction_id, expires_at, holder)
          VALUES (op->'idem'->>'key', op->'idem'->>'hash', t->>'id', (op->'idem'->>'expires_at')::timestamptz,
            op->'idem'->>'holder')
          ON CONFLICT (key) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n = 0 THEN
          UPDATE txc_idempotency_keys SET request_hash = op->'idem'->>'hash', transaction_id = t->>'id',
              expires_at = (op->'idem'->>'expires_at')::timestamptz, created_at = now(),
              response_status = NULL, response_body = NULL, response_headers = NULL, holder = op->'idem'->>'holder'
            WHERE key = op->'idem'->>'key' AND expires_at <= now();
          GET DIAGNOSTICS n = ROW_COUNT;
        END IF;
        IF n = 0 THEN
          DELETE FROM txc_transactions WHERE id = t->>'id';
          results[i] := 'key-taken';
          CONTINUE;
        END IF;
      END IF;
      INSERT INTO txc_branches (transaction_id, id, position, participant, depends_on, paths, skipped_phases,
          payload, status, phase, attempt, budget_base, in_flight, retry_at)
        SELECT t->>'id', b.id, b.position, b.participant, ARRAY(SELECT jsonb_array_elements_text(b.depends_on)),
            b.paths, ARRAY(SELECT jsonb_array_elements_text(b.skipped_phases)), b.payload, b.status, b.phase,
            b.attempt, b.budget_base, b.in_flight, b.retry_at
          FROM jsonb_to_recordset(op->'branches') AS b(id text, position int, participant text, depends_on jsonb,
            paths jsonb, skipped_phases jsonb, payload jsonb, status text, phase text, attempt int,
            budget_base int, in_flight boolean, retry_at timestamptz);
      results[i] := 'ok';
    ELSIF op->>'op' = 'advance' THEN
      UPDATE txc_transactions SET
          status = t->>'status', decision = t->>'decision', error = t->>'error', owner = t->>'owner',
          wake_at = (t->>'wake_at')::timestamptz, version = version + 1,
          updated_at = COALESCE((op->>'at')::timestamptz, now()),
          abort_requested = abort_requested AND NOT (t->>'status' = 'committed'
            OR txc_records_abort(op))
        WHERE id = op->>'id' AND version = (op->>'version')::int
          -- nor is a branch registered (its first call announced) once an abort is flagged
          AND NOT (abort_requested AND decision IS NULL
            AND (((t->>'decision') IS NOT NULL
                  AND NOT txc_records_abort(op))
              OR op ? 'new_branches'))
        RETURNING abort_requested INTO flag;
      IF NOT FOUND THEN
        SELECT abort_requested AND decision IS NULL AND version = (op->>'version')::int INTO flag
          FROM txc_transactions WHERE id = op->>'id';
        results[i] := CASE WHEN flag THEN 'abort-first' ELSE 'stale' END;
        CONTINUE;
      END IF;
      IF op ? 'new_branches' THEN
        -- interactive mode: branches registered one by one
        INSERT INTO txc_branches (transaction_id, id, position, participant, depends_on, paths, skipped_phases,
            payload, status, phase, attempt, budget_base, in_flight, retry_at)
          SELECT op->>'id', b.id, b.position, b.participant, ARRAY(SELECT jsonb_array_elements_text(b.depends_on)),
              b.paths, ARRAY(SELECT jsonb_array_elements_text(b.skipped_phases)), b.payload, b.status, b.phase,
              b.attempt, b.budget_base, b.in_flight, b.retry_at
            FROM jsonb_to_recordset(op->'new_branches') AS b(id text, position int, participant text,
              depends_on jsonb, paths jsonb, skipped_phases jsonb, payload jsonb, status text, phase text,
              attempt int, budget_base int, in_flight boolean, retry_at timestamptz);
        UPDATE txc_transactions SET participants = ARRAY(
            SELECT DISTINCT unnest(participants || ARRAY(SELECT b->>'participant' FROM jsonb_array_elements(op->'new_branches') b)))
          WHERE id = op->>'id';
      END IF;
      UPDATE txc_branches AS dst SET status = b.status, phase = b.phase, attempt = b.attempt,
          budget_base = b.budget_base, in_flight = b.in_flight, retry_at = b.retry_at,
          result = CASE WHEN b.set_result THEN b.result ELSE dst.result END
        FROM jsonb_to_recordset(op->'branches') AS b(id text, status text, phase text, attempt int,
          budget_base int, in_flight boolean, retry_at timestamptz, set_result boolean, result jsonb)
        WHERE dst.transaction_id = op->>'id' AND dst.id = b.id;
      IF op ? 'respond' THEN
        UPDATE txc_idempotency_keys SET response_status = (op->'respond'->>'status')::int,
            response_body = op->'respond'->'body', response_headers = op->'respond'->'headers'
          WHERE key = op->'respond'->>'key' AND response_status IS NULL;
      END IF;
      results[i] := CASE WHEN flag THEN 'ok:abort-requested' ELSE 'ok' END;
    ELSIF op->>'op' = 'respond' THEN
      UPDATE txc_idempotency_keys SET response_status = (op->>'status')::int, response_body = op->'body',
          response_headers = op->'headers'
        WHERE key = op->>'key' AND response_status IS NULL;
      results[i] := 'ok';
    ELSE
      RAISE EXCEPTION 'txc_apply: unknown op %', op->>'op';
    END IF;
    INSERT INTO txc_events (transaction_id, seq, at, type, branch_id, phase, attempt, outcome, detail)
      SELECT COALESCE(op->>'id', t->>'id'), e.seq, e.at, e.type, e.branch_id, e.phase, e.attempt, e.outcome, e.detail
        FROM jsonb_to_recordset(COALESCE(op->'events', '[]'::jsonb)) AS e(seq int, at timestamptz, type text,
          branch_id text, phase text, attempt int, outcome text, detail jsonb);
  END LOOP;
  RETURN to_jsonb(results);
END
$fn$;
