-- EIDO in: an incident another system sent us (NENA-STA-021 EIDO) became one of ours. Its
-- incident tracking identifier names it in every version the sender sends; the identifier is
-- globally unique by construction (urn:emergency:uid:incidentid:<id>:<domain of the element
-- that assigned it>), so it carries its source, and one row per identifier is one of our
-- incidents per source's incident however many times, or by whom, it is imported.
CREATE TABLE eido_imports (
    tracking_id       text PRIMARY KEY CHECK (char_length(tracking_id) BETWEEN 1 AND 255),
    incident_id       uuid NOT NULL UNIQUE REFERENCES incidents (id),
    -- The EIDO's lastUpdateTimeStamp of the version we hold: only a later one changes anything.
    version_at        timestamptz NOT NULL,
    issuing_element   text NOT NULL DEFAULT '' CHECK (char_length(issuing_element) <= 1000),
    agency            text NOT NULL DEFAULT '' CHECK (char_length(agency) <= 1000),
    -- The incident type as the sender wrote it; ours (the catalogue's) is on the incident.
    common_type       text NOT NULL DEFAULT '' CHECK (char_length(common_type) <= 1000),
    internal_type     text NOT NULL DEFAULT '' CHECK (char_length(internal_type) <= 1000),
    internal_type_text text NOT NULL DEFAULT '' CHECK (char_length(internal_type_text) <= 2000),
    -- The version we hold, as sent.
    document          jsonb NOT NULL CHECK (jsonb_typeof(document) = 'object'),
    imported_by       text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- The calls and notes an import brought, by the sender's component id: a later version adds
-- only the ones not brought before. Written once.
CREATE TABLE eido_import_parts (
    tracking_id text NOT NULL REFERENCES eido_imports (tracking_id),
    component   text NOT NULL CHECK (component IN ('call', 'note')),
    foreign_id  text NOT NULL CHECK (char_length(foreign_id) BETWEEN 1 AND 255),
    call_id     uuid UNIQUE REFERENCES calls (id),
    note_id     bigint UNIQUE REFERENCES incident_notes (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tracking_id, component, foreign_id),
    CHECK ((component = 'call') = (call_id IS NOT NULL)),
    CHECK ((component = 'note') = (note_id IS NOT NULL))
);
REVOKE UPDATE, DELETE ON eido_import_parts FROM dispatch_app;
CREATE TRIGGER eido_import_parts_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON eido_import_parts FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
