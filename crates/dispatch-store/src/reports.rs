//! What the interval report reads (the period's incidents with their units' recorded times),
//! and what every report's reads share: one read-only REPEATABLE READ snapshot (never blocking
//! a writer), on two connections at once, with a statement timeout. The domain's `reporting`
//! decides what counts.

mod duplicates;
mod utilization;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Bool, Int2, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use dispatch_domain::directory::UnitType;
use dispatch_domain::reporting::Period;
use dispatch_domain::reporting::intervals::{AssignmentTimes, Dimension, IncidentTimes};

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

async fn units(
    conn: &mut AsyncPgConnection,
    with_call_signs: bool,
) -> Result<HashMap<Uuid, UnitFacts>, Error> {
    let rows: Vec<UnitRow> = diesel::sql_query(
        "SELECT u.id, CASE WHEN $1 THEN u.call_sign ELSE '' END AS call_sign, u.unit_type, \
                a.code AS agency, coalesce(s.code, '') AS station \
         FROM units u JOIN agencies a ON a.id = u.agency_id \
         LEFT JOIN stations s ON s.id = u.home_station_id",
    )
    .bind::<Bool, _>(with_call_signs)
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

/// The period's incidents: first call within it, not merged into another. Only the columns
/// `group_by` groups by are read (the others come back NULL or empty): a report by unit type
/// need not decode every incident's type and areas.
async fn period_incidents(
    conn: &mut AsyncPgConnection,
    period: &Period,
    group_by: &[Dimension],
) -> Result<Vec<IncidentRow>, Error> {
    let grouped = |dimension| group_by.contains(&dimension);
    Ok(diesel::sql_query(
        "SELECT id, first_call_at, CASE WHEN $3 THEN incident_type END AS incident_type, \
                CASE WHEN $4 THEN priority END AS priority, \
                CASE WHEN $5 THEN area ELSE '' END AS area, \
                CASE WHEN $6 THEN station_area ELSE '' END AS station_area \
         FROM incidents \
         WHERE first_call_at >= $1 AND first_call_at < $2 AND duplicate_of IS NULL",
    )
    .bind::<Timestamptz, _>(period.start)
    .bind::<Timestamptz, _>(period.end)
    .bind::<Bool, _>(grouped(Dimension::IncidentType))
    .bind::<Bool, _>(grouped(Dimension::Priority))
    .bind::<Bool, _>(grouped(Dimension::Area))
    .bind::<Bool, _>(grouped(Dimension::StationArea))
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
    group_by: &[Dimension],
) -> Result<Vec<IncidentTimes>, Error> {
    let ((units, incidents), assignments) = tokio::try_join!(
        async {
            let units = units(one, false).await?;
            Ok::<_, Error>((units, period_incidents(one, period, group_by).await?))
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
    Ok(out)
}

#[derive(diesel::QueryableByName)]
pub(crate) struct Snapshot {
    #[diesel(sql_type = Text)]
    pub(crate) snapshot: String,
}

/// The report's limits on this transaction: its timeout, and memory for its joins. No JIT:
/// compiling a report's plan took a quarter second, more than it saved.
pub(crate) async fn limit(conn: &mut AsyncPgConnection) -> Result<(), Error> {
    diesel_async::SimpleAsyncConnection::batch_execute(
        conn,
        &format!(
            "SET LOCAL statement_timeout = {REPORT_TIMEOUT_MS}; \
             SET LOCAL work_mem = '{REPORT_WORK_MEM}'; SET LOCAL jit = off"
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

impl Store {
    /// What the interval report grouped by `group_by` reads.
    pub async fn interval_times(
        &self,
        period: &Period,
        group_by: &[Dimension],
    ) -> Result<Vec<IncidentTimes>, Error> {
        two_snapshots!(self, |one, two| {
            incident_times(one, two, period, group_by).await
        })
    }
}
