//! IncidentTriageService on the wire: its requests as commands, incident types as messages.
//! (Incidents themselves are rendered by `services::views`, shared with every service.)

use dispatch_domain::Violations;
use dispatch_domain::call::{MAX_NOTE_CHARS, check_length};
use dispatch_domain::ids::{AgencyId, IncidentId};
use dispatch_domain::incident::{ClosingCode, IncidentChanges, IncidentStatus};
use dispatch_domain::location::BoundingBox;
use dispatch_domain::triage::{
    self, Answer, AnswerValue, Catalogue, Category, Discipline, QuestionKind,
};
use dispatch_proto::v1 as pb;
use dispatch_store::incidents::{FieldStatus, IncidentFilter};
use dispatch_store::{Page, TimeCursor};

use super::calls::type_exists;
use super::enums::{WireEnum, enum_filter};
use super::wire::{self, Fields as _, mutation, valid};
use crate::services::request::{self, Mutation};

const MAX_SUMMARY_CHARS: usize = 2_000;

fn name(field: &str, value: &str, violations: &mut Violations) -> Option<IncidentId> {
    violations.collect(IncidentId::parse_name(field, value))
}

fn text(field: &str, value: &str, max: usize, violations: &mut Violations) {
    check_length(violations, field, value, max);
}

pub struct ListIncidentTypes {
    pub page: Page<String>,
    pub categories: Vec<Category>,
    pub disciplines: Vec<Discipline>,
}

impl TryFrom<pb::ListIncidentTypesRequest> for ListIncidentTypes {
    type Error = Violations;

    fn try_from(message: pb::ListIncidentTypesRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let page = violations.collect(request::code_page(message.page_size, &message.page_token));
        let categories =
            violations.collect(enum_filter::<Category>("categories", &message.categories));
        let disciplines = violations.collect(enum_filter::<Discipline>(
            "disciplines",
            &message.disciplines,
        ));
        valid(violations, || {
            Some(Self {
                page: page?,
                categories: categories?,
                disciplines: disciplines?,
            })
        })
    }
}

/// The code of an `incident-types/{code}` name.
pub fn incident_type_code(name: &str) -> Result<&str, Violations> {
    name.strip_prefix("incident-types/")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Violations::single("name", "must be an incident-types/{code} name"))
}

pub struct TriageIncident {
    pub mutation: Mutation,
    pub incident: IncidentId,
    /// The type to triage as; the incident's own when `None`.
    pub incident_type: Option<String>,
    pub answers: Vec<Answer>,
    pub etag: Option<i64>,
}

impl TryFrom<(pb::TriageIncidentRequest, &Catalogue)> for TriageIncident {
    type Error = Violations;

    fn try_from(
        (message, catalogue): (pb::TriageIncidentRequest, &Catalogue),
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let incident = name("name", &message.name, &mut violations);
        if !message.incident_type.is_empty() {
            type_exists(
                catalogue,
                "incident_type",
                &message.incident_type,
                &mut violations,
            );
        }
        let etag = violations.collect(request::etag_from("etag", &message.etag));
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                incident: incident?,
                answers: answers_from(&message.answers),
                incident_type: (!message.incident_type.is_empty()).then_some(message.incident_type),
                etag: etag?,
            })
        })
    }
}

pub struct ListIncidents {
    pub filter: IncidentFilter,
    pub page: Page<TimeCursor>,
    /// The FULL view: notes, calls, triage history and timeline besides the basics.
    pub full_view: bool,
}

impl TryFrom<(pb::ListIncidentsRequest, &Catalogue)> for ListIncidents {
    type Error = Violations;

