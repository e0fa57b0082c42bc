//! What the simulated staff do with a call, and what the units do after assignment: each
//! step one RPC as a centre's staff would send it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dispatch_proto::v1 as pb;

use super::args::{Clock, Lifecycle};
use super::sim::{
    Action, Open, PROCESSING, Sim, TURNOUT, Timer, add, lock, request_id, scene_time, timestamp,
};
use super::{data, fleet, report};

/// One row: intake, then (for a new incident) triage, recommendation and assignment.
pub(super) async fn take_call(sim: Arc<Sim>, row: data::Row, staff: usize) {
    let s = &sim.staff[staff];
    let received = match sim.clock {
        Clock::Data => row.received,
        Clock::Now => Utc::now(),
    };
    let create = pb::CreateCallRequest {
        request_id: request_id(),
        channel: row.channel.into(),
        received_time: timestamp(received),
        answered_time: timestamp(received),
        back_entered: false,
        callback_number: String::new(),
        caller_name: String::new(),
        language: "es-MX".into(),
        location: Some(pb::Location {
            point: Some(pb::GeoPoint {
                latitude: row.lat,
                longitude: row.lon,
            }),
            uncertainty_m: row.uncertainty_m,
            source: row.source.into(),
            civic_address: String::new(),
        }),
        account: row.account.clone(),
        incident_type_hint: row.incident_type.into(),
        source_device_id: String::new(),
    };
    let created = match sim
        .rpc("CreateCall", s.taker.calls().create_call(create))
        .await
    {
        Ok(created) => created,
        Err(status) => {
            return sim.intake_failed("CreateCall", &status, &row);
        }
    };
    let call_name = created.call.map(|c| c.name).unwrap_or_default();
    let mut linked = false;
    let top_likelihood = created
        .duplicate_candidates
        .first()
        .map(|top| top.likelihood);
    // Following the data, each call of the data is the incident the data says it is (SF's
    // incident numbers): the call taker's judgement is kept for the duplicate figures, and the
    // call opens its own incident, so its units are sent as the data sent them.
    let judged_duplicate = sim.follow.is_some() && top_likelihood.is_some();
    if judged_duplicate {
        lock(&sim.stats).counts.links_not_followed += 1;
    }
    if let Some(top) = created
        .duplicate_candidates
        .first()
        .filter(|_| !judged_duplicate)
    {
        let link = pb::LinkCallToIncidentRequest {
            request_id: request_id(),
            name: call_name.clone(),
            incident: top.incident.clone(),
            note: format!("replay: top suggestion ({})", top.explanation),
            etag: String::new(),
        };
        match sim
            .rpc(
                "LinkCallToIncident",
                s.taker.calls().link_call_to_incident(link),
            )
            .await
        {
            Ok(_) => linked = true,
            // Closed or resolved between the suggestion and the link: a new incident then.
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::FailedPrecondition | tonic::Code::NotFound
                ) =>
            {
                lock(&sim.stats).counts.link_fallbacks += 1;
            }
            Err(status) => {
                return sim.intake_failed("LinkCallToIncident", &status, &row);
            }
        }
    }
    let mut incident = String::new();
    if !linked {
        let open = pb::OpenIncidentFromCallRequest {
            request_id: request_id(),
            name: call_name.clone(),
            incident_type: row.incident_type.into(),
            summary: String::new(),
            etag: String::new(),
        };
        match sim
            .rpc(
                "OpenIncidentFromCall",
                s.taker.calls().open_incident_from_call(open),
            )
            .await
        {
            Ok(opened) => incident = opened.incident.map(|i| i.name).unwrap_or_default(),
            Err(status) => {
                return sim.intake_failed("OpenIncidentFromCall", &status, &row);
            }
        }
    }
    sim.leave_gate(row.index);
    {
        let mut stats = lock(&sim.stats);
        stats.counts.calls += 1;
        if linked {
            stats.counts.duplicates_linked += 1;
        } else {
            stats.counts.incidents += 1;
        }
        stats.outcomes.push(report::CallOutcome {
            received: row.received,
            truth: row.duplicate_in_data,
            linked: linked || judged_duplicate,
            top_likelihood,
        });
        sim.progress.set_message(format!(
            "{} linked, {} opened",
            stats.counts.duplicates_linked, stats.counts.incidents
        ));
    }
    sim.progress.inc(1);
    if linked {
        return;
    }
    dispatch(&sim, &row, staff, incident).await;
}

