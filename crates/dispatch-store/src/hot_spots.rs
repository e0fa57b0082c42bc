//! The hot-spot report's counts: incidents per H3 cell (the parent of each incident's stamped
//! resolution-15 cell, taken with bit operations), per hour of week and per type, for a period
//! and the one before it, read in one repeatable-read transaction.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use std::collections::HashMap;

use dispatch_domain::reporting::Period;
use dispatch_domain::reporting::areas::{
    HOURS_PER_WEEK, HotSpotQuery, QUARTER_HOUR_SECONDS, parent_bits, quarter_hour_of_week,
};

use crate::reports::two_snapshots;
use crate::{Error, Store};

/// One cell's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellCount {
    /// The H3 index at the query's resolution.
    pub cell: i64,
    pub count: i64,
    /// In the previous period, same filters.
    pub previous_count: i64,
}

/// What [`Store::hot_spots`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotSpotCounts {
    /// The busiest cells, most incidents first, then by index.
    pub cells: Vec<CellCount>,
    pub total: i64,
    pub previous_total: i64,
    /// 168 counts, 0 = Monday 00:00 in the period's zone (the type filter applied, not the hour).
    pub hour_of_week: Vec<i64>,
    /// (type code, "" for never triaged; count), most first then by code (the hour filter
    /// applied, not the type).
    pub types: Vec<(String, i64)>,
}

/// The hour of week of the first call in the zone bound as `$5`.
const HOUR_OF_WEEK: &str = "((extract(isodow FROM first_call_at AT TIME ZONE $5)::int - 1) * 24
    + extract(hour FROM first_call_at AT TIME ZONE $5)::int)";

/// `$1` start, `$2` end, `$3` type or NULL, `$4` hour of week or NULL, `$5` zone: the incidents
/// a report counts (not closed as a duplicate; first call in the period; the filters).
fn counted() -> String {
    format!(
        "duplicate_of IS NULL AND first_call_at >= $1 AND first_call_at < $2
         AND ($3::text IS NULL OR incident_type = $3)
         AND ($4::int IS NULL OR {HOUR_OF_WEEK} = $4)"
    )
}

#[derive(Clone, Copy)]
struct Filter<'a> {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    incident_type: Option<&'a str>,
    hour_of_week: Option<i32>,
    zone: &'static str,
}

impl<'a> Filter<'a> {
    /// `sql` with the filter's five parameters bound (more may follow).
    fn bind(&self, sql: String) -> BoxedSqlQuery<'a, Pg, SqlQuery> {
        diesel::sql_query(sql)
            .into_boxed()
            .bind::<Timestamptz, _>(self.start)
            .bind::<Timestamptz, _>(self.end)
            .bind::<Nullable<Text>, _>(self.incident_type)
            .bind::<Nullable<Integer>, _>(self.hour_of_week)
            .bind::<Text, _>(self.zone)
    }
}

