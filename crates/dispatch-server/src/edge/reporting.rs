//! ReportingService's requests as domain queries, and its answers as messages. Each report's
//! own conversions live beside the period every report shares: `reporting/*.rs`.

pub mod hot_spots;
pub mod open_data;
pub mod utilization;

use chrono::Duration;

use dispatch_domain::Violations;
use dispatch_domain::directory::UnitType;
use dispatch_domain::reporting::Period;
use dispatch_domain::reporting::duplicates::{DuplicateReport, Share};
use dispatch_domain::reporting::intervals::{
    Dimension, Group, IntervalKind, IntervalQuery, IntervalReport, Target,
};
use dispatch_proto::v1 as pb;

use super::enums::{WireEnum, enum_filter, wire_or_unspecified};
use super::wire::{datetime, duration, valid};

/// A report's page holds this many lines (export rows, units) when the request says 0.
pub const DEFAULT_PAGE_SIZE: i64 = 1000;
/// ... and at most this many.
pub const MAX_PAGE_SIZE: i64 = 5000;

/// A report's `page_size` and `page_token` checked: `lines` names what a page holds in the
/// message, `parse_token` reads back a token the report issued.
fn report_page<C>(
    size: i32,
    token: &str,
    lines: &str,
    parse_token: impl FnOnce(&str) -> Option<C>,
) -> Result<dispatch_store::Page<C>, Violations> {
    let mut violations = Violations::new();
    let size = match i64::from(size) {
        0 => Some(DEFAULT_PAGE_SIZE),
        size if (1..=MAX_PAGE_SIZE).contains(&size) => Some(size),
        size => {
            violations.add(
                "page_size",
                format!("{size}: say 1 to {MAX_PAGE_SIZE} {lines}, or 0 for {DEFAULT_PAGE_SIZE}"),
            );
            None
        }
    };
    let after = if token.is_empty() {
        Some(None)
    } else {
        let cursor = parse_token(token);
        if cursor.is_none() {
            violations.add("page_token", "not a token this server issued");
        }
        cursor.map(Some)
    };
    valid(violations, || {
        Some(dispatch_store::Page {
            size: size?,
            after: after?,
        })
    })
}

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
    let period = violations.collect(Period::new("period", start, end, &period.time_zone));
    if let Some(period) = &period {
        crate::auth::note_detail(period.describe());
    }
    period
}

/// A wire duration as chrono's, when it is one (seconds and nanos of one sign, nanos in range).
fn chrono_duration(field: &str, value: &prost_types::Duration) -> Result<Duration, Violations> {
    let same_sign =
        (value.seconds >= 0 && value.nanos >= 0) || (value.seconds <= 0 && value.nanos <= 0);
    // `unsigned_abs`: i32::MIN has no positive counterpart.
    if !same_sign || value.nanos.unsigned_abs() >= 1_000_000_000 {
        return Err(Violations::single(field, "must be a valid duration"));
    }
    Duration::try_seconds(value.seconds)
        .and_then(|d| d.checked_add(&Duration::nanoseconds(i64::from(value.nanos))))
        .ok_or_else(|| Violations::single(field, "must be a valid duration"))
}

fn target(message: &pb::IntervalTarget) -> Result<Target, Violations> {
    let mut violations = Violations::new();
    let interval = IntervalKind::from_wire(message.interval);
    let unit_type = if message.unit_type == 0 {
        None
    } else {
        let parsed = UnitType::from_wire(message.unit_type);
        if parsed.is_none() {
            violations.add("unit_type", format!("unknown value {}", message.unit_type));
        }
        parsed
    };
    let threshold = message
        .threshold
        .as_ref()
        .and_then(|d| violations.collect(chrono_duration("threshold", d)));
    let built = Target::new(
        interval,
        unit_type,
        threshold,
        message.percentile,
        message.source.clone(),
    );
    match built {
        Ok(target) if violations.is_empty() => Ok(target),
        Ok(_) => Err(violations),
        Err(more) => {
            // The domain names the missing interval and threshold too; keep each field once.
            for v in more.iter() {
                if !violations.iter().any(|seen| seen.field == v.field) {
                    violations.add(v.field.clone(), v.description.clone());
                }
            }
            Err(violations)
        }
    }
}

