-- txc_records_abort(op jsonb): whether an advance records an abort asked for, the step that clears
-- the flag `requestAbort` set and the only one that may decide while it is set. Every abort step
-- writes `transaction.abort-requested`; `operator.abort` (who asked and why) comes with it when the
-- flag's note was read.
CREATE OR REPLACE FUNCTION txc_records_abort(op jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $fn$
  SELECT COALESCE(op->'events', '[]'::jsonb) @> '[{"type": "operator.abort"}]'
      OR COALESCE(op->'events', '[]'::jsonb) @> '[{"type": "transaction.abort-requested"}]'
$fn$;