async fn dispatch(sim: &Sim, row: &data::Row, staff: usize, incident: String) {
    let s = &sim.staff[staff];
    let assigned_at = add(row.received, PROCESSING);
    let answers = sim
        .protocols
        .get(row.incident_type)
        .map(|p| data::answers(p, &row.answers))
        .unwrap_or_default();
    let triage = pb::TriageIncidentRequest {
        request_id: request_id(),
        name: incident.clone(),
        incident_type: String::new(),
        answers,
        etag: String::new(),
    };
    if let Err(status) = sim
        .rpc(
            "TriageIncident",
            s.dispatcher.triage().triage_incident(triage),
        )
        .await
    {
        sim.fail("TriageIncident", &status);
        sim.schedule(
            add(assigned_at, scene_time(row)),
            staff,
            Action::CloseEmpty { incident },
        );
        return;
    }
    lock(&sim.stats).counts.triaged += 1;
    if let Some(follow) = &sim.follow {
        let recommendation = recommend_as_in_data(sim, row, staff, &incident).await;
        count_shortfall(sim, recommendation.as_ref());
        let planned = follow.plan.by_call.get(&row.index).map_or(0, Vec::len);
        if planned == 0 {
            sim.schedule(row.received, staff, Action::CloseEmpty { incident });
            return;
        }
        lock(&sim.stats).counts.incidents_assigned += 1;
        lock(&sim.open).insert(
            incident.clone(),
            Open {
                remaining: planned,
                closing: row.closing,
            },
        );
        let name = recommendation.map(|r| r.name).unwrap_or_default();
        super::follow::send(sim, follow, row, staff, &incident, &name).await;
        return;
    }
    let (assigned, last) = send_recommended(sim, staff, &incident).await;
    count_shortfall(sim, last.as_ref());
    let scene = scene_time(row);
    if assigned.is_empty() {
        sim.schedule(
            add(assigned_at, scene),
            staff,
            Action::CloseEmpty { incident },
        );
        return;
    }
    {
        let mut stats = lock(&sim.stats);
        stats.counts.incidents_assigned += 1;
        stats.counts.units_assigned += assigned.len() as u64;
    }
    lock(&sim.open).insert(
        incident.clone(),
        Open {
            remaining: assigned.len(),
            closing: row.closing,
        },
    );
    // Each step schedules the next when done, so a unit's steps never overtake each other.
    for sent in assigned {
        let incident = incident.clone();
        let unit = sent.unit;
        let at = (row.lat, row.lon);
        match sim.lifecycle {
            Lifecycle::Full => sim.schedule(
                add(assigned_at, TURNOUT),
                staff,
                Action::EnRoute {
                    unit,
                    incident,
                    travel: Some(sent.eta),
                    scene,
                    at,
                },
            ),
            Lifecycle::Short => sim.schedule(
                add(assigned_at, TURNOUT + sent.eta + scene),
                staff,
                Action::Clear { unit, incident },
            ),
        }
    }
}

/// Counts what the recommendation could not fill.
fn count_shortfall(sim: &Sim, last: Option<&pb::Recommendation>) {
    if let Some(recommendation) = last
        && recommendation.total_shortfall > 0
    {
        let mut stats = lock(&sim.stats);
        stats.counts.incidents_with_shortfall += 1;
        stats.counts.units_short += u64::try_from(recommendation.total_shortfall).unwrap_or(0);
        for fill in &recommendation.fills {
            if fill.shortfall > 0 {
                let capability = fill
                    .requirement
                    .as_ref()
                    .map(|r| r.capability.clone())
                    .unwrap_or_default();
                *stats
                    .counts
                    .shortfall_by_capability
                    .entry(capability)
                    .or_default() += u64::try_from(fill.shortfall).unwrap_or(0);
            }
        }
    }
}

