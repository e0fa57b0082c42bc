//! UnitAssignmentService on the wire: position reports in, recommendations and refused reports
//! out. A recommendation is kept as the decision record the dispatcher saw (`StoredFill`), and
//! rendered from it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use std::collections::HashSet;

use dispatch_domain::Violations;
use dispatch_domain::call::{MAX_CLOCK_SKEW, MAX_NOTE_CHARS, check_length};
use dispatch_domain::directory::{Position, UnitStatus, UnitType};
use dispatch_domain::ids::{AgencyId, IncidentId, RecommendationId, StationId, UnitId};
use dispatch_domain::location::GeoPoint;
use dispatch_domain::triage::{Catalogue, MAX_REQUIREMENT_COUNT, Requirement};
use dispatch_proto::v1 as pb;
use dispatch_store::Page;
use dispatch_store::assignments::RecommendationRecord;
use dispatch_store::units::{PositionUpdate, UnitFilter};

use super::enums::{WireEnum, enum_filter, wire_or_unspecified};
use super::wire::{self, Fields as _, mutation, timestamp, valid};
use crate::edge::views::plan;
use crate::error::Error;
use crate::services::request::{self, Mutation};

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
    /// `TravelSource::as_str`; absent in records stored before it was kept.
    #[serde(default)]
    pub travel_model: String,
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
                        travel_model: wire_or_unspecified(dispatch_geo::TravelSource::parse(
                            &c.travel_model,
                        )),
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

/// Reports per unary batch.
pub const MAX_BATCH: usize = 1_000;

/// The reports of one ReportPositionBatch: 1 to MAX_BATCH. Each report is checked on its own
/// when stored: a bad one is refused in the answer, not the whole batch.
pub struct PositionBatch {
    pub reports: Vec<pb::PositionReport>,
}

impl TryFrom<pb::ReportPositionBatchRequest> for PositionBatch {
    type Error = Violations;

    fn try_from(message: pb::ReportPositionBatchRequest) -> Result<Self, Violations> {
        if message.reports.is_empty() || message.reports.len() > MAX_BATCH {
            return Err(Violations::single(
                "reports",
                format!("1 to {MAX_BATCH} reports per batch"),
            ));
        }
        Ok(Self {
            reports: message.reports,
        })
    }
}

/// Units one AssignUnits may send.
pub const MAX_ASSIGN: usize = 50;

pub struct SetUnitStatus {
    pub mutation: Mutation,
    pub unit: UnitId,
    pub status: UnitStatus,
    pub incident: Option<IncidentId>,
    pub note: String,
    pub etag: Option<i64>,
    /// Back-entered: when it happened.
    pub at: Option<DateTime<Utc>>,
}

/// A back-entered time (`field`): unset means now; never in the future (beyond the clock skew
/// allowed between machines). Whether it keeps the records in order is the domain's to say,
/// against the rows it is written with.
fn back_entered(
    violations: &mut Violations,
    field: &str,
    value: Option<&prost_types::Timestamp>,
) -> Option<DateTime<Utc>> {
    let at = violations.collect(wire::datetime(field, value)).flatten()?;
    if at > Utc::now() + MAX_CLOCK_SKEW {
        violations.add(field, "is in the future");
        return None;
    }
    Some(at)
}

impl TryFrom<pb::SetUnitStatusRequest> for SetUnitStatus {
    type Error = Violations;

    fn try_from(message: pb::SetUnitStatusRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let unit = violations.collect(UnitId::parse_name("unit", &message.unit));
        let status = match UnitStatus::from_wire(message.status) {
            Some(UnitStatus::Dispatched) => {
                violations.add("status", "DISPATCHED is set by AssignUnits, not reported");
                None
            }
            Some(status) => Some(status),
            None => {
                violations.add("status", "required: the unit's new status");
                None
            }
        };
        let incident = violations.optional("incident", &message.incident, IncidentId::parse_name);
        check_length(&mut violations, "note", &message.note, MAX_NOTE_CHARS);
        let etag = violations.collect(request::etag_from("etag", &message.etag));
        let at = back_entered(&mut violations, "status_time", message.status_time.as_ref());
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                unit: unit?,
                status: status?,
                incident,
                note: message.note,
                etag: etag?,
                at,
            })
        })
    }
}

