//! `UnitAssignmentService`: unit status, positions (AVL), recommendations, assignment, cameras.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_stream::StreamExt as _;
use tonic::{Request, Response, Status, Streaming};

use dispatch_domain::Violations;
use dispatch_domain::assignment::Dispatch;
use dispatch_domain::directory::{DeviceKind, Unit, UnitStatus};
use dispatch_domain::ids::{CameraId, IncidentId, RecommendationId, UnitId};
use dispatch_domain::location::GeoPoint;
use dispatch_domain::triage::Requirement;
use dispatch_domain::unit::StatusReport;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::unit_assignment_service_server::UnitAssignmentService;
use dispatch_store::assignments::RecommendationRecord;
use dispatch_store::incidents::IncidentDetail;

use super::request;
use super::rpc::{Caller, service};
mod positions;
mod staging;
mod watch;

use crate::auth::Principal;
use crate::edge::enums::enum_filter;
use crate::edge::units::{
    AssignUnits, ListUnits, PositionBatch, RecommendUnits, ReleaseUnit, SetUnitStatus,
    StoredCandidate, StoredFill, fills_of, recommendation_message,
};
use crate::edge::views;
use crate::error::Error;
use dispatch_domain::auth::Role;
use positions::PositionTally;

/// Reports per write of a stream.
const STREAM_CHUNK: usize = 256;
/// A stream's buffered reports are written at least this often.
const STREAM_FLUSH: Duration = Duration::from_millis(100);

service! {
    /// Unit status, positions (AVL), recommendations, assignment, cameras.
    UnitAssignment: UnitAssignmentService {
        rpc set_unit_status(SetUnitStatusRequest) -> SetUnitStatusResponse;
        rpc report_position_batch(ReportPositionBatchRequest) -> ReportPositionBatchResponse;
        rpc recommend_units(RecommendUnitsRequest, catalogue) -> RecommendUnitsResponse;
        rpc get_recommendation(GetRecommendationRequest) -> GetRecommendationResponse;
        rpc assign_units(AssignUnitsRequest) -> AssignUnitsResponse;
        rpc release_unit(ReleaseUnitRequest) -> ReleaseUnitResponse;
        rpc list_units(ListUnitsRequest, catalogue) -> ListUnitsResponse;
        rpc nearest_cameras(NearestCamerasRequest) -> NearestCamerasResponse;
        watch watch_units(WatchUnitsRequest) -> WatchUnitsStream of WatchUnitsResponse;
        upload report_positions(ReportPositionsRequest) -> ReportPositionsResponse;
    }
}

/// Times a recommendation searches again after finding that the engine offered units the
/// database says are no longer available (each search excludes every unit found so far).
const MAX_RECOMMEND_ATTEMPTS: usize = 4;

/// Whether the database's row says the unit can be sent now.
fn dispatchable(unit: &Unit) -> bool {
    unit.status == UnitStatus::Available && unit.decommissioned_at.is_none()
}

impl UnitAssignment {
    fn unit_message(&self, unit: &Unit) -> pb::Unit {
        views::unit(unit, Utc::now(), self.state.stale_after)
    }

    async fn incident_for_recommendation(&self, id: IncidentId) -> Result<IncidentDetail, Error> {
        Ok(self.state.store.incident_detail(id).await?)
    }
}

