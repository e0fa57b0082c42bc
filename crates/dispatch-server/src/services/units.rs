//! `UnitAssignmentService`: unit status, positions (AVL), recommendations, assignment, cameras.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt as _;
use tonic::{Request, Response, Status, Streaming};

use dispatch_domain::Violations;
use dispatch_domain::call::{MAX_CLOCK_SKEW, MAX_NOTE_CHARS, check_length};
use dispatch_domain::directory::{Position, Unit, UnitStatus};
use dispatch_domain::ids::{CameraId, IncidentId, RecommendationId, StationId, UnitId};
use dispatch_domain::location::GeoPoint;
use dispatch_domain::triage::{MAX_REQUIREMENT_COUNT, Requirement};
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::unit_assignment_service_server::UnitAssignmentService;
use dispatch_store::assignments::RecommendationRecord;
use dispatch_store::incidents::IncidentDetail;
use dispatch_store::units::{PositionOutcome, PositionUpdate, UnitFilter};

use super::request::idempotency;
use super::views;
use crate::AppState;
use crate::auth::Principal;
use crate::convert::{self, timestamp};
use crate::error::{Error, invalid};
use dispatch_domain::auth::Role;

/// Reports per unary batch, and per write of a stream.
const MAX_BATCH: usize = 1_000;
const STREAM_CHUNK: usize = 256;
/// A stream's buffered reports are written at least this often.
const STREAM_FLUSH: Duration = Duration::from_millis(100);
const MAX_ASSIGN: usize = 50;

#[derive(Debug, Clone)]
pub struct UnitAssignment {
    state: Arc<AppState>,
}

