//! Where incidents happen, as reports group them: the centre's areas (alcaldías) read from a
//! GeoJSON file, the H3 cell of a point, and the hot-spot report's query.
//!
//! The store stamps each incident with its area and cell when it writes the incident (see
//! `dispatch_store::incident_writes`), so a report groups by columns and PostgreSQL needs
//! neither polygons nor H3. A cell is stamped at H3's finest resolution (15); a report takes
//! the parent at its own resolution with the bit operations of [`parent_bits`], which are
//! H3's index layout written down (checked against `h3o`'s `parent()` in the tests).

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use geojson::{GeoJson, GeometryValue};
use h3o::{CellIndex, LatLng, Resolution};

use super::Period;
use crate::Violations;
use crate::location::GeoPoint;
use crate::referral::Polygon;

/// The longest area name stored (the `incidents.area` column's check).
pub const MAX_AREA_NAME_CHARS: usize = 200;

/// One named area: a location is in it when any of its polygons contains it.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub name: String,
    polygons: Vec<Polygon>,
}

/// The centre's areas, in the file's order: a location's area is the first that contains it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Areas {
    areas: Vec<Area>,
}

impl Areas {
    /// No areas: every location's area is "".
    pub fn none() -> Self {
        Self::default()
    }

    /// A GeoJSON (RFC 7946) FeatureCollection whose features are Polygons or MultiPolygons
    /// with a non-empty string property `name`. Paths: `features[i]` (with the feature's name
    /// in the description when it has one), `features[i].properties.name`,
    /// `features[i].geometry...`.
    pub fn from_geojson(text: &str) -> Result<Self, Violations> {
        let collection = match text.parse::<GeoJson>() {
            Ok(GeoJson::FeatureCollection(collection)) => collection,
            Ok(_) => return Err(Violations::single("", "not a GeoJSON FeatureCollection")),
            Err(error) => return Err(Violations::single("", format!("not GeoJSON: {error}"))),
        };
        let mut violations = Violations::new();
        let mut areas = Vec::with_capacity(collection.features.len());
        for (i, feature) in collection.features.iter().enumerate() {
            let field = format!("features[{i}]");
            let name = feature
                .property("name")
                .and_then(|name| name.as_str())
                .unwrap_or_default()
                .trim()
                .to_owned();
            let mut problems = Violations::new();
            if name.is_empty() {
                problems.add("properties.name", "required: a non-empty string");
            } else if name.chars().count() > MAX_AREA_NAME_CHARS {
                problems.add(
                    "properties.name",
                    format!("at most {MAX_AREA_NAME_CHARS} characters"),
                );
            }
            let polygons = problems.collect(feature_polygons(feature.geometry.as_ref()));
            if problems.is_empty()
                && let Some(polygons) = polygons
            {
                areas.push(Area { name, polygons });
                continue;
            }
            for problem in problems.iter() {
                let path = if problem.field.is_empty() {
                    field.clone()
                } else {
                    format!("{field}.{}", problem.field)
                };
                let whose = if name.is_empty() {
                    String::new()
                } else {
                    format!("(area {name:?}) ")
                };
                violations.add(path, format!("{whose}{}", problem.description));
            }
        }
        violations.into_result(|| Self { areas })
    }

    pub fn len(&self) -> usize {
        self.areas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.areas.is_empty()
    }

    /// The name of the first area containing `point` (its boundary included), "" for none.
    pub fn area_of(&self, point: &GeoPoint) -> &str {
        self.areas
            .iter()
            .find(|area| area.polygons.iter().any(|p| p.contains(point)))
            .map_or("", |area| area.name.as_str())
    }
}