    fn try_from(
        (message, catalogue): (pb::ListIncidentsRequest, &Catalogue),
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let page = violations.collect(request::time_page(message.page_size, &message.page_token));
        let statuses =
            violations.collect(enum_filter::<IncidentStatus>("statuses", &message.statuses));
        let min_priority = priority("min_priority", message.min_priority, &mut violations);
        let max_priority = priority("max_priority", message.max_priority, &mut violations);
        for (i, code) in message.incident_types.iter().enumerate() {
            type_exists(
                catalogue,
                &format!("incident_types[{i}]"),
                code,
                &mut violations,
            );
        }
        let (from, until) = wire::time_range("created", message.created.as_ref(), &mut violations);
        let area = match &message.bounding_box {
            Some(bbox) => wire::bounding_box(bbox, &mut violations),
            None => None,
        };
        let (Some(page), Some(statuses)) = (page, statuses) else {
            return Err(violations);
        };
        let filter = IncidentFilter {
            statuses,
            min_priority,
            max_priority,
            incident_types: message.incident_types,
            created_from: from,
            created_until: until,
            area,
        };
        let full_view = message.view == i32::from(pb::IncidentView::Full);
        valid(violations, || {
            Some(Self {
                filter,
                page,
                full_view,
            })
        })
    }
}

/// A priority bound of a list or a watch: from 0 to 10.
fn priority(field: &str, value: Option<i32>, violations: &mut Violations) -> Option<i16> {
    match value {
        Some(p) if (0..=10).contains(&p) => i16::try_from(p).ok(),
        Some(_) => {
            violations.add(field, "must be from 0 to 10");
            None
        }
        None => None,
    }
}

/// The incidents a WatchIncidents stream shows, and the sequence it resumes after (0: a
/// snapshot first).
pub struct WatchIncidents {
    pub statuses: Vec<IncidentStatus>,
    pub min_priority: Option<i16>,
    pub area: Option<BoundingBox>,
    /// Incidents of this agency's discipline, or with one of its units sent.
    pub agency: Option<AgencyId>,
    pub after: i64,
}

impl TryFrom<pb::WatchIncidentsRequest> for WatchIncidents {
    type Error = Violations;

    fn try_from(message: pb::WatchIncidentsRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let statuses =
            violations.collect(enum_filter::<IncidentStatus>("statuses", &message.statuses));
        let min_priority = priority("min_priority", message.min_priority, &mut violations);
        let area = message
            .bounding_box
            .as_ref()
            .and_then(|b| wire::bounding_box(b, &mut violations));
        let agency = violations.optional("agency", &message.agency, AgencyId::parse_name);
        request::check_after(message.after_sequence, &mut violations);
        valid(violations, || {
            Some(Self {
                statuses: statuses?,
                min_priority,
                area,
                agency,
                after: message.after_sequence,
            })
        })
    }
}

pub struct UpdateIncident {
    pub mutation: Mutation,
    pub incident: IncidentId,
    pub changes: IncidentChanges,
    pub reason: String,
    pub etag: i64,
}

impl TryFrom<(pb::UpdateIncidentRequest, &Catalogue)> for UpdateIncident {
    type Error = Violations;

    fn try_from(
        (message, catalogue): (pb::UpdateIncidentRequest, &Catalogue),
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let incident = wire::required(
            message.incident.as_ref(),
            "incident",
            "required: the incident's name, etag and new values",
            &mut violations,
        )?;
        let id = name("incident.name", &incident.name, &mut violations);
        let etag =
            request::required_etag("incident.etag", &incident.etag, "incident", &mut violations);
        let mask = wire::Mask::of(
            message.update_mask.as_ref(),
            "incident_type, location, summary, priority",
            &mut violations,
        );
        let mut changes = IncidentChanges::default();
        for (i, path) in mask.paths() {
            match path {
                "incident_type" => {
                    type_exists(
                        catalogue,
                        "incident.incident_type",
                        &incident.incident_type,
                        &mut violations,
                    );
                    changes.incident_type = Some(incident.incident_type.clone());
                }
                "location" => {
                    changes.location = violations.collect(
                        wire::location_from(incident.location.as_ref())
                            .map_err(|v| v.within("incident.location")),
                    );
                }
                "summary" => {
                    text(
                        "incident.summary",
                        &incident.summary,
                        MAX_SUMMARY_CHARS,
                        &mut violations,
                    );
                    changes.summary = Some(incident.summary.clone());
                }
                "priority" => {
                    match u8::try_from(incident.priority)
                        .ok()
                        .filter(|p| *p <= triage::MAX_PRIORITY)
                    {
                        Some(priority) => changes.priority = Some(priority),
                        None => violations.add("incident.priority", "must be from 0 to 10"),
                    }
                    if message.reason.trim().is_empty() {
                        violations.add("reason", "required when overriding the triaged priority");
                    }
                }
                other => mask.refuse(i, other, &mut violations),
            }
        }
        text("reason", &message.reason, MAX_NOTE_CHARS, &mut violations);
        let (Some(mutation), Some(incident), Some(etag)) = (mutation, id, etag) else {
            return Err(violations);
        };
        valid(violations, || {
            Some(Self {
                mutation,
                incident,
                changes,
                reason: message.reason,
                etag,
            })
        })
    }
}

