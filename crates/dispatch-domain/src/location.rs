//! Where things are: WGS84 points and caller locations with their uncertainty.

use crate::Violations;

/// Mean Earth radius (IUGG), metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Largest uncertainty we accept, metres (common.proto): a wide cell sector or "somewhere in the
/// metropolitan area". The database's CHECK holds the same bound.
pub const MAX_UNCERTAINTY_M: f64 = 50_000.0;

pub const MAX_CIVIC_ADDRESS_CHARS: usize = 500;

/// A WGS84 point; constructed only through [`GeoPoint::new`], so always finite and in range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    latitude: f64,
    longitude: f64,
}

/// Coordinates nearer zero than this (a tenth of a millimetre) are zero.
const TINY_DEGREES: f64 = 1e-9;

/// A coordinate as kept: one nearer zero than [`TINY_DEGREES`] is 0. Such values say nothing
/// a real fix can, and PostgreSQL refuses float arithmetic that underflows: `radians(5e-324)`
/// in the distance SQL failed with "value out of range: underflow", an internal error, for a
/// call the API had accepted (found by the hostile-input test).
fn snap_tiny(degrees: f64) -> f64 {
    if degrees.abs() < TINY_DEGREES {
        0.0
    } else {
        degrees
    }
}

impl GeoPoint {
    /// A point, its coordinates checked; ones nearer zero than 1e-9 degrees become 0.
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        if !latitude.is_finite() || !(-90.0..=90.0).contains(&latitude) {
            violations.add(
                "latitude",
                format!("must be a number from -90 to 90, got {latitude}"),
            );
        }
        if !longitude.is_finite() || !(-180.0..=180.0).contains(&longitude) {
            violations.add(
                "longitude",
                format!("must be a number from -180 to 180, got {longitude}"),
            );
        }
        violations.into_result(|| Self {
            latitude: snap_tiny(latitude),
            longitude: snap_tiny(longitude),
        })
    }

    pub fn latitude(&self) -> f64 {
        self.latitude
    }

    pub fn longitude(&self) -> f64 {
        self.longitude
    }

    /// Great-circle distance in metres (`geo`'s haversine on the mean sphere, radius
    /// [`EARTH_RADIUS_M`]).
    pub fn distance_m(&self, other: &GeoPoint) -> f64 {
        use geo::Distance as _;
        geo::Haversine.distance(
            geo::Point::new(self.longitude, self.latitude),
            geo::Point::new(other.longitude, other.latitude),
        )
    }

    /// A latitude/longitude box that contains every point within `radius_m` of this one.
    pub fn bounding_box(&self, radius_m: f64) -> BoundingBox {
        let d_lat = (radius_m / EARTH_RADIUS_M).to_degrees();
        let south = (self.latitude - d_lat).max(-90.0);
        let north = (self.latitude + d_lat).min(90.0);
        // Near the poles (or for huge radii) every longitude may be in reach.
        let widest = south.abs().max(north.abs()).to_radians().cos();
        let d_lon = if widest <= 1e-9 {
            180.0
        } else {
            ((radius_m / EARTH_RADIUS_M).to_degrees() / widest).min(180.0)
        };
        BoundingBox {
            south,
            north,
            west: self.longitude - d_lon,
            east: self.longitude + d_lon,
        }
    }
}

/// A latitude/longitude box; `west` may be below -180 or `east` above 180 where it wraps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub south: f64,
    pub north: f64,
    pub west: f64,
    pub east: f64,
}

impl BoundingBox {
    /// Whether the point lies in the box (edges included). A box whose west edge is east of its
    /// east edge crosses the antimeridian.
    pub fn contains(&self, point: GeoPoint) -> bool {
        let (lat, lon) = (point.latitude(), point.longitude());
        let within_longitude = if self.west <= self.east {
            self.west <= lon && lon <= self.east
        } else {
            lon >= self.west || lon <= self.east
        };
        self.south <= lat && lat <= self.north && within_longitude
    }
}

