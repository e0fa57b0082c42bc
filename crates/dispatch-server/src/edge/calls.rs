//! CallIntakeService on the wire: its requests as commands, calls and duplicate candidates as
//! messages.

use chrono::Utc;

use dispatch_domain::Violations;
use dispatch_domain::call::{
    Call, CallDraft, CallState, Channel, Disposition, MAX_NOTE_CHARS, NewCall, check_length,
    is_type_code,
};
use dispatch_domain::duplicates::Candidate;
use dispatch_domain::ids::{CallId, IncidentId};
use dispatch_domain::location::Location;
use dispatch_domain::triage::Catalogue;
use dispatch_proto::v1 as pb;
use dispatch_store::calls::{CallFilter, LocationRecord};
use dispatch_store::{Page, TimeCursor};

use super::enums::{WireEnum, enum_filter, wire_list, wire_or_unspecified};
use super::wire::{self, Fields as _, mutation, timestamp, valid};
use crate::services::request::{self, Mutation};

/// Longest summary an incident opened from a call may carry.
const MAX_OPENING_SUMMARY_CHARS: usize = 500;

/// An incident type code must name a type of the catalogue the server runs with.
pub fn type_exists(catalogue: &Catalogue, field: &str, code: &str, violations: &mut Violations) {
    if catalogue.get(code).is_none() {
        violations.add(
            field,
            format!("{code:?} is not in the incident type catalogue"),
        );
    }
}

/// The draft checks a type code's form; whether the centre knows the type is the catalogue's.
fn known_type_hint(catalogue: &Catalogue, hint: &str, violations: &mut Violations) {
    if is_type_code(hint) {
        type_exists(catalogue, "incident_type_hint", hint, violations);
    }
}

fn note(field: &str, text: &str, violations: &mut Violations) {
    check_length(violations, field, text, MAX_NOTE_CHARS);
}

pub struct CreateCall {
    pub mutation: Mutation,
    pub call: NewCall,
}

impl TryFrom<(pb::CreateCallRequest, &Catalogue)> for CreateCall {
    type Error = Violations;

    fn try_from(
        (message, catalogue): (pb::CreateCallRequest, &Catalogue),
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let received_at = violations.collect(wire::datetime(
            "received_time",
            message.received_time.as_ref(),
        ));
        let answered_at = violations.collect(wire::datetime(
            "answered_time",
            message.answered_time.as_ref(),
        ));
        known_type_hint(catalogue, &message.incident_type_hint, &mut violations);
        let draft = CallDraft {
            channel: Channel::from_wire(message.channel),
            received_at: received_at.flatten(),
            answered_at: answered_at.flatten(),
            back_entered: message.back_entered,
            callback_number: message.callback_number,
            caller_name: message.caller_name,
            language: message.language,
            location: wire::location_from(message.location.as_ref()),
            account: message.account,
            incident_type_hint: message.incident_type_hint,
            source_device_id: message.source_device_id,
        };
        let call = violations.collect(draft.validate(Utc::now()));
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                call: call?,
            })
        })
    }
}

pub struct ListCalls {
    pub filter: CallFilter,
    pub page: Page<TimeCursor>,
}

impl TryFrom<pb::ListCallsRequest> for ListCalls {
    type Error = Violations;

    fn try_from(message: pb::ListCallsRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let page = violations.collect(request::time_page(message.page_size, &message.page_token));
        let (from, until) =
            wire::time_range("received", message.received.as_ref(), &mut violations);
        let channels = violations.collect(enum_filter::<Channel>("channels", &message.channels));
        let states = violations.collect(enum_filter::<CallState>("states", &message.states));
        let dispositions = violations.collect(enum_filter::<Disposition>(
            "dispositions",
            &message.dispositions,
        ));
        let incident = violations.optional("incident", &message.incident, IncidentId::parse_name);
        let (Some(page), Some(channels), Some(states), Some(dispositions)) =
            (page, channels, states, dispositions)
        else {
            return Err(violations);
        };
        let filter = CallFilter {
            received_from: from,
            received_until: until,
            channels,
            states,
            dispositions,
            incident,
        };
        valid(violations, || Some(Self { filter, page }))
    }
}

