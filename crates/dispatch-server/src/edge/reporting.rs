//! ReportingService's requests as domain queries, and its answers as messages. Each report's
//! own conversions live beside the period every report shares: `reporting/*.rs`.

pub mod hot_spots;
pub mod open_data;

use dispatch_domain::Violations;
use dispatch_domain::reporting::Period;
use dispatch_proto::v1 as pb;

use super::wire::datetime;

/// A request's `period`; violations name `period.start_time`, `period.end_time`,
/// `period.time_zone`.
pub fn period(period: Option<&pb::ReportPeriod>, violations: &mut Violations) -> Option<Period> {
    let Some(period) = period else {
        violations.add("period", "is required");
        return None;
    };
    let start = violations
        .collect(datetime("period.start_time", period.start_time.as_ref()))
        .flatten();
    let end = violations
        .collect(datetime("period.end_time", period.end_time.as_ref()))
        .flatten();
    violations.collect(Period::new("period", start, end, &period.time_zone))
}
