//! UnitAssignmentService on the wire: position reports in, recommendations and refused reports
//! out. A recommendation is kept as the decision record the dispatcher saw (`StoredFill`), and
//! rendered from it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use dispatch_domain::Violations;
use dispatch_domain::call::MAX_CLOCK_SKEW;
use dispatch_domain::directory::{Position, UnitType};
use dispatch_domain::ids::UnitId;
use dispatch_domain::location::GeoPoint;
use dispatch_proto::v1 as pb;
use dispatch_store::assignments::RecommendationRecord;
use dispatch_store::units::PositionUpdate;

use super::enums::wire_or_unspecified;
use super::wire::{self, timestamp};
use crate::edge::views::plan;
use crate::error::Error;

/// How a recommendation's fills are kept in its decision record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredFill {
    pub capability: String,
    pub count: u32,
    pub description: String,
    pub already_assigned: Vec<String>,
    pub candidates: Vec<StoredCandidate>,
    pub shortfall: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredCandidate {
    pub unit: String,
    pub call_sign: String,
    pub unit_type: String,
    pub agency: String,
    pub straight_line_m: f64,
    pub eta_ms: i64,
    pub stale: bool,
    pub position_age_ms: i64,
    pub rank: i32,
    pub reason: String,
    pub picked: bool,
    pub latitude: f64,
    pub longitude: f64,
}

pub fn fills_of(record: &RecommendationRecord) -> Result<Vec<StoredFill>, Error> {
    serde_json::from_value(record.fills.clone()).map_err(|e| {
        Error::Store(dispatch_store::Error::Internal(format!(
            "stored recommendation: {e}"
        )))
    })
}

pub fn recommendation_message(
    record: &RecommendationRecord,
    fills: &[StoredFill],
) -> pb::Recommendation {
    pb::Recommendation {
        name: record.id.name(),
        incident: record.incident.name(),
        plan: Some(plan(&record.plan)),
        plan_overridden: record.plan_overridden,
        incident_location: Some(pb::Location {
            point: Some(wire::geo_point(&record.incident_point)),
            ..Default::default()
        }),
        fills: fills
            .iter()
            .map(|fill| pb::RequirementFill {
                requirement: Some(pb::PlanRequirement {
                    capability: fill.capability.clone(),
                    count: i32::try_from(fill.count).unwrap_or(i32::MAX),
                    description: fill.description.clone(),
                }),
                candidates: fill
                    .candidates
                    .iter()
                    .map(|c| pb::Candidate {
                        unit: c.unit.clone(),
                        call_sign: c.call_sign.clone(),
                        unit_type: wire_or_unspecified(UnitType::parse(&c.unit_type)),
                        agency: c.agency.clone(),
                        straight_line_m: c.straight_line_m,
                        eta: Some(wire::duration(chrono::Duration::milliseconds(c.eta_ms))),
                        stale_position: c.stale,
                        position_age: Some(wire::duration(chrono::Duration::milliseconds(
                            c.position_age_ms,
                        ))),
                        rank: c.rank,
                        reason: c.reason.clone(),
                        picked: c.picked,
                        position: Some(pb::GeoPoint {
                            latitude: c.latitude,
                            longitude: c.longitude,
                        }),
                    })
                    .collect(),
                already_assigned: fill.already_assigned.clone(),
                shortfall: i32::try_from(fill.shortfall).unwrap_or(i32::MAX),
            })
            .collect(),
        total_shortfall: record.total_shortfall,
        create_time: Some(timestamp(record.created_at)),
        created_by: record.created_by.clone(),
    }
}

/// A position report checked field by field; paths are relative to the report.
pub fn position_update(
    report: &pb::PositionReport,
    now: DateTime<Utc>,
) -> Result<PositionUpdate, Violations> {
    let mut violations = Violations::new();
    let unit = violations.collect(UnitId::parse_name("unit", &report.unit));
    let point = match &report.point {
        Some(p) => violations
            .collect(GeoPoint::new(p.latitude, p.longitude).map_err(|v| v.within("point"))),
        None => {
            violations.add("point", "required");
            None
        }
    };
    if !report.accuracy_m.is_finite() || !(0.0..=1_000_000.0).contains(&report.accuracy_m) {
        violations.add("accuracy_m", "must be a number of metres from 0 to 1000000");
    }
    if let Some(heading) = report.heading_deg
        && (!heading.is_finite() || !(0.0..360.0).contains(&heading))
    {
        violations.add(
            "heading_deg",
            "must be from 0 (inclusive) to 360 (exclusive)",
        );
    }
    if let Some(speed) = report.speed_mps
        && (!speed.is_finite() || !(0.0..=200.0).contains(&speed))
    {
        violations.add("speed_mps", "must be from 0 to 200 m/s");
    }
    let fix_time = match wire::datetime("fix_time", report.fix_time.as_ref()) {
        Ok(Some(time)) if time > now + MAX_CLOCK_SKEW => {
            violations.add("fix_time", "is in the future");
            None
        }
        Ok(Some(time)) => Some(time),
        Ok(None) => {
            violations.add("fix_time", "required: when the fix was taken");
            None
        }
        Err(v) => {
            violations.collect::<()>(Err(v));
            None
        }
    };
    match (unit, point, fix_time) {
        (Some(unit), Some(point), Some(fix_time)) if violations.is_empty() => Ok(PositionUpdate {
            unit,
            position: Position {
                point,
                accuracy_m: report.accuracy_m,
                heading_deg: report.heading_deg,
                speed_mps: report.speed_mps,
                fix_time,
            },
        }),
        _ => Err(violations),
    }
}

pub fn rejected(
    index: usize,
    unit: &str,
    reason: pb::PositionRejectionReason,
    violations: &Violations,
) -> pb::RejectedReport {
    pb::RejectedReport {
        index: i32::try_from(index).unwrap_or(i32::MAX),
        unit: unit.to_owned(),
        reason: reason.into(),
        violations: violations
            .iter()
            .map(|v| pb::FieldViolation {
                field: v.field.clone(),
                description: v.description.clone(),
            })
            .collect(),
    }
}
