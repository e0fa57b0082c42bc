//! Domain values as the wire shows them, shared by the services.

use chrono::{DateTime, Utc};

use dispatch_domain::assignment::Assignment;
use dispatch_domain::directory::{Camera, DeviceKind, Station, Unit, UnitStatus, UnitType};
use dispatch_domain::ids::IncidentId;
use dispatch_domain::incident::TriageRecord;
use dispatch_domain::triage::{self, AnswerValue, Level};
use dispatch_domain::unit::PrimaryStatus;
use dispatch_proto::v1 as pb;
use dispatch_store::EventRecord;
use dispatch_store::incidents::IncidentDetail;

use crate::convert::{self, timestamp};

pub fn level(level: Level) -> pb::DeterminantLevel {
    match level {
        Level::Omega => pb::DeterminantLevel::Omega,
        Level::Alpha => pb::DeterminantLevel::Alpha,
        Level::Bravo => pb::DeterminantLevel::Bravo,
        Level::Charlie => pb::DeterminantLevel::Charlie,
        Level::Delta => pb::DeterminantLevel::Delta,
        Level::Echo => pb::DeterminantLevel::Echo,
    }
}

pub fn determinant(determinant: &triage::Determinant) -> pb::Determinant {
    pb::Determinant {
        code: determinant.code.clone(),
        level: level(determinant.level).into(),
        description: determinant.description.clone(),
    }
}

pub fn plan(plan: &[triage::Requirement]) -> pb::ResponsePlan {
    pb::ResponsePlan {
        requirements: plan
            .iter()
            .map(|r| pb::PlanRequirement {
                capability: r.capability.clone(),
                count: i32::try_from(r.count).unwrap_or(i32::MAX),
                description: r.description.clone(),
            })
            .collect(),
    }
}

pub fn answer(answer: &triage::Answer) -> pb::TriageAnswer {
    pb::TriageAnswer {
        question_id: answer.question_id.clone(),
        value: answer.value.as_ref().map(|value| match value {
            AnswerValue::YesNo(b) => pb::triage_answer::Value::YesNo(*b),
            AnswerValue::Choice(c) => pb::triage_answer::Value::Choice(c.clone()),
            AnswerValue::Number(n) => pb::triage_answer::Value::Number(*n),
        }),
    }
}

pub fn triage_record(record: &TriageRecord) -> pb::TriageRecord {
    pb::TriageRecord {
        triage_time: Some(timestamp(record.triaged_at)),
        triaged_by: record.triaged_by.clone(),
        incident_type: record.incident_type.clone(),
        answers: record.answers.iter().map(answer).collect(),
        determinant: Some(determinant(&record.outcome.determinant)),
        priority: i32::from(record.outcome.priority),
        previous_priority: record.previous_priority.map(i32::from).unwrap_or_default(),
        response_plan: Some(plan(&record.outcome.plan)),
    }
}

fn timeline_kind(kind: &str) -> pb::TimelineEntryKind {
    match kind {
        "incident_created" => pb::TimelineEntryKind::Created,
        "call_linked" => pb::TimelineEntryKind::CallLinked,
        "incident_triaged" => pb::TimelineEntryKind::Triaged,
        "priority_changed" => pb::TimelineEntryKind::PriorityChanged,
        "incident_updated" | "call_location_updated" => pb::TimelineEntryKind::Updated,
        "note_added" => pb::TimelineEntryKind::NoteAdded,
        "status_changed" => pb::TimelineEntryKind::StatusChanged,
        "merged_in" => pb::TimelineEntryKind::MergedIn,
        "merged_into" => pb::TimelineEntryKind::MergedInto,
        "incident_closed" => pb::TimelineEntryKind::Closed,
        "incident_cancelled" => pb::TimelineEntryKind::Cancelled,
        "unit_dispatched" => pb::TimelineEntryKind::UnitDispatched,
        "unit_en_route" => pb::TimelineEntryKind::UnitEnRoute,
        "unit_on_scene" => pb::TimelineEntryKind::UnitOnScene,
        "unit_transporting" => pb::TimelineEntryKind::UnitTransporting,
        "unit_at_hospital" => pb::TimelineEntryKind::UnitAtHospital,
        "unit_cleared" => pb::TimelineEntryKind::UnitCleared,
        "unit_released" => pb::TimelineEntryKind::UnitReleased,
        "referral_created_for_incident" => pb::TimelineEntryKind::ReferralCreated,
        _ => pb::TimelineEntryKind::Unspecified,
    }
}

