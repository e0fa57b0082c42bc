-- Reports (ReportingService): what supervisors are judged by, read from the times the centre
-- records. Every definition is in README.md, "Reports".

-- Where an incident happened, as reports group it, stamped when the incident is written (the
-- server knows the centre's areas and H3; PostgreSQL has neither):
--   area          the centre's area (alcaldía) its location was in when opened, '' for none;
--   close_area    the area it was in when closed (NULL until closed);
--   station_area  the code of the station nearest its location when opened, '' for none;
--   h3_cell       the H3 cell (resolution 15) of its current location; a report takes the
--                 parent at its resolution with bit operations, so no H3 in SQL. NULL until
--                 stamped (incidents written before this migration: the server stamps them
--                 at start).
ALTER TABLE incidents
    ADD COLUMN area         text NOT NULL DEFAULT '' CHECK (char_length(area) <= 200),
    ADD COLUMN close_area   text CHECK (char_length(close_area) <= 200),
    ADD COLUMN station_area text NOT NULL DEFAULT '' CHECK (char_length(station_area) <= 64),
    ADD COLUMN h3_cell      bigint CHECK (h3_cell > 0);
-- A report's period selects incidents by their first call.
CREATE INDEX incidents_first_call_at ON incidents (first_call_at);
-- Utilization reads the assignments that overlap a period.
CREATE INDEX assignments_dispatched_at ON assignments (dispatched_at);

-- Every status a unit has been in, from when (the status time the change was reported with,
-- back-entered times included): on-duty time is read from here. Written by a trigger on
-- `units`, so no writer of a status can forget it; append-only like the other histories.
CREATE TABLE unit_status_history (
    id         bigserial PRIMARY KEY,
    unit_id    uuid NOT NULL REFERENCES units (id),
    status     text NOT NULL CHECK (status IN (
                   'available', 'dispatched', 'en_route', 'on_scene', 'transporting',
                   'at_hospital', 'out_of_service')),
    status_at  timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX unit_status_history_unit ON unit_status_history (unit_id, status_at, id);
CREATE INDEX unit_status_history_status_at ON unit_status_history (status_at);
REVOKE UPDATE ON unit_status_history FROM dispatch_app;
CREATE TRIGGER unit_status_history_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON unit_status_history FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();

CREATE FUNCTION record_unit_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status
       OR NEW.status_at IS DISTINCT FROM OLD.status_at THEN
        INSERT INTO unit_status_history (unit_id, status, status_at)
        VALUES (NEW.id, NEW.status, NEW.status_at);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER units_status_history AFTER INSERT OR UPDATE OF status, status_at ON units
    FOR EACH ROW EXECUTE FUNCTION record_unit_status();

-- What is known of the units that exist already: their current status, since when.
INSERT INTO unit_status_history (unit_id, status, status_at)
SELECT id, status, status_at FROM units;

-- Report reads are audited with their own action (like the audit trail's own reads).
ALTER TABLE audit_records DROP CONSTRAINT audit_records_action_check;
ALTER TABLE audit_records ADD CONSTRAINT audit_records_action_check
    CHECK (action IN ('mutation', 'victim_data_read', 'authentication_failure',
                      'credential_issued', 'credential_revoked', 'audit_read', 'stream_ended',
                      'report_read'))
    NOT VALID;
ALTER TABLE audit_records VALIDATE CONSTRAINT audit_records_action_check;
