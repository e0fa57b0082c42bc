ALTER TABLE principals DROP COLUMN version;
ALTER TABLE audit_records DROP CONSTRAINT audit_records_action_check;
ALTER TABLE audit_records ADD CONSTRAINT audit_records_action_check
    CHECK (action IN ('mutation', 'victim_data_read', 'authentication_failure',
                      'credential_issued', 'credential_revoked', 'audit_read'));