pub struct RecommendUnits {
    pub mutation: Mutation,
    pub incident: IncidentId,
    /// The plan to fill instead of the triaged one.
    pub plan_override: Option<Vec<Requirement>>,
    /// Candidates per requirement at most; every one found when `None`.
    pub max_candidates: Option<usize>,
}

impl TryFrom<(pb::RecommendUnitsRequest, &Catalogue)> for RecommendUnits {
    type Error = Violations;

    fn try_from(
        (message, catalogue): (pb::RecommendUnitsRequest, &Catalogue),
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let incident = violations.collect(IncidentId::parse_name("incident", &message.incident));
        let plan_override = message.plan_override.as_ref().map(|plan| {
            if plan.requirements.is_empty() {
                violations.add("plan_override.requirements", "at least one requirement");
            }
            plan.requirements
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    if !catalogue.has_capability(&r.capability) {
                        violations.add(
                            format!("plan_override.requirements[{i}].capability"),
                            format!("unknown capability {:?}", r.capability),
                        );
                    }
                    let count = u32::try_from(r.count)
                        .ok()
                        .filter(|c| (1..=MAX_REQUIREMENT_COUNT).contains(c));
                    if count.is_none() {
                        violations.add(
                            format!("plan_override.requirements[{i}].count"),
                            format!("must be from 1 to {MAX_REQUIREMENT_COUNT}"),
                        );
                    }
                    Some(Requirement {
                        capability: r.capability.clone(),
                        count: count?,
                        description: r.description.clone(),
                    })
                })
                .collect::<Vec<_>>()
        });
        let max_candidates = match message.max_candidates_per_requirement {
            0 => None,
            n @ 1..=20 => usize::try_from(n).ok(),
            _ => {
                violations.add(
                    "max_candidates_per_requirement",
                    "must be from 1 to 20 (0 for the default)",
                );
                None
            }
        };
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                incident: incident?,
                plan_override,
                max_candidates,
            })
        })
    }
}

pub struct AssignUnits {
    pub mutation: Mutation,
    pub incident: IncidentId,
    pub units: Vec<UnitId>,
    /// The recommendation followed, if any.
    pub recommendation: Option<RecommendationId>,
    pub override_reason: String,
    /// Back-entered: when they were dispatched.
    pub at: Option<DateTime<Utc>>,
}

impl TryFrom<pb::AssignUnitsRequest> for AssignUnits {
    type Error = Violations;

    fn try_from(message: pb::AssignUnitsRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let incident = violations.collect(IncidentId::parse_name("incident", &message.incident));
        if message.units.is_empty() || message.units.len() > MAX_ASSIGN {
            violations.add("units", format!("1 to {MAX_ASSIGN} units"));
        }
        let mut units = Vec::with_capacity(message.units.len());
        let mut seen = HashSet::new();
        for (i, name) in message.units.iter().enumerate() {
            if let Some(id) = violations.collect(UnitId::parse_name(&format!("units[{i}]"), name)) {
                if !seen.insert(id) {
                    violations.add(format!("units[{i}]"), "listed twice");
                }
                units.push(id);
            }
        }
        let recommendation = violations.optional(
            "recommendation",
            &message.recommendation,
            RecommendationId::parse_name,
        );
        check_length(
            &mut violations,
            "override_reason",
            &message.override_reason,
            MAX_NOTE_CHARS,
        );
        let at = back_entered(
            &mut violations,
            "dispatch_time",
            message.dispatch_time.as_ref(),
        );
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                incident: incident?,
                units,
                recommendation,
                override_reason: message.override_reason,
                at,
            })
        })
    }
}