/// A unit assigned: the ETA the server gave it.
struct Sent {
    unit: String,
    eta: Duration,
}

/// The seconds of a protobuf duration.
fn secs(d: &prost_types::Duration) -> f64 {
    d.seconds as f64 + f64::from(d.nanos) / 1e9
}

/// Before the units the data says were sent (SF) are assigned, the dispatcher asks for a
/// recommendation of the same kinds of units (the data's run card as the plan), which gives
/// every such unit's ETA and our ranking; the runs and the first engine are recorded against
/// the data's times. `None` when the fleet has none of the data's units.
async fn recommend_as_in_data(
    sim: &Sim,
    row: &data::Row,
    staff: usize,
    incident: &str,
) -> Option<pb::Recommendation> {
    let s = &sim.staff[staff];
    let mut sent: Vec<(&data::SentUnit, &String)> = Vec::new();
    for unit in &row.units {
        if let Some(name) = sim.units.get(&format!("SF-{}", unit.id))
            && !sent.iter().any(|(_, n)| *n == name)
        {
            sent.push((unit, name));
        }
    }
    if sent.is_empty() {
        return None;
    }
    let mut requirements: Vec<pb::PlanRequirement> = Vec::new();
    for (unit, _) in &sent {
        let Some(capability) = fleet::sf_capability(&unit.kind, unit.als) else {
            continue;
        };
        match requirements.iter_mut().find(|r| r.capability == capability) {
            Some(requirement) => requirement.count = (requirement.count + 1).min(20),
            None => requirements.push(pb::PlanRequirement {
                capability: capability.to_owned(),
                count: 1,
                description: format!("the data's {}", unit.kind.to_lowercase()),
            }),
        }
    }
    let mut recommendation = None;
    if !requirements.is_empty() {
        let recommend = pb::RecommendUnitsRequest {
            request_id: request_id(),
            incident: incident.to_owned(),
            plan_override: Some(pb::ResponsePlan { requirements }),
            max_candidates_per_requirement: 20,
        };
        match sim
            .rpc(
                "RecommendUnits",
                s.dispatcher.units().recommend_units(recommend),
            )
            .await
        {
            Ok(r) => {
                lock(&sim.stats).counts.recommended += 1;
                recommendation = r.recommendation;
            }
            Err(status) => sim.fail("RecommendUnits", &status),
        }
    }
    let candidate = |name: &str| {
        recommendation
            .iter()
            .flat_map(|r| &r.fills)
            .flat_map(|f| &f.candidates)
            .find(|c| c.unit == name)
    };
    {
        let own_area: Option<u32> = row.station_area.trim().parse().ok();
        let mut stats = lock(&sim.stats);
        for (unit, name) in &sent {
            let Some(travel) = unit.travel() else {
                continue;
            };
            if unit.home_station().is_none() || unit.home_station() != own_area {
                continue;
            }
            let eta = match candidate(name) {
                Some(c) if c.stale_position => report::RunEta::Stale,
                Some(c) => report::RunEta::Given(c.eta.as_ref().map_or(0.0, secs)),
                None => report::RunEta::NotCandidate,
            };
            stats.runs.push(report::RunSample {
                received: row.received,
                travel_s: travel.as_secs_f64(),
                response_s: unit
                    .dispatched
                    .zip(unit.on_scene)
                    .and_then(|(d, o)| (o - d).to_std().ok())
                    .map(|d| d.as_secs_f64()),
                eta,
            });
        }
        if let Some((_, first)) = sent.iter().find(|(u, _)| u.kind == "ENGINE") {
            let top = recommendation
                .iter()
                .flat_map(|r| &r.fills)
                .find(|f| {
                    f.requirement
                        .as_ref()
                        .is_some_and(|r| r.capability == "engine")
                })
                .and_then(|f| f.candidates.first());
            stats.first_engines.push(report::FirstEngine {
                received: row.received,
                same: top.is_some_and(|c| &c.unit == *first),
            });
        }
    }
    recommendation
}