/// Largest circle an area filter may draw, metres: a country, not the planet.
pub const MAX_AREA_RADIUS_M: f64 = 2_000_000.0;

/// Where a subscriber or watcher wants incidents from: a box, or a circle around a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Area {
    Box(BoundingBox),
    Circle { center: GeoPoint, radius_m: f64 },
}

impl Area {
    /// A circle of `radius_m` metres (above 0, at most [`MAX_AREA_RADIUS_M`]) around `center`.
    pub fn circle(center: GeoPoint, radius_m: f64) -> Result<Self, Violations> {
        if !radius_m.is_finite() || radius_m <= 0.0 || radius_m > MAX_AREA_RADIUS_M {
            return Err(Violations::single(
                "radius",
                format!("must be above 0 and at most {MAX_AREA_RADIUS_M} metres, got {radius_m}"),
            ));
        }
        Ok(Self::Circle { center, radius_m })
    }

    /// Whether the point lies in the area (edges included).
    pub fn contains(&self, point: GeoPoint) -> bool {
        match self {
            Self::Box(area) => area.contains(point),
            Self::Circle { center, radius_m } => center.distance_m(&point) <= *radius_m,
        }
    }

    /// A box containing the whole area: what an index can search before [`Area::contains`].
    pub fn bounding_box(&self) -> BoundingBox {
        match self {
            Self::Box(area) => *area,
            Self::Circle { center, radius_m } => center.bounding_box(*radius_m),
        }
    }
}

/// How a location was obtained, which tells a dispatcher how far to trust it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocationSource {
    /// The handset's own fix (GPS, AML).
    Device,
    /// Cell or carrier network.
    Network,
    /// What the caller said.
    CallerDescribed,
    /// The fixed position of a camera or panic button.
    FixedDevice,
    /// Corrected by centre staff.
    Dispatcher,
}

impl LocationSource {
    pub const ALL: [Self; 5] = [
        Self::Device,
        Self::Network,
        Self::CallerDescribed,
        Self::FixedDevice,
        Self::Dispatcher,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Device => "device",
            Self::Network => "network",
            Self::CallerDescribed => "caller_described",
            Self::FixedDevice => "fixed_device",
            Self::Dispatcher => "dispatcher",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|source| source.as_str() == text)
    }
}

impl serde::Serialize for LocationSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for LocationSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown location source {text:?}")))
    }
}

/// A reported location: a point, how far off it may be, how it was obtained, and an address.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub point: GeoPoint,
    pub uncertainty_m: f64,
    pub source: LocationSource,
    pub civic_address: String,
}