fn timeline_description(event: &EventRecord) -> String {
    let details = &event.details;
    let text = |key: &str| {
        details
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let with_note = |mut line: String, key: &str| {
        let note = text(key);
        if !note.is_empty() {
            line.push_str(": ");
            line.push_str(&note);
        }
        line
    };
    match event.kind.as_str() {
        "incident_created" => format!(
            "incident {} opened from call {}",
            text("folio"),
            text("from_call")
        ),
        "call_linked" => with_note(
            format!("call {} ({}) linked", text("call_folio"), text("channel")),
            "note",
        ),
        "incident_triaged" => format!(
            "triaged {} as {} ({}), priority {}",
            text("incident_type"),
            text("determinant"),
            text("level"),
            details
                .get("priority")
                .map(ToString::to_string)
                .unwrap_or_default()
        ),
        "priority_changed" => with_note(
            format!(
                "priority {} -> {}",
                details
                    .get("from")
                    .filter(|v| !v.is_null())
                    .map_or_else(|| "none".to_owned(), ToString::to_string),
                details
                    .get("to")
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
            "reason",
        ),
        "incident_updated" => with_note(
            format!(
                "updated {}",
                details
                    .get("fields")
                    .and_then(|f| f.as_array())
                    .map(|f| f
                        .iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            ),
            "reason",
        ),
        "call_location_updated" => "caller location updated".to_owned(),
        "note_added" => text("text"),
        "status_changed" => with_note(format!("{} -> {}", text("from"), text("to")), "note"),
        "merged_in" => with_note(
            format!(
                "incident {} merged in with {} calls",
                text("folio"),
                details
                    .get("calls")
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
            "note",
        ),
        "merged_into" => with_note(format!("merged into incident {}", text("folio")), "note"),
        "incident_closed" => {
            let inner = &details["details"];
            let code = inner
                .get("closing_code")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            let note = inner
                .get("note")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            if note.is_empty() {
                format!("closed: {code}")
            } else {
                format!("closed: {code}: {note}")
            }
        }
        "incident_cancelled" => {
            let reason = details["details"]
                .get("reason")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            format!("cancelled: {reason}")
        }
        "unit_dispatched" => {
            let mut line = format!("{} dispatched", text("call_sign"));
            let reason = text("override_reason");
            if !reason.is_empty() {
                line.push_str(" (not as recommended: ");
                line.push_str(&reason);
                line.push(')');
            }
            line
        }
        "unit_en_route" | "unit_on_scene" | "unit_transporting" | "unit_at_hospital" => with_note(
            format!(
                "{} {}",
                text("call_sign"),
                event.kind.trim_start_matches("unit_").replace('_', " ")
            ),
            "note",
        ),
        "unit_cleared" => with_note("unit cleared".to_owned(), "reason"),
        "referral_created_for_incident" => format!("victim referred to {}", text("partner")),
        "unit_released" => with_note("unit released".to_owned(), "reason"),
        other => other.replace('_', " "),
    }
}

/// One timeline entry of incident `own`, rendered from its event row alone. `position` is its
/// 1-based place in `own`'s timeline (the event log's own sequence is centre-wide).
pub(crate) fn timeline_entry(
    event: &EventRecord,
    own: IncidentId,
    position: i64,
) -> pb::TimelineEntry {
    pb::TimelineEntry {
        sequence: position,
        time: Some(timestamp(event.time)),
        kind: timeline_kind(&event.kind).into(),
        actor: event.actor.clone(),
        description: timeline_description(event),
        call: event.call.map(|id| id.name()).unwrap_or_default(),
        unit: event.unit.map(|id| id.name()).unwrap_or_default(),
        related_incident: match event.kind.as_str() {
            "merged_in" | "merged_into" => event
                .details
                .get("incident")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned(),
            _ => event
                .incident
                .filter(|id| *id != own)
                .map(|id| id.name())
                .unwrap_or_default(),
        },
        referral: event
            .details
            .get("referral")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned(),
    }
}

/// The incident on the wire; `full` adds calls, notes, timeline and triage history.
pub fn incident(detail: &IncidentDetail, full: bool) -> pb::Incident {
    let incident = &detail.incident;
    let mut message = pb::Incident {
        name: incident.id.name(),
        folio: incident.folio.clone(),
        incident_type: incident.incident_type.clone().unwrap_or_default(),
        status: convert::incident_status(incident.status).into(),
        priority: incident.priority.map(i32::from).unwrap_or_default(),
        determinant: incident
            .triage
            .as_ref()
            .map(|t| determinant(&t.determinant)),
        response_plan: incident.triage.as_ref().map(|t| plan(&t.plan)),
        location: Some(convert::location(&incident.location)),
        summary: incident.summary.clone(),
        linked_call_count: incident.linked_call_count,
        closing_code: incident
            .closing_code
            .map_or(pb::ClosingCode::Unspecified, convert::closing_code)
            .into(),
        closing_note: incident.closing_note.clone(),
        duplicate_of: incident
            .duplicate_of
            .map(|id| id.name())
            .unwrap_or_default(),
        create_time: Some(timestamp(incident.created_at)),
        update_time: Some(timestamp(incident.updated_at)),
        triage_time: incident.triage.as_ref().map(|t| timestamp(t.triaged_at)),
        close_time: incident.closed_at.map(timestamp),
        etag: convert::etag(incident.version),
        first_call_received_time: Some(timestamp(incident.first_call_at)),
        status_time: Some(timestamp(incident.status_at)),
        ..Default::default()
    };
    if full {
        message.calls = detail.calls.iter().map(|id| id.name()).collect();
        message.notes = detail
            .notes
            .iter()
            .map(|note| pb::IncidentNote {
                text: note.text.clone(),
                author: note.author.clone(),
                create_time: Some(timestamp(note.created_at)),
            })
            .collect();
        message.timeline = detail
            .timeline
            .iter()
            .zip(1..)
            .map(|(event, position)| timeline_entry(event, incident.id, position))
            .collect();
        message.triage_history = detail.triage_history.iter().map(triage_record).collect();
    }
    // Assignments are in both views: a console's list shows who is on each incident.
    message.assignments = detail.assignments.iter().map(assignment).collect();
    message
}

pub fn unit_type(unit_type: UnitType) -> pb::UnitType {
    match unit_type {
        UnitType::Patrol => pb::UnitType::Patrol,
        UnitType::Motorcycle => pb::UnitType::Motorcycle,
        UnitType::AlsAmbulance => pb::UnitType::AlsAmbulance,
        UnitType::BlsAmbulance => pb::UnitType::BlsAmbulance,
        UnitType::Engine => pb::UnitType::Engine,
        UnitType::Ladder => pb::UnitType::Ladder,
        UnitType::Rescue => pb::UnitType::Rescue,
        UnitType::Hazmat => pb::UnitType::Hazmat,
        UnitType::Chief => pb::UnitType::Chief,
        UnitType::MobileCommandPost => pb::UnitType::MobileCommandPost,
        UnitType::Drone => pb::UnitType::Drone,
        UnitType::CivilProtection => pb::UnitType::CivilProtection,
        UnitType::CrowdControl => pb::UnitType::CrowdControl,
        UnitType::Other => pb::UnitType::Other,
    }
}

pub fn unit_type_from(value: i32) -> Option<UnitType> {
    UnitType::ALL
        .iter()
        .copied()
        .find(|t| i32::from(unit_type(*t)) == value)
}

pub fn unit_status(status: UnitStatus) -> pb::UnitStatus {
    match status {
        UnitStatus::Available => pb::UnitStatus::Available,
        UnitStatus::Dispatched => pb::UnitStatus::Dispatched,
        UnitStatus::EnRoute => pb::UnitStatus::EnRoute,
        UnitStatus::OnScene => pb::UnitStatus::OnScene,
        UnitStatus::Transporting => pb::UnitStatus::Transporting,
        UnitStatus::AtHospital => pb::UnitStatus::AtHospital,
        UnitStatus::OutOfService => pb::UnitStatus::OutOfService,
    }
}

pub fn unit_status_from(value: i32) -> Option<UnitStatus> {
    UnitStatus::ALL
        .iter()
        .copied()
        .find(|s| i32::from(unit_status(*s)) == value)
}

pub fn device_kind(kind: DeviceKind) -> pb::DeviceKind {
    match kind {
        DeviceKind::Camera => pb::DeviceKind::Camera,
        DeviceKind::PanicButton => pb::DeviceKind::PanicButton,
        DeviceKind::PlateReader => pb::DeviceKind::PlateReader,
    }
}

pub fn device_kind_from(value: i32) -> Option<DeviceKind> {
    DeviceKind::ALL
        .iter()
        .copied()
        .find(|k| i32::from(device_kind(*k)) == value)
}

/// A unit on the wire; its position is flagged stale past `stale_after`.
pub fn unit(unit: &Unit, now: DateTime<Utc>, stale_after: chrono::Duration) -> pb::Unit {
    pb::Unit {
        name: unit.id.name(),
        call_sign: unit.call_sign.clone(),
        agency: unit.agency.name(),
        unit_type: unit_type(unit.unit_type).into(),
        capabilities: unit.capabilities.clone(),
        home_station: unit.home_station.map(|s| s.name()).unwrap_or_default(),
        status: unit_status(unit.status).into(),
        primary_status: match unit.status.primary() {
            PrimaryStatus::Available => pb::PrimaryStatus::Available,
            PrimaryStatus::ConditionallyAvailable => pb::PrimaryStatus::ConditionallyAvailable,
            PrimaryStatus::NotAvailable => pb::PrimaryStatus::NotAvailable,
        }
        .into(),
        current_incident: unit.current_incident.map(|i| i.name()).unwrap_or_default(),
        position: unit.position.as_ref().map(|p| pb::UnitPosition {
            point: Some(convert::geo_point(&p.point)),
            accuracy_m: p.accuracy_m,
            heading_deg: p.heading_deg,
            speed_mps: p.speed_mps,
            fix_time: Some(timestamp(p.fix_time)),
            stale: now - p.fix_time > stale_after,
        }),
        status_time: Some(timestamp(unit.status_at)),
        create_time: Some(timestamp(unit.created_at)),
        update_time: Some(timestamp(unit.updated_at)),
        etag: convert::etag(unit.version),
        decommission_time: unit.decommissioned_at.map(timestamp),
    }
}

pub fn station(station: &Station) -> pb::Station {
    pb::Station {
        name: station.id.name(),
        agency: station.agency.name(),
        code: station.code.clone(),
        display_name: station.display_name.clone(),
        location: Some(convert::geo_point(&station.location)),
        address: station.address.clone(),
        create_time: Some(timestamp(station.created_at)),
        update_time: Some(timestamp(station.updated_at)),
    }
}

pub fn camera(camera: &Camera) -> pb::Camera {
    pb::Camera {
        name: camera.id.name(),
        code: camera.code.clone(),
        kind: device_kind(camera.kind).into(),
        location: Some(convert::geo_point(&camera.location)),
        description: camera.description.clone(),
        agency: camera.agency.map(|a| a.name()).unwrap_or_default(),
        active: camera.active,
        create_time: Some(timestamp(camera.created_at)),
        update_time: Some(timestamp(camera.updated_at)),
    }
}

pub fn assignment(assignment: &Assignment) -> pb::Assignment {
    let status = if assignment.released_at.is_some() {
        pb::AssignmentStatus::Released
    } else if assignment.cleared_at.is_some() {
        pb::AssignmentStatus::Cleared
    } else if assignment.at_hospital_at.is_some() {
        pb::AssignmentStatus::AtHospital
    } else if assignment.transporting_at.is_some() {
        pb::AssignmentStatus::Transporting
    } else if assignment.on_scene_at.is_some() {
        pb::AssignmentStatus::OnScene
    } else if assignment.en_route_at.is_some() {
        pb::AssignmentStatus::EnRoute
    } else {
        pb::AssignmentStatus::Dispatched
    };
    pb::Assignment {
        unit: assignment.unit.name(),
        call_sign: assignment.call_sign.clone(),
        unit_type: unit_type(assignment.unit_type).into(),
        status: status.into(),
        dispatch_time: Some(timestamp(assignment.dispatched_at)),
        en_route_time: assignment.en_route_at.map(timestamp),
        on_scene_time: assignment.on_scene_at.map(timestamp),
        transporting_time: assignment.transporting_at.map(timestamp),
        at_hospital_time: assignment.at_hospital_at.map(timestamp),
        clear_time: assignment.cleared_at.map(timestamp),
        release_time: assignment.released_at.map(timestamp),
        release_reason: assignment.release_reason.clone(),
        recommendation: assignment
            .recommendation
            .map(|r| r.name())
            .unwrap_or_default(),
        override_reason: assignment.override_reason.clone(),
        assigned_by: assignment.assigned_by.clone(),
    }
}
