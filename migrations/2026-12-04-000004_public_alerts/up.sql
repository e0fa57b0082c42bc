-- Public warnings (OASIS CAP 1.2), one row per CAP message as issued: the first Alert of a
-- warning, then its Updates and its Cancel, each referencing the original. Messages are never
-- changed once issued (consumers may already hold them), so the table is append-only and the
-- document is kept exactly as published.
CREATE TABLE public_alerts (
    id               uuid PRIMARY KEY,
    -- CAP <identifier> and <sender>: no spaces, commas, '<' or '&' (CAP 1.2 §3.2.1).
    identifier       text NOT NULL CHECK (identifier ~ '^[^[:space:],<&]{1,200}$'),
    sender           text NOT NULL CHECK (sender ~ '^[^[:space:],<&]{1,200}$'),
    -- <sent> as written in the document (with its offset), and the instant it names.
    sent             text NOT NULL
        CHECK (sent ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$'),
    sent_at          timestamptz NOT NULL,
    status           text NOT NULL CHECK (status IN ('Actual', 'Exercise', 'System', 'Test', 'Draft')),
    msg_type         text NOT NULL CHECK (msg_type IN ('Alert', 'Update', 'Cancel')),
    -- The warning's first message (msgType Alert) for an Update or Cancel; the sender is part
    -- of the key so that a message can only update one of the same centre's (sender's).
    original_id      uuid,
    original_sender  text,
    incident_id      uuid NOT NULL REFERENCES incidents (id),
    issued_by        text NOT NULL,
    headline         text NOT NULL,
    cap_xml          text NOT NULL CHECK (cap_xml <> ''),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (sender, identifier),
    UNIQUE (id, sender),
    FOREIGN KEY (original_id, original_sender) REFERENCES public_alerts (id, sender),
    CHECK ((msg_type = 'Alert') = (original_id IS NULL)),
    CHECK ((original_id IS NULL) = (original_sender IS NULL)),
    CHECK (original_sender IS NULL OR original_sender = sender)
);
CREATE INDEX public_alerts_original ON public_alerts (original_id, original_sender);
CREATE INDEX public_alerts_incident_id ON public_alerts (incident_id);
CREATE INDEX public_alerts_newest ON public_alerts (created_at DESC, id DESC);
-- A warning is cancelled once.
CREATE UNIQUE INDEX public_alerts_one_cancel ON public_alerts (original_id) WHERE msg_type = 'Cancel';

-- An Update or Cancel follows an original Alert of the same incident that is not cancelled.
-- Serialised per warning by a transaction-scoped advisory lock, so an Update racing a Cancel
-- sees it (SELECT ... FOR UPDATE would need the UPDATE privilege this table does not grant).
CREATE FUNCTION public_alert_follows_open_original() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    original public_alerts%ROWTYPE;
BEGIN
    IF NEW.original_id IS NULL THEN
        RETURN NEW;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('public_alert:' || NEW.original_id::text, 0));
    SELECT * INTO original FROM public_alerts WHERE id = NEW.original_id;
    IF original.msg_type <> 'Alert' THEN
        RAISE EXCEPTION 'public alert % is an %, not the original Alert', NEW.original_id, original.msg_type
            USING ERRCODE = 'check_violation';
    END IF;
    IF original.incident_id <> NEW.incident_id THEN
        RAISE EXCEPTION 'public alert % is about another incident', NEW.original_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM public_alerts
               WHERE original_id = NEW.original_id AND msg_type = 'Cancel') THEN
        RAISE EXCEPTION 'public alert % is cancelled', NEW.original_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER public_alerts_follow_open_original BEFORE INSERT ON public_alerts
    FOR EACH ROW EXECUTE FUNCTION public_alert_follows_open_original();

CREATE TRIGGER public_alerts_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON public_alerts
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
REVOKE UPDATE, DELETE, TRUNCATE ON public_alerts FROM dispatch_app;