pub struct UpdateCallLocation {
    pub mutation: Mutation,
    pub call: CallId,
    pub location: Location,
    pub etag: Option<i64>,
}

impl TryFrom<pb::UpdateCallLocationRequest> for UpdateCallLocation {
    type Error = Violations;

    fn try_from(message: pb::UpdateCallLocationRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let call = violations.collect(CallId::parse_name("name", &message.name));
        let location = violations.collect(
            wire::location_from(message.location.as_ref()).map_err(|v| v.within("location")),
        );
        let etag = violations.collect(request::etag_from("etag", &message.etag));
        let (Some(mutation), Some(call), Some(location), Some(etag)) =
            (mutation, call, location, etag)
        else {
            return Err(violations);
        };
        Ok(Self {
            mutation,
            call,
            location,
            etag,
        })
    }
}

pub struct LinkCall {
    pub mutation: Mutation,
    pub call: CallId,
    pub incident: IncidentId,
    pub note: String,
    pub etag: Option<i64>,
}

impl TryFrom<pb::LinkCallToIncidentRequest> for LinkCall {
    type Error = Violations;

    fn try_from(message: pb::LinkCallToIncidentRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let call = violations.collect(CallId::parse_name("name", &message.name));
        let incident = violations.collect(IncidentId::parse_name("incident", &message.incident));
        note("note", &message.note, &mut violations);
        let etag = violations.collect(request::etag_from("etag", &message.etag));
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                call: call?,
                incident: incident?,
                note: message.note,
                etag: etag?,
            })
        })
    }
}

pub struct OpenIncident {
    pub mutation: Mutation,
    pub call: CallId,
    /// The type to open it with; the call's hint when `None`.
    pub incident_type: Option<String>,
    pub summary: String,
    pub etag: Option<i64>,
}

impl TryFrom<(pb::OpenIncidentFromCallRequest, &Catalogue)> for OpenIncident {
    type Error = Violations;

    fn try_from(
        (message, catalogue): (pb::OpenIncidentFromCallRequest, &Catalogue),
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let call = violations.collect(CallId::parse_name("name", &message.name));
        if !message.incident_type.is_empty() {
            if is_type_code(&message.incident_type) {
                type_exists(
                    catalogue,
                    "incident_type",
                    &message.incident_type,
                    &mut violations,
                );
            } else {
                violations.add(
                    "incident_type",
                    "must be an incident type code: A-Z, 0-9, '_' or '-', at most 64",
                );
            }
        }
        check_length(
            &mut violations,
            "summary",
            &message.summary,
            MAX_OPENING_SUMMARY_CHARS,
        );
        let etag = violations.collect(request::etag_from("etag", &message.etag));
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                call: call?,
                incident_type: (!message.incident_type.is_empty()).then_some(message.incident_type),
                summary: message.summary,
                etag: etag?,
            })
        })
    }
}

pub struct DisposeCall {
    pub mutation: Mutation,
    pub call: CallId,
    pub disposition: Disposition,
    pub note: String,
    pub etag: Option<i64>,
}

impl TryFrom<pb::DisposeCallRequest> for DisposeCall {
    type Error = Violations;

    fn try_from(message: pb::DisposeCallRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let call = violations.collect(CallId::parse_name("name", &message.name));
        let disposition = Disposition::from_wire(message.disposition);
        match disposition {
            None => violations.add("disposition", "required: why the call needs no incident"),
            Some(Disposition::Other) if message.note.trim().is_empty() => {
                violations.add("note", "required when the disposition is OTHER")
            }
            Some(_) => {}
        }
        note("note", &message.note, &mut violations);
        let etag = violations.collect(request::etag_from("etag", &message.etag));
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                call: call?,
                disposition: disposition?,
                note: message.note,
                etag: etag?,
            })
        })
    }
}

/// What FindDuplicateCandidates compares: a recorded call, or one not recorded yet.
pub enum DuplicateSubject {
    Call(CallId),
    Probe(Box<NewCall>),
}

pub struct FindDuplicates {
    pub subject: DuplicateSubject,
    /// How many candidates at most; the policy's number when `None`.
    pub max: Option<usize>,
}

impl TryFrom<(pb::FindDuplicateCandidatesRequest, &Catalogue)> for FindDuplicates {
    type Error = Violations;

