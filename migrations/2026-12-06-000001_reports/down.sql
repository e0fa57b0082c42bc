ALTER TABLE audit_records DROP CONSTRAINT audit_records_action_check;
ALTER TABLE audit_records ADD CONSTRAINT audit_records_action_check
    CHECK (action IN ('mutation', 'victim_data_read', 'authentication_failure',
                      'credential_issued', 'credential_revoked', 'audit_read', 'stream_ended'));
DROP TRIGGER units_status_history ON units;
DROP FUNCTION record_unit_status();
DROP TABLE unit_status_history;
DROP INDEX assignments_dispatched_at;
DROP INDEX incidents_first_call_at;
ALTER TABLE incidents DROP COLUMN h3_cell, DROP COLUMN station_area, DROP COLUMN close_area,
    DROP COLUMN area;
