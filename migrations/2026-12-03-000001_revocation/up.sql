-- Revocation ends open streams (issue 15).
--
-- A stream ended because its credential stopped being valid (revoked, expired, its principal
-- disabled or changed) is audited with its own action. The constraint is replaced in two steps
-- so that existing rows are not re-checked under a lock: NOT VALID, then VALIDATE.
ALTER TABLE audit_records DROP CONSTRAINT audit_records_action_check;
ALTER TABLE audit_records ADD CONSTRAINT audit_records_action_check
    CHECK (action IN ('mutation', 'victim_data_read', 'authentication_failure',
                      'credential_issued', 'credential_revoked', 'audit_read', 'stream_ended'))
    NOT VALID;
ALTER TABLE audit_records VALIDATE CONSTRAINT audit_records_action_check;

-- Principals are updated (display name, role and its bindings, disabled) with an etag, like
-- every other updatable resource. A constant default: adding it does not rewrite the table.
ALTER TABLE principals ADD COLUMN version bigint NOT NULL DEFAULT 1 CHECK (version > 0);