impl Location {
    /// Validates the parts of a location; field paths are relative to the location.
    pub fn new(
        point: Result<GeoPoint, Violations>,
        uncertainty_m: f64,
        source: Option<LocationSource>,
        civic_address: String,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let point = violations.collect(point.map_err(|v| v.within("point")));
        if !uncertainty_m.is_finite() || !(0.0..=MAX_UNCERTAINTY_M).contains(&uncertainty_m) {
            violations.add(
                "uncertainty_m",
                format!(
                    "must be a number of metres from 0 to {MAX_UNCERTAINTY_M}, got {uncertainty_m}"
                ),
            );
        }
        if source.is_none() {
            violations.add("source", "required: how the location was obtained");
        }
        // Also refuses a NUL, which PostgreSQL text cannot hold.
        crate::error::check_length(
            &mut violations,
            "civic_address",
            &civic_address,
            MAX_CIVIC_ADDRESS_CHARS,
        );
        match (point, source) {
            (Some(point), Some(source)) if violations.is_empty() => Ok(Self {
                point,
                uncertainty_m,
                source,
                civic_address,
            }),
            _ => Err(violations),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_and_non_finite_coordinates_are_refused() {
        for (lat, lon) in [
            (90.1, 0.0),
            (-91.0, 0.0),
            (0.0, 180.5),
            (f64::NAN, 0.0),
            (0.0, f64::INFINITY),
        ] {
            assert!(GeoPoint::new(lat, lon).is_err(), "{lat},{lon}");
        }
        assert!(GeoPoint::new(90.0, -180.0).is_ok());
    }

    #[test]
    fn coordinates_nearer_zero_than_a_tenth_of_a_millimetre_are_zero() {
        let tiny = GeoPoint::new(5e-324, -1e-200).unwrap();
        assert_eq!((tiny.latitude(), tiny.longitude()), (0.0, 0.0));
        let kept = GeoPoint::new(1e-9, -19.432608).unwrap();
        assert_eq!((kept.latitude(), kept.longitude()), (1e-9, -19.432608));
    }

    #[test]
    fn both_bad_coordinates_are_named() {
        let violations = GeoPoint::new(100.0, f64::NAN).unwrap_err();
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["latitude", "longitude"]);
    }

    #[test]
    fn haversine_matches_a_known_distance() {
        // Zócalo to the Ángel de la Independencia, about 3.6 km.
        let zocalo = GeoPoint::new(19.432608, -99.133209).unwrap();
        let angel = GeoPoint::new(19.427025, -99.167665).unwrap();
        let d = zocalo.distance_m(&angel);
        assert!((3_550.0..3_700.0).contains(&d), "{d}");
        assert_eq!(zocalo.distance_m(&zocalo), 0.0);
    }

    #[test]
    fn bounding_box_contains_the_circle() {
        let centre = GeoPoint::new(19.4, -99.1).unwrap();
        let bbox = centre.bounding_box(1_000.0);
        for bearing in 0..360 {
            let b = f64::from(bearing).to_radians();
            // A point roughly 999 m away on this bearing.
            let lat = 19.4 + (999.0 * b.cos() / EARTH_RADIUS_M).to_degrees();
            let lon = -99.1
                + (999.0 * b.sin() / (EARTH_RADIUS_M * 19.4f64.to_radians().cos())).to_degrees();
            assert!(lat >= bbox.south && lat <= bbox.north && lon >= bbox.west && lon <= bbox.east);
        }
    }

    #[test]
    fn a_circle_area_holds_what_is_within_its_radius() {
        let zocalo = GeoPoint::new(19.432608, -99.133209).unwrap();
        let angel = GeoPoint::new(19.427025, -99.167665).unwrap();
        let area = Area::circle(zocalo, 3_000.0).unwrap();
        assert!(area.contains(zocalo));
        assert!(!area.contains(angel), "3.6 km away");
        assert!(Area::circle(zocalo, 4_000.0).unwrap().contains(angel));
        assert!(area.bounding_box().contains(zocalo));
        for radius in [0.0, -1.0, f64::NAN, MAX_AREA_RADIUS_M + 1.0] {
            let error = Area::circle(zocalo, radius).unwrap_err();
            assert_eq!(error.iter().next().unwrap().field, "radius");
        }
    }

    #[test]
    fn uncertainty_is_at_most_fifty_kilometres() {
        let at = || GeoPoint::new(19.4, -99.1);
        let source = Some(LocationSource::Network);
        assert!(Location::new(at(), 50_000.0, source, String::new()).is_ok());
        let error = Location::new(at(), 50_001.0, source, String::new()).unwrap_err();
        let fields: Vec<_> = error.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["uncertainty_m"]);
    }

    #[test]
    fn location_paths_are_relative() {
        let error =
            Location::new(GeoPoint::new(0.0, 200.0), -1.0, None, "x".repeat(501)).unwrap_err();
        let fields: Vec<_> = error.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "point.longitude",
                "uncertainty_m",
                "source",
                "civic_address"
            ]
        );
    }

    #[test]
    fn a_civic_address_with_a_nul_is_refused() {
        let error = Location::new(
            GeoPoint::new(19.43, -99.13),
            20.0,
            Some(LocationSource::CallerDescribed),
            "Eje Central\0 12".into(),
        )
        .unwrap_err();
        let fields: Vec<_> = error.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["civic_address"]);
    }
}