/// The units the recommendation picks, assigned (recommended again when another dispatcher
/// took one meanwhile), each with the ETA it was given; and the last recommendation.
async fn send_recommended(
    sim: &Sim,
    staff: usize,
    incident: &str,
) -> (Vec<Sent>, Option<pb::Recommendation>) {
    let s = &sim.staff[staff];
    let incident = incident.to_owned();
    let mut assigned: Vec<Sent> = Vec::new();
    let mut last: Option<pb::Recommendation> = None;
    for _attempt in 0..3 {
        let recommend = pb::RecommendUnitsRequest {
            request_id: request_id(),
            incident: incident.clone(),
            plan_override: None,
            max_candidates_per_requirement: 0,
        };
        let recommendation = match sim
            .rpc(
                "RecommendUnits",
                s.dispatcher.units().recommend_units(recommend),
            )
            .await
        {
            Ok(r) => r.recommendation.unwrap_or_default(),
            Err(status) => {
                sim.fail("RecommendUnits", &status);
                break;
            }
        };
        lock(&sim.stats).counts.recommended += 1;
        let picked: Vec<Sent> = recommendation
            .fills
            .iter()
            .flat_map(|f| f.candidates.iter().filter(|c| c.picked))
            .map(|c| {
                let eta = c
                    .eta
                    .as_ref()
                    .map(|d| Duration::from_secs(u64::try_from(d.seconds).unwrap_or(0)))
                    .unwrap_or(Duration::from_secs(8 * 60));
                Sent {
                    unit: c.unit.clone(),
                    eta: eta.min(Duration::from_secs(45 * 60)),
                }
            })
            .collect();
        let name = recommendation.name.clone();
        last = Some(recommendation);
        if picked.is_empty() {
            break;
        }
        let assign = pb::AssignUnitsRequest {
            request_id: request_id(),
            incident: incident.clone(),
            units: picked.iter().map(|p| p.unit.clone()).collect(),
            recommendation: name,
            override_reason: String::new(),
            dispatch_time: None,
        };
        match sim
            .rpc("AssignUnits", s.dispatcher.units().assign_units(assign))
            .await
        {
            Ok(_) => {
                assigned = picked;
                break;
            }
            // Another dispatcher took one of the units meanwhile: recommend again.
            Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                lock(&sim.stats).counts.assign_races += 1;
            }
            Err(status) => {
                sim.fail("AssignUnits", &status);
                break;
            }
        }
    }
    (assigned, last)
}

/// Reports the unit's status on the incident, `at` when back-entered (otherwise now).
pub(super) async fn set_status(
    sim: &Sim,
    staff: usize,
    unit: &str,
    incident: &str,
    status: pb::UnitStatus,
    at: Option<DateTime<Utc>>,
) -> bool {
    let request = pb::SetUnitStatusRequest {
        request_id: request_id(),
        unit: unit.to_owned(),
        status: status.into(),
        incident: incident.to_owned(),
        note: String::new(),
        etag: String::new(),
        status_time: at.and_then(timestamp),
    };
    match sim
        .rpc(
            "SetUnitStatus",
            sim.staff[staff].dispatcher.units().set_unit_status(request),
        )
        .await
    {
        Ok(_) => true,
        Err(status) => {
            sim.fail("SetUnitStatus", &status);
            false
        }
    }
}

