-- A call inside a planned operation's zones is tagged with it as it is recorded, in the same
-- statement (issue 24): `record_call` gains the operation. The 22-argument version stays for
-- servers one migration behind (they tag nothing); a later migration drops it.
CREATE FUNCTION record_call(
    p_request_id uuid, p_method text, p_principal text, p_request bytea,
    p_id uuid, p_folio text, p_channel text, p_received_at timestamptz,
    p_answered_at timestamptz, p_back_entered boolean, p_callback_number text,
    p_caller_name text, p_language text, p_latitude double precision,
    p_longitude double precision, p_uncertainty_m double precision, p_location_source text,
    p_civic_address text, p_account text, p_incident_type_hint text, p_source_device_id text,
    p_details jsonb, p_operation_id uuid)
RETURNS SETOF calls LANGUAGE plpgsql AS $$
DECLARE
    recorded calls;
BEGIN
    -- A concurrent first request with the same id holds the key until it commits: this waits,
    -- then inserts nothing.
    INSERT INTO idempotency_keys (request_id, method, principal, request, resource)
    VALUES (p_request_id, p_method, p_principal, p_request, 'calls/' || p_id)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO calls (id, folio, channel, received_at, answered_at, back_entered, call_taker,
                       callback_number, caller_name, language, latitude, longitude,
                       uncertainty_m, location_source, civic_address, account,
                       incident_type_hint, source_device_id, operation_id)
    VALUES (p_id, p_folio, p_channel, p_received_at, p_answered_at, p_back_entered, p_principal,
            p_callback_number, p_caller_name, p_language, p_latitude, p_longitude,
            p_uncertainty_m, p_location_source, p_civic_address, p_account,
            p_incident_type_hint, p_source_device_id, p_operation_id)
    RETURNING * INTO recorded;
    INSERT INTO call_locations (call_id, latitude, longitude, uncertainty_m, source,
                                civic_address, recorded_by, recorded_at)
    VALUES (p_id, p_latitude, p_longitude, p_uncertainty_m, p_location_source, p_civic_address,
            p_principal, recorded.created_at);
    INSERT INTO events (actor, kind, call_id, details)
    VALUES (p_principal, 'call_received', p_id, p_details);
    RETURN NEXT recorded;
END $$;
GRANT EXECUTE ON FUNCTION record_call(uuid, text, text, bytea, uuid, text, text, timestamptz,
    timestamptz, boolean, text, text, text, double precision, double precision,
    double precision, text, text, text, text, text, jsonb, uuid) TO dispatch_app;

-- An operation stood down ends its window early (StandDownOperation). Its staged units'
-- `during` is a copy of the window (for the exclusion constraint), so any change of the window
-- is copied to them here, whoever makes it: a unit stood down is free to be staged again.
CREATE FUNCTION operations_window_to_units() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- operation_units_window() recomputes `during` from the operation on every update.
    UPDATE operation_units SET during = during WHERE operation_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER operations_window_to_units AFTER UPDATE OF starts_at, ends_at ON operations
    FOR EACH ROW EXECUTE FUNCTION operations_window_to_units();
