-- Foundation: the directory (agencies, stations, units), calls and incidents, the append-only
-- event log, idempotency keys and folio counters.

-- Every mutating RPC carries a request_id. The first request with an id records its exact bytes
-- (request_id cleared) and the resource it produced; a retry with the same bytes gets that
-- resource back, a retry with other bytes is refused. The primary key makes a second row
-- impossible however many retries race.
CREATE TABLE idempotency_keys (
    request_id  uuid PRIMARY KEY,
    method      text NOT NULL,
    principal   text NOT NULL,
    request     bytea NOT NULL,
    resource    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- Human folios readable on the radio, e.g. C5/200207/09738: one counter per kind and local day.
CREATE TABLE folio_counters (
    kind        text NOT NULL,
    day         date NOT NULL,
    last_number integer NOT NULL CHECK (last_number > 0),
    PRIMARY KEY (kind, day)
);

CREATE TABLE agencies (
    id           uuid PRIMARY KEY,
    code         text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_.-]{1,64}$'),
    display_name text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 200),
    kind         text NOT NULL CHECK (kind IN ('police', 'fire', 'ems', 'red_cross',
                                               'civil_protection', 'federal', 'other')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stations (
    id           uuid PRIMARY KEY,
    agency_id    uuid NOT NULL REFERENCES agencies (id),
    code         text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_.-]{1,64}$'),
    display_name text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 200),
    latitude     double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude    double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    address      text NOT NULL DEFAULT '' CHECK (char_length(address) <= 500),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stations_agency_id ON stations (agency_id);

CREATE TABLE units (
    id              uuid PRIMARY KEY,
    agency_id       uuid NOT NULL REFERENCES agencies (id),
    home_station_id uuid REFERENCES stations (id),
    call_sign       text NOT NULL UNIQUE CHECK (call_sign ~ '^[A-Za-z0-9_.-]{1,32}$'),
    unit_type       text NOT NULL CHECK (unit_type IN (
                        'patrol', 'motorcycle', 'als_ambulance', 'bls_ambulance', 'engine',
                        'ladder', 'rescue', 'hazmat', 'chief', 'mobile_command_post', 'drone',
                        'civil_protection', 'crowd_control', 'other')),
    capabilities    text[] NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'out_of_service' CHECK (status IN (
                        'available', 'dispatched', 'en_route', 'on_scene', 'transporting',
                        'at_hospital', 'out_of_service')),
    status_at       timestamptz NOT NULL DEFAULT now(),
    version         bigint NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX units_agency_id ON units (agency_id);
CREATE INDEX units_home_station_id ON units (home_station_id);

CREATE TABLE incidents (
    id                uuid PRIMARY KEY,
    folio             text NOT NULL UNIQUE,
    status            text NOT NULL DEFAULT 'new' CHECK (status IN (
                          'new', 'triaged', 'dispatched', 'on_scene', 'resolved', 'closed',
                          'cancelled')),
    incident_type     text CHECK (char_length(incident_type) <= 64),
    priority          smallint CHECK (priority BETWEEN 0 AND 10),
    latitude          double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude         double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    uncertainty_m     double precision NOT NULL CHECK (uncertainty_m >= 0
                                                       AND uncertainty_m <= 1000000),
    location_source   text NOT NULL,
    civic_address     text NOT NULL DEFAULT '' CHECK (char_length(civic_address) <= 500),
    summary           text NOT NULL DEFAULT '' CHECK (char_length(summary) <= 2000),
    linked_call_count integer NOT NULL DEFAULT 0 CHECK (linked_call_count >= 0),
    first_call_at     timestamptz NOT NULL,
    last_call_at      timestamptz NOT NULL,
    closing_code      text CHECK (closing_code IN ('confirmed', 'negative', 'duplicate', 'false',
                                                   'informative')),
    duplicate_of      uuid REFERENCES incidents (id),
    version           bigint NOT NULL DEFAULT 1,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    closed_at         timestamptz,
    CHECK ((status = 'closed') = (closing_code IS NOT NULL)),
    CHECK ((closing_code = 'duplicate') = (duplicate_of IS NOT NULL)),
    CHECK (duplicate_of IS DISTINCT FROM id)
);
-- Duplicate search looks only at open incidents, by latitude band then longitude.
CREATE INDEX incidents_open_by_location ON incidents (latitude, longitude)
    WHERE status NOT IN ('resolved', 'closed', 'cancelled');
CREATE INDEX incidents_created_at ON incidents (created_at DESC, id DESC);
CREATE INDEX incidents_duplicate_of ON incidents (duplicate_of);

CREATE TABLE calls (
    id                 uuid PRIMARY KEY,
    folio              text NOT NULL UNIQUE,
    channel            text NOT NULL CHECK (channel IN (
                           'voice_911', 'app_911', 'panic_button', 'camera', 'radio',
                           'social_media', 'womens_line', 'plate_reader', 'alarm_company',
                           'text', 'partner_app')),
    state              text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'linked', 'disposed')),
    received_at        timestamptz NOT NULL,
    answered_at        timestamptz CHECK (answered_at >= received_at),
    back_entered       boolean NOT NULL DEFAULT false,
    call_taker         text NOT NULL,
    callback_number    text NOT NULL DEFAULT '' CHECK (callback_number ~ '^(\+[1-9][0-9]{6,14}|[0-9*#]{2,15})?$'),
    caller_name        text NOT NULL DEFAULT '' CHECK (char_length(caller_name) <= 200),
    language           text NOT NULL DEFAULT '' CHECK (char_length(language) <= 35),
    latitude           double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude          double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    uncertainty_m      double precision NOT NULL CHECK (uncertainty_m >= 0
                                                        AND uncertainty_m <= 1000000),
    location_source    text NOT NULL CHECK (location_source IN (
                           'device', 'network', 'caller_described', 'fixed_device', 'dispatcher')),
    civic_address      text NOT NULL DEFAULT '' CHECK (char_length(civic_address) <= 500),
    account            text NOT NULL DEFAULT '' CHECK (char_length(account) <= 8000),
    incident_type_hint text NOT NULL DEFAULT '' CHECK (char_length(incident_type_hint) <= 64),
    source_device_id   text NOT NULL DEFAULT '' CHECK (char_length(source_device_id) <= 128),
    incident_id        uuid REFERENCES incidents (id),
    disposition        text CHECK (disposition IN (
                           'hang_up', 'prank', 'misdial', 'information_request',
                           'non_emergency_referred', 'test', 'abandoned', 'other')),
    disposition_note   text NOT NULL DEFAULT '' CHECK (char_length(disposition_note) <= 4000),
    version            bigint NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'linked') = (incident_id IS NOT NULL)),
    CHECK ((state = 'disposed') = (disposition IS NOT NULL))
);
CREATE INDEX calls_received_at ON calls (received_at DESC, id DESC);
CREATE INDEX calls_incident_id ON calls (incident_id);

