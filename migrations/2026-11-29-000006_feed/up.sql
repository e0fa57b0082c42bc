-- The centre-wide feed: every committed event at a dense position that never changes.
--
-- `events.seq` comes from a sequence taken at insert time, so two transactions can commit in
-- the opposite order of their seq: a reader following `seq` could pass a gap that a slower
-- transaction fills later and never see that event. Instead each event records the top-level
-- transaction id that wrote it, and a publisher gives events their feed position only once they
-- are final: every transaction with an id below the current snapshot's xmin has ended.
--
-- Order: within one publication, by seq. Two events about one unit or one incident are written
-- under that row's lock, so the later one's seq is higher and its transaction began waiting only
-- after the earlier one committed. A committed event still held back by an older running
-- transaction blocks every later seq from being published before it, so those two can never be
-- published the other way round. Across publications and across resources there is no other
-- promise. One publisher at a time (a row lock on event_feed_state); a consumer resuming after
-- position N misses nothing.
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
    low           xid8;
    high          xid8;
    first_blocked bigint;
    published     bigint;
BEGIN
    -- Cheap and lock-free when there is nothing to do (every process calls this on a timer).
    SELECT s.horizon, s.last_position INTO low, last_position FROM event_feed_state s;
    high := pg_snapshot_xmin(pg_current_snapshot());
    IF NOT EXISTS (SELECT 1 FROM events e
                   WHERE e.xid >= low AND e.xid < high
                     AND NOT EXISTS (SELECT 1 FROM event_feed f WHERE f.seq = e.seq)) THEN
        pending := EXISTS (SELECT 1 FROM events e
                           WHERE e.xid >= low
                             AND NOT EXISTS (SELECT 1 FROM event_feed f WHERE f.seq = e.seq));
        RETURN;
    END IF;
    -- One publisher at a time; a second one waits here and then sees the first one's result.
    SELECT s.horizon, s.last_position INTO low, last_position
        FROM event_feed_state s FOR UPDATE;
    high := pg_snapshot_xmin(pg_current_snapshot());
    -- Committed events held back by an older running transaction: nothing after the first of
    -- them goes out before it.
    SELECT min(e.seq) INTO first_blocked FROM events e WHERE e.xid >= high;
    INSERT INTO event_feed (position, seq)
    SELECT last_position + row_number() OVER (ORDER BY e.seq), e.seq
    FROM events e
    WHERE e.xid >= low AND e.xid < high
      AND (first_blocked IS NULL OR e.seq < first_blocked)
      AND NOT EXISTS (SELECT 1 FROM event_feed f WHERE f.seq = e.seq);
    GET DIAGNOSTICS published = ROW_COUNT;
    last_position := last_position + published;
    -- Below the new horizon everything is published.
    SELECT coalesce(min(e.xid), high) INTO low FROM events e
        WHERE e.xid >= low AND e.xid < high
          AND NOT EXISTS (SELECT 1 FROM event_feed f WHERE f.seq = e.seq);
    UPDATE event_feed_state
        SET horizon = low, last_position = publish_events.last_position;
    IF published > 0 THEN
        PERFORM pg_notify('dispatch_feed', last_position::text);
    END IF;
    pending := EXISTS (SELECT 1 FROM events e
                       WHERE e.xid >= low
                         AND NOT EXISTS (SELECT 1 FROM event_feed f WHERE f.seq = e.seq));
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
