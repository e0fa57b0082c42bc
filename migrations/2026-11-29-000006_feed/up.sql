-- The centre-wide feed: every committed event, in commit order, at a dense position.
--
-- `events.seq` comes from a sequence taken at insert time, so two transactions can commit in
-- the opposite order of their seq: a reader following `seq` could pass a gap that a slower
-- transaction fills later and never see that event. Instead each event records the top-level
-- transaction id that wrote it, and a publisher gives events their feed position only once no
-- transaction that could still write below them is running: every transaction with an id below
-- the current snapshot's xmin has ended, so the events they wrote are final. Positions are
-- handed out in (xid, seq) order by one publisher at a time (a row lock on event_feed_state), so
-- they are dense, never change, and a consumer resuming after position N misses nothing.
--
-- Writers never NOTIFY: a NOTIFY serialises every committing transaction of the cluster until
-- its commit record is flushed. Each dispatchd wakes its own publisher after its own commits;
-- the publisher (one NOTIFY per batch) wakes every dispatchd's readers. A publisher also runs
-- on a timer, so events whose writer died before publishing are published anyway.

-- Nullable so that adding it does not rewrite the log; events written before this migration
-- have none and are not in the feed (a watcher's snapshot covers them).
ALTER TABLE events ADD COLUMN xid xid8;
ALTER TABLE events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX events_xid ON events (xid, seq) WHERE xid IS NOT NULL;

CREATE TABLE event_feed (
    position     bigint PRIMARY KEY CHECK (position > 0),
    seq          bigint NOT NULL UNIQUE REFERENCES events (seq),
    published_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE event_feed_state (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    -- Every event whose xid is below the horizon has its position.
    horizon       xid8 NOT NULL,
    last_position bigint NOT NULL CHECK (last_position >= 0),
    created_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO event_feed_state (horizon, last_position) VALUES (pg_current_xact_id(), 0);

-- Publishes what has become final. Returns the feed's last position, and whether committed
-- events are still waiting behind a running transaction (call again soon).
CREATE FUNCTION publish_events(OUT last_position bigint, OUT pending boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    old_horizon xid8;
    new_horizon xid8;
    published   bigint;
BEGIN
    -- Cheap and lock-free when there is nothing to do (every process calls this on a timer).
    SELECT s.horizon, s.last_position INTO old_horizon, last_position FROM event_feed_state s;
    new_horizon := pg_snapshot_xmin(pg_current_snapshot());
    IF NOT EXISTS (SELECT 1 FROM events e WHERE e.xid >= old_horizon AND e.xid < new_horizon) THEN
        pending := EXISTS (SELECT 1 FROM events e WHERE e.xid >= old_horizon);
        RETURN;
    END IF;
    -- One publisher at a time; a second one waits here and then sees the first one's result.
    SELECT s.horizon, s.last_position INTO old_horizon, last_position
        FROM event_feed_state s FOR UPDATE;
    new_horizon := pg_snapshot_xmin(pg_current_snapshot());
    IF new_horizon > old_horizon THEN
        INSERT INTO event_feed (position, seq)
        SELECT last_position + row_number() OVER (ORDER BY e.xid, e.seq), e.seq
        FROM events e
        WHERE e.xid >= old_horizon AND e.xid < new_horizon;
        GET DIAGNOSTICS published = ROW_COUNT;
        last_position := last_position + published;
        UPDATE event_feed_state
            SET horizon = new_horizon, last_position = publish_events.last_position;
        IF published > 0 THEN
            PERFORM pg_notify('dispatch_feed', last_position::text);
        END IF;
    END IF;
    pending := EXISTS (SELECT 1 FROM events e WHERE e.xid >= new_horizon);
END $$;

-- Only the publisher writes the feed: the application may read it and call the publisher.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON event_feed, event_feed_state FROM dispatch_app;
GRANT SELECT ON event_feed, event_feed_state TO dispatch_app;
REVOKE ALL ON FUNCTION publish_events() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION publish_events() TO dispatch_app;
CREATE TRIGGER event_feed_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON event_feed
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_event_change();

-- Position reports announce a unit's move at most once per interval (the rest only update the
-- row): consoles and the other processes' engines follow the coalesced events.
ALTER TABLE units ADD COLUMN position_announced_at timestamptz;
-- Room in every page for the next version of a row: a position report (no indexed column
-- changes) then stays a HOT update and touches none of the table's indexes.
ALTER TABLE units SET (fillfactor = 70);
