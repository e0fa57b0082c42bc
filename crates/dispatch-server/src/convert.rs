//! Wire <-> domain conversion at the edge. Wire values are validated once, here, and every
//! violation names the field path the client sent.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use uuid::Uuid;

use dispatch_domain::Violations;
use dispatch_domain::call::{CallState, Channel, Disposition};
use dispatch_domain::directory::AgencyKind;
use dispatch_domain::incident::{ClosingCode, IncidentStatus};
use dispatch_domain::location::{GeoPoint, Location, LocationSource};
use dispatch_proto::v1 as pb;
use dispatch_store::{Page, TimeCursor};

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 500;

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

pub fn geo_point(point: &GeoPoint) -> pb::GeoPoint {
    pb::GeoPoint {
        latitude: point.latitude(),
        longitude: point.longitude(),
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
    let source = match pb::LocationSource::try_from(value.source) {
        Ok(pb::LocationSource::Unspecified) | Err(_) => None,
        Ok(pb::LocationSource::Device) => Some(LocationSource::Device),
        Ok(pb::LocationSource::Network) => Some(LocationSource::Network),
        Ok(pb::LocationSource::CallerDescribed) => Some(LocationSource::CallerDescribed),
        Ok(pb::LocationSource::FixedDevice) => Some(LocationSource::FixedDevice),
        Ok(pb::LocationSource::Dispatcher) => Some(LocationSource::Dispatcher),
    };
    Location::new(
        point,
        value.uncertainty_m,
        source,
        value.civic_address.clone(),
    )
}

pub fn location(location: &Location) -> pb::Location {
    pb::Location {
        point: Some(geo_point(&location.point)),
        uncertainty_m: location.uncertainty_m,
        source: match location.source {
            LocationSource::Device => pb::LocationSource::Device,
            LocationSource::Network => pb::LocationSource::Network,
            LocationSource::CallerDescribed => pb::LocationSource::CallerDescribed,
            LocationSource::FixedDevice => pb::LocationSource::FixedDevice,
            LocationSource::Dispatcher => pb::LocationSource::Dispatcher,
        }
        .into(),
        civic_address: location.civic_address.clone(),
    }
}

pub fn channel_from(value: i32) -> Option<Channel> {
    match pb::CallChannel::try_from(value).ok()? {
        pb::CallChannel::Unspecified => None,
        pb::CallChannel::Voice911 => Some(Channel::Voice911),
        pb::CallChannel::App911 => Some(Channel::App911),
        pb::CallChannel::PanicButton => Some(Channel::PanicButton),
        pb::CallChannel::Camera => Some(Channel::Camera),
        pb::CallChannel::Radio => Some(Channel::Radio),
        pb::CallChannel::SocialMedia => Some(Channel::SocialMedia),
        pb::CallChannel::WomensLine => Some(Channel::WomensLine),
        pb::CallChannel::PlateReader => Some(Channel::PlateReader),
        pb::CallChannel::AlarmCompany => Some(Channel::AlarmCompany),
        pb::CallChannel::Text => Some(Channel::Text),
        pb::CallChannel::PartnerApp => Some(Channel::PartnerApp),
    }
}

pub fn channel(channel: Channel) -> pb::CallChannel {
    match channel {
        Channel::Voice911 => pb::CallChannel::Voice911,
        Channel::App911 => pb::CallChannel::App911,
        Channel::PanicButton => pb::CallChannel::PanicButton,
        Channel::Camera => pb::CallChannel::Camera,
        Channel::Radio => pb::CallChannel::Radio,
        Channel::SocialMedia => pb::CallChannel::SocialMedia,
        Channel::WomensLine => pb::CallChannel::WomensLine,
        Channel::PlateReader => pb::CallChannel::PlateReader,
        Channel::AlarmCompany => pb::CallChannel::AlarmCompany,
        Channel::Text => pb::CallChannel::Text,
        Channel::PartnerApp => pb::CallChannel::PartnerApp,
    }
}

pub fn call_state_from(value: i32) -> Option<CallState> {
    match pb::CallState::try_from(value).ok()? {
        pb::CallState::Unspecified => None,
        pb::CallState::Open => Some(CallState::Open),
        pb::CallState::Linked => Some(CallState::Linked),
        pb::CallState::Disposed => Some(CallState::Disposed),
    }
}

pub fn call_state(state: CallState) -> pb::CallState {
    match state {
        CallState::Open => pb::CallState::Open,
        CallState::Linked => pb::CallState::Linked,
        CallState::Disposed => pb::CallState::Disposed,
    }
}

pub fn disposition_from(value: i32) -> Option<Disposition> {
    match pb::CallDisposition::try_from(value).ok()? {
        pb::CallDisposition::Unspecified => None,
        pb::CallDisposition::HangUp => Some(Disposition::HangUp),
        pb::CallDisposition::Prank => Some(Disposition::Prank),
        pb::CallDisposition::Misdial => Some(Disposition::Misdial),
        pb::CallDisposition::InformationRequest => Some(Disposition::InformationRequest),
        pb::CallDisposition::NonEmergencyReferred => Some(Disposition::NonEmergencyReferred),
        pb::CallDisposition::Test => Some(Disposition::Test),
        pb::CallDisposition::Abandoned => Some(Disposition::Abandoned),
        pb::CallDisposition::Other => Some(Disposition::Other),
    }
}

pub fn disposition(disposition: Disposition) -> pb::CallDisposition {
    match disposition {
        Disposition::HangUp => pb::CallDisposition::HangUp,
        Disposition::Prank => pb::CallDisposition::Prank,
        Disposition::Misdial => pb::CallDisposition::Misdial,
        Disposition::InformationRequest => pb::CallDisposition::InformationRequest,
        Disposition::NonEmergencyReferred => pb::CallDisposition::NonEmergencyReferred,
        Disposition::Test => pb::CallDisposition::Test,
        Disposition::Abandoned => pb::CallDisposition::Abandoned,
        Disposition::Other => pb::CallDisposition::Other,
    }
}

pub fn incident_status(status: IncidentStatus) -> pb::IncidentStatus {
    match status {
        IncidentStatus::New => pb::IncidentStatus::New,
        IncidentStatus::Triaged => pb::IncidentStatus::Triaged,
        IncidentStatus::Dispatched => pb::IncidentStatus::Dispatched,
        IncidentStatus::OnScene => pb::IncidentStatus::OnScene,
        IncidentStatus::Resolved => pb::IncidentStatus::Resolved,
        IncidentStatus::Closed => pb::IncidentStatus::Closed,
        IncidentStatus::Cancelled => pb::IncidentStatus::Cancelled,
    }
}

pub fn incident_status_from(value: i32) -> Option<IncidentStatus> {
    IncidentStatus::ALL
        .iter()
        .copied()
        .find(|s| i32::from(incident_status(*s)) == value)
}

pub fn closing_code_from(value: i32) -> Option<ClosingCode> {
    ClosingCode::ALL
        .iter()
        .copied()
        .find(|c| i32::from(closing_code(*c)) == value)
}

pub fn closing_code(code: ClosingCode) -> pb::ClosingCode {
    match code {
        ClosingCode::Confirmed => pb::ClosingCode::Confirmed,
        ClosingCode::Negative => pb::ClosingCode::Negative,
        ClosingCode::Duplicate => pb::ClosingCode::Duplicate,
        ClosingCode::False => pb::ClosingCode::False,
        ClosingCode::Informative => pb::ClosingCode::Informative,
    }
}

pub fn agency_kind_from(value: i32) -> Option<AgencyKind> {
    match pb::AgencyKind::try_from(value).ok()? {
        pb::AgencyKind::Unspecified => None,
        pb::AgencyKind::Police => Some(AgencyKind::Police),
        pb::AgencyKind::Fire => Some(AgencyKind::Fire),
        pb::AgencyKind::Ems => Some(AgencyKind::Ems),
        pb::AgencyKind::RedCross => Some(AgencyKind::RedCross),
        pb::AgencyKind::CivilProtection => Some(AgencyKind::CivilProtection),
        pb::AgencyKind::Federal => Some(AgencyKind::Federal),
        pb::AgencyKind::Other => Some(AgencyKind::Other),
    }
}

pub fn agency_kind(kind: AgencyKind) -> pb::AgencyKind {
    match kind {
        AgencyKind::Police => pb::AgencyKind::Police,
        AgencyKind::Fire => pb::AgencyKind::Fire,
        AgencyKind::Ems => pb::AgencyKind::Ems,
        AgencyKind::RedCross => pb::AgencyKind::RedCross,
        AgencyKind::CivilProtection => pb::AgencyKind::CivilProtection,
        AgencyKind::Federal => pb::AgencyKind::Federal,
        AgencyKind::Other => pb::AgencyKind::Other,
    }
}

/// Repeated enum filters: every value must be a known, specified one.
pub fn enum_filter<T>(
    field: &str,
    values: &[i32],
    parse: impl Fn(i32) -> Option<T>,
) -> Result<Vec<T>, Violations> {
    let mut violations = Violations::new();
    let mut parsed = Vec::with_capacity(values.len());
    for (index, value) in values.iter().enumerate() {
        match parse(*value) {
            Some(value) => parsed.push(value),
            None => violations.add(
                format!("{field}[{index}]"),
                format!("unknown or unspecified value {value}"),
            ),
        }
    }
    violations.into_result(|| parsed)
}

pub fn page_size(value: i32) -> Result<i64, Violations> {
    match i64::from(value) {
        0 => Ok(DEFAULT_PAGE_SIZE),
        size if size < 0 => Err(Violations::single("page_size", "must not be negative")),
        size => Ok(size.min(MAX_PAGE_SIZE)),
    }
}

/// Page tokens of newest-first lists: `t.<microseconds>.<uuid>`. Opaque to clients.
pub fn time_page(page_size_value: i32, token: &str) -> Result<Page<TimeCursor>, Violations> {
    let size = page_size(page_size_value)?;
    if token.is_empty() {
        return Ok(Page { size, after: None });
    }
    let parse = || -> Option<TimeCursor> {
        let rest = token.strip_prefix("t.")?;
        let (micros, id) = rest.split_once('.')?;
        Some(TimeCursor {
            time: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: Uuid::parse_str(id).ok()?,
        })
    };
    parse()
        .map(|cursor| Page {
            size,
            after: Some(cursor),
        })
        .ok_or_else(|| Violations::single("page_token", "not a token this server issued"))
}

pub fn time_token(cursor: Option<TimeCursor>) -> String {
    cursor.map_or_else(String::new, |c| {
        format!("t.{}.{}", c.time.timestamp_micros(), c.id)
    })
}

/// Longest code a `c.` page token may carry: longer than any code or call sign the directory
/// accepts.
const MAX_TOKEN_CODE_BYTES: usize = 1024;

/// Page tokens of lists ordered by a code: `c.<code>`.
pub fn code_page(page_size_value: i32, token: &str) -> Result<Page<String>, Violations> {
    let size = page_size(page_size_value)?;
    if token.is_empty() {
        return Ok(Page { size, after: None });
    }
    token
        .strip_prefix("c.")
        // Codes are short and never hold a NUL (PostgreSQL text cannot): no such token was issued.
        .filter(|code| code.len() <= MAX_TOKEN_CODE_BYTES && !code.contains('\0'))
        .map(|code| Page {
            size,
            after: Some(code.to_owned()),
        })
        .ok_or_else(|| Violations::single("page_token", "not a token this server issued"))
}

pub fn code_token(code: Option<String>) -> String {
    code.map_or_else(String::new, |code| format!("c.{code}"))
}

/// Etags are the row version; an empty etag means "don't check".
pub fn etag_from(field: &str, etag: &str) -> Result<Option<i64>, Violations> {
    if etag.is_empty() {
        return Ok(None);
    }
    etag.strip_prefix('v')
        .and_then(|version| version.parse().ok())
        .map(Some)
        .ok_or_else(|| Violations::single(field, "not an etag this server issued"))
}

pub fn etag(version: i64) -> String {
    format!("v{version}")
}

/// A wire bounding box; violations name `bounding_box.*`.
pub fn bounding_box(
    bbox: &pb::BoundingBox,
    violations: &mut Violations,
) -> Option<dispatch_domain::location::BoundingBox> {
    let corner =
        |field: &str, point: Option<&pb::GeoPoint>, violations: &mut Violations| match point {
            Some(p) => violations
                .collect(GeoPoint::new(p.latitude, p.longitude).map_err(|v| v.within(field))),
            None => {
                violations.add(field, "required");
                None
            }
        };
    let south_west = corner(
        "bounding_box.south_west",
        bbox.south_west.as_ref(),
        violations,
    );
    let north_east = corner(
        "bounding_box.north_east",
        bbox.north_east.as_ref(),
        violations,
    );
    let (south_west, north_east) = (south_west?, north_east?);
    if south_west.latitude() > north_east.latitude() {
        violations.add("bounding_box", "south_west must be south of north_east");
        return None;
    }
    Some(dispatch_domain::location::BoundingBox {
        south: south_west.latitude(),
        north: north_east.latitude(),
        west: south_west.longitude(),
        east: north_east.longitude(),
    })
}