/// GetIntervalReport's question.
pub struct IntervalRequest(pub IntervalQuery);

impl TryFrom<pb::GetIntervalReportRequest> for IntervalRequest {
    type Error = Violations;

    fn try_from(message: pb::GetIntervalReportRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let period = period(message.period.as_ref(), &mut violations);
        let group_by = violations.collect(enum_filter::<Dimension>("group_by", &message.group_by));
        let mut targets = Vec::with_capacity(message.targets.len());
        for (i, t) in message.targets.iter().enumerate() {
            if let Some(t) =
                violations.collect(target(t).map_err(|v| v.within(&format!("targets[{i}]"))))
            {
                targets.push(t);
            }
        }
        let (Some(period), Some(group_by)) = (period, group_by) else {
            return Err(violations);
        };
        let query = violations.collect(IntervalQuery::new(period, group_by, targets));
        valid(violations, || query.map(Self))
    }
}

/// GetDuplicateReport's question: its period.
pub struct DuplicateQuery(pub Period);

impl TryFrom<pb::GetDuplicateReportRequest> for DuplicateQuery {
    type Error = Violations;

    fn try_from(message: pb::GetDuplicateReportRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let period = period(message.period.as_ref(), &mut violations);
        valid(violations, || period.map(Self))
    }
}

fn target_message(target: &Target) -> pb::IntervalTarget {
    pb::IntervalTarget {
        interval: target.interval.wire(),
        unit_type: wire_or_unspecified(target.unit_type),
        threshold: Some(duration(target.threshold)),
        percentile: target.percentile,
        source: target.source.clone(),
    }
}

fn group_message(group: &Group) -> pb::IntervalGroup {
    pb::IntervalGroup {
        keys: group
            .keys
            .iter()
            .map(|(dimension, value)| pb::GroupKey {
                dimension: dimension.wire(),
                value: value.clone(),
            })
            .collect(),
        intervals: group
            .intervals
            .iter()
            .map(|s| pb::IntervalStatistics {
                interval: s.interval.wire(),
                count: wide(s.count),
                p50: s.p50.map(duration),
                p90: s.p90.map(duration),
                mean: s.mean.map(duration),
                max: s.max.map(duration),
                excluded_missing: wide(s.missing),
                excluded_negative: wide(s.negative),
                excluded_cancelled: wide(s.cancelled),
                compliance: s
                    .compliance
                    .iter()
                    .map(|c| pb::TargetCompliance {
                        target: Some(target_message(&c.target)),
                        within: wide(c.within),
                        share: c.share,
                        met: c.met,
                        count: wide(c.count),
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub(super) fn wide(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

pub fn interval_response(report: &IntervalReport) -> pb::GetIntervalReportResponse {
    pb::GetIntervalReportResponse {
        total: Some(group_message(&report.total)),
        groups: report.groups.iter().map(group_message).collect(),
        targets: report.targets.iter().map(target_message).collect(),
        incidents: wide(report.incidents),
        assignments: wide(report.assignments),
    }
}

fn share_message(share: &Share) -> pb::DuplicateShare {
    pb::DuplicateShare {
        calls: wide(share.calls),
        duplicates: wide(share.duplicates),
        share: share.share(),
        disposed: wide(share.disposed),
        open: wide(share.open),
    }
}

pub fn duplicate_response(report: &DuplicateReport) -> pb::GetDuplicateReportResponse {
    pb::GetDuplicateReportResponse {
        total: Some(share_message(&report.total)),
        channels: report
            .channels
            .iter()
            .map(|(channel, share)| pb::ChannelDuplicates {
                channel: channel.wire(),
                share: Some(share_message(share)),
            })
            .collect(),
        hours: (0..24)
            .map(|hour| pb::HourDuplicates {
                hour,
                share: Some(share_message(&report.hours[hour as usize])),
            })
            .collect(),
    }
}
