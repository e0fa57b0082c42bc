-- The feed's publisher runs after every commit (and on a timer), so each of its statements must
-- cost the same however long the event log grows. PL/pgSQL plans them once for any values
-- (a generic plan), and for a one-sided `xid >= $1` that plan guessed a third of the log: the
-- pending check read every event, and `min(seq) WHERE xid >= $1` walked the log in seq order
-- looking for one, 1.5 ms per 6,000 events on every publication (issue 23). Every range on
-- `xid` is now closed above by the statement's own snapshot's xmax (every event it can see was
-- written below it, so nothing changes), which the generic plan reads through `events_xid`;
-- and `min(seq)` is taken over those rows (OFFSET 0 keeps the planner from walking seq order).
CREATE OR REPLACE FUNCTION publish_events(OUT last_position bigint, OUT pending boolean)
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
                           WHERE e.xid >= low AND e.xid < pg_snapshot_xmax(pg_current_snapshot())
                             AND NOT EXISTS (SELECT 1 FROM event_feed f WHERE f.seq = e.seq));
        RETURN;
    END IF;
    -- One publisher at a time; a second one waits here and then sees the first one's result.
    SELECT s.horizon, s.last_position INTO low, last_position
        FROM event_feed_state s FOR UPDATE;
    high := pg_snapshot_xmin(pg_current_snapshot());
    -- Committed events held back by an older running transaction: nothing after the first of
    -- them goes out before it.
    SELECT min(blocked.seq) INTO first_blocked
        FROM (SELECT e.seq FROM events e
              WHERE e.xid >= high AND e.xid < pg_snapshot_xmax(pg_current_snapshot())
              OFFSET 0) blocked;
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
                       WHERE e.xid >= low AND e.xid < pg_snapshot_xmax(pg_current_snapshot())
                         AND NOT EXISTS (SELECT 1 FROM event_feed f WHERE f.seq = e.seq));
END $$;