pub struct ReleaseUnit {
    pub mutation: Mutation,
    pub unit: UnitId,
    pub incident: IncidentId,
    pub reason: String,
    /// Back-entered: when it was released.
    pub at: Option<DateTime<Utc>>,
}

impl TryFrom<pb::ReleaseUnitRequest> for ReleaseUnit {
    type Error = Violations;

    fn try_from(message: pb::ReleaseUnitRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let unit = violations.collect(UnitId::parse_name("unit", &message.unit));
        let incident = violations.collect(IncidentId::parse_name("incident", &message.incident));
        if message.reason.trim().is_empty() {
            violations.add("reason", "required: why the unit is taken off the incident");
        }
        check_length(&mut violations, "reason", &message.reason, MAX_NOTE_CHARS);
        let at = back_entered(
            &mut violations,
            "release_time",
            message.release_time.as_ref(),
        );
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                unit: unit?,
                incident: incident?,
                reason: message.reason,
                at,
            })
        })
    }
}

/// The selection ListUnits and WatchUnits share: agency, home station, types and statuses
/// (violations named as both requests name them).
fn unit_filter(
    agency: &str,
    station: &str,
    unit_types: &[i32],
    statuses: &[i32],
    violations: &mut Violations,
) -> Option<UnitFilter> {
    let agency = violations.optional("agency", agency, AgencyId::parse_name);
    let station = violations.optional("station", station, StationId::parse_name);
    let unit_types = violations.collect(enum_filter::<UnitType>("unit_types", unit_types));
    let statuses = violations.collect(enum_filter::<UnitStatus>("statuses", statuses));
    Some(UnitFilter {
        agency,
        station,
        unit_types: unit_types?,
        statuses: statuses?,
        ..UnitFilter::default()
    })
}

pub struct ListUnits {
    pub filter: UnitFilter,
    pub page: Page<String>,
}

impl TryFrom<(pb::ListUnitsRequest, &Catalogue)> for ListUnits {
    type Error = Violations;

    fn try_from(
        (message, catalogue): (pb::ListUnitsRequest, &Catalogue),
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let page = violations.collect(request::code_page(message.page_size, &message.page_token));
        let filter = unit_filter(
            &message.agency,
            &message.station,
            &message.unit_types,
            &message.statuses,
            &mut violations,
        );
        let area = message
            .bounding_box
            .as_ref()
            .and_then(|b| wire::bounding_box(b, &mut violations));
        // Units only have the catalogue's capabilities: any other (a typo, a NUL PostgreSQL
        // cannot compare) is the caller's mistake, refused before the query.
        for (i, capability) in message.capabilities.iter().enumerate() {
            if !catalogue.has_capability(capability) {
                violations.add(
                    format!("capabilities[{i}]"),
                    format!("unknown capability {capability:?}"),
                );
            }
        }
        valid(violations, || {
            Some(Self {
                filter: UnitFilter {
                    capabilities: message.capabilities,
                    area,
                    include_decommissioned: message.include_decommissioned,
                    ..filter?
                },
                page: page?,
            })
        })
    }
}

/// The units a WatchUnits stream shows (its capabilities and decommissioned units aside), and
/// the sequence it resumes after (0: a snapshot first).
pub struct WatchUnits {
    pub filter: UnitFilter,
    pub after: i64,
}

impl TryFrom<pb::WatchUnitsRequest> for WatchUnits {
    type Error = Violations;

    fn try_from(message: pb::WatchUnitsRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let area = message
            .bounding_box
            .as_ref()
            .and_then(|b| wire::bounding_box(b, &mut violations));
        let filter = unit_filter(
            &message.agency,
            &message.station,
            &message.unit_types,
            &message.statuses,
            &mut violations,
        );
        request::check_after(message.after_sequence, &mut violations);
        valid(violations, || {
            Some(Self {
                filter: UnitFilter { area, ..filter? },
                after: message.after_sequence,
            })
        })
    }
}
