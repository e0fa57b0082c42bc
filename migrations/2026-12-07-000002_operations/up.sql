-- Planned operations (issue 24): a mass event or a standing watch over a zone, its agencies,
-- its staged units and cameras, the video operators' watch orders, and the calls and incidents
-- it tagged. A unit is staged for at most one operation at any moment: an exclusion constraint
-- over the operations' windows (btree_gist gives uuid its `=` in a GiST index).
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE operations (
    id                uuid PRIMARY KEY,
    name              text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    -- GeoJSON Polygon coordinates, one array of rings per zone ([[[lon, lat], ...], ...]).
    zones             jsonb NOT NULL CHECK (jsonb_typeof(zones) = 'array' AND jsonb_array_length(zones) BETWEEN 1 AND 20),
    starts_at         timestamptz NOT NULL,
    -- NULL: a standing operation (a watch over a zone of high crime incidence).
    ends_at           timestamptz,
    command_post_id   uuid REFERENCES units (id),
    -- The operation's own duplicate rule (domain `operation::CrowdRule`).
    crowd_radius_m    double precision NOT NULL CHECK (crowd_radius_m > 0 AND crowd_radius_m <= 2000),
    crowd_window_s    integer NOT NULL CHECK (crowd_window_s > 0 AND crowd_window_s <= 86400),
    crowd_type_required boolean NOT NULL,
    crowd_calls_per_day double precision NOT NULL CHECK (crowd_calls_per_day >= 0),
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT operations_window_order CHECK (ends_at IS NULL OR ends_at > starts_at)
);
CREATE INDEX operations_command_post_id ON operations (command_post_id);
CREATE INDEX operations_created_at ON operations (created_at, id);

CREATE TABLE operation_agencies (
    operation_id uuid NOT NULL REFERENCES operations (id),
    agency_id    uuid NOT NULL REFERENCES agencies (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operation_id, agency_id)
);
CREATE INDEX operation_agencies_agency_id ON operation_agencies (agency_id);

-- `during` is the operation's window, copied so that the exclusion constraint can see it
-- (an operation's window is never changed once units are staged).
CREATE TABLE operation_units (
    operation_id uuid NOT NULL REFERENCES operations (id),
    unit_id      uuid NOT NULL REFERENCES units (id),
    during       tstzrange NOT NULL CHECK (NOT isempty(during)),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operation_id, unit_id),
    CONSTRAINT operation_units_one_operation_at_a_time
        EXCLUDE USING gist (unit_id WITH =, during WITH &&)
);
CREATE INDEX operation_units_unit_id ON operation_units (unit_id);

-- The window copied into `during` is the operation's own, whatever the writer says.
CREATE FUNCTION operation_units_window() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT tstzrange(o.starts_at, o.ends_at, '[)') INTO NEW.during
      FROM operations o WHERE o.id = NEW.operation_id;
    RETURN NEW;
END $$;
CREATE TRIGGER operation_units_window BEFORE INSERT OR UPDATE ON operation_units
    FOR EACH ROW EXECUTE FUNCTION operation_units_window();

CREATE TABLE operation_cameras (
    operation_id uuid NOT NULL REFERENCES operations (id),
    camera_id    uuid NOT NULL REFERENCES cameras (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operation_id, camera_id)
);
CREATE INDEX operation_cameras_camera_id ON operation_cameras (camera_id);

-- A watch order ("consigna"): on one camera or one zone of the operation, until when.
CREATE TABLE watch_orders (
    id           uuid PRIMARY KEY,
    operation_id uuid NOT NULL REFERENCES operations (id),
    camera_id    uuid REFERENCES cameras (id),
    zone_index   integer CHECK (zone_index >= 0),
    instruction  text NOT NULL CHECK (char_length(instruction) BETWEEN 1 AND 1000),
    until        timestamptz NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT watch_orders_one_target CHECK ((camera_id IS NULL) <> (zone_index IS NULL)),
    CONSTRAINT watch_orders_camera_of_operation
        FOREIGN KEY (operation_id, camera_id) REFERENCES operation_cameras (operation_id, camera_id)
);
CREATE INDEX watch_orders_operation_id ON watch_orders (operation_id, until);
CREATE INDEX watch_orders_camera_id ON watch_orders (camera_id);
CREATE INDEX watch_orders_operation_camera ON watch_orders (operation_id, camera_id);

-- The operation a call or incident was tagged with when it came in inside its zones.
ALTER TABLE calls ADD COLUMN operation_id uuid REFERENCES operations (id);
CREATE INDEX calls_operation_id ON calls (operation_id) WHERE operation_id IS NOT NULL;
ALTER TABLE incidents ADD COLUMN operation_id uuid REFERENCES operations (id);
CREATE INDEX incidents_operation_id ON incidents (operation_id) WHERE operation_id IS NOT NULL;

-- A liaison speaks for an agency taking part in operations (a federal one): it sees the
-- incidents of those operations and nothing else. It must name its agency.
ALTER TABLE principals DROP CONSTRAINT principals_role_check;
ALTER TABLE principals ADD CONSTRAINT principals_role_check
    CHECK (role IN ('call_taker', 'dispatcher', 'supervisor', 'video_operator', 'field_unit',
                    'partner_agency', 'gateway', 'admin', 'liaison'));
ALTER TABLE principals ADD CONSTRAINT principals_liaison_has_agency
    CHECK (role <> 'liaison' OR agency_id IS NOT NULL);
