//! The duplicate search's read: the open incidents near a call, one call at a time or a
//! batch of calls in one statement.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Bool, Double, Integer, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use dispatch_domain::duplicates::NearbyIncident;
use dispatch_domain::ids::IncidentId;
use dispatch_domain::incident::IncidentStatus;
use dispatch_domain::location::BoundingBox;

use crate::error::{parse, point};
use crate::prepared::{BindNext, PreparedSql};
use crate::{Error, Store};

/// What to look for when searching open incidents near a call.
#[derive(Debug, Clone)]
pub struct NearbyQuery {
    pub area: BoundingBox,
    pub received_at: DateTime<Utc>,
    pub window: chrono::Duration,
    pub callback_number: String,
    pub source_device_id: String,
    /// The call itself, whose own incident (if linked already) is still a fine candidate.
    pub limit: i64,
}

#[derive(QueryableByName)]
struct NearbyRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    folio: String,
    #[diesel(sql_type = Text)]
    incident_type: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Double)]
    latitude: f64,
    #[diesel(sql_type = Double)]
    longitude: f64,
    #[diesel(sql_type = Double)]
    uncertainty_m: f64,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    last_call_at: DateTime<Utc>,
    #[diesel(sql_type = Integer)]
    linked_call_count: i32,
    #[diesel(sql_type = Bool)]
    same_callback_number: bool,
    #[diesel(sql_type = Bool)]
    same_source_device: bool,
}

impl Store {
    /// Open incidents in `area` whose latest call is within the window of `received_at`.
    pub async fn nearby_open_incidents(
        &self,
        query: &NearbyQuery,
    ) -> Result<Vec<NearbyIncident>, Error> {
        let mut conn = self.conn().await?;
        let (west, east) = longitudes(query);
        let rows: Vec<NearbyRow> = PreparedSql(
            "SELECT i.id, i.folio, coalesce(i.incident_type, '') AS incident_type, i.status, \
                    i.latitude, i.longitude, i.uncertainty_m, i.created_at, i.last_call_at, \
                    i.linked_call_count, \
                    ($7 <> '' AND EXISTS (SELECT 1 FROM calls c WHERE c.incident_id = i.id \
                                          AND c.callback_number = $7)) AS same_callback_number, \
                    ($8 <> '' AND EXISTS (SELECT 1 FROM calls c WHERE c.incident_id = i.id \
                                          AND c.source_device_id = $8)) AS same_source_device \
             FROM incidents i \
             WHERE i.status NOT IN ('resolved', 'closed', 'cancelled') \
               AND i.latitude BETWEEN $1 AND $2 AND i.longitude BETWEEN $3 AND $4 \
               AND i.last_call_at >= $5 AND i.first_call_at <= $6 \
             ORDER BY i.last_call_at DESC \
             LIMIT $9",
        )
        .bind::<Double, _>(query.area.south)
        .bind::<Double, _>(query.area.north)
        .bind::<Double, _>(west)
        .bind::<Double, _>(east)
        .bind::<Timestamptz, _>(query.received_at - query.window)
        .bind::<Timestamptz, _>(query.received_at + query.window)
        .bind::<Text, _>(&query.callback_number)
        .bind::<Text, _>(&query.source_device_id)
        .bind::<diesel::sql_types::BigInt, _>(query.limit)
        .load(&mut conn)
        .await?;
        rows.into_iter().map(NearbyIncident::try_from).collect()
    }
}

