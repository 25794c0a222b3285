-- txc_apply(ops jsonb): applies a batch of state changes (from many transactions) in one statement,
-- so one round trip and one commit carry them all (group commit). Returns one result per op, in order:
--  create:  insert a transaction, its branches and events (and claim an Idempotency-Key) ->
--           'ok' | 'exists' (the id is taken) | 'key-taken' (the key is claimed; nothing written)
--  advance: guarded update (id, version) of the transaction, its changed branches, new events ->
--           'ok' (with abort_requested) | 'stale' (another instance owns it now; nothing written)
--  respond: store the first response of an Idempotency-Key -> 'ok'
CREATE FUNCTION txc_apply(ops jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  op jsonb;
  t jsonb;
  results jsonb := '[]'::jsonb;
  n integer;
  flag boolean;
BEGIN
  FOR op IN SELECT * FROM jsonb_array_elements(ops) LOOP
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
        results := results || '"exists"'::jsonb;
        CONTINUE;
      END IF;
      IF op ? 'idem' THEN
        INSERT INTO txc_idempotency_keys (key, request_hash, transaction_id, expires_at)
          VALUES (op->'idem'->>'key', op->'idem'->>'hash', t->>'id', (op->'idem'->>'expires_at')::timestamptz)
          ON CONFLICT (key) DO UPDATE SET request_hash = EXCLUDED.request_hash,
            transaction_id = EXCLUDED.transaction_id, expires_at = EXCLUDED.expires_at, created_at = now(),
            response_status = NULL, response_body = NULL, response_headers = NULL
            WHERE txc_idempotency_keys.expires_at <= now();
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n = 0 THEN
          DELETE FROM txc_transactions WHERE id = t->>'id';
          results := results || '"key-taken"'::jsonb;
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
      results := results || '"ok"'::jsonb;
    ELSIF op->>'op' = 'advance' THEN
      UPDATE txc_transactions SET
          status = t->>'status', decision = t->>'decision', error = t->>'error', owner = t->>'owner',
          wake_at = (t->>'wake_at')::timestamptz, version = version + 1,
          updated_at = COALESCE((op->>'at')::timestamptz, now()),
          abort_requested = abort_requested AND NOT (t->>'status' IN ('committed', 'aborted', 'aborting'))
        WHERE id = op->>'id' AND version = (op->>'version')::int
        RETURNING abort_requested INTO flag;
      IF NOT FOUND THEN
        results := results || '"stale"'::jsonb;
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
      results := results || CASE WHEN flag THEN '"ok:abort-requested"'::jsonb ELSE '"ok"'::jsonb END;
    ELSIF op->>'op' = 'respond' THEN
      UPDATE txc_idempotency_keys SET response_status = (op->>'status')::int, response_body = op->'body',
          response_headers = op->'headers'
        WHERE key = op->>'key' AND response_status IS NULL;
      results := results || '"ok"'::jsonb;
    ELSE
      RAISE EXCEPTION 'txc_apply: unknown op %', op->>'op';
    END IF;
    INSERT INTO txc_events (transaction_id, seq, at, type, branch_id, phase, attempt, outcome, detail)
      SELECT COALESCE(op->>'id', t->>'id'), e.seq, e.at, e.type, e.branch_id, e.phase, e.attempt, e.outcome, e.detail
        FROM jsonb_to_recordset(COALESCE(op->'events', '[]'::jsonb)) AS e(seq int, at timestamptz, type text,
          branch_id text, phase text, attempt int, outcome text, detail jsonb);
  END LOOP;
  RETURN results;
END
$fn$;
