//! The hot-spot report's counts: incidents per H3 cell (the parent of each incident's stamped
//! resolution-15 cell, taken with bit operations), per hour of week and per type, for a period
//! and the one before it, read in one repeatable-read transaction.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use dispatch_domain::reporting::areas::{HOURS_PER_WEEK, HotSpotQuery, parent_bits};

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

#[derive(diesel::QueryableByName)]
struct TypeCounted {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct Totals {
    #[diesel(sql_type = BigInt)]
    current: i64,
    #[diesel(sql_type = BigInt)]
    previous: i64,
}

impl Store {
    /// The counts of a hot-spot report (see [`HotSpotQuery`] for what is counted).
    pub async fn hot_spots(&self, query: &HotSpotQuery) -> Result<HotSpotCounts, Error> {
        let period = query.period;
        let previous = period.previous();
        let (keep, set) = parent_bits(query.resolution);
        let max_cells = i64::try_from(query.max_cells)
            .map_err(|_| Error::Internal("max_cells out of range".into()))?;
        let filter = Filter {
            start: period.start,
            end: period.end,
            incident_type: query.incident_type.as_deref(),
            hour_of_week: query.hour_of_week.map(i32::from),
            zone: period.zone.name(),
        };
        let parent = "((h3_cell & $6) | $7)";
        let mut conn = self.conn().await?;
        conn.build_transaction()
            .repeatable_read()
            .read_only()
            .run(async |conn| {
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
                let before: Vec<Counted> = Filter {
                    start: previous.start,
                    end: previous.end,
                    ..filter
                }
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
                let before: std::collections::HashMap<i64, i64> =
                    before.into_iter().map(|c| (c.key, c.n)).collect();
                let totals: Totals = Filter {
                    start: previous.start,
                    ..filter
                }
                .bind(format!(
                    "SELECT count(*) FILTER (WHERE first_call_at >= $6) AS current,
                            count(*) FILTER (WHERE first_call_at < $6) AS previous
                     FROM incidents WHERE {}",
                    counted()
                ))
                .bind::<Timestamptz, _>(period.start)
                .get_result(conn)
                .await?;
                let hours: Vec<Counted> = Filter {
                    hour_of_week: None,
                    ..filter
                }
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
                let types: Vec<TypeCounted> = Filter {
                    incident_type: None,
                    ..filter
                }
                .bind(format!(
                    "SELECT coalesce(incident_type, '') AS key, count(*) AS n FROM incidents
                     WHERE {} GROUP BY 1 ORDER BY n DESC, key",
                    counted()
                ))
                .load(conn)
                .await?;
                Ok::<_, Error>(HotSpotCounts {
                    cells: busiest
                        .into_iter()
                        .map(|c| CellCount {
                            cell: c.key,
                            count: c.n,
                            previous_count: before.get(&c.key).copied().unwrap_or(0),
                        })
                        .collect(),
                    total: totals.current,
                    previous_total: totals.previous,
                    hour_of_week,
                    types: types.into_iter().map(|t| (t.key, t.n)).collect(),
                })
            })
            .await
    }
}
