//! What the interval, utilization and duplicate reports read: the period's incidents with their
//! units' recorded times, the units' status histories, and calls counted by channel and hour.
//! Each report's reads run in one read-only REPEATABLE READ transaction (one snapshot, never
//! blocking a writer) with a statement timeout; the domain's `reporting` decides what counts.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Int2, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use dispatch_domain::call::Channel;
use dispatch_domain::directory::{UnitStatus, UnitType};
use dispatch_domain::ids::UnitId;
use dispatch_domain::reporting::Period;
use dispatch_domain::reporting::duplicates::CallCounts;
use dispatch_domain::reporting::intervals::{AssignmentTimes, IncidentTimes};
use dispatch_domain::reporting::utilization::UnitHistory;

use crate::{Error, Store};

/// A report that takes longer than this is cancelled by PostgreSQL (a runaway period over a
/// centre's whole history must not hold a connection for minutes).
const REPORT_TIMEOUT_MS: u32 = 30_000;

/// A report's joins and sorts over a year of history fit in memory with this much (the default
/// 4 MB spills the period's incidents to disk); it is per sort or hash, per report.
const REPORT_WORK_MEM: &str = "128MB";

#[derive(diesel::QueryableByName)]
struct IncidentRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    first_call_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    incident_type: Option<String>,
    #[diesel(sql_type = Nullable<Int2>)]
    priority: Option<i16>,
    #[diesel(sql_type = Text)]
    area: String,
    #[diesel(sql_type = Text)]
    station_area: String,
}

#[derive(diesel::QueryableByName)]
struct AssignmentRow {
    #[diesel(sql_type = SqlUuid)]
    incident_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    unit_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    dispatched_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    en_route_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    on_scene_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    transporting_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at_hospital_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    cleared_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    released_at: Option<DateTime<Utc>>,
}

#[derive(diesel::QueryableByName)]
struct UnitRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    call_sign: String,
    #[diesel(sql_type = Text)]
    unit_type: String,
    #[diesel(sql_type = Text)]
    agency: String,
    #[diesel(sql_type = Text)]
    station: String,
}

#[derive(diesel::QueryableByName)]
struct StatusRow {
    #[diesel(sql_type = SqlUuid)]
    unit_id: Uuid,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Timestamptz)]
    status_at: DateTime<Utc>,
}

#[derive(diesel::QueryableByName)]
struct CountRow {
    #[diesel(sql_type = SqlUuid)]
    unit_id: Uuid,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(diesel::QueryableByName)]
struct CallCountRow {
    #[diesel(sql_type = Text)]
    channel: String,
    #[diesel(sql_type = Integer)]
    hour: i32,
    #[diesel(sql_type = BigInt)]
    calls: i64,
    #[diesel(sql_type = BigInt)]
    duplicates: i64,
    #[diesel(sql_type = BigInt)]
    disposed: i64,
    #[diesel(sql_type = BigInt)]
    open: i64,
}

/// A unit as reports label it (agency and station shared among the units that have them).
struct UnitFacts {
    call_sign: String,
    unit_type: UnitType,
    agency: Arc<str>,
    station: Arc<str>,
}

