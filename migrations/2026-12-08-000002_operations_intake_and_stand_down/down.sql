DROP TRIGGER operations_window_to_units ON operations;
DROP FUNCTION operations_window_to_units();
DROP FUNCTION record_call(uuid, text, text, bytea, uuid, text, text, timestamptz,
    timestamptz, boolean, text, text, text, double precision, double precision,
    double precision, text, text, text, text, text, jsonb, uuid);