/// A feature's geometry as polygons; paths under `geometry`.
fn feature_polygons(geometry: Option<&geojson::Geometry>) -> Result<Vec<Polygon>, Violations> {
    let bad = |why: &str| Violations::single("geometry", why.to_owned());
    let rings = |polygon: &geojson::PolygonType| -> Result<Vec<Vec<[f64; 2]>>, Violations> {
        polygon
            .iter()
            .map(|ring| {
                ring.iter()
                    .map(|position| match position.as_slice() {
                        [longitude, latitude, ..] => Ok([*longitude, *latitude]),
                        _ => Err(bad("coordinates must be [[[lon, lat], ...], ...]")),
                    })
                    .collect()
            })
            .collect()
    };
    let within = |v: Violations| v.within("geometry");
    match geometry.map(|geometry| &geometry.value) {
        Some(GeometryValue::Polygon { coordinates }) => Ok(vec![
            Polygon::from_geojson_rings(&rings(coordinates)?).map_err(within)?,
        ]),
        Some(GeometryValue::MultiPolygon { coordinates }) => coordinates
            .iter()
            .enumerate()
            .map(|(p, polygon)| {
                Polygon::from_geojson_rings(&rings(polygon)?)
                    .map_err(|v| v.within(&format!("geometry.coordinates[{p}]")))
            })
            .collect(),
        Some(_) => Err(bad("must be a Polygon or a MultiPolygon")),
        None => Err(bad("required: a Polygon or a MultiPolygon")),
    }
}

/// The H3 resolution incidents are stamped at (cells of about 0.9 m²): any coarser cell is a
/// parent of it.
pub const STAMP_RESOLUTION: Resolution = Resolution::Fifteen;

/// The H3 index of the resolution-15 cell containing `point`, as the positive `bigint` stored
/// in `incidents.h3_cell` (an H3 index never sets bit 63).
pub fn stamp_cell(point: &GeoPoint) -> i64 {
    let cell = LatLng::new(point.latitude(), point.longitude())
        .map(|ll| ll.to_cell(STAMP_RESOLUTION))
        .map_or(0, u64::from);
    // A GeoPoint is finite and in range, so LatLng::new cannot fail; bit 63 is reserved (0).
    i64::try_from(cell).unwrap_or(0)
}

/// Bits 52..=55 of an H3 index hold its resolution.
const RESOLUTION_SHIFT: u32 = 52;

/// `(keep, set)` such that `(cell & keep) | set` is the parent at `resolution` of a cell at any
/// finer resolution: the resolution field becomes `resolution` and every digit below it 7
/// (unused). Digits are 3 bits each, resolution 1's at bits 42..=44 down to 15's at 0..=2.
pub fn parent_bits(resolution: u8) -> (i64, i64) {
    let unused_digits_bits = 3 * u32::from(15 - resolution.min(15));
    let unused_digits: u64 = (1u64 << unused_digits_bits) - 1;
    let resolution_field: u64 = 0xF << RESOLUTION_SHIFT;
    let keep = !(resolution_field | unused_digits);
    let set = (u64::from(resolution) << RESOLUTION_SHIFT) | unused_digits;
    // Reinterpreted as PostgreSQL's signed bigint: the bits are what matter.
    (keep as i64, set as i64)
}

/// A cell as a report draws it: H3's 15-hex-digit name, centre and boundary (6 vertices, 5 for
/// a pentagon); `None` for a number that is no H3 cell.
#[derive(Debug, Clone, PartialEq)]
pub struct CellShape {
    pub name: String,
    pub centre: GeoPoint,
    pub boundary: Vec<GeoPoint>,
}

impl CellShape {
    pub fn of(cell: i64) -> Option<Self> {
        let cell = CellIndex::try_from(u64::try_from(cell).ok()?).ok()?;
        let point = |ll: LatLng| GeoPoint::new(ll.lat(), ll.lng()).ok();
        Some(Self {
            name: cell.to_string(),
            centre: point(LatLng::from(cell))?,
            boundary: cell
                .boundary()
                .iter()
                .map(|&ll| point(ll))
                .collect::<Option<_>>()?,
        })
    }
}

