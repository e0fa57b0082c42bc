-- Victim-care referral: partner agencies with service areas and capacity, referrals with
-- consent and an append-only history, follow-ups, and the partner feed on the event log.

CREATE TABLE partners (
    id                  uuid PRIMARY KEY,
    code                text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_.-]{1,64}$'),
    display_name        text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 200),
    kind                text NOT NULL CHECK (kind IN ('hospital', 'red_cross', 'womens_centre', 'shelter',
                                                       'legal_aid', 'psychological_care', 'child_protection',
                                                       'social_program', 'other')),
    services            text[] NOT NULL,
    -- Service areas as the domain validated them: [{"display_name", "polygons": [[[lon, lat], ...], ...]}]
    areas               jsonb NOT NULL DEFAULT '[]',
    latitude            double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude           double precision CHECK (longitude BETWEEN -180 AND 180),
    address             text NOT NULL DEFAULT '' CHECK (char_length(address) <= 500),
    available_slots     integer NOT NULL DEFAULT 0 CHECK (available_slots >= 0),
    total_slots         integer NOT NULL DEFAULT 0 CHECK (total_slots >= 0),
    not_accepting       boolean NOT NULL DEFAULT false,
    capacity_note       text NOT NULL DEFAULT '' CHECK (char_length(capacity_note) <= 500),
    capacity_updated_at timestamptz NOT NULL DEFAULT now(),
    contacts            jsonb NOT NULL DEFAULT '[]',
    version             bigint NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((latitude IS NULL) = (longitude IS NULL))
);

-- A partner principal speaks for a partner that exists.
ALTER TABLE principals
    ADD CONSTRAINT principals_partner_id_fkey FOREIGN KEY (partner_id) REFERENCES partners (id);

CREATE TABLE referrals (
    id                          uuid PRIMARY KEY,
    incident_id                 uuid NOT NULL REFERENCES incidents (id),
    partner_id                  uuid NOT NULL REFERENCES partners (id),
    status                      text NOT NULL CHECK (status IN ('requested', 'accepted', 'declined',
                                    'in_progress', 'on_hold', 'completed', 'cancelled')),
    -- The minimum necessary: alias or name, age range, gender, language, safe contact, notes.
    victim                      jsonb NOT NULL,
    needs                       text[] NOT NULL CHECK (cardinality(needs) >= 1),
    consent_given_by            text,
    consent_given_at            timestamptz,
    consent_scope               text,
    life_threat_medical_handoff boolean NOT NULL DEFAULT false,
    decline_reason              text NOT NULL DEFAULT '' CHECK (char_length(decline_reason) <= 2000),
    notes                       text NOT NULL DEFAULT '' CHECK (char_length(notes) <= 4000),
    requested_by                text NOT NULL,
    version                     bigint NOT NULL DEFAULT 1,
    status_at                   timestamptz NOT NULL DEFAULT now(),
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    -- No consent only for a flagged life-threat medical hand-off.
    CHECK (consent_given_by IS NOT NULL OR life_threat_medical_handoff),
    CHECK ((consent_given_by IS NULL) = (consent_given_at IS NULL)
           AND (consent_given_by IS NULL) = (consent_scope IS NULL)),
    CHECK ((status = 'declined') = (decline_reason <> ''))
);
CREATE INDEX referrals_incident_id ON referrals (incident_id);
CREATE INDEX referrals_partner_id ON referrals (partner_id, created_at DESC, id DESC);

CREATE TABLE referral_history (
    id          bigserial PRIMARY KEY,
    referral_id uuid NOT NULL REFERENCES referrals (id),
    kind        text NOT NULL,
    actor       text NOT NULL,
    from_status text,
    to_status   text,
    partner_id  uuid REFERENCES partners (id),
    note        text NOT NULL DEFAULT '',
    follow_up   uuid,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX referral_history_referral_id ON referral_history (referral_id, id);
CREATE INDEX referral_history_partner_id ON referral_history (partner_id);
CREATE TRIGGER referral_history_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON referral_history
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
REVOKE UPDATE, DELETE, TRUNCATE ON referral_history FROM dispatch_app;

CREATE TABLE follow_ups (
    id           uuid PRIMARY KEY,
    referral_id  uuid NOT NULL REFERENCES referrals (id),
    due_at       timestamptz NOT NULL,
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'cancelled')),
    done_at      timestamptz,
    outcome      text,
    outcome_note text NOT NULL DEFAULT '' CHECK (char_length(outcome_note) <= 4000),
    recorded_by  text NOT NULL DEFAULT '',
    scheduled    boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'done') = (done_at IS NOT NULL AND outcome IS NOT NULL))
);
CREATE INDEX follow_ups_referral_id ON follow_ups (referral_id, due_at);
CREATE INDEX follow_ups_due ON follow_ups (due_at) WHERE state = 'pending';

-- The partner feed reads the event log: referral events carry the referral and its partner.
ALTER TABLE events
    ADD COLUMN referral_id uuid REFERENCES referrals (id),
    ADD COLUMN partner_id  uuid REFERENCES partners (id);
CREATE INDEX events_referral_id ON events (referral_id) WHERE referral_id IS NOT NULL;
CREATE INDEX events_partner_feed ON events (partner_id, seq) WHERE partner_id IS NOT NULL;
