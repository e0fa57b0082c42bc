//! The centre-wide feed: committed events in commit order, at dense positions, read by every
//! `dispatchd` to drive consoles' Watch streams and the geo engine (see migration `_feed`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::StreamExt as _;
use uuid::Uuid;

use dispatch_domain::event::{Event, IncidentEvent};
use dispatch_domain::ids::{CallId, IncidentId, PartnerId, ReferralId, UnitId};
use dispatch_domain::incident::Incident;

use dispatch_domain::assignment::Assignment;

use crate::assignments::load_assignments_of;
use crate::prepared::{BindNext, PreparedSql};
use crate::rows::IncidentRow;
use crate::schema::incidents;
use crate::{Error, Store};

/// The channel the publisher notifies after giving events their positions.
pub const FEED_CHANNEL: &str = "dispatch_feed";

/// One published event.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    /// Dense, commit-ordered position in the feed: what Watch streams call the sequence.
    pub position: i64,
    /// The event's row in the log.
    pub seq: i64,
    pub time: DateTime<Utc>,
    /// When it was published (commit plus the publisher's delay).
    pub published_at: DateTime<Utc>,
    pub actor: String,
    pub call: Option<CallId>,
    pub incident: Option<IncidentId>,
    pub unit: Option<UnitId>,
    pub referral: Option<ReferralId>,
    pub partner: Option<PartnerId>,
    pub event: Event,
}

/// What a publisher run left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The feed's newest position.
    pub last_position: i64,
    /// Committed events still wait behind a running transaction: publish again soon.
    pub pending: bool,
}

/// An incident as Watch streams and list views show it: the row plus its assignments.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSummary {
    pub incident: Incident,
    pub assignments: Vec<Assignment>,
}

#[derive(QueryableByName)]
struct FeedRow {
    #[diesel(sql_type = BigInt)]
    position: i64,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Timestamptz)]
    occurred_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    published_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    actor: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    call_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    incident_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    unit_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    referral_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    partner_id: Option<Uuid>,
    #[diesel(sql_type = Jsonb)]
    details: serde_json::Value,
}

impl TryFrom<FeedRow> for FeedEvent {
    type Error = Error;

    fn try_from(row: FeedRow) -> Result<Self, Error> {
        Ok(Self {
            position: row.position,
            seq: row.seq,
            time: row.occurred_at,
            published_at: row.published_at,
            actor: row.actor,
            call: row.call_id.map(CallId),
            incident: row.incident_id.map(IncidentId),
            unit: row.unit_id.map(UnitId),
            referral: row.referral_id.map(ReferralId),
            partner: row.partner_id.map(PartnerId),
            event: crate::events::read(row.seq, &row.kind, row.details)?,
        })
    }
}

/// A dedicated connection that LISTENs on the feed channel. Notifications are only wake-ups:
/// those sent while it was disconnected are lost, so readers always catch up from the feed.
pub struct FeedListener {
    conn: AsyncPgConnection,
}

impl std::fmt::Debug for FeedListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedListener").finish_non_exhaustive()
    }
}

impl FeedListener {
    /// Waits for the next notification. `Err` when the connection is gone: reconnect.
    pub async fn notified(&mut self) -> Result<(), Error> {
        let mut stream = std::pin::pin!(self.conn.notifications_stream());
        match stream.next().await {
            Some(Ok(_)) => Ok(()),
            Some(Err(error)) => Err(Error::Unavailable(format!("feed listener: {error}"))),
            None => Err(Error::Unavailable(
                "feed listener: connection closed".into(),
            )),
        }
    }
}

impl Store {
    /// Opens a listener on the feed channel (its own connection, outside the pool).
    pub async fn listen(&self) -> Result<FeedListener, Error> {
        let connect = AsyncPgConnection::establish(&self.config.database_url);
        let mut conn = tokio::time::timeout(self.config.acquire_timeout, connect)
            .await
            .map_err(|_| Error::Unavailable("feed listener: connecting timed out".into()))?
            .map_err(|error| Error::Unavailable(format!("feed listener: {error}")))?;
        diesel::sql_query(format!("LISTEN {FEED_CHANNEL}"))
            .execute(&mut conn)
            .await?;
        Ok(FeedListener { conn })
    }

