//! A database restored from a logical dump (`pg_dump`) into another cluster.
//!
//! The feed's publisher (migration `_feed`) tells final events from running ones by transaction
//! id: it publishes events whose `xid` is between its horizon and the oldest running
//! transaction. Transaction ids belong to a cluster, and a dump carries the rows but not the
//! cluster's counter: restored into a fresh cluster, the horizon and the restored events'
//! `xid`s lie in that cluster's future, so its new events (with lower ids) would never be
//! published. A physical copy (a standby, a base backup) keeps the counter and needs nothing.
//!
//! Worse, a restored event whose id lies in the new cluster's future looks like the write of a
//! transaction still running, and the publisher holds every later event back behind it.
//!
//! So at every start, under the migration lock, the owner looks for ids from the future (one
//! indexed lookup). When it finds them, every transaction that wrote a restored event has ended
//! (in the old cluster): what they left unpublished is published now, in `seq` order after the
//! restored positions; the restored events' ids, which mean nothing in this cluster, are cleared
//! (the one change to the append-only log, made as its owner with the guard trigger off for the
//! statement: the events themselves are untouched); and the horizon restarts at this cluster's
//! ids. It rewrites the log's rows once, at the first start after a restore.

use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::Error;

/// Adopts a feed restored from another cluster; a no-op otherwise. Returns whether it did.
pub(crate) async fn adopt_restored_feed(conn: &mut AsyncPgConnection) -> Result<bool, Error> {
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    let check: Found = diesel::sql_query(
        "SELECT s.horizon > pg_snapshot_xmax(pg_current_snapshot()) \
                OR EXISTS (SELECT 1 FROM events e \
                           WHERE e.xid >= pg_snapshot_xmax(pg_current_snapshot())) AS found \
         FROM event_feed_state s",
    )
    .get_result(conn)
    .await?;
    if !check.found {
        return Ok(false);
    }
    // One statement, so one transaction; it checks again under the feed's lock.
    diesel::sql_query(
        "DO $$ \
         DECLARE \
             next_xid xid8 := pg_snapshot_xmax(pg_current_snapshot()); \
             state record; \
             published bigint; \
         BEGIN \
             SELECT horizon, last_position INTO state FROM event_feed_state FOR UPDATE; \
             IF state.horizon <= next_xid \
                AND NOT EXISTS (SELECT 1 FROM events WHERE xid >= next_xid) THEN \
                 RETURN; \
             END IF; \
             INSERT INTO event_feed (position, seq) \
             SELECT state.last_position + row_number() OVER (ORDER BY e.seq), e.seq \
             FROM events e \
             WHERE e.xid IS NOT NULL \
               AND NOT EXISTS (SELECT 1 FROM event_feed f WHERE f.seq = e.seq); \
             GET DIAGNOSTICS published = ROW_COUNT; \
             ALTER TABLE events DISABLE TRIGGER events_append_only; \
             UPDATE events SET xid = NULL WHERE xid IS NOT NULL; \
             ALTER TABLE events ENABLE TRIGGER events_append_only; \
             UPDATE event_feed_state \
                 SET horizon = pg_snapshot_xmin(pg_current_snapshot()), \
                     last_position = state.last_position + published; \
             RAISE WARNING 'restored from another cluster: published % events the dump left \
                            unpublished and restarted the feed''s horizon', published; \
         END $$",
    )
    .execute(conn)
    .await?;
    tracing::warn!(
        "the database was restored from another cluster (transaction ids from its future): \
         the feed is adopted (see PostgreSQL's log for what was published)"
    );
    Ok(true)
}
