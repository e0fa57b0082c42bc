-- Triage: determinants, response plans and their history; incident notes; status times.

ALTER TABLE incidents
    ADD COLUMN determinant_code        text CHECK (char_length(determinant_code) <= 64),
    ADD COLUMN determinant_level       text CHECK (determinant_level IN (
                                           'omega', 'alpha', 'bravo', 'charlie', 'delta', 'echo')),
    ADD COLUMN determinant_description text NOT NULL DEFAULT '',
    ADD COLUMN response_plan           jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN triaged_at              timestamptz,
    ADD COLUMN status_at               timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN closing_note            text NOT NULL DEFAULT ''
                                           CHECK (char_length(closing_note) <= 4000),
    ADD CONSTRAINT incidents_determinant_whole
        CHECK ((determinant_code IS NULL) = (determinant_level IS NULL)
               AND (determinant_code IS NULL) = (triaged_at IS NULL)),
    ADD CONSTRAINT incidents_triaged_has_determinant
        CHECK (status <> 'triaged' OR determinant_code IS NOT NULL),
    ADD CONSTRAINT incidents_closed_has_time
        CHECK ((status IN ('closed', 'cancelled')) = (closed_at IS NOT NULL));

CREATE INDEX incidents_status ON incidents (status, created_at DESC);

-- Every triage, kept: re-triage on new information never erases the earlier one.
CREATE TABLE triage_records (
    id                      bigserial PRIMARY KEY,
    incident_id             uuid NOT NULL REFERENCES incidents (id),
    triaged_by              text NOT NULL,
    incident_type           text NOT NULL,
    answers                 jsonb NOT NULL,
    determinant_code        text NOT NULL,
    determinant_level       text NOT NULL CHECK (determinant_level IN (
                                'omega', 'alpha', 'bravo', 'charlie', 'delta', 'echo')),
    determinant_description text NOT NULL,
    priority                smallint NOT NULL CHECK (priority BETWEEN 0 AND 10),
    previous_priority       smallint CHECK (previous_priority BETWEEN 0 AND 10),
    response_plan           jsonb NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX triage_records_incident_id ON triage_records (incident_id, id);

CREATE TABLE incident_notes (
    id          bigserial PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id),
    author      text NOT NULL,
    text        text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 4000),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_notes_incident_id ON incident_notes (incident_id, id);

-- History is written once: triage records and notes refuse change like the event log.
CREATE FUNCTION refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER triage_records_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON triage_records
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER incident_notes_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON incident_notes
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
