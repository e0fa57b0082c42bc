//! Domain values as the wire shows them, shared by the services.

use chrono::{DateTime, Utc};

use dispatch_domain::assignment::Assignment;
use dispatch_domain::directory::{Camera, Station, Unit};
use dispatch_domain::event::{CallEvent, Event, FieldStatus, IncidentEvent, UnitEvent};
use dispatch_domain::ids::IncidentId;
use dispatch_domain::incident::TriageRecord;
use dispatch_domain::triage::{self, AnswerValue};
use dispatch_domain::unit::PrimaryStatus;
use dispatch_proto::v1 as pb;
use dispatch_store::EventRecord;
use dispatch_store::incidents::IncidentDetail;

use super::enums::{WireEnum, wire_or_unspecified};
use super::wire::{self, timestamp};
use crate::services::request;

pub fn determinant(determinant: &triage::Determinant) -> pb::Determinant {
    pb::Determinant {
        code: determinant.code.clone(),
        level: determinant.level.wire(),
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

/// What a timeline entry says of its event.
struct TimelineParts {
    kind: pb::TimelineEntryKind,
    description: String,
    /// The other incident of a merge.
    merged: Option<IncidentId>,
    referral: String,
}

impl TimelineParts {
    fn new(kind: pb::TimelineEntryKind, description: String) -> Self {
        Self {
            kind,
            description,
            merged: None,
            referral: String::new(),
        }
    }
}

/// `line`, then `: note` unless the note is empty.
fn with_note(mut line: String, note: &str) -> String {
    if !note.is_empty() {
        line.push_str(": ");
        line.push_str(note);
    }
    line
}

fn field_status_line(status: &FieldStatus, what: &str) -> String {
    with_note(format!("{} {what}", status.call_sign), &status.note)
}

fn timeline_parts(event: &Event) -> TimelineParts {
    use pb::TimelineEntryKind as Kind;
    match event {
        Event::Incident(incident) => incident_parts(incident),
        Event::Call(CallEvent::Linked {
            call_folio,
            channel,
            note,
            ..
        }) => TimelineParts::new(
            Kind::CallLinked,
            with_note(format!("call {call_folio} ({channel}) linked"), note),
        ),
        Event::Call(CallEvent::LocationUpdated { .. }) => {
            TimelineParts::new(Kind::Updated, "caller location updated".to_owned())
        }
        Event::Unit(UnitEvent::Dispatched {
            call_sign,
            override_reason,
            ..
        }) => {
            let mut line = format!("{call_sign} dispatched");
            if !override_reason.is_empty() {
                line.push_str(" (not as recommended: ");
                line.push_str(override_reason);
                line.push(')');
            }
            TimelineParts::new(Kind::UnitDispatched, line)
        }
        Event::Unit(UnitEvent::EnRoute(status)) => {
            TimelineParts::new(Kind::UnitEnRoute, field_status_line(status, "en route"))
        }
        Event::Unit(UnitEvent::OnScene(status)) => {
            TimelineParts::new(Kind::UnitOnScene, field_status_line(status, "on scene"))
        }
        Event::Unit(UnitEvent::Transporting(status)) => TimelineParts::new(
            Kind::UnitTransporting,
            field_status_line(status, "transporting"),
        ),
        Event::Unit(UnitEvent::AtHospital(status)) => TimelineParts::new(
            Kind::UnitAtHospital,
            field_status_line(status, "at hospital"),
        ),
        Event::Unit(UnitEvent::Cleared(end)) => TimelineParts::new(
            Kind::UnitCleared,
            with_note("unit cleared".to_owned(), &end.reason),
        ),
        Event::Unit(UnitEvent::Released(end)) => TimelineParts::new(
            Kind::UnitReleased,
            with_note("unit released".to_owned(), &end.reason),
        ),
        // Not on an incident's timeline, or without an entry kind of its own: its kind, in words.
        Event::Call(CallEvent::Received { .. } | CallEvent::Disposed { .. })
        | Event::Unit(
            UnitEvent::Created { .. }
            | UnitEvent::Updated { .. }
            | UnitEvent::Decommissioned { .. }
            | UnitEvent::Position {}
            | UnitEvent::StatusChanged { .. },
        )
        | Event::Directory(_)
        | Event::Partner(_)
        | Event::Security(_) => {
            TimelineParts::new(Kind::Unspecified, event.kind().replace('_', " "))
        }
    }
}

fn incident_parts(event: &IncidentEvent) -> TimelineParts {
    use pb::TimelineEntryKind as Kind;
    match event {
        IncidentEvent::Created {
            folio, from_call, ..
        } => TimelineParts::new(
            Kind::Created,
            format!("incident {folio} opened from call {from_call}"),
        ),
        IncidentEvent::Triaged {
            incident_type,
            determinant,
            level,
            priority,
        } => TimelineParts::new(
            Kind::Triaged,
            format!("triaged {incident_type} as {determinant} ({level}), priority {priority}"),
        ),
        IncidentEvent::PriorityChanged { from, to, reason } => TimelineParts::new(
            Kind::PriorityChanged,
            with_note(
                format!(
                    "priority {} -> {to}",
                    from.map_or_else(|| "none".to_owned(), |from| from.to_string())
                ),
                reason,
            ),
        ),
        IncidentEvent::Updated { fields, reason } => TimelineParts::new(
            Kind::Updated,
            with_note(format!("updated {}", fields.join(", ")), reason),
        ),
        IncidentEvent::NoteAdded { text } => TimelineParts::new(Kind::NoteAdded, text.clone()),
        IncidentEvent::StatusChanged { from, to, note } => TimelineParts::new(
            Kind::StatusChanged,
            with_note(format!("{from} -> {to}"), note),
        ),
        IncidentEvent::MergedIn(merge) => TimelineParts {
            merged: Some(merge.incident),
            ..TimelineParts::new(
                Kind::MergedIn,
                with_note(
                    format!(
                        "incident {} merged in with {} calls",
                        merge.folio, merge.calls
                    ),
                    &merge.note,
                ),
            )
        },
        IncidentEvent::MergedInto(merge) => TimelineParts {
            merged: Some(merge.incident),
            ..TimelineParts::new(
                Kind::MergedInto,
                with_note(format!("merged into incident {}", merge.folio), &merge.note),
            )
        },
        IncidentEvent::Closed { details, .. } => TimelineParts::new(
            Kind::Closed,
            with_note(format!("closed: {}", details.closing_code), &details.note),
        ),
        IncidentEvent::Cancelled { details, .. } => {
            TimelineParts::new(Kind::Cancelled, format!("cancelled: {}", details.reason))
        }
        IncidentEvent::ReferralCreated { referral, partner } => TimelineParts {
            referral: referral.name(),
            ..TimelineParts::new(
                Kind::ReferralCreated,
                format!("victim referred to {partner}"),
            )
        },
    }
}

/// One timeline entry of incident `own`, rendered from its event row alone. `position` is its
/// 1-based place in `own`'s timeline (the event log's own sequence is centre-wide).
pub(crate) fn timeline_entry(
    event: &EventRecord,
    own: IncidentId,
    position: i64,
) -> pb::TimelineEntry {
    let parts = timeline_parts(&event.event);
    pb::TimelineEntry {
        sequence: position,
        time: Some(timestamp(event.time)),
        kind: parts.kind.into(),
        actor: event.actor.clone(),
        description: parts.description,
        call: event.call.map(|id| id.name()).unwrap_or_default(),
        unit: event.unit.map(|id| id.name()).unwrap_or_default(),
        related_incident: parts
            .merged
            .or(event.incident.filter(|id| *id != own))
            .map(|id| id.name())
            .unwrap_or_default(),
        referral: parts.referral,
    }
}

/// The incident on the wire; `full` adds calls, notes, timeline and triage history.
pub fn incident(detail: &IncidentDetail, full: bool) -> pb::Incident {
    let incident = &detail.incident;
    let mut message = pb::Incident {
        name: incident.id.name(),
        folio: incident.folio.clone(),
        incident_type: incident.incident_type.clone().unwrap_or_default(),
        status: incident.status.wire(),
        priority: incident.priority.map(i32::from).unwrap_or_default(),
        determinant: incident
            .triage
            .as_ref()
            .map(|t| determinant(&t.determinant)),
        response_plan: incident.triage.as_ref().map(|t| plan(&t.plan)),
        location: Some(wire::location(&incident.location)),
        summary: incident.summary.clone(),
        linked_call_count: incident.linked_call_count,
        closing_code: wire_or_unspecified(incident.closing_code),
        closing_note: incident.closing_note.clone(),
        duplicate_of: incident
            .duplicate_of
            .map(|id| id.name())
            .unwrap_or_default(),
        create_time: Some(timestamp(incident.created_at)),
        update_time: Some(timestamp(incident.updated_at)),
        triage_time: incident.triage.as_ref().map(|t| timestamp(t.triaged_at)),
        close_time: incident.closed_at.map(timestamp),
        etag: request::etag(incident.version),
        first_call_received_time: Some(timestamp(incident.first_call_at)),
        status_time: Some(timestamp(incident.status_at)),
        operation: incident.operation.map(|id| id.name()).unwrap_or_default(),
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

/// A unit on the wire; its position is flagged stale past `stale_after`.
pub fn unit(unit: &Unit, now: DateTime<Utc>, stale_after: chrono::Duration) -> pb::Unit {
    pb::Unit {
        name: unit.id.name(),
        call_sign: unit.call_sign.clone(),
        agency: unit.agency.name(),
        unit_type: unit.unit_type.wire(),
        capabilities: unit.capabilities.clone(),
        home_station: unit.home_station.map(|s| s.name()).unwrap_or_default(),
        status: unit.status.wire(),
        primary_status: match unit.status.primary() {
            PrimaryStatus::Available => pb::PrimaryStatus::Available,
            PrimaryStatus::ConditionallyAvailable => pb::PrimaryStatus::ConditionallyAvailable,
            PrimaryStatus::NotAvailable => pb::PrimaryStatus::NotAvailable,
        }
        .into(),
        current_incident: unit.current_incident.map(|i| i.name()).unwrap_or_default(),
        position: unit.position.as_ref().map(|p| pb::UnitPosition {
            point: Some(wire::geo_point(&p.point)),
            accuracy_m: p.accuracy_m,
            heading_deg: p.heading_deg,
            speed_mps: p.speed_mps,
            fix_time: Some(timestamp(p.fix_time)),
            stale: now - p.fix_time > stale_after,
        }),
        status_time: Some(timestamp(unit.status_at)),
        create_time: Some(timestamp(unit.created_at)),
        update_time: Some(timestamp(unit.updated_at)),
        etag: request::etag(unit.version),
        decommission_time: unit.decommissioned_at.map(timestamp),
    }
}

pub fn station(station: &Station) -> pb::Station {
    pb::Station {
        name: station.id.name(),
        agency: station.agency.name(),
        code: station.code.clone(),
        display_name: station.display_name.clone(),
        location: Some(wire::geo_point(&station.location)),
        address: station.address.clone(),
        create_time: Some(timestamp(station.created_at)),
        update_time: Some(timestamp(station.updated_at)),
    }
}

pub fn camera(camera: &Camera) -> pb::Camera {
    pb::Camera {
        name: camera.id.name(),
        code: camera.code.clone(),
        kind: camera.kind.wire(),
        location: Some(wire::geo_point(&camera.location)),
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
        unit_type: assignment.unit_type.wire(),
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
