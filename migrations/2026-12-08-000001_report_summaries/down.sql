DROP INDEX incidents_unplaced;
DROP TRIGGER unit_status_history_spans ON unit_status_history;
DROP FUNCTION record_unit_status_spans();
DROP TABLE unit_status_spans;
DROP FUNCTION epoch_us(timestamptz);
DROP TRIGGER calls_opening_link ON calls;
DROP TRIGGER calls_opening_insert ON calls;
DROP FUNCTION note_opening_call();
DROP INDEX incidents_opening_call_at;
ALTER TABLE incidents DROP COLUMN opening_channel, DROP COLUMN opening_call_at,
    DROP COLUMN opening_call_id;