pub struct AddIncidentNote {
    pub mutation: Mutation,
    pub incident: IncidentId,
    pub text: String,
}

impl TryFrom<pb::AddIncidentNoteRequest> for AddIncidentNote {
    type Error = Violations;

    fn try_from(message: pb::AddIncidentNoteRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let incident = name("name", &message.name, &mut violations);
        if message.text.trim().is_empty() {
            violations.add("text", "required");
        }
        text("text", &message.text, MAX_NOTE_CHARS, &mut violations);
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                incident: incident?,
                text: message.text,
            })
        })
    }
}

pub struct ChangeIncidentStatus {
    pub mutation: Mutation,
    pub incident: IncidentId,
    pub target: FieldStatus,
    pub note: String,
    pub etag: Option<i64>,
}

impl TryFrom<pb::ChangeIncidentStatusRequest> for ChangeIncidentStatus {
    type Error = Violations;

    fn try_from(message: pb::ChangeIncidentStatusRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let incident = name("name", &message.name, &mut violations);
        let target = match IncidentStatus::from_wire(message.status) {
            Some(IncidentStatus::OnScene) => Some(FieldStatus::OnScene),
            Some(IncidentStatus::Resolved) => Some(FieldStatus::Resolved),
            _ => {
                violations.add(
                    "status",
                    "must be ON_SCENE or RESOLVED (triage, assignment, close and cancel have their own RPCs)",
                );
                None
            }
        };
        text("note", &message.note, MAX_NOTE_CHARS, &mut violations);
        let etag = violations.collect(request::etag_from("etag", &message.etag));
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                incident: incident?,
                target: target?,
                note: message.note,
                etag: etag?,
            })
        })
    }
}

pub struct MergeIncidents {
    pub mutation: Mutation,
    pub survivor: IncidentId,
    pub duplicate: IncidentId,
    pub survivor_etag: Option<i64>,
    pub duplicate_etag: Option<i64>,
    pub note: String,
}

impl TryFrom<pb::MergeIncidentsRequest> for MergeIncidents {
    type Error = Violations;

    fn try_from(message: pb::MergeIncidentsRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let survivor = name("survivor", &message.survivor, &mut violations);
        let duplicate = name("duplicate", &message.duplicate, &mut violations);
        if survivor.is_some() && survivor == duplicate {
            violations.add("duplicate", "must be another incident than survivor");
        }
        let survivor_etag =
            violations.collect(request::etag_from("survivor_etag", &message.survivor_etag));
        let duplicate_etag = violations.collect(request::etag_from(
            "duplicate_etag",
            &message.duplicate_etag,
        ));
        text("note", &message.note, MAX_NOTE_CHARS, &mut violations);
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                survivor: survivor?,
                duplicate: duplicate?,
                survivor_etag: survivor_etag?,
                duplicate_etag: duplicate_etag?,
                note: message.note,
            })
        })
    }
}

pub struct CloseIncident {
    pub mutation: Mutation,
    pub incident: IncidentId,
    pub code: ClosingCode,
    /// Closing as a duplicate: the incident that is kept (the close is a merge into it).
    pub duplicate_of: Option<IncidentId>,
    pub note: String,
    pub etag: Option<i64>,
}

