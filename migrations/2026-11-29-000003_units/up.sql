-- Units in the field: positions (AVL), assignments to incidents, recommendations as decision
-- records, and the fixed devices (cameras, panic buttons) video operators look through.

ALTER TABLE units
    ADD COLUMN latitude            double precision CHECK (latitude BETWEEN -90 AND 90),
    ADD COLUMN longitude           double precision CHECK (longitude BETWEEN -180 AND 180),
    ADD COLUMN accuracy_m          double precision CHECK (accuracy_m >= 0 AND accuracy_m <= 1000000),
    ADD COLUMN heading_deg         double precision CHECK (heading_deg >= 0 AND heading_deg < 360),
    ADD COLUMN speed_mps           double precision CHECK (speed_mps >= 0 AND speed_mps <= 200),
    ADD COLUMN fix_time            timestamptz,
    ADD COLUMN current_incident_id uuid REFERENCES incidents (id),
    ADD COLUMN decommissioned_at   timestamptz,
    ADD CONSTRAINT units_position_whole
        CHECK ((latitude IS NULL) = (longitude IS NULL) AND (latitude IS NULL) = (fix_time IS NULL)
               AND (latitude IS NULL) = (accuracy_m IS NULL)),
    -- Committed exactly when it has an incident.
    ADD CONSTRAINT units_committed_has_incident
        CHECK ((status IN ('dispatched', 'en_route', 'on_scene', 'transporting', 'at_hospital'))
               = (current_incident_id IS NOT NULL)),
    ADD CONSTRAINT units_decommissioned_out_of_service
        CHECK (decommissioned_at IS NULL OR status = 'out_of_service');
CREATE INDEX units_current_incident_id ON units (current_incident_id);

-- What the engine recommended, with its inputs: the record a reviewer reads after the fact.
CREATE TABLE recommendations (
    id                 uuid PRIMARY KEY,
    incident_id        uuid NOT NULL REFERENCES incidents (id),
    created_by         text NOT NULL,
    plan               jsonb NOT NULL,
    plan_overridden    boolean NOT NULL,
    incident_latitude  double precision NOT NULL,
    incident_longitude double precision NOT NULL,
    fills              jsonb NOT NULL,
    total_shortfall    integer NOT NULL CHECK (total_shortfall >= 0),
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recommendations_incident_id ON recommendations (incident_id);

CREATE TABLE assignments (
    id                bigserial PRIMARY KEY,
    incident_id       uuid NOT NULL REFERENCES incidents (id),
    unit_id           uuid NOT NULL REFERENCES units (id),
    recommendation_id uuid REFERENCES recommendations (id),
    override_reason   text NOT NULL DEFAULT '' CHECK (char_length(override_reason) <= 4000),
    assigned_by       text NOT NULL,
    dispatched_at     timestamptz NOT NULL DEFAULT now(),
    en_route_at       timestamptz,
    on_scene_at       timestamptz,
    transporting_at   timestamptz,
    at_hospital_at    timestamptz,
    cleared_at        timestamptz,
    released_at       timestamptz,
    release_reason    text NOT NULL DEFAULT '' CHECK (char_length(release_reason) <= 4000),
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (cleared_at IS NULL OR released_at IS NULL),
    -- Followed without a recommendation, or against it: the dispatcher said why.
    CHECK (recommendation_id IS NOT NULL OR override_reason <> '')
);
-- The guarantee: one unit, one incident at a time, however many dispatchers on however many
-- servers ask at once.
CREATE UNIQUE INDEX assignments_one_active_per_unit ON assignments (unit_id)
    WHERE cleared_at IS NULL AND released_at IS NULL;
CREATE INDEX assignments_incident_id ON assignments (incident_id);
CREATE INDEX assignments_recommendation_id ON assignments (recommendation_id);

CREATE TABLE cameras (
    id           uuid PRIMARY KEY,
    code         text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    kind         text NOT NULL CHECK (kind IN ('camera', 'panic_button', 'plate_reader')),
    latitude     double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude    double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    description  text NOT NULL DEFAULT '' CHECK (char_length(description) <= 500),
    agency_id    uuid REFERENCES agencies (id),
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cameras_agency_id ON cameras (agency_id);
