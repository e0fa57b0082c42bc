//! Values every service sends and receives: times, points, locations, bounding boxes.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

use dispatch_domain::Violations;
use dispatch_domain::location::{BoundingBox, GeoPoint, Location, LocationSource};
use dispatch_proto::v1 as pb;

use super::enums::WireEnum;

pub fn timestamp(time: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub fn duration(duration: chrono::Duration) -> prost_types::Duration {
    let seconds = duration.num_seconds();
    let nanos = (duration - chrono::Duration::seconds(seconds))
        .num_nanoseconds()
        .unwrap_or(0);
    prost_types::Duration {
        seconds,
        nanos: i32::try_from(nanos).unwrap_or(0),
    }
}

/// A wire timestamp; years 1 to 9999 as protobuf's Timestamp defines them.
pub fn datetime(
    field: &str,
    value: Option<&Timestamp>,
) -> Result<Option<DateTime<Utc>>, Violations> {
    let Some(value) = value else { return Ok(None) };
    const MIN: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    if !(MIN..=MAX).contains(&value.seconds) || !(0..1_000_000_000).contains(&value.nanos) {
        return Err(Violations::single(
            field,
            "must be a valid timestamp between years 1 and 9999",
        ));
    }
    let nanos = u32::try_from(value.nanos).unwrap_or(0);
    DateTime::from_timestamp(value.seconds, nanos)
        .map(Some)
        .ok_or_else(|| Violations::single(field, "must be a valid timestamp"))
}

/// A list's time filter: its start and end, each optional; violations name `field.start` and
/// `field.end`.
pub fn time_range(
    field: &str,
    range: Option<&pb::TimeRange>,
    violations: &mut Violations,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let Some(range) = range else {
        return (None, None);
    };
    let mut end = |name: &str, time: Option<&Timestamp>| {
        violations
            .collect(datetime(&format!("{field}.{name}"), time))
            .flatten()
    };
    (
        end("start", range.start.as_ref()),
        end("end", range.end.as_ref()),
    )
}

pub fn geo_point(point: &GeoPoint) -> pb::GeoPoint {
    pb::GeoPoint {
        latitude: point.latitude(),
        longitude: point.longitude(),
    }
}

/// A required wire point; violations name `field`.
pub fn required_point(
    field: &str,
    value: Option<&pb::GeoPoint>,
    violations: &mut Violations,
) -> Option<GeoPoint> {
    match value {
        Some(p) => {
            violations.collect(GeoPoint::new(p.latitude, p.longitude).map_err(|v| v.within(field)))
        }
        None => {
            violations.add(field, "required");
            None
        }
    }
}

/// A required wire location; paths are relative (callers prefix them with `within`).
pub fn location_from(value: Option<&pb::Location>) -> Result<Location, Violations> {
    let Some(value) = value else {
        return Err(Violations::single("", "required"));
    };
    let point = match &value.point {
        Some(point) => GeoPoint::new(point.latitude, point.longitude),
        None => Err(Violations::single("", "required")),
    };
    Location::new(
        point,
        value.uncertainty_m,
        LocationSource::from_wire(value.source),
        value.civic_address.clone(),
    )
}

pub fn location(location: &Location) -> pb::Location {
    pb::Location {
        point: Some(geo_point(&location.point)),
        uncertainty_m: location.uncertainty_m,
        source: location.source.wire(),
        civic_address: location.civic_address.clone(),
    }
}

/// A wire bounding box; violations name `bounding_box.*`.
pub fn bounding_box(bbox: &pb::BoundingBox, violations: &mut Violations) -> Option<BoundingBox> {
    let south_west = required_point(
        "bounding_box.south_west",
        bbox.south_west.as_ref(),
        violations,
    );
    let north_east = required_point(
        "bounding_box.north_east",
        bbox.north_east.as_ref(),
        violations,
    );
    let (south_west, north_east) = (south_west?, north_east?);
    if south_west.latitude() > north_east.latitude() {
        violations.add("bounding_box", "south_west must be south of north_east");
        return None;
    }
    Some(BoundingBox {
        south: south_west.latitude(),
        north: north_east.latitude(),
        west: south_west.longitude(),
        east: north_east.longitude(),
    })
}

/// A part of a message nothing else can be checked without: its absence refuses the request at
/// once, with the violations found so far and `field` described by `required`.
pub fn required<T>(
    value: Option<T>,
    field: &str,
    required: &str,
    violations: &mut Violations,
) -> Result<T, Violations> {
    value.ok_or_else(|| {
        violations.add(field, required);
        std::mem::take(violations)
    })
}

/// What a conversion asks of the violations it collects, besides the domain's `collect`.
pub trait Fields {
    /// An optional field naming a resource: empty is none; a name `parse` refuses is a
    /// violation (and none).
    fn optional<T>(
        &mut self,
        field: &str,
        value: &str,
        parse: impl FnOnce(&str, &str) -> Result<T, Violations>,
    ) -> Option<T>;
}

impl Fields for Violations {
    fn optional<T>(
        &mut self,
        field: &str,
        value: &str,
        parse: impl FnOnce(&str, &str) -> Result<T, Violations>,
    ) -> Option<T> {
        if value.is_empty() {
            None
        } else {
            self.collect(parse(field, value))
        }
    }
}

/// An update mask: the paths it names, and the paths an update of its kind may change
/// (`allowed`, comma-separated, as the client is told when the mask names none or another).
pub struct Mask {
    paths: Vec<String>,
    allowed: &'static str,
}

impl Mask {
    pub fn of(
        mask: Option<&prost_types::FieldMask>,
        allowed: &'static str,
        violations: &mut Violations,
    ) -> Self {
        let paths = mask.map(|m| m.paths.clone()).unwrap_or_default();
        if paths.is_empty() {
            violations.add(
                "update_mask",
                format!("required: which of {allowed} to change"),
            );
        }
        Self { paths, allowed }
    }

    /// Each path with its index.
    pub fn paths(&self) -> impl Iterator<Item = (usize, &str)> {
        self.paths.iter().map(String::as_str).enumerate()
    }

    /// The violation of a path this update does not change.
    pub fn refuse(&self, index: usize, path: &str, violations: &mut Violations) {
        violations.add(
            format!("update_mask.paths[{index}]"),
            format!("{path:?} cannot be updated; allowed: {}", self.allowed),
        );
    }
}

/// The converted value of a request, when nothing in it was wrong: `build` runs only then, and
/// takes each converted part with `?` (a part is missing only where a violation says why).
pub fn valid<T>(
    violations: Violations,
    build: impl FnOnce() -> Option<T>,
) -> Result<T, Violations> {
    if !violations.is_empty() {
        return Err(violations);
    }
    build().ok_or(violations)
}

/// The `Mutation` of a mutating request (one with a `request_id`), its violations kept with the
/// request's others: `mutation!(message, violations)`.
macro_rules! mutation {
    ($message:ident, $violations:ident) => {
        $violations.collect($crate::services::request::Mutation::of(
            &$message,
            &$message.request_id,
            |m| m.request_id.clear(),
        ))
    };
}
pub(crate) use mutation;
