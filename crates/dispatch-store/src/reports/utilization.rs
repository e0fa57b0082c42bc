//! What the utilization report reads: each unit's on-duty and committed time summed from its
//! status spans (`unit_status_spans`, kept by a trigger on the status history) in one pass,
//! and the first-due counts per station area.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel::sql_types::{Array, BigInt, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use dispatch_domain::ids::UnitId;
use dispatch_domain::reporting::Period;
use dispatch_domain::reporting::utilization::{
    FirstDue, UnitTimes, committed_statuses, on_duty_statuses,
};

use super::{count, two_snapshots, units};
use crate::{Error, Store};

#[derive(diesel::QueryableByName)]
struct UnitTimeRow {
    #[diesel(sql_type = SqlUuid)]
    unit_id: Uuid,
    #[diesel(sql_type = BigInt)]
    on_duty_ns: i64,
    #[diesel(sql_type = BigInt)]
    committed_ns: i64,
}

#[derive(diesel::QueryableByName)]
struct StartedRow {
    #[diesel(sql_type = SqlUuid)]
    unit_id: Uuid,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(diesel::QueryableByName)]
struct FirstDueRow {
    #[diesel(sql_type = Text)]
    station_area: String,
    #[diesel(sql_type = BigInt)]
    incidents: i64,
    #[diesel(sql_type = BigInt)]
    elsewhere: i64,
}

/// Nanoseconds since the epoch: a period's bounds keep the precision they were asked with (the
/// spans have PostgreSQL's microseconds), so a span cut by a bound lasts exactly to it. A
/// bound outside 1677..2262 is as good as the end of that range: no unit reports a status there.
fn nanos(at: DateTime<Utc>) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(if at.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// Each unit's time in the period up to `until` in an on-duty and in a committed status: the
/// overlap of every span with `[start, until)`, the latest span lasting until `until`.
async fn unit_times(
    conn: &mut AsyncPgConnection,
    start: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<UnitTimeRow>, Error> {
    Ok(diesel::sql_query(
        "SELECT unit_id, \
                coalesce(sum(least(coalesce(until_us * 1000, $2), $2) \
                             - greatest(since_us * 1000, $1)) \
                         FILTER (WHERE status = ANY ($3)), 0)::bigint AS on_duty_ns, \
                coalesce(sum(least(coalesce(until_us * 1000, $2), $2) \
                             - greatest(since_us * 1000, $1)) \
                         FILTER (WHERE status = ANY ($4)), 0)::bigint AS committed_ns \
         FROM unit_status_spans \
         WHERE coalesce(until_us, 9223372036854775807) > $1 / 1000 AND since_us * 1000 < $2 \
         GROUP BY unit_id",
    )
    .bind::<BigInt, _>(nanos(start))
    .bind::<BigInt, _>(nanos(until))
    .bind::<Array<Text>, _>(on_duty_statuses())
    .bind::<Array<Text>, _>(committed_statuses())
    .load(conn)
    .await?)
}

/// Assignments started in the period, per unit.
async fn started(
    conn: &mut AsyncPgConnection,
    period: &Period,
) -> Result<HashMap<Uuid, u64>, Error> {
    let rows: Vec<StartedRow> = diesel::sql_query(
        "SELECT unit_id, count(*) AS count FROM assignments \
         WHERE dispatched_at >= $1 AND dispatched_at < $2 GROUP BY unit_id",
    )
    .bind::<Timestamptz, _>(period.start)
    .bind::<Timestamptz, _>(period.end)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.unit_id, count(row.count)))
        .collect())
}

/// Per station area, the period's incidents with a unit dispatched, and those whose first
/// dispatched unit (earliest dispatch time, then the assignment recorded first) is homed
/// elsewhere (no home station is elsewhere).
async fn first_due(conn: &mut AsyncPgConnection, period: &Period) -> Result<Vec<FirstDue>, Error> {
    let rows: Vec<FirstDueRow> = diesel::sql_query(
        "SELECT f.station_area, count(*) AS incidents, \
                count(*) FILTER (WHERE coalesce(s.code, '') <> f.station_area) AS elsewhere \
         FROM (SELECT DISTINCT ON (a.incident_id) a.incident_id, i.station_area, a.unit_id \
               FROM assignments a JOIN incidents i ON i.id = a.incident_id \
               WHERE i.first_call_at >= $1 AND i.first_call_at < $2 \
                 AND i.duplicate_of IS NULL \
               ORDER BY a.incident_id, a.dispatched_at, a.id) f \
         JOIN units u ON u.id = f.unit_id LEFT JOIN stations s ON s.id = u.home_station_id \
         GROUP BY f.station_area",
    )
    .bind::<Timestamptz, _>(period.start)
    .bind::<Timestamptz, _>(period.end)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| FirstDue {
            station_area: row.station_area,
            incidents: count(row.incidents),
            first_unit_from_elsewhere: count(row.elsewhere),
        })
        .collect())
}

impl Store {
    /// What the utilization report reads for `period` at `now`: every unit's times (those
    /// with none in the period left out) and the first-due counts per station area.
    pub async fn utilization_inputs(
        &self,
        period: &Period,
        now: DateTime<Utc>,
    ) -> Result<(Vec<UnitTimes>, Vec<FirstDue>), Error> {
        let until = period.end.min(now);
        two_snapshots!(self, |one, two| {
            let ((units, first_due), (times, started)) = tokio::try_join!(
                async {
                    let units = units(one, true).await?;
                    Ok::<_, Error>((units, first_due(one, period).await?))
                },
                async {
                    let times = unit_times(two, period.start, until).await?;
                    Ok::<_, Error>((times, started(two, period).await?))
                }
            )?;
            let times = times
                .into_iter()
                .filter_map(|row| {
                    let unit = units.get(&row.unit_id)?;
                    Some(UnitTimes {
                        unit: UnitId(row.unit_id),
                        call_sign: unit.call_sign.clone(),
                        unit_type: unit.unit_type,
                        home_station: unit.station.to_string(),
                        on_duty: Duration::nanoseconds(row.on_duty_ns),
                        committed: Duration::nanoseconds(row.committed_ns),
                        assignments: started.get(&row.unit_id).copied().unwrap_or(0),
                    })
                })
                .collect();
            Ok((times, first_due))
        })
    }
}