impl UnitAssignment {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

/// How a recommendation's fills are kept in its decision record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredFill {
    capability: String,
    count: u32,
    description: String,
    already_assigned: Vec<String>,
    candidates: Vec<StoredCandidate>,
    shortfall: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredCandidate {
    unit: String,
    call_sign: String,
    unit_type: String,
    agency: String,
    straight_line_m: f64,
    eta_ms: i64,
    stale: bool,
    position_age_ms: i64,
    rank: i32,
    reason: String,
    picked: bool,
    latitude: f64,
    longitude: f64,
}

/// Times a recommendation searches again after finding that the engine offered units the
/// database says are no longer available (each search excludes every unit found so far).
const MAX_RECOMMEND_ATTEMPTS: usize = 4;

/// Whether the database's row says the unit can be sent now.
fn dispatchable(unit: &Unit) -> bool {
    unit.status == UnitStatus::Available && unit.decommissioned_at.is_none()
}

fn fills_of(record: &RecommendationRecord) -> Result<Vec<StoredFill>, Error> {
    serde_json::from_value(record.fills.clone()).map_err(|e| {
        Error::Store(dispatch_store::Error::Internal(format!(
            "stored recommendation: {e}"
        )))
    })
}

fn recommendation_message(
    record: &RecommendationRecord,
    fills: &[StoredFill],
) -> pb::Recommendation {
    pb::Recommendation {
        name: record.id.name(),
        incident: record.incident.name(),
        plan: Some(views::plan(&record.plan)),
        plan_overridden: record.plan_overridden,
        incident_location: Some(pb::Location {
            point: Some(convert::geo_point(&record.incident_point)),
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
                        unit_type: dispatch_domain::directory::UnitType::parse(&c.unit_type)
                            .map_or(pb::UnitType::Unspecified, views::unit_type)
                            .into(),
                        agency: c.agency.clone(),
                        straight_line_m: c.straight_line_m,
                        eta: Some(convert::duration(chrono::Duration::milliseconds(c.eta_ms))),
                        stale_position: c.stale,
                        position_age: Some(convert::duration(chrono::Duration::milliseconds(
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
fn position_update(
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
    let fix_time = match convert::datetime("fix_time", report.fix_time.as_ref()) {
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

fn rejected(
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

/// Totals of a stream or batch of position reports.
#[derive(Debug, Default)]
struct PositionTally {
    accepted: usize,
    superseded: usize,
    rejected: Vec<pb::RejectedReport>,
}

impl UnitAssignment {
    fn unit_message(&self, unit: &Unit) -> pb::Unit {
        views::unit(unit, Utc::now(), self.state.stale_after)
    }

    /// Validates and stores reports (`offset` is the index of the first in the whole stream),
    /// then moves the units in the engine.
    async fn store_positions(
        &self,
        principal: &Principal,
        reports: &[pb::PositionReport],
        offset: usize,
        tally: &mut PositionTally,
    ) -> Result<(), Error> {
        let now = Utc::now();
        let mut updates = Vec::with_capacity(reports.len());
        let mut indexes = Vec::with_capacity(reports.len());
        for (i, report) in reports.iter().enumerate() {
            match position_update(report, now) {
                // A field unit reports only its own position; others read as unknown units.
                Ok(update)
                    if principal.role == Role::FieldUnit && principal.unit != Some(update.unit) =>
                {
                    tally.rejected.push(rejected(
                        offset + i,
                        &report.unit,
                        pb::PositionRejectionReason::UnitNotFound,
                        &Violations::new(),
                    ));
                }
                Ok(update) => {
                    updates.push(update);
                    indexes.push(offset + i);
                }
                Err(violations) => {
                    tally.rejected.push(rejected(
                        offset + i,
                        &report.unit,
                        pb::PositionRejectionReason::Invalid,
                        &violations,
                    ));
                }
            }
        }
        let PositionOutcome {
            applied,
            superseded,
            unknown,
            decommissioned,
        } = self
            .state
            .store
            .report_positions(&principal.name, &updates)
            .await?;
        if !applied.is_empty() {
            // Announced moves are events: publish them now rather than at the end of a stream.
            self.state.feed.committed();
        }
        tally.accepted += applied.len();
        tally.superseded += superseded.len();
        for i in unknown {
            tally.rejected.push(rejected(
                indexes[i],
                &reports[indexes[i] - offset].unit,
                pb::PositionRejectionReason::UnitNotFound,
                &Violations::new(),
            ));
        }
        for i in decommissioned {
            tally.rejected.push(rejected(
                indexes[i],
                &reports[indexes[i] - offset].unit,
                pb::PositionRejectionReason::Decommissioned,
                &Violations::new(),
            ));
        }
        let mut engine = self.state.engine();
        for (_, unit, position) in applied {
            engine.move_unit(
                unit.0,
                dispatch_geo::Fix {
                    point: position.point,
                    fix_time: position.fix_time,
                },
            );
        }
        Ok(())
    }

    async fn incident_for_recommendation(&self, id: IncidentId) -> Result<IncidentDetail, Error> {
        Ok(self.state.store.incident_detail(id).await?)
    }
}

#[tonic::async_trait]
impl UnitAssignmentService for UnitAssignment {
    type WatchUnitsStream =
        tokio_stream::wrappers::ReceiverStream<Result<pb::WatchUnitsResponse, Status>>;

    async fn set_unit_status(
        &self,
        request: Request<pb::SetUnitStatusRequest>,
    ) -> Result<Response<pb::SetUnitStatusResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "SetUnitStatus",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let unit = violations.collect(UnitId::parse_name("unit", &message.unit));
        let status = match views::unit_status_from(message.status) {
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
        let incident = if message.incident.is_empty() {
            Some(None)
        } else {
            violations.collect(IncidentId::parse_name("incident", &message.incident).map(Some))
        };
        check_length(&mut violations, "note", &message.note, MAX_NOTE_CHARS);
        let etag = violations.collect(convert::etag_from("etag", &message.etag));
        let (Some(key), Some(unit), Some(status), Some(incident), Some(etag)) =
            (key, unit, status, incident, etag)
        else {
            return Err(invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        // A field unit speaks only for itself; another unit is as unknown to it as a missing one.
        if principal.role == Role::FieldUnit && principal.unit != Some(unit) {
            return Err(Status::not_found(format!("{unit} not found")));
        }
        crate::auth::note_resource(unit.name());
        let (unit, incident) = self
            .state
            .store
            .set_unit_status(
                &key,
                &principal.name,
                unit,
                status,
                incident,
                &message.note,
                etag,
            )
            .await
            .map_err(Error::from)?
            .value;
        self.state.sync_unit(&unit);
        Ok(Response::new(pb::SetUnitStatusResponse {
            unit: Some(self.unit_message(&unit)),
            incident: incident.map(|detail| views::incident(&detail, true)),
        }))
    }

    async fn report_positions(
        &self,
        request: Request<Streaming<pb::ReportPositionsRequest>>,
    ) -> Result<Response<pb::ReportPositionsResponse>, Status> {
        let principal = Principal::of(&request);
        let mut stream = request.into_inner();
        let mut tally = PositionTally::default();
        let mut buffer: Vec<pb::PositionReport> = Vec::with_capacity(STREAM_CHUNK);
        let mut offset = 0;
        let mut flush = tokio::time::interval(STREAM_FLUSH);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                next = stream.next() => match next {
                    Some(Ok(message)) => {
                        buffer.push(message.report.unwrap_or_default());
                        if buffer.len() >= STREAM_CHUNK {
                            self.store_positions(&principal, &buffer, offset, &mut tally).await?;
                            offset += buffer.len();
                            buffer.clear();
                        }
                    }
                    Some(Err(status)) => return Err(status),
                    None => break,
                },
                _ = flush.tick(), if !buffer.is_empty() => {
                    self.store_positions(&principal, &buffer, offset, &mut tally).await?;
                    offset += buffer.len();
                    buffer.clear();
                }
            }
        }
        if !buffer.is_empty() {
            self.store_positions(&principal, &buffer, offset, &mut tally)
                .await?;
        }
        tally.rejected.sort_by_key(|r| r.index);
        Ok(Response::new(pb::ReportPositionsResponse {
            accepted_count: i32::try_from(tally.accepted).unwrap_or(i32::MAX),
            superseded_count: i32::try_from(tally.superseded).unwrap_or(i32::MAX),
            rejected: tally.rejected,
        }))
    }

    async fn report_position_batch(
        &self,
        request: Request<pb::ReportPositionBatchRequest>,
    ) -> Result<Response<pb::ReportPositionBatchResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        if message.reports.is_empty() || message.reports.len() > MAX_BATCH {
            return Err(invalid(&Violations::single(
                "reports",
                format!("1 to {MAX_BATCH} reports per batch"),
            )));
        }
        let mut tally = PositionTally::default();
        self.store_positions(&principal, &message.reports, 0, &mut tally)
            .await?;
        tally.rejected.sort_by_key(|r| r.index);
        Ok(Response::new(pb::ReportPositionBatchResponse {
            accepted_count: i32::try_from(tally.accepted).unwrap_or(i32::MAX),
            superseded_count: i32::try_from(tally.superseded).unwrap_or(i32::MAX),
            rejected: tally.rejected,
        }))
    }

    async fn recommend_units(
        &self,
        request: Request<pb::RecommendUnitsRequest>,
    ) -> Result<Response<pb::RecommendUnitsResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "RecommendUnits",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let incident_id = violations.collect(IncidentId::parse_name("incident", &message.incident));
        let override_plan = message.plan_override.as_ref().map(|plan| {
            if plan.requirements.is_empty() {
                violations.add("plan_override.requirements", "at least one requirement");
            }
            plan.requirements
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    if !self.state.catalogue.has_capability(&r.capability) {
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
        let (Some(key), Some(incident_id)) = (key, incident_id) else {
            return Err(invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        let detail = self.incident_for_recommendation(incident_id).await?;
        let incident = &detail.incident;
        if !incident.status.is_open() {
            return Err(Error::Domain(dispatch_domain::Error::WrongState {
                subject: incident_id.name(),
                current: incident.status.to_string(),
                action: "recommend units".into(),
            })
            .into());
        }
        let (plan, plan_overridden) = match (override_plan, &incident.triage) {
            (Some(plan), _) => (plan, true),
            (None, Some(triage)) => (triage.plan.clone(), false),
            (None, None) => {
                return Err(Error::Domain(dispatch_domain::Error::WrongState {
                    subject: incident_id.name(),
                    current: "not triaged (no response plan)".into(),
                    action: "recommend units without plan_override".into(),
                })
                .into());
            }
        };
        // Units already on the incident count towards the plan first.
        let mut on_incident: Vec<&dispatch_domain::assignment::Assignment> = detail
            .assignments
            .iter()
            .filter(|a| a.is_active())
            .collect();
        let mut exclude: HashSet<uuid::Uuid> = on_incident.iter().map(|a| a.unit.0).collect();
        let mut remaining = Vec::with_capacity(plan.len());
        let mut already: Vec<Vec<String>> = Vec::with_capacity(plan.len());
        for requirement in &plan {
            let mut covered = Vec::new();
            while covered.len() < requirement.count as usize {
                let Some(pos) = on_incident
                    .iter()
                    .position(|a| a.capabilities.contains(&requirement.capability))
                else {
                    break;
                };
                covered.push(on_incident.remove(pos).unit.name());
            }
            let still = requirement.count - u32::try_from(covered.len()).unwrap_or(0);
            remaining.push(Requirement {
                count: still,
                ..requirement.clone()
            });
            already.push(covered);
        }
        // PostgreSQL keeps microseconds: the record reads back exactly as it is answered now.
        let now =
            DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap_or_else(Utc::now);
        let point = incident.location.point;
        let searched: Vec<Requirement> =
            remaining.iter().filter(|r| r.count > 0).cloned().collect();
        // The engine follows the feed, so on this process it may not yet know of an assignment
        // that another process committed a moment ago. The candidates' rows are read anyway; one
        // the database says is no longer available is told to the engine and excluded, and the
        // search runs again, so a unit whose assignment committed before this request is never
        // offered (read-your-writes across processes, at no extra query in the common case).
        let mut attempts = 0;
        let (raw, units) = loop {
            let mut engine_fills = self
                .state
                .engine_read()
                .recommend(point, &searched, &exclude, now)
                .into_iter();
            let mut unit_ids: Vec<UnitId> = Vec::new();
            let mut raw = Vec::with_capacity(plan.len());
            for (requirement, remaining) in plan.iter().zip(&remaining) {
                let fill = if remaining.count > 0 {
                    engine_fills.next()
                } else {
                    None
                };
                if let Some(fill) = &fill {
                    unit_ids.extend(fill.candidates.iter().map(|c| UnitId(c.unit)));
                }
                raw.push((requirement.clone(), fill));
            }
            let units: HashMap<UnitId, Unit> = self
                .state
                .store
                .get_units(&unit_ids)
                .await
                .map_err(Error::from)?
                .into_iter()
                .map(|u| (u.id, u))
                .collect();
            let gone: Vec<&Unit> = unit_ids
                .iter()
                .filter_map(|id| match units.get(id) {
                    Some(unit) if dispatchable(unit) => None,
                    Some(unit) => Some(unit),
                    None => None,
                })
                .collect();
            let missing = unit_ids.iter().any(|id| !units.contains_key(id));
            if (gone.is_empty() && !missing) || attempts == MAX_RECOMMEND_ATTEMPTS {
                break (raw, units);
            }
            attempts += 1;
            for unit in gone {
                self.state.sync_unit(unit);
                exclude.insert(unit.id.0);
            }
            exclude.extend(
                unit_ids
                    .iter()
                    .filter(|id| !units.contains_key(id))
                    .map(|id| id.0),
            );
        };
        let mut fills = Vec::with_capacity(plan.len());
        let mut total_shortfall = 0u32;
        for ((requirement, fill), covered) in raw.into_iter().zip(already) {
            let (candidates, shortfall) = match fill {
                Some(fill) => {
                    let limit = max_candidates.unwrap_or(usize::MAX).max(fill.picked);
                    let candidates = fill
                        .candidates
                        .iter()
                        .take(limit)
                        .enumerate()
                        .filter_map(|(i, c)| {
                            let unit = units
                                .get(&UnitId(c.unit))
                                .filter(|unit| dispatchable(unit))?;
                            let position = unit.position.as_ref()?;
                            Some(StoredCandidate {
                                unit: unit.id.name(),
                                call_sign: unit.call_sign.clone(),
                                unit_type: unit.unit_type.as_str().to_owned(),
                                agency: unit.agency.name(),
                                straight_line_m: c.straight_line_m,
                                eta_ms: c.eta.num_milliseconds(),
                                stale: c.stale,
                                position_age_ms: c.position_age.num_milliseconds(),
                                rank: i32::try_from(i + 1).unwrap_or(i32::MAX),
                                reason: c.reason.clone(),
                                picked: i < fill.picked,
                                latitude: position.point.latitude(),
                                longitude: position.point.longitude(),
                            })
                        })
                        .collect();
                    (candidates, fill.shortfall)
                }
                None => (Vec::new(), 0),
            };
            total_shortfall += shortfall;
            fills.push(StoredFill {
                capability: requirement.capability.clone(),
                count: requirement.count,
                description: requirement.description.clone(),
                already_assigned: covered,
                candidates,
                shortfall,
            });
        }
        let record = RecommendationRecord {
            id: RecommendationId::new_v7(),
            incident: incident_id,
            created_by: principal.name.clone(),
            plan,
            plan_overridden,
            incident_point: point,
            fills: serde_json::to_value(&fills).map_err(|e| {
                Error::Store(dispatch_store::Error::Internal(format!(
                    "encoding a recommendation: {e}"
                )))
            })?,
            total_shortfall: i32::try_from(total_shortfall).unwrap_or(i32::MAX),
            created_at: now,
        };
        let record = self
            .state
            .store
            .save_recommendation(&key, &record)
            .await
            .map_err(Error::from)?;
        let fills = fills_of(&record)?;
        Ok(Response::new(pb::RecommendUnitsResponse {
            recommendation: Some(recommendation_message(&record, &fills)),
        }))
    }

    async fn get_recommendation(
        &self,
        request: Request<pb::GetRecommendationRequest>,
    ) -> Result<Response<pb::GetRecommendationResponse>, Status> {
        let id =
            RecommendationId::parse_name("name", &request.get_ref().name).map_err(Error::from)?;
        let record = self
            .state
            .store
            .get_recommendation(id)
            .await
            .map_err(Error::from)?;
        let fills = fills_of(&record)?;
        Ok(Response::new(pb::GetRecommendationResponse {
            recommendation: Some(recommendation_message(&record, &fills)),
        }))
    }

    async fn assign_units(
        &self,
        request: Request<pb::AssignUnitsRequest>,
    ) -> Result<Response<pb::AssignUnitsResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "AssignUnits",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let incident = violations.collect(IncidentId::parse_name("incident", &message.incident));
        if message.units.is_empty() || message.units.len() > MAX_ASSIGN {
            violations.add("units", format!("1 to {MAX_ASSIGN} units"));
        }
        let mut unit_ids = Vec::with_capacity(message.units.len());
        let mut seen = HashSet::new();
        for (i, name) in message.units.iter().enumerate() {
            if let Some(id) = violations.collect(UnitId::parse_name(&format!("units[{i}]"), name)) {
                if !seen.insert(id) {
                    violations.add(format!("units[{i}]"), "listed twice");
                }
                unit_ids.push(id);
            }
        }
        let recommendation = if message.recommendation.is_empty() {
            Some(None)
        } else {
            violations.collect(
                RecommendationId::parse_name("recommendation", &message.recommendation).map(Some),
            )
        };
        check_length(
            &mut violations,
            "override_reason",
            &message.override_reason,
            MAX_NOTE_CHARS,
        );
        let (Some(key), Some(incident), Some(recommendation)) = (key, incident, recommendation)
        else {
            return Err(invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        // Following the recommendation needs no reason; anything else does, and it is kept with
        // the units that were not the recommendation's picks (those were as recommended).
        let picked: HashSet<String> = match recommendation {
            Some(id) => {
                let record = self
                    .state
                    .store
                    .get_recommendation(id)
                    .await
                    .map_err(Error::from)?;
                if record.incident != incident {
                    return Err(invalid(&Violations::single(
                        "recommendation",
                        format!("was made for {}", record.incident),
                    )));
                }
                fills_of(&record)?
                    .into_iter()
                    .flat_map(|fill| {
                        fill.candidates
                            .into_iter()
                            .filter(|c| c.picked)
                            .map(|c| c.unit)
                    })
                    .collect()
            }
            None => HashSet::new(),
        };
        let as_recommended: HashSet<UnitId> = unit_ids
            .iter()
            .copied()
            .filter(|id| picked.contains(&id.name()))
            .collect();
        let follows = recommendation.is_some() && as_recommended.len() == unit_ids.len();
        if !follows && message.override_reason.trim().is_empty() {
            return Err(invalid(&Violations::single(
                "override_reason",
                "required when not assigning exactly the units the recommendation picked",
            )));
        }
        crate::auth::note_resource(incident.name());
        let (detail, units) = self
            .state
            .store
            .assign_units(
                &key,
                &principal.name,
                incident,
                &unit_ids,
                recommendation,
                message.override_reason.trim(),
                &as_recommended,
            )
            .await
            .map_err(Error::from)?
            .value;
        for unit in &units {
            self.state.sync_unit(unit);
        }
        Ok(Response::new(pb::AssignUnitsResponse {
            incident: Some(views::incident(&detail, true)),
            units: units.iter().map(|u| self.unit_message(u)).collect(),
        }))
    }

    async fn release_unit(
        &self,
        request: Request<pb::ReleaseUnitRequest>,
    ) -> Result<Response<pb::ReleaseUnitResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "ReleaseUnit",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let unit = violations.collect(UnitId::parse_name("unit", &message.unit));
        let incident = violations.collect(IncidentId::parse_name("incident", &message.incident));
        if message.reason.trim().is_empty() {
            violations.add("reason", "required: why the unit is taken off the incident");
        }
        check_length(&mut violations, "reason", &message.reason, MAX_NOTE_CHARS);
        let (Some(key), Some(unit), Some(incident)) = (key, unit, incident) else {
            return Err(invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        crate::auth::note_resource(unit.name());
        let (unit, detail) = self
            .state
            .store
            .release_unit(&key, &principal.name, unit, incident, &message.reason)
            .await
            .map_err(Error::from)?
            .value;
        self.state.sync_unit(&unit);
        Ok(Response::new(pb::ReleaseUnitResponse {
            unit: Some(self.unit_message(&unit)),
            incident: Some(views::incident(&detail, true)),
        }))
    }

    async fn list_units(
        &self,
        request: Request<pb::ListUnitsRequest>,
    ) -> Result<Response<pb::ListUnitsResponse>, Status> {
        let message = request.into_inner();
        let mut violations = Violations::new();
        let page = violations.collect(convert::code_page(message.page_size, &message.page_token));
        let agency = if message.agency.is_empty() {
            None
        } else {
            violations.collect(dispatch_domain::ids::AgencyId::parse_name(
                "agency",
                &message.agency,
            ))
        };
        let station = if message.station.is_empty() {
            None
        } else {
            violations.collect(StationId::parse_name("station", &message.station))
        };
        let unit_types = violations.collect(convert::enum_filter(
            "unit_types",
            &message.unit_types,
            views::unit_type_from,
        ));
        let statuses = violations.collect(convert::enum_filter(
            "statuses",
            &message.statuses,
            views::unit_status_from,
        ));
        let area = message
            .bounding_box
            .as_ref()
            .and_then(|b| convert::bounding_box(b, &mut violations));
        // Units only have the catalogue's capabilities: any other (a typo, a NUL PostgreSQL
        // cannot compare) is the caller's mistake, refused before the query.
        for (i, capability) in message.capabilities.iter().enumerate() {
            if !self.state.catalogue.has_capability(capability) {
                violations.add(
                    format!("capabilities[{i}]"),
                    format!("unknown capability {capability:?}"),
                );
            }
        }
        let (Some(page), Some(unit_types), Some(statuses)) = (page, unit_types, statuses) else {
            return Err(invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        let filter = UnitFilter {
            agency,
            station,
            unit_types,
            statuses,
            capabilities: message.capabilities,
            area,
            include_decommissioned: message.include_decommissioned,
        };
        let (units, next) = self
            .state
            .store
            .list_units(&filter, &page)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListUnitsResponse {
            units: units.iter().map(|u| self.unit_message(u)).collect(),
            next_page_token: convert::code_token(next),
        }))
    }

    async fn nearest_cameras(
        &self,
        request: Request<pb::NearestCamerasRequest>,
    ) -> Result<Response<pb::NearestCamerasResponse>, Status> {
        let message = request.into_inner();
        let mut violations = Violations::new();
        if !(message.radius_m.is_finite() && message.radius_m > 0.0 && message.radius_m <= 10_000.0)
        {
            violations.add("radius_m", "must be more than 0 and at most 10000 metres");
        }
        let limit = match message.limit {
            0 => 10,
            n @ 1..=200 => usize::try_from(n).unwrap_or(10),
            _ => {
                violations.add("limit", "must be from 1 to 200 (0 for the default)");
                10
            }
        };
        let kinds = violations.collect(convert::enum_filter(
            "kinds",
            &message.kinds,
            views::device_kind_from,
        ));
        let point = match &message.target {
            Some(pb::nearest_cameras_request::Target::Point(p)) => violations
                .collect(GeoPoint::new(p.latitude, p.longitude).map_err(|v| v.within("point"))),
            Some(pb::nearest_cameras_request::Target::Incident(name)) => {
                match violations.collect(IncidentId::parse_name("incident", name)) {
                    Some(id) => Some(
                        self.state
                            .store
                            .get_incident(id)
                            .await
                            .map_err(Error::from)?
                            .location
                            .point,
                    ),
                    None => None,
                }
            }
            None => {
                violations.add("target", "required: an incident or a point");
                None
            }
        };
        let (Some(point), Some(kinds)) = (point, kinds) else {
            return Err(invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        // Ask for more when filtering by kind, so the filter does not starve the answer.
        let ask = if kinds.is_empty() {
            limit
        } else {
            limit.saturating_mul(8).min(2_000)
        };
        let hits = self
            .state
            .engine_read()
            .cameras_within(point, message.radius_m, ask);
        let ids: Vec<CameraId> = hits.iter().map(|(id, _)| CameraId(*id)).collect();
        let cameras: HashMap<CameraId, dispatch_domain::directory::Camera> = self
            .state
            .store
            .get_cameras(&ids)
            .await
            .map_err(Error::from)?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let hits = hits
            .into_iter()
            .filter_map(|(id, distance_m)| {
                let camera = cameras.get(&CameraId(id))?;
                (camera.active && (kinds.is_empty() || kinds.contains(&camera.kind))).then(|| {
                    pb::CameraHit {
                        camera: Some(views::camera(camera)),
                        distance_m,
                    }
                })
            })
            .take(limit)
            .collect();
        Ok(Response::new(pb::NearestCamerasResponse { hits }))
    }

    async fn watch_units(
        &self,
        request: Request<pb::WatchUnitsRequest>,
    ) -> Result<Response<Self::WatchUnitsStream>, Status> {
        let receiver = super::watch::watch_units(&self.state, request.into_inner()).await?;
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            receiver,
        )))
    }
}
