//! The local call rate: how many calls a day arrive near a point, the density term of the
//! duplicate likelihood (`dispatch_domain::duplicates::likelihood`). Counted by `received_at`, so
//! back-entered calls land where they belong in time, through the `calls_density_cell` index.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Double, Timestamptz};
use diesel_async::RunQueryDsl;

use dispatch_domain::location::{EARTH_RADIUS_M, GeoPoint};

use crate::prepared::{BindNext, PreparedSql};
use crate::{Error, Store};

/// The grid cell of a call's location in the `calls_density_cell` index: 0.01 degree squares.
/// Written exactly as in the migration, or the planner cannot use the index.
macro_rules! density_cell {
    () => {
        "(floor(latitude * 100)::bigint * 40000 + floor(longitude * 100)::bigint)"
    };
}
/// Haversine on the same sphere as `GeoPoint::distance_m`, from ($3, $4), within $7 metres.
macro_rules! within_radius {
    () => {
        "2 * $5 * asin(least(1, sqrt( \
               power(sin(radians(latitude - $3) / 2), 2) \
               + cos(radians($3)) * cos(radians(latitude)) \
                 * power(sin(radians(longitude - $4) / 2), 2)))) <= $7"
    };
}
/// The count of calls received in [$1, $2) near the point, and the start of the history. Two
/// fixed texts, each prepared once per connection, taking the same binds.
macro_rules! density_sql {
    ($count:expr) => {
        concat!(
            "SELECT (",
            $count,
            ") AS nearby, \
                    (SELECT min(received_at) FROM calls WHERE received_at < $2) \
                        AS first_received_at"
        )
    };
}
/// One range of `calls_density_cell` per cell in `$6`. The prepared statement runs on a generic
/// plan, which cannot know that [$1, $2) is a week holding nearly every call: given the time
/// range as such, it guessed a few rows and read the whole week through `calls_received_at`,
/// every call of the city on every query (issue 23: 0.1 ms growing to 18 ms per query as a
/// benchmark's table grew). Bounded as rows of the index's own key, the time range can only be
/// read through this index, one cell at a time. Public for the test of its plan.
pub const DENSITY_IN_CELLS: &str = density_sql!(concat!(
    "SELECT coalesce(sum(n), 0)::bigint FROM unnest($6::bigint[]) AS cell(id) \
     CROSS JOIN LATERAL (SELECT count(*) AS n FROM calls \
         WHERE ",
    density_cell!(),
    " = cell.id \
           AND (",
    density_cell!(),
    ", received_at) >= (cell.id, $1) \
           AND (",
    density_cell!(),
    ", received_at) < (cell.id, $2) \
           AND ",
    within_radius!(),
    ") AS in_cell"
));
// $6 is bound (an empty array) and unused, so both texts take the same binds.
const DENSITY_ANYWHERE: &str = density_sql!(concat!(
    "SELECT count(*) FROM calls \
     WHERE cardinality($6::bigint[]) >= 0 AND received_at >= $1 AND received_at < $2 AND ",
    within_radius!()
));

/// Beyond this many cells (a radius of tens of kilometres) the cells are not worth listing.
const MAX_DENSITY_CELLS: usize = 2_500;

/// The `density_cell!` cells that a circle of `radius_m` around `point` may touch; `None` when
/// they are too many or the circle crosses the antimeridian (then the time range alone is used).
pub fn density_cells(point: GeoPoint, radius_m: f64) -> Option<Vec<i64>> {
    let area = point.bounding_box(radius_m);
    if area.west < -180.0 || area.east > 180.0 {
        return None;
    }
    // The same floating-point steps as the SQL expression.
    let cell = |degrees: f64| (degrees * 100.0).floor() as i64;
    let (south, north) = (cell(area.south), cell(area.north));
    let (west, east) = (cell(area.west), cell(area.east));
    let count = usize::try_from((north - south + 1) * (east - west + 1)).ok()?;
    if count > MAX_DENSITY_CELLS {
        return None;
    }
    let mut cells = Vec::with_capacity(count);
    for lat in south..=north {
        for lon in west..=east {
            cells.push(lat * 40_000 + lon);
        }
    }
    Some(cells)
}

#[derive(QueryableByName)]
struct DensityRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    nearby: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<Timestamptz>)]
    first_received_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Calls per day received within `radius_m` of `point` (great circle) in the `days` days
    /// before `at`: the count in [at − days, at) divided by the days of history the store has
    /// before `at` (from its earliest received call), at least 1 and at most `days`. Calls count
    /// by when they were received, so back-entered calls count where they belong in time.
    pub async fn local_calls_per_day(
        &self,
        point: GeoPoint,
        at: DateTime<Utc>,
        radius_m: f64,
        days: u32,
    ) -> Result<f64, Error> {
        let mut conn = self.conn().await?;
        let since = at - chrono::Duration::days(i64::from(days));
        let cells = density_cells(point, radius_m);
        let sql = if cells.is_some() {
            DENSITY_IN_CELLS
        } else {
            DENSITY_ANYWHERE
        };
        let row: DensityRow = PreparedSql(sql)
            .bind::<Timestamptz, _>(since)
            .bind::<Timestamptz, _>(at)
            .bind::<Double, _>(point.latitude())
            .bind::<Double, _>(point.longitude())
            .bind::<Double, _>(EARTH_RADIUS_M)
            .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(
                cells.unwrap_or_default(),
            )
            .bind::<Double, _>(radius_m)
            .get_result(&mut conn)
            .await?;
        let history_days = row
            .first_received_at
            .map(|first| (at - first).num_seconds() as f64 / 86_400.0)
            .unwrap_or(0.0)
            .clamp(1.0, f64::from(days.max(1)));
        Ok(row.nearby as f64 / history_days)
    }
}

#[cfg(test)]
mod density_tests {
    use super::*;

    #[test]
    fn the_cells_cover_the_circle() {
        let centre = GeoPoint::new(19.4326, -99.1332).unwrap();
        let cells = density_cells(centre, 1_000.0).unwrap();
        assert!((4..=16).contains(&cells.len()), "{cells:?}");
        let cell = |p: GeoPoint| {
            (p.latitude() * 100.0).floor() as i64 * 40_000 + (p.longitude() * 100.0).floor() as i64
        };
        for bearing in 0..36 {
            let b = f64::from(bearing * 10).to_radians();
            let p = GeoPoint::new(19.4326 + 0.0089 * b.cos(), -99.1332 + 0.0095 * b.sin()).unwrap();
            assert!(centre.distance_m(&p) > 950.0);
            assert!(cells.contains(&cell(p)), "{p:?}");
        }
        let antimeridian = GeoPoint::new(0.0, 179.999).unwrap();
        assert_eq!(density_cells(antimeridian, 1_000.0), None);
        assert_eq!(density_cells(centre, 100_000.0), None);
    }
}
