ALTER TABLE units RESET (fillfactor);
ALTER TABLE units DROP COLUMN position_announced_at;
DROP TRIGGER event_feed_append_only ON event_feed;
DROP FUNCTION publish_events();
DROP TABLE event_feed_state;
DROP TABLE event_feed;
DROP INDEX events_xid;
ALTER TABLE events DROP COLUMN xid;
