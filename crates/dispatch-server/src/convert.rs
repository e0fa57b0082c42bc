//! The old names of the edge's conversions, kept only until `views`, `watch` and `feed` move to
//! `crate::edge` (their event readers are being rewritten on another branch).

use dispatch_domain::Violations;
use dispatch_domain::incident::{ClosingCode, IncidentStatus};
use dispatch_proto::v1 as pb;

use crate::edge::enums::WireEnum;

pub use crate::edge::wire::{bounding_box, geo_point, location, timestamp};
pub use crate::services::request::etag;

pub fn incident_status(status: IncidentStatus) -> pb::IncidentStatus {
    status.to_wire()
}

pub fn incident_status_from(value: i32) -> Option<IncidentStatus> {
    IncidentStatus::from_wire(value)
}

pub fn closing_code(code: ClosingCode) -> pb::ClosingCode {
    code.to_wire()
}

pub fn enum_filter<T: WireEnum>(
    field: &str,
    values: &[i32],
    _: impl Fn(i32) -> Option<T>,
) -> Result<Vec<T>, Violations> {
    crate::edge::enums::enum_filter(field, values)
}
