//! The local call rate: how many calls a day arrive near a point, the density term of the
//! duplicate likelihood (`dispatch_domain::duplicates::likelihood`). Counted by `received_at`, so
//! back-entered calls land where they belong in time, through the `calls_density_cell` index.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Double, Timestamptz};
use diesel_async::RunQueryDsl;

use dispatch_domain::location::{EARTH_RADIUS_M, GeoPoint};

use crate::{Error, Store};

/// Which calls the local call rate counts: within `radius_m` of `point`, `days` before the call.
#[derive(Debug, Clone, Copy)]
pub struct DensityQuery {
    pub point: GeoPoint,
    pub radius_m: f64,
    pub days: u32,
}

/// The grid cell of a call's location in the `calls_density_cell` index: 0.01 degree squares.
/// Written exactly as in the migration, or the planner cannot use the index.
const DENSITY_CELL: &str =
    "(floor(latitude * 100)::bigint * 40000 + floor(longitude * 100)::bigint)";
/// Beyond this many cells (a radius of tens of kilometres) the cells are not worth listing.
const MAX_DENSITY_CELLS: usize = 2_500;

/// The `DENSITY_CELL` cells that a circle of `radius_m` around `point` may touch; `None` when
/// they are too many or the circle crosses the antimeridian (then the time range alone is used).
pub(crate) fn density_cells(point: GeoPoint, radius_m: f64) -> Option<Vec<i64>> {
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

/// The two columns of the local call rate, their parameters numbered from `first`: since, at,
/// latitude, longitude, the earth's radius, the grid cells (used when `by_cells`), the radius.
pub(crate) fn density_columns(first: usize, by_cells: bool) -> String {
    let p = |offset: usize| format!("${}", first + offset);
    let cell_filter = if by_cells {
        format!("{DENSITY_CELL} = ANY({}) AND ", p(5))
    } else {
        String::new()
    };
    // Haversine on the same sphere as GeoPoint::distance_m.
    format!(
        "(SELECT count(*) FROM calls \
          WHERE {cell_filter}received_at >= {since} AND received_at < {at} \
            AND 2 * {r} * asin(least(1, sqrt( \
                  power(sin(radians(latitude - {lat}) / 2), 2) \
                  + cos(radians({lat})) * cos(radians(latitude)) \
                    * power(sin(radians(longitude - {lon}) / 2), 2)))) <= {radius}) AS nearby, \
         (SELECT min(received_at) FROM calls WHERE received_at < {at}) AS first_received_at",
        since = p(0),
        at = p(1),
        lat = p(2),
        lon = p(3),
        r = p(4),
        radius = p(6),
    )
}

#[derive(QueryableByName)]
pub(crate) struct DensityRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    nearby: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<Timestamptz>)]
    first_received_at: Option<DateTime<Utc>>,
}

impl DensityRow {
    /// Calls per day: the count over the days of history the store has before `at`, at least one
    /// and at most `days`.
    pub(crate) fn per_day(&self, at: DateTime<Utc>, days: u32) -> f64 {
        let history_days = self
            .first_received_at
            .map(|first| (at - first).num_seconds() as f64 / 86_400.0)
            .unwrap_or(0.0)
            .clamp(1.0, f64::from(days.max(1)));
        self.nearby as f64 / history_days
    }
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
        let cells = density_cells(point, radius_m);
        let sql = format!("SELECT {}", density_columns(1, cells.is_some()));
        let row: DensityRow = diesel::sql_query(sql)
            .bind::<Timestamptz, _>(at - chrono::Duration::days(i64::from(days)))
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
        Ok(row.per_day(at, days))
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