impl TryFrom<pb::CloseIncidentRequest> for CloseIncident {
    type Error = Violations;

    fn try_from(message: pb::CloseIncidentRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let incident = name("name", &message.name, &mut violations);
        let code = ClosingCode::from_wire(message.closing_code);
        let duplicate_of = match (code, message.duplicate_of.is_empty()) {
            (None, _) => {
                violations.add("closing_code", "required: one of C5's closing codes");
                None
            }
            (Some(ClosingCode::Duplicate), true) => {
                violations.add(
                    "duplicate_of",
                    "required when closing as a duplicate: the incident that is kept",
                );
                None
            }
            (Some(ClosingCode::Duplicate), false) => {
                name("duplicate_of", &message.duplicate_of, &mut violations)
            }
            (Some(_), false) => {
                violations.add("duplicate_of", "only with CLOSING_CODE_DUPLICATE");
                None
            }
            (Some(_), true) => None,
        };
        if duplicate_of.is_some() && duplicate_of == incident {
            violations.add("duplicate_of", "must be another incident");
        }
        text("note", &message.note, MAX_NOTE_CHARS, &mut violations);
        let etag = violations.collect(request::etag_from("etag", &message.etag));
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                incident: incident?,
                code: code?,
                duplicate_of,
                note: message.note,
                etag: etag?,
            })
        })
    }
}

pub struct CancelIncident {
    pub mutation: Mutation,
    pub incident: IncidentId,
    pub reason: String,
    pub etag: Option<i64>,
}

impl TryFrom<pb::CancelIncidentRequest> for CancelIncident {
    type Error = Violations;

    fn try_from(message: pb::CancelIncidentRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let incident = name("name", &message.name, &mut violations);
        if message.reason.trim().is_empty() {
            violations.add("reason", "required: why the incident is cancelled");
        }
        text("reason", &message.reason, MAX_NOTE_CHARS, &mut violations);
        let etag = violations.collect(request::etag_from("etag", &message.etag));
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                incident: incident?,
                reason: message.reason,
                etag: etag?,
            })
        })
    }
}

pub fn incident_type(incident_type: &triage::IncidentType) -> pb::IncidentType {
    pb::IncidentType {
        name: format!("incident-types/{}", incident_type.code),
        code: incident_type.code.clone(),
        display_name: incident_type.display_name.clone(),
        category: incident_type.category.wire(),
        disciplines: incident_type.disciplines.iter().map(|d| d.wire()).collect(),
        default_priority: i32::from(incident_type.default_priority),
        compatible_types: incident_type.compatible_types.clone(),
        protocol: Some(pb::Protocol {
            questions: incident_type
                .questions
                .iter()
                .map(|question| {
                    let (kind, choices, min, max) = match &question.kind {
                        QuestionKind::YesNo => (pb::QuestionKind::YesNo, Vec::new(), None, None),
                        QuestionKind::Choice(choices) => {
                            (pb::QuestionKind::Choice, choices.clone(), None, None)
                        }
                        QuestionKind::Number { min, max } => {
                            (pb::QuestionKind::Number, Vec::new(), *min, *max)
                        }
                    };
                    pb::Question {
                        id: question.id.clone(),
                        text: question.text.clone(),
                        kind: kind.into(),
                        choices,
                        required: question.required,
                        min,
                        max,
                        help_text: question.help.clone(),
                    }
                })
                .collect(),
        }),
        description: incident_type.description.clone(),
    }
}

fn answers_from(answers: &[pb::TriageAnswer]) -> Vec<Answer> {
    answers
        .iter()
        .map(|answer| Answer {
            question_id: answer.question_id.clone(),
            value: answer.value.as_ref().map(|value| match value {
                pb::triage_answer::Value::YesNo(b) => AnswerValue::YesNo(*b),
                pb::triage_answer::Value::Choice(c) => AnswerValue::Choice(c.clone()),
                pb::triage_answer::Value::Number(n) => AnswerValue::Number(*n),
            }),
        })
        .collect()
}
