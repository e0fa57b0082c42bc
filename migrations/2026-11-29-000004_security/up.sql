-- Security: principals and their credentials, the append-only audit trail, and the application
-- role `dispatch_app` whose privileges PostgreSQL enforces (the store runs its queries as it;
-- migrations run as the owner).

-- Who acts: a person, a field unit, a gateway or a partner agency, with exactly one role.
CREATE TABLE principals (
    id           uuid PRIMARY KEY,
    -- The login-ish handle people type and read in the audit trail.
    name         text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9._-]{1,64}$'),
    display_name text NOT NULL DEFAULT '' CHECK (char_length(display_name) <= 200),
    role         text NOT NULL CHECK (role IN ('call_taker', 'dispatcher', 'supervisor',
                                               'video_operator', 'field_unit', 'partner_agency',
                                               'gateway', 'admin')),
    agency_id    uuid REFERENCES agencies (id),
    unit_id      uuid REFERENCES units (id),
    -- The partner agency a partner_agency principal speaks for. No foreign key yet: the
    -- partners table arrives in a later migration, which adds it (NOT VALID, then VALIDATE).
    partner_id   uuid,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    disabled_at  timestamptz,
    -- A field unit is bound to its one unit, a partner agency to its one partner; nobody else is.
    CONSTRAINT principals_field_unit_has_unit CHECK ((role = 'field_unit') = (unit_id IS NOT NULL)),
    CONSTRAINT principals_partner_has_partner
        CHECK ((role = 'partner_agency') = (partner_id IS NOT NULL))
);
CREATE INDEX principals_agency_id ON principals (agency_id);
CREATE INDEX principals_unit_id ON principals (unit_id);
CREATE INDEX principals_partner_id ON principals (partner_id);

-- How a principal proves who it is. A bearer token is `dsp_<credential id>_<secret>`; only a
-- salted SHA-256 of the secret is kept, so a copy of this table lets nobody in. A client
-- certificate is recognised by the SHA-256 of its DER encoding.
CREATE TABLE credentials (
    id                 uuid PRIMARY KEY,
    principal_id       uuid NOT NULL REFERENCES principals (id),
    kind               text NOT NULL CHECK (kind IN ('bearer_token', 'client_certificate')),
    -- The token's first 12 characters, for people to recognise it; not enough to use it.
    token_prefix       text NOT NULL DEFAULT '' CHECK (char_length(token_prefix) <= 12),
    salt               bytea CHECK (octet_length(salt) = 16),
    -- sha256(salt || secret)
    token_hash         bytea CHECK (octet_length(token_hash) = 32),
    certificate_sha256 text UNIQUE CHECK (certificate_sha256 ~ '^[0-9a-f]{64}$'),
    description        text NOT NULL DEFAULT '' CHECK (char_length(description) <= 500),
    created_by         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz,
    revoked_at         timestamptz,
    revoke_reason      text NOT NULL DEFAULT '' CHECK (char_length(revoke_reason) <= 500),
    CONSTRAINT credentials_bearer_has_hash
        CHECK ((kind = 'bearer_token') = (token_hash IS NOT NULL AND salt IS NOT NULL)),
    CONSTRAINT credentials_certificate_has_fingerprint
        CHECK ((kind = 'client_certificate') = (certificate_sha256 IS NOT NULL)),
    CONSTRAINT credentials_reason_only_when_revoked
        CHECK (revoked_at IS NOT NULL OR revoke_reason = '')
);
-- A principal's credentials newest first; the leading column also indexes the foreign key.
CREATE INDEX credentials_principal_id ON credentials (principal_id, created_at DESC, id DESC);
CREATE INDEX credentials_created_at ON credentials (created_at DESC, id DESC);

-- Who did what to which resource, when, from where, and how it ended. Written once, never
-- changed: the trigger refuses UPDATE, DELETE and TRUNCATE for everyone, and dispatch_app is
-- not even granted UPDATE or DELETE.
CREATE TABLE audit_records (
    id          bigserial PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    principal   text NOT NULL DEFAULT '',
    role        text NOT NULL DEFAULT '',
    agency      text NOT NULL DEFAULT '',
    action      text NOT NULL CHECK (action IN ('mutation', 'victim_data_read',
                                                'authentication_failure', 'credential_issued',
                                                'credential_revoked', 'audit_read')),
    method      text NOT NULL DEFAULT '',
    resource    text NOT NULL DEFAULT '',
    peer        text NOT NULL DEFAULT '',
    outcome     text NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    status_code text NOT NULL DEFAULT '',
    request_id  text NOT NULL DEFAULT '',
    detail      text NOT NULL DEFAULT '' CHECK (char_length(detail) <= 2000)
);
-- Supervisors page newest first (by id) filtered by time, principal or resource.
CREATE INDEX audit_records_occurred_at ON audit_records (occurred_at);
CREATE INDEX audit_records_principal ON audit_records (principal, id);
CREATE INDEX audit_records_resource ON audit_records (resource, id);
CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();

-- The application role. Roles belong to the cluster, not the database: several databases (test
-- databases, staging next to production) share it and may migrate at the same moment, so create
-- it only when missing and treat losing that race as success. A concurrent CREATE ROLE reports
-- duplicate_object, or unique_violation when it had to wait for the other's commit.
-- The migrating role needs CREATEROLE (or superuser) the first time.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dispatch_app') THEN
        BEGIN
            CREATE ROLE dispatch_app NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    -- The store connects as the owner and then SET ROLE dispatch_app: a non-superuser owner
    -- must be a member. (A superuser may SET ROLE to anything.)
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT pg_has_role(current_user, 'dispatch_app', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT dispatch_app TO %I', current_user);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END $$;

GRANT USAGE ON SCHEMA public TO dispatch_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO dispatch_app;
-- History is appended, never rewritten: the event log, triage records, notes, the audit trail.
REVOKE UPDATE, DELETE ON events, triage_records, incident_notes, audit_records FROM dispatch_app;
-- Only migrations touch the migration bookkeeping.
REVOKE ALL ON __diesel_schema_migrations FROM dispatch_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO dispatch_app;
GRANT EXECUTE ON FUNCTION next_folio_number(text, text) TO dispatch_app;

-- Tables and sequences of later migrations (created by this same owner) are usable at once. A
-- later append-only table must REVOKE UPDATE, DELETE itself (see migrations/README.md).
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dispatch_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO dispatch_app;