/// The open incidents near each of several calls, in one statement: `nearby_open_incidents`
/// for each query, in order (for a batch of calls, on the batch's connection). The linked-call
/// checks are scalar subqueries with LIMIT, not EXISTS: planned for the 100 rows it assumes a
/// JSON list holds, an EXISTS became a hash of every call in the table.
pub(crate) async fn nearby_open_incidents_of(
    conn: &mut AsyncPgConnection,
    queries: &[&NearbyQuery],
) -> Result<Vec<Vec<NearbyIncident>>, Error> {
    let input: Vec<serde_json::Value> = queries
        .iter()
        .enumerate()
        .map(|(ord, query)| {
            let (west, east) = longitudes(query);
            serde_json::json!({
                "ord": ord,
                "south": query.area.south,
                "north": query.area.north,
                "west": west,
                "east": east,
                "since": (query.received_at - query.window).format(TIMESTAMP).to_string(),
                "until": (query.received_at + query.window).format(TIMESTAMP).to_string(),
                "callback_number": query.callback_number,
                "source_device_id": query.source_device_id,
                "lim": query.limit,
            })
        })
        .collect();
    let rows: Vec<NearbyOfRow> = PreparedSql(
        "SELECT q.ord, i.id, i.folio, coalesce(i.incident_type, '') AS incident_type, i.status, \
                i.latitude, i.longitude, i.uncertainty_m, i.created_at, i.last_call_at, \
                i.linked_call_count, \
                (q.callback_number <> '' AND coalesce((SELECT true FROM calls c \
                     WHERE c.incident_id = i.id AND c.callback_number = q.callback_number \
                     LIMIT 1), false)) AS same_callback_number, \
                (q.source_device_id <> '' AND coalesce((SELECT true FROM calls c \
                     WHERE c.incident_id = i.id AND c.source_device_id = q.source_device_id \
                     LIMIT 1), false)) AS same_source_device \
         FROM jsonb_to_recordset($1) AS q(ord integer, south double precision, \
                  north double precision, west double precision, east double precision, \
                  since timestamptz, until timestamptz, callback_number text, \
                  source_device_id text, lim bigint) \
         CROSS JOIN LATERAL ( \
             SELECT * FROM incidents i \
             WHERE i.status NOT IN ('resolved', 'closed', 'cancelled') \
               AND i.latitude BETWEEN q.south AND q.north \
               AND i.longitude BETWEEN q.west AND q.east \
               AND i.last_call_at >= q.since AND i.first_call_at <= q.until \
             ORDER BY i.last_call_at DESC \
             LIMIT q.lim) i \
         ORDER BY q.ord, i.last_call_at DESC",
    )
    .bind::<diesel::sql_types::Jsonb, _>(serde_json::Value::Array(input))
    .load(conn)
    .await?;
    let mut found: Vec<Vec<NearbyIncident>> = vec![Vec::new(); queries.len()];
    for row in rows {
        let list = usize::try_from(row.ord)
            .ok()
            .and_then(|ord| found.get_mut(ord))
            .ok_or_else(|| Error::Internal(format!("unexpected search {}", row.ord)))?;
        list.push(NearbyIncident::try_from(row.incident)?);
    }
    Ok(found)
}

/// Microseconds, as PostgreSQL keeps them and as diesel's binary parameters truncate them.
pub(crate) const TIMESTAMP: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// An area crossing the antimeridian is searched by latitude alone.
fn longitudes(query: &NearbyQuery) -> (f64, f64) {
    if query.area.west < -180.0 || query.area.east > 180.0 {
        (-180.0, 180.0)
    } else {
        (query.area.west, query.area.east)
    }
}

#[derive(QueryableByName)]
struct NearbyOfRow {
    #[diesel(sql_type = Integer)]
    ord: i32,
    #[diesel(embed)]
    incident: NearbyRow,
}

impl TryFrom<NearbyRow> for NearbyIncident {
    type Error = Error;

    fn try_from(row: NearbyRow) -> Result<Self, Error> {
        Ok(NearbyIncident {
            id: IncidentId(row.id),
            folio: row.folio,
            incident_type: row.incident_type,
            status: parse("incident status", &row.status, IncidentStatus::parse)?,
            point: point(row.latitude, row.longitude)?,
            uncertainty_m: row.uncertainty_m,
            created_at: row.created_at,
            last_call_at: row.last_call_at,
            linked_call_count: row.linked_call_count,
            same_callback_number: row.same_callback_number,
            same_source_device: row.same_source_device,
        })
    }
}
