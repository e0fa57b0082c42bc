//! A database restored from a logical dump (`pg_dump`) into another cluster.
//!
//! The feed's publisher (migration `_feed`) tells final events from running ones by transaction
//! id: it publishes events whose `xid` is between its horizon and the oldest running
//! transaction. Transaction ids belong to a cluster, and a dump carries the rows but not the
//! cluster's counter: restored into a fresh cluster, the horizon and the restored events'
//! `xid`s lie in that cluster's future, so its new events (with lower ids) would never be
//! published. A physical copy (a standby, a base backup) keeps the counter and needs nothing.
//!
//! So at every start, under the migration lock, the owner checks for ids from the future; when
//! it finds them, every transaction that wrote a restored event has ended (in the old cluster),
//! so what they left unpublished is published now in `seq` order after the restored positions,
//! and the horizon restarts at this cluster's ids.

use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::Error;

/// Adopts a feed restored from another cluster; a no-op (one indexed lookup) otherwise.
/// Returns whether it did.
pub(crate) async fn adopt_restored_feed(conn: &mut AsyncPgConnection) -> Result<bool, Error> {
    #[derive(diesel::QueryableByName)]
    struct Adopted {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        published: i64,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        adopted: bool,
    }
    let row: Adopted = diesel::sql_query(
        "WITH next AS (SELECT pg_snapshot_xmax(pg_current_snapshot()) AS xid), \
              state AS (SELECT s.horizon, s.last_position FROM event_feed_state s FOR UPDATE), \
              foreign_ids AS ( \
                  SELECT (SELECT horizon FROM state) > (SELECT xid FROM next) \
                      OR EXISTS (SELECT 1 FROM events e WHERE e.xid >= (SELECT xid FROM next)) \
                      AS found), \
              unpublished AS ( \
                  SELECT e.seq, row_number() OVER (ORDER BY e.seq) AS n FROM events e \
                  WHERE (SELECT found FROM foreign_ids) AND e.xid IS NOT NULL \
                    AND NOT EXISTS (SELECT 1 FROM event_feed f WHERE f.seq = e.seq)), \
              published AS ( \
                  INSERT INTO event_feed (position, seq) \
                  SELECT (SELECT last_position FROM state) + u.n, u.seq FROM unpublished u \
                  RETURNING position), \
              moved AS ( \
                  UPDATE event_feed_state \
                  SET horizon = pg_snapshot_xmin(pg_current_snapshot()), \
                      last_position = (SELECT last_position FROM state) \
                                      + (SELECT count(*) FROM published) \
                  WHERE (SELECT found FROM foreign_ids) \
                  RETURNING 1) \
         SELECT (SELECT count(*) FROM published) AS published, \
                EXISTS (SELECT 1 FROM moved) AS adopted",
    )
    .get_result(conn)
    .await?;
    if row.adopted {
        tracing::warn!(
            published = row.published,
            "the database was restored from another cluster (transaction ids from its future): \
             published what the dump left unpublished and restarted the feed's horizon"
        );
    }
    Ok(row.adopted)
}