    fn try_from(
        (message, catalogue): (pb::FindDuplicateCandidatesRequest, &Catalogue),
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let max = match message.max_candidates {
            0 => None,
            n if (1..=50).contains(&n) => Some(usize::try_from(n).unwrap_or(1)),
            _ => {
                violations.add("max_candidates", "must be from 1 to 50 (0 for the default)");
                None
            }
        };
        let subject = if let Some(probe) = message.probe {
            if !message.name.is_empty() {
                violations.add("name", "must be empty when probe is set (one or the other)");
            }
            violations
                .collect(probe_details(probe, catalogue))
                .map(|probe| DuplicateSubject::Probe(Box::new(probe)))
        } else {
            violations
                .collect(CallId::parse_name("name", &message.name))
                .map(DuplicateSubject::Call)
        };
        valid(violations, || {
            Some(Self {
                subject: subject?,
                max,
            })
        })
    }
}

/// A call not recorded yet, validated as CreateCall validates it (field paths under `probe`),
/// received now.
fn probe_details(probe: pb::DuplicateProbe, catalogue: &Catalogue) -> Result<NewCall, Violations> {
    let mut violations = Violations::new();
    known_type_hint(catalogue, &probe.incident_type_hint, &mut violations);
    let draft = CallDraft {
        // A probe has no channel; the search weighs it as unknown (candidates_of gets None), so
        // any valid one will do here.
        channel: Some(Channel::Voice911),
        received_at: None,
        answered_at: None,
        back_entered: false,
        callback_number: probe.callback_number,
        caller_name: String::new(),
        language: String::new(),
        location: wire::location_from(probe.location.as_ref()),
        account: String::new(),
        incident_type_hint: probe.incident_type_hint,
        source_device_id: String::new(),
    };
    let details = violations.collect(draft.validate(Utc::now()));
    valid(violations, || details).map_err(|violations| violations.within("probe"))
}

/// A call on the wire with its location history, oldest first.
pub fn call(call: &Call, history: &[LocationRecord]) -> pb::Call {
    let details = &call.details;
    pb::Call {
        name: call.id.name(),
        folio: call.folio.clone(),
        channel: details.channel.wire(),
        state: call.state.wire(),
        received_time: Some(timestamp(details.received_at)),
        answered_time: details.answered_at.map(timestamp),
        create_time: Some(timestamp(call.created_at)),
        update_time: Some(timestamp(call.updated_at)),
        call_taker: call.call_taker.clone(),
        back_entered: details.back_entered,
        callback_number: details
            .callback_number
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
        caller_name: details.caller_name.clone(),
        language: details.language.clone(),
        location: Some(wire::location(&details.location)),
        location_history: history
            .iter()
            .map(|record| pb::LocationUpdate {
                location: Some(wire::location(&record.location)),
                update_time: Some(timestamp(record.recorded_at)),
                updated_by: record.recorded_by.clone(),
            })
            .collect(),
        account: details.account.clone(),
        incident_type_hint: details.incident_type_hint.clone(),
        incident: call.incident.map(|id| id.name()).unwrap_or_default(),
        disposition: wire_or_unspecified(call.disposition),
        disposition_note: call.disposition_note.clone(),
        source_device_id: details.source_device_id.clone(),
        etag: request::etag(call.version),
        link_time: None,
        dispose_time: None,
        operation: call.operation.map(|id| id.name()).unwrap_or_default(),
    }
}

/// A duplicate candidate on the wire; `radius_m` is the search radius it was found within.
pub fn candidate(candidate: &Candidate, radius_m: f64) -> pb::DuplicateCandidate {
    let incident = &candidate.incident;
    pb::DuplicateCandidate {
        incident: incident.id.name(),
        incident_folio: incident.folio.clone(),
        incident_type: incident.incident_type.clone(),
        status: incident.status.wire(),
        distance_m: Some(candidate.distance_m),
        age: Some(wire::duration(candidate.age)),
        score: candidate.score,
        reasons: wire_list(&candidate.reasons),
        linked_call_count: incident.linked_call_count,
        explanation: candidate.explanation.clone(),
        search_radius_m: radius_m,
        likelihood: candidate.likelihood,
    }
}