fn stored<T>(what: &str, text: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, Error> {
    parse(text).ok_or_else(|| Error::Internal(format!("a stored {what} {text:?} is unknown")))
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

async fn units(conn: &mut AsyncPgConnection) -> Result<HashMap<Uuid, UnitFacts>, Error> {
    let rows: Vec<UnitRow> = diesel::sql_query(
        "SELECT u.id, u.call_sign, u.unit_type, a.code AS agency, coalesce(s.code, '') AS station \
         FROM units u JOIN agencies a ON a.id = u.agency_id \
         LEFT JOIN stations s ON s.id = u.home_station_id",
    )
    .load(conn)
    .await?;
    let mut codes: HashMap<String, Arc<str>> = HashMap::new();
    let mut shared = |code: String| -> Arc<str> {
        codes
            .entry(code)
            .or_insert_with_key(|code| Arc::from(code.as_str()))
            .clone()
    };
    rows.into_iter()
        .map(|row| {
            Ok((
                row.id,
                UnitFacts {
                    unit_type: stored("unit type", &row.unit_type, UnitType::parse)?,
                    call_sign: row.call_sign,
                    agency: shared(row.agency),
                    station: shared(row.station),
                },
            ))
        })
        .collect()
}

/// The period's incidents: first call within it, not merged into another.
async fn period_incidents(
    conn: &mut AsyncPgConnection,
    period: &Period,
) -> Result<Vec<IncidentRow>, Error> {
    Ok(diesel::sql_query(
        "SELECT id, first_call_at, incident_type, priority, area, station_area FROM incidents \
         WHERE first_call_at >= $1 AND first_call_at < $2 AND duplicate_of IS NULL",
    )
    .bind::<Timestamptz, _>(period.start)
    .bind::<Timestamptz, _>(period.end)
    .load(conn)
    .await?)
}

/// Every assignment of the period's incidents, with its recorded times.
async fn period_assignments(
    conn: &mut AsyncPgConnection,
    period: &Period,
) -> Result<Vec<AssignmentRow>, Error> {
    Ok(diesel::sql_query(
        "SELECT a.incident_id, a.unit_id, a.dispatched_at, a.en_route_at, a.on_scene_at, \
                a.transporting_at, a.at_hospital_at, a.cleared_at, a.released_at \
         FROM assignments a JOIN incidents i ON i.id = a.incident_id \
         WHERE i.first_call_at >= $1 AND i.first_call_at < $2 AND i.duplicate_of IS NULL",
    )
    .bind::<Timestamptz, _>(period.start)
    .bind::<Timestamptz, _>(period.end)
    .load(conn)
    .await?)
}

/// The period's incidents with their assignments' times, read on two connections at once
/// (the incidents and units on `one`, the assignments on `two`; both in one snapshot).
async fn incident_times(
    one: &mut AsyncPgConnection,
    two: &mut AsyncPgConnection,
    period: &Period,
) -> Result<(HashMap<Uuid, UnitFacts>, Vec<IncidentTimes>), Error> {
    let ((units, incidents), assignments) = tokio::try_join!(
        async {
            let units = units(one).await?;
            Ok::<_, Error>((units, period_incidents(one, period).await?))
        },
        period_assignments(two, period)
    )?;
    let mut index: HashMap<Uuid, usize> = HashMap::with_capacity(incidents.len());
    let mut out: Vec<IncidentTimes> = Vec::with_capacity(incidents.len());
    for row in incidents {
        index.insert(row.id, out.len());
        out.push(IncidentTimes {
            first_call: row.first_call_at,
            incident_type: row.incident_type,
            priority: row.priority,
            area: row.area,
            station_area: row.station_area,
            assignments: Vec::new(),
        });
    }
    for row in assignments {
        let (Some(&i), Some(unit)) = (index.get(&row.incident_id), units.get(&row.unit_id)) else {
            continue;
        };
        out[i].assignments.push(AssignmentTimes {
            unit_type: unit.unit_type,
            agency: unit.agency.clone(),
            home_station: unit.station.clone(),
            dispatched: row.dispatched_at,
            en_route: row.en_route_at,
            on_scene: row.on_scene_at,
            transporting: row.transporting_at,
            at_hospital: row.at_hospital_at,
            cleared: row.cleared_at,
            released: row.released_at,
        });
    }
    Ok((units, out))
}

#[derive(diesel::QueryableByName)]
pub(crate) struct Snapshot {
    #[diesel(sql_type = Text)]
    pub(crate) snapshot: String,
}

/// The report's limits on this transaction: its timeout, and memory for its joins.
pub(crate) async fn limit(conn: &mut AsyncPgConnection) -> Result<(), Error> {
    diesel_async::SimpleAsyncConnection::batch_execute(
        conn,
        &format!(
            "SET LOCAL statement_timeout = {REPORT_TIMEOUT_MS}; \
             SET LOCAL work_mem = '{REPORT_WORK_MEM}'"
        ),
    )
    .await?;
    Ok(())
}

/// Runs `$body` with `$one` and `$two`: two connections in read-only REPEATABLE READ
/// transactions sharing one snapshot (exported by the first, taken by the second), each with
/// the report's limits.
macro_rules! two_snapshots {
    ($store:expr, |$one:ident, $two:ident| $body:expr) => {{
        let mut first = $store.conn().await?;
        let mut second = $store.conn().await?;
        first
            .build_transaction()
            .read_only()
            .repeatable_read()
            .run(async |$one| {
                $crate::reports::limit($one).await?;
                let exported: $crate::reports::Snapshot =
                    diesel::sql_query("SELECT pg_export_snapshot() AS snapshot")
                        .get_result($one)
                        .await?;
                second
                    .build_transaction()
                    .read_only()
                    .repeatable_read()
                    .run(async |$two| {
                        // Only PostgreSQL's own snapshot name is ever spliced in here.
                        diesel::sql_query(format!(
                            "SET TRANSACTION SNAPSHOT '{}'",
                            exported.snapshot.replace('\'', "")
                        ))
                        .execute($two)
                        .await?;
                        $crate::reports::limit($two).await?;
                        $body
                    })
                    .await
            })
            .await
    }};
}
pub(crate) use two_snapshots;

/// Runs `$body` on `$conn` in one read-only REPEATABLE READ transaction with the report
/// timeout (a macro: an async closure's future passed as a generic is not `Send`).
macro_rules! snapshot {
    ($store:expr, |$conn:ident| $body:expr) => {{
        let mut conn = $store.conn().await?;
        conn.build_transaction()
            .read_only()
            .repeatable_read()
            .run(async |$conn| {
                limit($conn).await?;
                $body
            })
            .await
    }};
}

impl Store {
    /// What the interval report reads.
    pub async fn interval_times(&self, period: &Period) -> Result<Vec<IncidentTimes>, Error> {
        two_snapshots!(self, |one, two| {
            Ok(incident_times(one, two, period).await?.1)
        })
    }

    /// What the utilization report reads: every unit's statuses over the period (the one it
    /// was in at the start, and each change within), the assignments each started in it, and
    /// the period's incidents for first-due performance.
    pub async fn utilization_inputs(
        &self,
        period: &Period,
    ) -> Result<(Vec<UnitHistory>, Vec<IncidentTimes>), Error> {
        two_snapshots!(self, |one, conn| {
            let (units, incidents) = incident_times(one, conn, period).await?;
            let statuses: Vec<StatusRow> = diesel::sql_query(
                "SELECT u.id AS unit_id, h.status, h.status_at FROM units u \
                 CROSS JOIN LATERAL (SELECT status, status_at, id FROM unit_status_history \
                                     WHERE unit_id = u.id AND status_at < $1 \
                                     ORDER BY status_at DESC, id DESC LIMIT 1) h \
                 UNION ALL \
                 (SELECT unit_id, status, status_at FROM unit_status_history \
                  WHERE status_at >= $1 AND status_at < $2 ORDER BY status_at, id)",
            )
            .bind::<Timestamptz, _>(period.start)
            .bind::<Timestamptz, _>(period.end)
            .load(conn)
            .await?;
            let started: Vec<CountRow> = diesel::sql_query(
                "SELECT unit_id, count(*) AS count FROM assignments \
                 WHERE dispatched_at >= $1 AND dispatched_at < $2 GROUP BY unit_id",
            )
            .bind::<Timestamptz, _>(period.start)
            .bind::<Timestamptz, _>(period.end)
            .load(conn)
            .await?;
            let started: HashMap<Uuid, i64> =
                started.into_iter().map(|r| (r.unit_id, r.count)).collect();
            let mut histories: HashMap<Uuid, UnitHistory> = HashMap::new();
            for row in statuses {
                let Some(unit) = units.get(&row.unit_id) else {
                    continue;
                };
                let status = stored("unit status", &row.status, UnitStatus::parse)?;
                histories
                    .entry(row.unit_id)
                    .or_insert_with(|| UnitHistory {
                        unit: UnitId(row.unit_id),
                        call_sign: unit.call_sign.clone(),
                        unit_type: unit.unit_type,
                        home_station: unit.station.to_string(),
                        statuses: Vec::new(),
                        assignments: count(started.get(&row.unit_id).copied().unwrap_or(0)),
                    })
                    .statuses
                    .push((row.status_at, status));
            }
            // The status at the start came first in the query; keep each history in time order.
            let histories = histories
                .into_values()
                .map(|mut h| {
                    h.statuses.sort_by_key(|(at, _)| *at);
                    h
                })
                .collect();
            Ok((histories, incidents))
        })
    }

    /// Calls received in the period by channel and hour of day (in the period's zone), with
    /// how many were duplicates (see `reporting::duplicates` for the definition).
    pub async fn call_counts(&self, period: &Period) -> Result<Vec<CallCounts>, Error> {
        let rows: Vec<CallCountRow> = snapshot!(self, |conn| {
            Ok::<_, Error>(
                diesel::sql_query(
                    "WITH period_calls AS ( \
                         SELECT id, channel, received_at, state, incident_id FROM calls \
                         WHERE received_at >= $1 AND received_at < $2), \
                     openers AS ( \
                         SELECT DISTINCT ON (o.incident_id) o.incident_id, o.id FROM calls o \
                         WHERE o.incident_id IN (SELECT incident_id FROM period_calls \
                                                 WHERE incident_id IS NOT NULL) \
                         ORDER BY o.incident_id, o.received_at, o.folio) \
                 SELECT c.channel, extract(hour FROM c.received_at AT TIME ZONE $3)::int AS hour, \
                        count(*) AS calls, \
                        count(*) FILTER (WHERE c.state = 'linked' \
                                         AND (i.duplicate_of IS NOT NULL OR f.id <> c.id)) \
                            AS duplicates, \
                        count(*) FILTER (WHERE c.state = 'disposed') AS disposed, \
                        count(*) FILTER (WHERE c.state = 'open') AS open \
                 FROM period_calls c LEFT JOIN incidents i ON i.id = c.incident_id \
                 LEFT JOIN openers f ON f.incident_id = c.incident_id \
                 GROUP BY 1, 2",
                )
                .bind::<Timestamptz, _>(period.start)
                .bind::<Timestamptz, _>(period.end)
                .bind::<Text, _>(period.zone.name())
                .load(conn)
                .await?,
            )
        })?;
        rows.into_iter()
            .map(|row| {
                Ok(CallCounts {
                    channel: stored("channel", &row.channel, Channel::parse)?,
                    hour: u32::try_from(row.hour).unwrap_or(0),
                    calls: count(row.calls),
                    duplicates: count(row.duplicates),
                    disposed: count(row.disposed),
                    open: count(row.open),
                })
            })
            .collect()
    }
}
