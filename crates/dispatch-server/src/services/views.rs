//! Domain values as the wire shows them, shared by the services.

use dispatch_domain::ids::IncidentId;
use dispatch_domain::incident::TriageRecord;
use dispatch_domain::triage::{self, AnswerValue, Level};
use dispatch_proto::v1 as pb;
use dispatch_store::calls::EventRecord;
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
        other => other.replace('_', " "),
    }
}

fn timeline_entry(event: &EventRecord, own: IncidentId) -> pb::TimelineEntry {
    pb::TimelineEntry {
        sequence: event.sequence,
        time: Some(timestamp(event.time)),
        kind: timeline_kind(&event.kind).into(),
        actor: event.actor.clone(),
        description: timeline_description(event),
        call: event.call.map(|id| id.name()).unwrap_or_default(),
        unit: String::new(),
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
        referral: String::new(),
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
            .map(|event| timeline_entry(event, incident.id))
            .collect();
        message.triage_history = detail.triage_history.iter().map(triage_record).collect();
    }
    message
}