async fn close(sim: &Sim, staff: usize, incident: &str, code: pb::ClosingCode, resolve: bool) {
    let s = &sim.staff[staff];
    if resolve {
        let request = pb::ChangeIncidentStatusRequest {
            request_id: request_id(),
            name: incident.to_owned(),
            status: pb::IncidentStatus::Resolved.into(),
            note: "replay: units cleared".into(),
            etag: String::new(),
        };
        if let Err(status) = sim
            .rpc(
                "ChangeIncidentStatus",
                s.dispatcher.triage().change_incident_status(request),
            )
            .await
        {
            // Not on scene (a short lifecycle): closing does not need it.
            if status.code() != tonic::Code::FailedPrecondition {
                sim.fail("ChangeIncidentStatus", &status);
            }
        }
    }
    let request = pb::CloseIncidentRequest {
        request_id: request_id(),
        name: incident.to_owned(),
        closing_code: code.into(),
        note: "replay: closed with the data's code".into(),
        duplicate_of: String::new(),
        etag: String::new(),
    };
    match sim
        .rpc(
            "CloseIncident",
            s.dispatcher.triage().close_incident(request),
        )
        .await
    {
        Ok(_) => lock(&sim.stats).counts.incidents_closed += 1,
        Err(status) => sim.fail("CloseIncident", &status),
    }
}

/// The AVL gateway reports the unit at `at`, now.
pub(super) async fn report_position(sim: &Sim, unit: &str, at: (f64, f64)) {
    let report = pb::ReportPositionBatchRequest {
        request_id: request_id(),
        reports: vec![pb::PositionReport {
            unit: unit.to_owned(),
            point: Some(pb::GeoPoint {
                latitude: at.0,
                longitude: at.1,
            }),
            accuracy_m: 10.0,
            heading_deg: None,
            speed_mps: Some(0.0),
            fix_time: timestamp(Utc::now()),
        }],
    };
    if let Err(status) = sim
        .rpc(
            "ReportPositionBatch",
            sim.gateway.units().report_position_batch(report),
        )
        .await
    {
        sim.fail("ReportPositionBatch", &status);
    }
}

pub(super) async fn run_timer(sim: Arc<Sim>, timer: Timer) {
    let staff = timer.staff;
    match timer.action {
        Action::EnRoute {
            unit,
            incident,
            travel,
            scene,
            at,
        } => {
            set_status(&sim, staff, &unit, &incident, pb::UnitStatus::EnRoute, None).await;
            match travel {
                Some(travel) => sim.schedule(
                    add(timer.due, travel),
                    staff,
                    Action::OnScene {
                        unit,
                        incident,
                        scene,
                        at,
                    },
                ),
                None => sim.schedule(
                    add(timer.due, scene),
                    staff,
                    Action::Clear { unit, incident },
                ),
            }
        }
        Action::OnScene {
            unit,
            incident,
            scene,
            at,
        } => {
            report_position(&sim, &unit, at).await;
            set_status(&sim, staff, &unit, &incident, pb::UnitStatus::OnScene, None).await;
            sim.schedule(
                add(timer.due, scene),
                staff,
                Action::Clear { unit, incident },
            );
        }
        Action::Clear { unit, incident } => {
            let available = pb::UnitStatus::Available;
            if set_status(&sim, staff, &unit, &incident, available, None).await {
                lock(&sim.stats).counts.units_cleared += 1;
            }
            finish_unit(&sim, staff, &incident).await;
        }
        Action::CloseEmpty { incident } => {
            close(&sim, staff, &incident, pb::ClosingCode::Negative, false).await;
        }
        Action::Assign {
            incident,
            group,
            recommendation,
            at,
        } => {
            if let Some(follow) = &sim.follow {
                super::follow::assign(&sim, follow, staff, &incident, group, &recommendation, at)
                    .await;
            }
        }
        Action::Step {
            index,
            incident,
            step,
            at,
        } => super::follow::step(&sim, staff, index, incident, step, at).await,
    }
}

/// One of the incident's units is done with it (cleared, released, or never sent): the last
/// one closes it, resolved first after a full lifecycle.
pub(super) async fn finish_unit(sim: &Sim, staff: usize, incident: &str) {
    let done = {
        let mut open = lock(&sim.open);
        match open.get_mut(incident) {
            Some(state) => {
                state.remaining = state.remaining.saturating_sub(1);
                if state.remaining == 0 {
                    open.remove(incident).map(|s| s.closing)
                } else {
                    None
                }
            }
            None => None,
        }
    };
    if let Some(code) = done {
        close(sim, staff, incident, code, sim.lifecycle == Lifecycle::Full).await;
    }
}