-- Where the caller was, newest last; the call row holds the current one.
CREATE TABLE call_locations (
    id            bigserial PRIMARY KEY,
    call_id       uuid NOT NULL REFERENCES calls (id),
    latitude      double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude     double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    uncertainty_m double precision NOT NULL CHECK (uncertainty_m >= 0 AND uncertainty_m <= 1000000),
    source        text NOT NULL,
    civic_address text NOT NULL DEFAULT '',
    recorded_by   text NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX call_locations_call_id ON call_locations (call_id, id);

-- Append-only log of every state change: who, what, when. Incident timelines are read from it.
CREATE TABLE events (
    seq         bigserial PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    kind        text NOT NULL,
    call_id     uuid REFERENCES calls (id),
    incident_id uuid REFERENCES incidents (id),
    unit_id     uuid REFERENCES units (id),
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_call_id ON events (call_id) WHERE call_id IS NOT NULL;
CREATE INDEX events_incident_id ON events (incident_id, seq) WHERE incident_id IS NOT NULL;
CREATE INDEX events_unit_id ON events (unit_id) WHERE unit_id IS NOT NULL;

CREATE FUNCTION refuse_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_event_change();

-- Hands out the next folio number of the local day. Runs in its own short transaction before the
-- call's: the counter row is locked only for that instant, so concurrent calls do not queue
-- behind each other's commit. Its commit need not wait for the disk: the call that uses the
-- number commits durably afterwards, and flushing that commit flushes this one too. A number
-- whose call never commits is skipped; the UNIQUE folio columns refuse any reuse.
CREATE FUNCTION next_folio_number(p_kind text, p_time_zone text,
                                  OUT folio_day date, OUT folio_number integer)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    INSERT INTO folio_counters AS f (kind, day, last_number)
    VALUES (p_kind, (now() AT TIME ZONE p_time_zone)::date, 1)
    ON CONFLICT (kind, day) DO UPDATE SET last_number = f.last_number + 1
    RETURNING f.day, f.last_number INTO folio_day, folio_number;
END $$;