/// Resolutions a hot-spot report may use.
pub const HOT_SPOT_RESOLUTIONS: std::ops::RangeInclusive<u8> = 4..=10;
/// The resolution when the request names none (cells of about 0.74 km²).
pub const DEFAULT_HOT_SPOT_RESOLUTION: u8 = 8;
/// The most cells a report lists.
pub const MAX_HOT_SPOT_CELLS: usize = 5_000;
pub const DEFAULT_HOT_SPOT_CELLS: usize = 200;
/// Hours in a week: hour of week 0 is Monday 00:00.
pub const HOURS_PER_WEEK: usize = 168;

/// The hour of week of `at` in `zone` (0 = Monday 00:00).
pub fn hour_of_week(at: DateTime<Utc>, zone: Tz) -> usize {
    let local = at.with_timezone(&zone);
    local.weekday().num_days_from_monday() as usize * 24 + local.hour() as usize
}

/// The store counts first calls by UTC quarter hour (from the Unix epoch): converting a few
/// thousand quarter hours to local hours is far cheaper than converting every incident.
pub const QUARTER_HOUR_SECONDS: i64 = 900;

/// The hour of week of every instant of the `quarter`-th quarter hour since the Unix epoch,
/// when they share one. Every zone's offset today is a whole number of quarter hours, and
/// its changes fall on quarter hours; a historical offset in seconds (local mean time) is
/// not, and such a quarter hour answers `None`: its incidents are counted one by one.
pub fn quarter_hour_of_week(quarter: i64, zone: Tz) -> Option<usize> {
    let start = DateTime::from_timestamp(quarter.checked_mul(QUARTER_HOUR_SECONDS)?, 0)?;
    let last =
        start + chrono::Duration::seconds(QUARTER_HOUR_SECONDS) - chrono::Duration::microseconds(1);
    let hour = hour_of_week(start, zone);
    (hour == hour_of_week(last, zone)).then_some(hour)
}
/// The longest incident type code (the catalogue's codes are shorter).
pub const MAX_INCIDENT_TYPE_CHARS: usize = 64;

/// What a hot-spot report counts: incidents (not closed as a duplicate of another) whose
/// first call was received in `period`, per H3 cell at `resolution`, optionally only of one
/// type and one hour of the week.
#[derive(Debug, Clone, PartialEq)]
pub struct HotSpotQuery {
    pub period: Period,
    pub resolution: u8,
    pub incident_type: Option<String>,
    /// 0..168, 0 = Monday 00:00 in the period's zone.
    pub hour_of_week: Option<u8>,
    pub max_cells: usize,
}

impl HotSpotQuery {
    /// Checks the fields besides the period (0 means the default for `resolution` and
    /// `max_cells`); violations name `resolution`, `incident_type`, `hour_of_week`, `max_cells`.
    pub fn new(
        period: Option<Period>,
        resolution: i32,
        incident_type: &str,
        hour_of_week: Option<i32>,
        max_cells: i32,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let resolution = match resolution {
            0 => Some(DEFAULT_HOT_SPOT_RESOLUTION),
            r => match u8::try_from(r) {
                Ok(r) if HOT_SPOT_RESOLUTIONS.contains(&r) => Some(r),
                _ => {
                    violations.add(
                        "resolution",
                        format!(
                            "must be {}..{} (0 for {DEFAULT_HOT_SPOT_RESOLUTION}), got {r}",
                            HOT_SPOT_RESOLUTIONS.start(),
                            HOT_SPOT_RESOLUTIONS.end()
                        ),
                    );
                    None
                }
            },
        };
        let incident_type = incident_type.trim();
        if incident_type.chars().count() > MAX_INCIDENT_TYPE_CHARS {
            violations.add(
                "incident_type",
                format!("at most {MAX_INCIDENT_TYPE_CHARS} characters"),
            );
        }
        let hour_of_week = match hour_of_week {
            None => None,
            Some(h) => match u8::try_from(h) {
                Ok(h) if usize::from(h) < HOURS_PER_WEEK => Some(h),
                _ => {
                    violations.add(
                        "hour_of_week",
                        format!(
                            "must be 0..{} (0 = Monday 00:00), got {h}",
                            HOURS_PER_WEEK - 1
                        ),
                    );
                    None
                }
            },
        };
        let max_cells = match max_cells {
            0 => DEFAULT_HOT_SPOT_CELLS,
            n => match usize::try_from(n) {
                Ok(n) if (1..=MAX_HOT_SPOT_CELLS).contains(&n) => n,
                _ => {
                    violations.add(
                        "max_cells",
                        format!("must be 1..{MAX_HOT_SPOT_CELLS} (0 for {DEFAULT_HOT_SPOT_CELLS}), got {n}"),
                    );
                    0
                }
            },
        };
        match (period, resolution) {
            (Some(period), Some(resolution)) if violations.is_empty() => Ok(Self {
                period,
                resolution,
                incident_type: Some(incident_type.to_owned()).filter(|t| !t.is_empty()),
                hour_of_week,
                max_cells,
            }),
            _ => Err(violations),
        }
    }
}