    /// Gives every event that has become final its feed position (see the migration).
    pub async fn publish_events(&self) -> Result<Published, Error> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = BigInt)]
            last_position: i64,
            #[diesel(sql_type = Bool)]
            pending: bool,
        }
        let mut conn = self.conn().await?;
        let row: Row = PreparedSql("SELECT last_position, pending FROM publish_events()")
            .get_result(&mut conn)
            .await?;
        Ok(Published {
            last_position: row.last_position,
            pending: row.pending,
        })
    }

    /// The feed's newest position (0 when empty).
    pub async fn feed_head(&self) -> Result<i64, Error> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = BigInt)]
            last_position: i64,
        }
        let mut conn = self.conn().await?;
        let row: Row = PreparedSql("SELECT last_position FROM event_feed_state")
            .get_result(&mut conn)
            .await?;
        Ok(row.last_position)
    }

    /// Published events after `after` (exclusive), oldest first, at most `limit`.
    pub async fn feed_after(&self, after: i64, limit: i64) -> Result<Vec<FeedEvent>, Error> {
        let mut conn = self.conn().await?;
        let rows: Vec<FeedRow> = PreparedSql(
            "SELECT f.position, f.seq, f.published_at, e.occurred_at, e.actor, e.kind, \
                    e.call_id, e.incident_id, e.unit_id, e.referral_id, e.partner_id, e.details \
             FROM event_feed f JOIN events e ON e.seq = f.seq \
             WHERE f.position > $1 ORDER BY f.position LIMIT $2",
        )
        .bind::<BigInt, _>(after)
        .bind::<BigInt, _>(limit)
        .load(&mut conn)
        .await?;
        rows.into_iter().map(FeedEvent::try_from).collect()
    }

    /// Where each incident event stands in its incident's timeline, by event seq: its 1-based
    /// position in the timeline as it was right after the event (the incident's own events and
    /// those of incidents merged into it by then, up to and including this one). A later merge
    /// renumbers what GetIncident shows; an event keeps the position it had.
    pub async fn timeline_positions(
        &self,
        events: &[(IncidentId, i64)],
    ) -> Result<HashMap<i64, i64>, Error> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = BigInt)]
            seq: i64,
            #[diesel(sql_type = BigInt)]
            position: i64,
        }
        if events.is_empty() {
            return Ok(HashMap::new());
        }
        let (incidents, seqs): (Vec<Uuid>, Vec<i64>) = events
            .iter()
            .map(|(incident, seq)| (incident.0, *seq))
            .unzip();
        let mut conn = self.conn().await?;
        let rows: Vec<Row> = PreparedSql(
            "SELECT ev.seq, ( \
                 WITH RECURSIVE family(id) AS ( \
                     SELECT ev.incident_id \
                     UNION \
                     SELECT i.id FROM incidents i JOIN family f ON i.duplicate_of = f.id \
                     WHERE EXISTS (SELECT 1 FROM events m \
                                   WHERE m.incident_id = f.id AND m.kind = $3 \
                                     AND m.seq <= ev.seq \
                                     AND m.details->>'incident' = 'incidents/' || i.id)) \
                 SELECT count(*) FROM events e \
                 WHERE e.incident_id IN (SELECT id FROM family) AND e.seq <= ev.seq \
             ) AS position \
             FROM unnest($1::uuid[], $2::bigint[]) AS ev(incident_id, seq)",
        )
        .bind::<Array<diesel::sql_types::Uuid>, _>(&incidents)
        .bind::<Array<BigInt>, _>(&seqs)
        .bind::<Text, _>(IncidentEvent::MERGED_IN)
        .load(&mut conn)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| (row.seq, row.position))
            .collect())
    }

    /// Incidents with their assignments, by id (missing ids are left out).
    pub async fn incident_summaries(
        &self,
        ids: &[IncidentId],
    ) -> Result<HashMap<IncidentId, IncidentSummary>, Error> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut conn = self.conn().await?;
        let rows: Vec<IncidentRow> = incidents::table
            .filter(incidents::id.eq_any(ids.iter().map(|id| id.0)))
            .select(IncidentRow::as_select())
            .load(&mut conn)
            .await?;
        let mut summaries = HashMap::with_capacity(rows.len());
        for row in rows {
            let incident = Incident::try_from(row)?;
            summaries.insert(
                incident.id,
                IncidentSummary {
                    incident,
                    assignments: Vec::new(),
                },
            );
        }
        for assignment in load_assignments_of(&mut conn, ids).await? {
            if let Some(summary) = summaries.get_mut(&assignment.incident) {
                summary.assignments.push(assignment);
            }
        }
        Ok(summaries)
    }
}