#[derive(diesel::QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    key: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Incidents per UTC quarter hour of the first call.
#[derive(diesel::QueryableByName)]
struct QuarterCounted {
    #[diesel(sql_type = BigInt)]
    quarter: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct TypeInPeriod {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    current: bool,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The busiest cells of the period, with their counts in the previous one.
async fn busiest_cells(
    conn: &mut diesel_async::AsyncPgConnection,
    filter: Filter<'_>,
    previous: Filter<'_>,
    (keep, set): (i64, i64),
    max_cells: i64,
) -> Result<Vec<CellCount>, Error> {
    let parent = "((h3_cell & $6) | $7)";
    let busiest: Vec<Counted> = filter
        .bind(format!(
            "SELECT {parent} AS key, count(*) AS n FROM incidents
             WHERE {} AND h3_cell IS NOT NULL
             GROUP BY 1 ORDER BY n DESC, key LIMIT $8",
            counted()
        ))
        .bind::<BigInt, _>(keep)
        .bind::<BigInt, _>(set)
        .bind::<BigInt, _>(max_cells)
        .load(conn)
        .await?;
    let listed: Vec<i64> = busiest.iter().map(|c| c.key).collect();
    let before: Vec<Counted> = previous
        .bind(format!(
            "SELECT {parent} AS key, count(*) AS n FROM incidents
             WHERE {} AND h3_cell IS NOT NULL AND {parent} = ANY($8)
             GROUP BY 1",
            counted()
        ))
        .bind::<BigInt, _>(keep)
        .bind::<BigInt, _>(set)
        .bind::<Array<BigInt>, _>(listed)
        .load(conn)
        .await?;
    let before: HashMap<i64, i64> = before.into_iter().map(|c| (c.key, c.n)).collect();
    Ok(busiest
        .into_iter()
        .map(|c| CellCount {
            cell: c.key,
            count: c.n,
            previous_count: before.get(&c.key).copied().unwrap_or(0),
        })
        .collect())
}

/// Per hour of week: the type filter applied, not the hour's. Counted by UTC quarter hour
/// and converted here; if a quarter hour straddles two local hours (a historical offset),
/// counted row by row in SQL instead.
async fn hours_of_week(
    conn: &mut diesel_async::AsyncPgConnection,
    filter: Filter<'_>,
    period: &Period,
) -> Result<Vec<i64>, Error> {
    let filter = Filter {
        hour_of_week: None,
        ..filter
    };
    let quarters: Vec<QuarterCounted> = filter
        .bind(format!(
            "SELECT floor(extract(epoch FROM quarter) / {QUARTER_HOUR_SECONDS})::bigint
                    AS quarter, n
             FROM (SELECT date_bin('15 minutes', first_call_at, 'epoch') AS quarter,
                          count(*) AS n
                   FROM incidents WHERE {} GROUP BY 1) q",
            counted()
        ))
        .load(conn)
        .await?;
    let mut hour_of_week = vec![0; HOURS_PER_WEEK];
    for quarter in quarters {
        match quarter_hour_of_week(quarter.quarter, period.zone) {
            Some(hour) => hour_of_week[hour % HOURS_PER_WEEK] += quarter.n,
            None => return hours_of_week_row_by_row(conn, filter).await,
        }
    }
    Ok(hour_of_week)
}

async fn hours_of_week_row_by_row(
    conn: &mut diesel_async::AsyncPgConnection,
    filter: Filter<'_>,
) -> Result<Vec<i64>, Error> {
    let hours: Vec<Counted> = filter
        .bind(format!(
            "SELECT {HOUR_OF_WEEK}::bigint AS key, count(*) AS n FROM incidents
             WHERE {} GROUP BY 1",
            counted()
        ))
        .load(conn)
        .await?;
    let mut hour_of_week = vec![0; HOURS_PER_WEEK];
    for hour in hours {
        if let Some(slot) = usize::try_from(hour.key)
            .ok()
            .and_then(|h| hour_of_week.get_mut(h))
        {
            *slot = hour.n;
        }
    }
    Ok(hour_of_week)
}

/// Per type (the hour filter applied, not the type's) in the period, most first then by
/// code; and the totals of both periods with both filters, from the same scan.
async fn types_and_totals(
    conn: &mut diesel_async::AsyncPgConnection,
    filter: Filter<'_>,
    previous_start: DateTime<Utc>,
) -> Result<(Vec<(String, i64)>, i64, i64), Error> {
    let rows: Vec<TypeInPeriod> = Filter {
        start: previous_start,
        incident_type: None,
        ..filter
    }
    .bind(format!(
        "SELECT first_call_at >= $6 AS current, coalesce(incident_type, '') AS key,
                count(*) AS n
         FROM incidents WHERE {} GROUP BY 1, 2",
        counted()
    ))
    .bind::<Timestamptz, _>(filter.start)
    .load(conn)
    .await?;
    let wanted = |key: &str| filter.incident_type.is_none_or(|t| t == key);
    let (mut total, mut previous_total) = (0, 0);
    let mut types = Vec::new();
    for row in rows {
        if wanted(&row.key) {
            *(if row.current {
                &mut total
            } else {
                &mut previous_total
            }) += row.n;
        }
        if row.current {
            types.push((row.key, row.n));
        }
    }
    types.sort_by(|(a, m), (b, n)| n.cmp(m).then_with(|| a.cmp(b)));
    Ok((types, total, previous_total))
}

impl Store {
    /// The counts of a hot-spot report (see [`HotSpotQuery`] for what is counted), read on
    /// two connections at once in one snapshot.
    pub async fn hot_spots(&self, query: &HotSpotQuery) -> Result<HotSpotCounts, Error> {
        let period = query.period;
        let previous = period.previous();
        let bits = parent_bits(query.resolution);
        let max_cells = i64::try_from(query.max_cells)
            .map_err(|_| Error::Internal("max_cells out of range".into()))?;
        let filter = Filter {
            start: period.start,
            end: period.end,
            incident_type: query.incident_type.as_deref(),
            hour_of_week: query.hour_of_week.map(i32::from),
            zone: period.zone.name(),
        };
        let before = Filter {
            start: previous.start,
            end: previous.end,
            ..filter
        };
        two_snapshots!(self, |one, two| {
            let (cells, (hour_of_week, (types, total, previous_total))) =
                tokio::try_join!(busiest_cells(one, filter, before, bits, max_cells), async {
                    let hours = hours_of_week(two, filter, &period).await?;
                    Ok((hours, types_and_totals(two, filter, previous.start).await?))
                })?;
            Ok::<_, Error>(HotSpotCounts {
                cells,
                total,
                previous_total,
                hour_of_week,
                types,
            })
        })
    }
}