/// (count, previous count) → the change `(count - previous) / previous`, none when previous is 0.
pub fn change(count: i64, previous: i64) -> Option<f64> {
    (previous != 0).then(|| (count - previous) as f64 / previous as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(latitude: f64, longitude: f64) -> GeoPoint {
        GeoPoint::new(latitude, longitude).unwrap()
    }

    const TWO_AREAS: &str = r#"{"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Cuauhtémoc"},
         "geometry": {"type": "Polygon", "coordinates":
            [[[-99.17, 19.40], [-99.12, 19.40], [-99.12, 19.46], [-99.17, 19.46], [-99.17, 19.40]]]}},
        {"type": "Feature", "properties": {"name": "Grande"},
         "geometry": {"type": "MultiPolygon", "coordinates": [
            [[[-99.30, 19.20], [-99.00, 19.20], [-99.00, 19.60], [-99.30, 19.60]]],
            [[[-98.00, 19.00], [-97.90, 19.00], [-97.90, 19.10]]]]}}
    ]}"#;

    #[test]
    fn the_first_area_containing_a_point_is_its_area() {
        let areas = Areas::from_geojson(TWO_AREAS).unwrap();
        assert_eq!(areas.len(), 2);
        assert_eq!(areas.area_of(&p(19.43, -99.14)), "Cuauhtémoc");
        assert_eq!(areas.area_of(&p(19.30, -99.20)), "Grande");
        assert_eq!(areas.area_of(&p(19.03, -97.95)), "Grande");
        assert_eq!(areas.area_of(&p(20.0, -99.0)), "");
        assert_eq!(Areas::none().area_of(&p(19.43, -99.14)), "");
    }

    #[test]
    fn a_bad_feature_is_named() {
        let fields = |text: &str| {
            Areas::from_geojson(text)
                .unwrap_err()
                .iter()
                .map(|v| format!("{}: {}", v.field, v.description))
                .collect::<Vec<_>>()
        };
        let no_name = r#"{"type": "FeatureCollection", "features": [{"type": "Feature",
            "properties": {}, "geometry": {"type": "Point", "coordinates": [0, 0]}}]}"#;
        let problems = fields(no_name);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("features[0].properties.name"));
        assert!(problems[1].starts_with("features[0].geometry: must be a Polygon"));
        let line = r#"{"type": "FeatureCollection", "features": [{"type": "Feature",
            "properties": {"name": "Tlalpan"}, "geometry": {"type": "Polygon",
            "coordinates": [[[0, 0], [1, 1], [2, 2]]]}}]}"#;
        let problems = fields(line);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("features[0].geometry.coordinates[0]: (area \"Tlalpan\")"),
            "{problems:?}"
        );
        assert_eq!(
            fields(r#"{"type": "Point", "coordinates": [0, 0]}"#),
            [": not a GeoJSON FeatureCollection"]
        );
    }

    #[test]
    fn the_parent_in_bits_is_h3s_parent() {
        for (lat, lon) in [
            (19.4326, -99.1332),
            (37.7749, -122.4194),
            (-33.9, 151.2),
            (0.0, 0.0),
        ] {
            let cell = stamp_cell(&p(lat, lon));
            assert!(cell > 0);
            let index = CellIndex::try_from(u64::try_from(cell).unwrap()).unwrap();
            assert_eq!(index.resolution(), Resolution::Fifteen);
            for resolution in 0..=15u8 {
                let (keep, set) = parent_bits(resolution);
                let expected = index
                    .parent(Resolution::try_from(resolution).unwrap())
                    .unwrap();
                assert_eq!(
                    (cell & keep) | set,
                    i64::try_from(u64::from(expected)).unwrap()
                );
            }
        }
    }

    #[test]
    fn a_cell_is_drawn_with_its_centre_and_boundary() {
        let point = p(19.4326, -99.1332);
        let (keep, set) = parent_bits(8);
        let shape = CellShape::of((stamp_cell(&point) & keep) | set).unwrap();
        assert_eq!(shape.name.len(), 15);
        assert_eq!(shape.boundary.len(), 6);
        assert!(shape.centre.distance_m(&point) < 1_000.0);
        assert_eq!(CellShape::of(12345), None);
    }

    #[test]
    fn every_bad_field_is_named() {
        let period = Period::new(
            "period",
            Some("2020-01-01T00:00:00Z".parse().unwrap()),
            Some("2020-02-01T00:00:00Z".parse().unwrap()),
            "",
        )
        .ok();
        let ok = HotSpotQuery::new(period, 0, " ", None, 0).unwrap();
        assert_eq!(
            (ok.resolution, ok.max_cells, ok.incident_type),
            (8, 200, None)
        );
        let bad = HotSpotQuery::new(period, 11, &"x".repeat(65), Some(168), 5001).unwrap_err();
        let fields: Vec<_> = bad.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["resolution", "incident_type", "hour_of_week", "max_cells"]
        );
        let low = HotSpotQuery::new(period, 3, "", Some(-1), -1).unwrap_err();
        assert_eq!(low.iter().count(), 3);
        assert_eq!(change(3, 2), Some(0.5));
        assert_eq!(change(3, 0), None);
    }

    #[test]
    fn quarter_hours_take_the_local_hour_of_week_or_none_when_it_changes_inside() {
        let zone: Tz = "America/Mexico_City".parse().unwrap();
        // Monday 2024-04-01 06:15 UTC is 00:15 in Mexico City (UTC-6): hour of week 0.
        let at: DateTime<Utc> = "2024-04-01T06:15:00Z".parse().unwrap();
        let quarter = at.timestamp() / QUARTER_HOUR_SECONDS;
        assert_eq!(quarter_hour_of_week(quarter, zone), Some(0));
        assert_eq!(hour_of_week(at, zone), 0);
        // Kathmandu is UTC+5:45: 2024-04-01 00:15 UTC is 06:00 local, Monday.
        let kathmandu: Tz = "Asia/Kathmandu".parse().unwrap();
        let at: DateTime<Utc> = "2024-04-01T00:15:00Z".parse().unwrap();
        assert_eq!(
            quarter_hour_of_week(at.timestamp() / QUARTER_HOUR_SECONDS, kathmandu),
            Some(6)
        );
        // Mexico City's local mean time (UTC-6:36:36, before 1922) splits quarter hours.
        let lmt: DateTime<Utc> = "1900-01-01T07:30:00Z".parse().unwrap();
        assert_eq!(
            quarter_hour_of_week(lmt.timestamp() / QUARTER_HOUR_SECONDS, zone),
            None
        );
    }
}