impl UnitAssignment {
    async fn set_unit_status(
        &self,
        caller: Caller,
        command: SetUnitStatus,
    ) -> Result<pb::SetUnitStatusResponse, Error> {
        let principal = &caller.principal;
        let unit = command.unit;
        // A field unit speaks only for itself; another unit is as unknown to it as a missing one.
        if principal.role == Role::FieldUnit && principal.unit != Some(unit) {
            return Err(Error::NotFound(unit.to_string()));
        }
        crate::auth::note_resource(unit.name());
        let report = StatusReport {
            unit,
            status: command.status,
            incident: command.incident,
            note: command.note,
            expected_version: command.etag,
            at: command.at,
        };
        let key = caller.key(command.mutation);
        let store = &self.state.store;
        let (unit, incident) = store
            .set_unit_status(&key, caller.actor(), &report)
            .await?
            .value;
        self.state.sync_unit(&unit);
        Ok(pb::SetUnitStatusResponse {
            unit: Some(self.unit_message(&unit)),
            incident: incident.map(|detail| views::incident(&detail, true)),
        })
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
                            positions::store(&self.state, &principal, &buffer, offset, &mut tally).await?;
                            offset += buffer.len();
                            buffer.clear();
                        }
                    }
                    Some(Err(status)) => return Err(status),
                    None => break,
                },
                _ = flush.tick(), if !buffer.is_empty() => {
                    positions::store(&self.state, &principal, &buffer, offset, &mut tally).await?;
                    offset += buffer.len();
                    buffer.clear();
                }
            }
        }
        if !buffer.is_empty() {
            positions::store(&self.state, &principal, &buffer, offset, &mut tally).await?;
        }
        let (accepted_count, superseded_count, rejected) = tally.totals();
        Ok(Response::new(pb::ReportPositionsResponse {
            accepted_count,
            superseded_count,
            rejected,
        }))
    }

    async fn report_position_batch(
        &self,
        caller: Caller,
        batch: PositionBatch,
    ) -> Result<pb::ReportPositionBatchResponse, Error> {
        let mut tally = PositionTally::default();
        positions::store(
            &self.state,
            &caller.principal,
            &batch.reports,
            0,
            &mut tally,
        )
        .await?;
        let (accepted_count, superseded_count, rejected) = tally.totals();
        Ok(pb::ReportPositionBatchResponse {
            accepted_count,
            superseded_count,
            rejected,
        })
    }

    async fn recommend_units(
        &self,
        caller: Caller,
        command: RecommendUnits,
    ) -> Result<pb::RecommendUnitsResponse, Error> {
        let key = caller.key(command.mutation);
        let incident_id = command.incident;
        let max_candidates = command.max_candidates;
        let detail = self.incident_for_recommendation(incident_id).await?;
        let incident = &detail.incident;
        if !incident.status.is_open() {
            return Err(Error::Domain(dispatch_domain::Error::WrongState {
                subject: incident_id.name(),
                current: incident.status.to_string(),
                action: "recommend units".into(),
            }));
        }
        let (plan, plan_overridden) = match (command.plan_override, &incident.triage) {
            (Some(plan), _) => (plan, true),
            (None, Some(triage)) => (triage.plan.clone(), false),
            (None, None) => {
                return Err(Error::Domain(dispatch_domain::Error::WrongState {
                    subject: incident_id.name(),
                    current: "not triaged (no response plan)".into(),
                    action: "recommend units without plan_override".into(),
                }));
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
        // Staged units (planned operations) are offered first inside their operation's zones
        // and never elsewhere.
        let staging = self.state.store.active_operations(now).await?;
        let mut attempts = 0;
        let (raw, units) = loop {
            let mut engine_fills = staging::recommend(
                &self.state.engine_read(),
                &staging,
                point,
                &searched,
                &exclude,
                now,
            )
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
                .await?
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
                                travel_model: c.travel.as_str().to_owned(),
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
            created_by: caller.actor().to_owned(),
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
        let record = self.state.store.save_recommendation(&key, &record).await?;
        Ok(pb::RecommendUnitsResponse {
            recommendation: Some(recommendation_message(&record, &fills_of(&record)?)),
        })
    }

    async fn get_recommendation(
        &self,
        _: Caller,
        request: pb::GetRecommendationRequest,
    ) -> Result<pb::GetRecommendationResponse, Error> {
        let id = RecommendationId::parse_name("name", &request.name)?;
        let record = self.state.store.get_recommendation(id).await?;
        Ok(pb::GetRecommendationResponse {
            recommendation: Some(recommendation_message(&record, &fills_of(&record)?)),
        })
    }

    async fn assign_units(
        &self,
        caller: Caller,
        command: AssignUnits,
    ) -> Result<pb::AssignUnitsResponse, Error> {
        let (incident, recommendation, unit_ids) =
            (command.incident, command.recommendation, &command.units);
        // Following the recommendation needs no reason; anything else does, and it is kept with
        // the units that were not the recommendation's picks (those were as recommended).
        let picked: HashSet<String> = match recommendation {
            Some(id) => {
                let record = self.state.store.get_recommendation(id).await?;
                if record.incident != incident {
                    return Err(Error::Invalid(Violations::single(
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
        if !follows && command.override_reason.trim().is_empty() {
            return Err(Error::Invalid(Violations::single(
                "override_reason",
                "required when not assigning exactly the units the recommendation picked",
            )));
        }
        crate::auth::note_resource(incident.name());
        let dispatch = Dispatch {
            incident,
            units: command.units.clone(),
            recommendation,
            override_reason: command.override_reason.trim().to_owned(),
            as_recommended,
            at: command.at,
        };
        let key = caller.key(command.mutation);
        let store = &self.state.store;
        let (detail, units) = store
            .assign_units(&key, caller.actor(), &dispatch)
            .await?
            .value;
        for unit in &units {
            self.state.sync_unit(unit);
        }
        Ok(pb::AssignUnitsResponse {
            incident: Some(views::incident(&detail, true)),
            units: units.iter().map(|u| self.unit_message(u)).collect(),
        })
    }

    async fn release_unit(
        &self,
        caller: Caller,
        command: ReleaseUnit,
    ) -> Result<pb::ReleaseUnitResponse, Error> {
        let ReleaseUnit {
            mutation,
            unit,
            incident,
            reason,
            at,
        } = command;
        crate::auth::note_resource(unit.name());
        let key = caller.key(mutation);
        let store = &self.state.store;
        let released = store.release_unit(&key, caller.actor(), unit, incident, &reason, at);
        let (unit, detail) = released.await?.value;
        self.state.sync_unit(&unit);
        Ok(pb::ReleaseUnitResponse {
            unit: Some(self.unit_message(&unit)),
            incident: Some(views::incident(&detail, true)),
        })
    }

    async fn list_units(
        &self,
        _: Caller,
        query: ListUnits,
    ) -> Result<pb::ListUnitsResponse, Error> {
        let (units, next) = self
            .state
            .store
            .list_units(&query.filter, &query.page)
            .await?;
        Ok(pb::ListUnitsResponse {
            units: units.iter().map(|u| self.unit_message(u)).collect(),
            next_page_token: request::code_token(next),
        })
    }

    async fn nearest_cameras(
        &self,
        _: Caller,
        message: pb::NearestCamerasRequest,
    ) -> Result<pb::NearestCamerasResponse, Error> {
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
        let kinds = violations.collect(enum_filter::<DeviceKind>("kinds", &message.kinds));
        let point = match &message.target {
            Some(pb::nearest_cameras_request::Target::Point(p)) => violations
                .collect(GeoPoint::new(p.latitude, p.longitude).map_err(|v| v.within("point"))),
            Some(pb::nearest_cameras_request::Target::Incident(name)) => {
                match violations.collect(IncidentId::parse_name("incident", name)) {
                    Some(id) => Some(self.state.store.get_incident(id).await?.location.point),
                    None => None,
                }
            }
            None => {
                violations.add("target", "required: an incident or a point");
                None
            }
        };
        let (Some(point), Some(kinds)) = (point, kinds) else {
            return Err(Error::Invalid(violations));
        };
        if !violations.is_empty() {
            return Err(Error::Invalid(violations));
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
            .await?
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
        Ok(pb::NearestCamerasResponse { hits })
    }
}
