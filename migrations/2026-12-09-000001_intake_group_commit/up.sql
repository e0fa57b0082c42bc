-- Calls that arrive together are recorded together (issue 23): one statement, one transaction
-- and one WAL flush for a batch, each call keeping its own idempotency claim, folio, location,
-- `call_received` event and audit record. `p_calls` is a JSON array, one object per call (the
-- keys are the column lists below); `ord` orders the batch. Returns the calls recorded: a call
-- whose request id was already claimed (a retry, or an id reused) is not among them, and its
-- caller answers it from the claim as `record_call`'s callers do.
CREATE FUNCTION record_calls(p_calls jsonb, p_folio_prefix text, p_time_zone text)
RETURNS SETOF calls LANGUAGE plpgsql AS $$
DECLARE
    v_claimed integer[];
    v_day date;
    v_last integer;
BEGIN
    -- Keys are claimed in one order (request id, method) by every batch, so two batches never
    -- wait for each other's keys in a cycle; a concurrent first attempt holding a key is waited
    -- for, then not claimed again. Of two calls in one batch with one id, the first claims it.
    WITH claimed AS (
        INSERT INTO idempotency_keys (request_id, method, principal, request, resource)
        SELECT DISTINCT ON (x.request_id, x.method)
               x.request_id, x.method, x.principal, decode(x.request, 'hex'), 'calls/' || x.id
        FROM jsonb_to_recordset(p_calls)
             AS x(ord integer, request_id uuid, method text, principal text, request text, id uuid)
        ORDER BY x.request_id, x.method, x.ord
        ON CONFLICT DO NOTHING
        RETURNING resource
    )
    SELECT coalesce(array_agg(x.ord), '{}') INTO v_claimed
    FROM claimed JOIN jsonb_to_recordset(p_calls) AS x(ord integer, id uuid)
         ON claimed.resource = 'calls/' || x.id;
    IF cardinality(v_claimed) = 0 THEN
        RETURN;
    END IF;
    -- The folios of the batch in one draw. The counter row stays locked until the batch
    -- commits: batches of several processes take turns here, each a whole batch at a time.
    INSERT INTO folio_counters AS f (kind, day, last_number)
    VALUES ('call', (now() AT TIME ZONE p_time_zone)::date, cardinality(v_claimed))
    ON CONFLICT (kind, day) DO UPDATE SET last_number = f.last_number + cardinality(v_claimed)
    RETURNING f.day, f.last_number INTO v_day, v_last;
    RETURN QUERY
    WITH input AS (
        SELECT x.*,
               v_last - cardinality(v_claimed) + row_number() OVER (ORDER BY x.ord) AS number
        FROM jsonb_to_recordset(p_calls) AS x(
            ord integer, id uuid, principal text, channel text, received_at timestamptz,
            answered_at timestamptz, back_entered boolean, callback_number text,
            caller_name text, language text, latitude double precision,
            longitude double precision, uncertainty_m double precision, location_source text,
            civic_address text, account text, incident_type_hint text, source_device_id text,
            details jsonb, operation_id uuid, audit jsonb)
        WHERE x.ord = ANY (v_claimed)
    ), numbered AS (
        -- As `dispatch_domain::call::folio` writes it: PREFIX/YYMMDD/00042.
        SELECT input.*,
               p_folio_prefix || '/' || to_char(v_day, 'YYMMDD') || '/'
                   || CASE WHEN number < 100000 THEN lpad(number::text, 5, '0')
                           ELSE number::text END AS folio
        FROM input
    ), recorded AS (
        INSERT INTO calls (id, folio, channel, received_at, answered_at, back_entered,
                           call_taker, callback_number, caller_name, language, latitude,
                           longitude, uncertainty_m, location_source, civic_address, account,
                           incident_type_hint, source_device_id, operation_id)
        SELECT id, folio, channel, received_at, answered_at, back_entered, principal,
               callback_number, caller_name, language, latitude, longitude, uncertainty_m,
               location_source, civic_address, account, incident_type_hint, source_device_id,
               operation_id
        FROM numbered ORDER BY ord
        RETURNING *
    ), located AS (
        INSERT INTO call_locations (call_id, latitude, longitude, uncertainty_m, source,
                                    civic_address, recorded_by, recorded_at)
        SELECT id, latitude, longitude, uncertainty_m, location_source, civic_address,
               call_taker, created_at
        FROM recorded
    ), received AS (
        INSERT INTO events (actor, kind, call_id, details)
        SELECT principal, 'call_received', id, details || jsonb_build_object('folio', folio)
        FROM numbered ORDER BY ord
    ), audited AS (
        INSERT INTO audit_records (principal, role, agency, action, method, resource, peer,
                                   outcome, status_code, request_id, detail)
        SELECT a.principal, a.role, a.agency, a.action, a.method, 'calls/' || n.id, a.peer,
               a.outcome, a.status_code, a.request_id, a.detail
        FROM numbered n
             CROSS JOIN LATERAL jsonb_to_record(n.audit) AS a(
                 principal text, role text, agency text, action text, method text, peer text,
                 outcome text, status_code text, request_id text, detail text)
        WHERE n.audit IS NOT NULL AND jsonb_typeof(n.audit) = 'object'
        ORDER BY n.ord
    )
    SELECT * FROM recorded;
END $$;
GRANT EXECUTE ON FUNCTION record_calls(jsonb, text, text) TO dispatch_app;
