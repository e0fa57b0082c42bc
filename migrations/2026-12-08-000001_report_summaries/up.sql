-- What two reports would otherwise recompute from a centre's whole history on every read
-- (issue 21: a report over a million calls answers in under a second), kept current by
-- triggers so that no writer can forget them.

-- The call that opened each incident: the earliest received of the calls linked to it, ties
-- broken by folio (README, "Reports", duplicates). The duplicate report counts a period's
-- duplicates as its linked calls less the openers among them, with no join of calls to
-- incidents. Calls only ever join an incident (a link, or a merge moving the duplicate's calls
-- to the survivor) and `received_at` and `folio` never change, so the opener only ever moves
-- to an earlier call. A merged-away incident keeps its stale opener: every call of it counts as
-- a duplicate anyway (its `duplicate_of` is set). Not a foreign key: a retention purge deletes
-- an incident's calls before the incident.
ALTER TABLE incidents
    ADD COLUMN opening_call_id uuid,
    ADD COLUMN opening_call_at timestamptz,
    ADD COLUMN opening_channel text;

-- A call inserted with its incident, or linked or moved to another one. Row-level, and only
-- when the call has an incident: CreateCall inserts open calls, which fire nothing (no
-- transition table is captured on the hottest insert of a centre).
CREATE FUNCTION note_opening_call() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE incidents i
       SET opening_call_id = NEW.id, opening_call_at = NEW.received_at,
           opening_channel = NEW.channel
     WHERE i.id = NEW.incident_id
       AND (i.opening_call_id IS NULL OR i.opening_call_at > NEW.received_at
            OR (i.opening_call_at = NEW.received_at
                AND (SELECT c.folio FROM calls c WHERE c.id = i.opening_call_id) > NEW.folio));
    RETURN NULL;
END $$;
CREATE TRIGGER calls_opening_insert AFTER INSERT ON calls
    FOR EACH ROW WHEN (NEW.incident_id IS NOT NULL) EXECUTE FUNCTION note_opening_call();
CREATE TRIGGER calls_opening_link AFTER UPDATE OF incident_id ON calls
    FOR EACH ROW WHEN (NEW.incident_id IS NOT NULL
                       AND NEW.incident_id IS DISTINCT FROM OLD.incident_id)
    EXECUTE FUNCTION note_opening_call();

UPDATE incidents i
   SET opening_call_id = o.id, opening_call_at = o.received_at, opening_channel = o.channel
  FROM (SELECT DISTINCT ON (incident_id) incident_id, id, received_at, channel FROM calls
         WHERE incident_id IS NOT NULL ORDER BY incident_id, received_at, folio) o
 WHERE o.incident_id = i.id;

CREATE INDEX incidents_opening_call_at ON incidents (opening_call_at)
    WHERE duplicate_of IS NULL;

-- Each status of the unit status history as the span it lasted: from its status time until
-- the unit's next status time (NULL while it is the unit's latest). Utilization sums these
-- over a period in one pass, instead of ordering the whole history to pair each status with
-- the next. Times are also kept as microseconds since the epoch: summing integers is several
-- times faster than summing intervals. A status back-entered between two others splits the
-- span it falls in, exactly as ordering the history by (status time, id) would pair them.
CREATE TABLE unit_status_spans (
    history_id bigint PRIMARY KEY,
    unit_id    uuid NOT NULL REFERENCES units (id),
    status     text NOT NULL,
    since      timestamptz NOT NULL,
    until      timestamptz,
    since_us   bigint NOT NULL,
    until_us   bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (until IS NULL OR until >= since),
    CHECK ((until IS NULL) = (until_us IS NULL))
);
CREATE INDEX unit_status_spans_unit ON unit_status_spans (unit_id, since, history_id);
-- A period's spans: those that end after it starts (or have not ended).
CREATE INDEX unit_status_spans_until ON unit_status_spans (coalesce(until_us, 9223372036854775807));

CREATE FUNCTION epoch_us(t timestamptz) RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (extract(epoch FROM t) * 1000000)::bigint;

-- Only this trigger writes spans (it runs as their owner); the server reads them. Set-based
-- (one statement, however many statuses were inserted): the new statuses become spans, then
-- each affected unit's spans from the last one before its earliest new status are paired with
-- their next again. Appending a unit's latest status touches two spans.
REVOKE INSERT, UPDATE ON unit_status_spans FROM dispatch_app;
CREATE FUNCTION record_unit_status_spans() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO unit_status_spans (history_id, unit_id, status, since, since_us)
    SELECT id, unit_id, status, status_at, epoch_us(status_at) FROM new_statuses;
    WITH affected AS (
        SELECT n.unit_id,
               (SELECT max(p.since) FROM unit_status_spans p
                 WHERE p.unit_id = n.unit_id AND p.since < min(n.status_at)) AS from_since,
               min(n.status_at) AS earliest
          FROM new_statuses n GROUP BY n.unit_id),
    paired AS (
        SELECT s.history_id,
               lead(s.since) OVER (PARTITION BY s.unit_id ORDER BY s.since, s.history_id)
                   AS next_since
          FROM affected a JOIN unit_status_spans s ON s.unit_id = a.unit_id
         WHERE s.since >= coalesce(a.from_since, a.earliest))
    UPDATE unit_status_spans s
       SET until = p.next_since, until_us = epoch_us(p.next_since)
      FROM paired p
     WHERE s.history_id = p.history_id AND s.until IS DISTINCT FROM p.next_since;
    RETURN NULL;
END $$;
CREATE TRIGGER unit_status_history_spans AFTER INSERT ON unit_status_history
    REFERENCING NEW TABLE AS new_statuses
    FOR EACH STATEMENT EXECUTE FUNCTION record_unit_status_spans();

INSERT INTO unit_status_spans (history_id, unit_id, status, since, until, since_us, until_us)
SELECT id, unit_id, status, status_at, until, epoch_us(status_at), epoch_us(until)
  FROM (SELECT id, unit_id, status, status_at,
               lead(status_at) OVER (PARTITION BY unit_id ORDER BY status_at, id) AS until
          FROM unit_status_history) h;

-- The incidents `dispatchd` still has to stamp with their geography (written before those
-- columns): each batch of the stamper finds its next thousand here instead of scanning every
-- incident, so stamping a centre's history is linear, not quadratic.
CREATE INDEX incidents_unplaced ON incidents (id) WHERE h3_cell IS NULL;
