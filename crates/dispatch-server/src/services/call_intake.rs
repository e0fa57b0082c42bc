//! `CallIntakeService`: call takers and the gateways that feed them.

use std::sync::Arc;

use chrono::Utc;
use tonic::{Request, Response, Status};

use dispatch_domain::Violations;
use dispatch_domain::call::{
    Call, CallDraft, Disposition, MAX_NOTE_CHARS, NewCall, check_length, is_type_code,
};
use dispatch_domain::duplicates::{self, CallProbe, Candidate, Reason};
use dispatch_domain::ids::{CallId, IncidentId};
use dispatch_domain::incident::Incident;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::call_intake_service_server::CallIntakeService;
use dispatch_store::Written;
use dispatch_store::calls::{CallFilter, LocationRecord, NearbyQuery};

use crate::AppState;
use crate::auth::Principal;
use crate::convert::{self, timestamp};
use crate::error::Error;

use super::request::idempotency;

#[derive(Debug, Clone)]
pub struct CallIntake {
    state: Arc<AppState>,
}

impl CallIntake {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

/// Collects violations from several independent validations of one request.
fn both<A, B>(a: Result<A, Violations>, b: Result<B, Violations>) -> Result<(A, B), Violations> {
    let mut violations = Violations::new();
    let a = violations.collect(a);
    let b = violations.collect(b);
    match (a, b) {
        (Some(a), Some(b)) if violations.is_empty() => Ok((a, b)),
        _ => Err(violations),
    }
}

fn note(field: &str, text: &str) -> Result<(), Violations> {
    let mut violations = Violations::new();
    check_length(&mut violations, field, text, MAX_NOTE_CHARS);
    violations.into_result(|| ())
}

fn call_message(call: &Call, history: &[LocationRecord]) -> pb::Call {
    let details = &call.details;
    pb::Call {
        name: call.id.name(),
        folio: call.folio.clone(),
        channel: convert::channel(details.channel).into(),
        state: convert::call_state(call.state).into(),
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
        location: Some(convert::location(&details.location)),
        location_history: history
            .iter()
            .map(|record| pb::LocationUpdate {
                location: Some(convert::location(&record.location)),
                update_time: Some(timestamp(record.recorded_at)),
                updated_by: record.recorded_by.clone(),
            })
            .collect(),
        account: details.account.clone(),
        incident_type_hint: details.incident_type_hint.clone(),
        incident: call.incident.map(|id| id.name()).unwrap_or_default(),
        disposition: call
            .disposition
            .map_or(pb::CallDisposition::Unspecified, convert::disposition)
            .into(),
        disposition_note: call.disposition_note.clone(),
        source_device_id: details.source_device_id.clone(),
        etag: convert::etag(call.version),
        link_time: None,
        dispose_time: None,
    }
}

fn candidate_message(candidate: &Candidate, radius_m: f64) -> pb::DuplicateCandidate {
    let incident = &candidate.incident;
    pb::DuplicateCandidate {
        incident: incident.id.name(),
        incident_folio: incident.folio.clone(),
        incident_type: incident.incident_type.clone(),
        status: convert::incident_status(incident.status).into(),
        distance_m: Some(candidate.distance_m),
        age: Some(convert::duration(candidate.age)),
        score: candidate.score,
        reasons: candidate
            .reasons
            .iter()
            .map(|reason| {
                i32::from(match reason {
                    Reason::WithinRadius => pb::DuplicateReason::WithinRadius,
                    Reason::WithinTimeWindow => pb::DuplicateReason::WithinTimeWindow,
                    Reason::CompatibleType => pb::DuplicateReason::CompatibleType,
                    Reason::SameType => pb::DuplicateReason::SameType,
                    Reason::SameCallbackNumber => pb::DuplicateReason::SameCallbackNumber,
                    Reason::SameSourceDevice => pb::DuplicateReason::SameSourceDevice,
                })
            })
            .collect(),
        linked_call_count: incident.linked_call_count,
        explanation: candidate.explanation.clone(),
        search_radius_m: radius_m,
    }
}

impl CallIntake {
    /// An incident type code must name a type of the catalogue the server runs with.
    fn type_exists(&self, field: &str, code: &str, violations: &mut Violations) {
        if self.state.catalogue.get(code).is_none() {
            violations.add(
                field,
                format!("{code:?} is not in the incident type catalogue"),
            );
        }
    }

    async fn call_message(&self, call: &Call) -> Result<pb::Call, Error> {
        let history = self.state.store.call_location_history(call.id).await?;
        Ok(call_message(call, &history))
    }

    async fn incident_message(&self, incident: &Incident) -> Result<pb::Incident, Error> {
        let detail = self.state.store.incident_detail(incident.id).await?;
        Ok(super::views::incident(&detail, true))
    }

    /// Open incidents this call may be reporting again, best first; never its own incident.
    /// A call not recorded yet, validated as CreateCall validates it (field paths under
    /// `probe`), received now.
    fn probe_details(&self, probe: pb::DuplicateProbe) -> Result<NewCall, Violations> {
        let mut violations = Violations::new();
        if is_type_code(&probe.incident_type_hint) {
            self.type_exists(
                "incident_type_hint",
                &probe.incident_type_hint,
                &mut violations,
            );
        }
        let draft = CallDraft {
            // The channel does not change the candidates; any valid one will do.
            channel: Some(dispatch_domain::call::Channel::Voice911),
            received_at: None,
            answered_at: None,
            back_entered: false,
            callback_number: probe.callback_number,
            caller_name: String::new(),
            language: String::new(),
            location: convert::location_from(probe.location.as_ref()),
            account: String::new(),
            incident_type_hint: probe.incident_type_hint,
            source_device_id: String::new(),
        };
        let details = violations.collect(draft.validate(Utc::now()));
        match details.filter(|_| violations.is_empty()) {
            Some(details) => Ok(details),
            None => Err(violations.within("probe")),
        }
    }

    async fn candidates(
        &self,
        call: &Call,
        max: usize,
    ) -> Result<Vec<pb::DuplicateCandidate>, Error> {
        self.candidates_of(&call.details, call.incident, max).await
    }

    /// The open incidents a call with `details` may duplicate, best first; `linked` (the
    /// incident the call already belongs to) left out.
    async fn candidates_of(
        &self,
        details: &NewCall,
        linked: Option<IncidentId>,
        max: usize,
    ) -> Result<Vec<pb::DuplicateCandidate>, Error> {
        let policy = &self.state.duplicate_policy;
        let location = &details.location;
        let query = NearbyQuery {
            area: location.point.bounding_box(policy.max_radius_m),
            received_at: details.received_at,
            window: policy.window,
            callback_number: details
                .callback_number
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
            source_device_id: details.source_device_id.clone(),
            limit: 200,
        };
        let nearby = self
            .state
            .store
            .nearby_open_incidents(&query)
            .await?
            .into_iter()
            .filter(|incident| Some(incident.id) != linked)
            .collect();
        let probe = CallProbe {
            point: location.point,
            uncertainty_m: location.uncertainty_m,
            received_at: details.received_at,
            incident_type: details.incident_type_hint.clone(),
        };
        let mut ranked = duplicates::rank(policy, &probe, nearby);
        ranked.truncate(max);
        Ok(ranked
            .iter()
            .map(|candidate| {
                let radius =
                    policy.radius_m(location.uncertainty_m, candidate.incident.uncertainty_m);
                candidate_message(candidate, radius)
            })
            .collect())
    }
}

#[tonic::async_trait]
impl CallIntakeService for CallIntake {
    async fn create_call(
        &self,
        request: Request<pb::CreateCallRequest>,
    ) -> Result<Response<pb::CreateCallResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let key = idempotency(
            "CreateCall",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        );
        let times = both(
            convert::datetime("received_time", message.received_time.as_ref()),
            convert::datetime("answered_time", message.answered_time.as_ref()),
        );
        let mut violations = Violations::new();
        let key = violations.collect(key);
        let times = violations.collect(times);
        // The draft checks the code's form; whether the centre knows the type is the catalogue's.
        if is_type_code(&message.incident_type_hint) {
            self.type_exists(
                "incident_type_hint",
                &message.incident_type_hint,
                &mut violations,
            );
        }
        let draft = CallDraft {
            channel: convert::channel_from(message.channel),
            received_at: times.and_then(|t| t.0),
            answered_at: times.and_then(|t| t.1),
            back_entered: message.back_entered,
            callback_number: message.callback_number,
            caller_name: message.caller_name,
            language: message.language,
            location: convert::location_from(message.location.as_ref()),
            account: message.account,
            incident_type_hint: message.incident_type_hint,
            source_device_id: message.source_device_id,
        };
        let call = violations.collect(draft.validate(Utc::now()));
        let (Some(key), Some(call)) = (key, call) else {
            return Err(crate::error::invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(crate::error::invalid(&violations));
        }
        let Written {
            value: call,
            replayed,
        } = self
            .state
            .store
            .create_call(&key, &principal.name, &call)
            .await
            .map_err(Error::from)?;
        crate::auth::note_resource(call.id.name());
        let duplicate_candidates = self
            .candidates(&call, self.state.duplicate_policy.max_candidates)
            .await?;
        let call = if replayed {
            self.call_message(&call).await?
        } else {
            // A new call's location history is the one location it was created with.
            let first = LocationRecord {
                location: call.details.location.clone(),
                recorded_by: call.call_taker.clone(),
                recorded_at: call.created_at,
            };
            call_message(&call, &[first])
        };
        Ok(Response::new(pb::CreateCallResponse {
            call: Some(call),
            duplicate_candidates,
            replayed,
        }))
    }

    async fn get_call(
        &self,
        request: Request<pb::GetCallRequest>,
    ) -> Result<Response<pb::GetCallResponse>, Status> {
        let message = request.into_inner();
        let id = CallId::parse_name("name", &message.name).map_err(Error::from)?;
        let call = self.state.store.get_call(id).await.map_err(Error::from)?;
        Ok(Response::new(pb::GetCallResponse {
            call: Some(self.call_message(&call).await?),
        }))
    }

    async fn list_calls(
        &self,
        request: Request<pb::ListCallsRequest>,
    ) -> Result<Response<pb::ListCallsResponse>, Status> {
        let message = request.into_inner();
        let mut violations = Violations::new();
        let page = violations.collect(convert::time_page(message.page_size, &message.page_token));
        let (from, until) = match &message.received {
            Some(range) => violations
                .collect(both(
                    convert::datetime("received.start", range.start.as_ref()),
                    convert::datetime("received.end", range.end.as_ref()),
                ))
                .unwrap_or((None, None)),
            None => (None, None),
        };
        let channels = violations.collect(convert::enum_filter(
            "channels",
            &message.channels,
            convert::channel_from,
        ));
        let states = violations.collect(convert::enum_filter(
            "states",
            &message.states,
            convert::call_state_from,
        ));
        let dispositions = violations.collect(convert::enum_filter(
            "dispositions",
            &message.dispositions,
            convert::disposition_from,
        ));
        let incident = if message.incident.is_empty() {
            Some(None)
        } else {
            violations.collect(IncidentId::parse_name("incident", &message.incident).map(Some))
        };
        let (Some(page), Some(channels), Some(states), Some(dispositions), Some(incident)) =
            (page, channels, states, dispositions, incident)
        else {
            return Err(crate::error::invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(crate::error::invalid(&violations));
        }
        let filter = CallFilter {
            received_from: from,
            received_until: until,
            channels,
            states,
            dispositions,
            incident,
        };
        let (calls, next) = self
            .state
            .store
            .list_calls(&filter, &page)
            .await
            .map_err(Error::from)?;
        let ids: Vec<CallId> = calls.iter().map(|call| call.id).collect();
        let mut histories = self
            .state
            .store
            .call_location_histories(&ids)
            .await
            .map_err(Error::from)?;
        let messages = calls
            .iter()
            .map(|call| call_message(call, &histories.remove(&call.id).unwrap_or_default()))
            .collect();
        Ok(Response::new(pb::ListCallsResponse {
            calls: messages,
            next_page_token: convert::time_token(next),
        }))
    }

    async fn update_call_location(
        &self,
        request: Request<pb::UpdateCallLocationRequest>,
    ) -> Result<Response<pb::UpdateCallLocationResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "UpdateCallLocation",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let id = violations.collect(CallId::parse_name("name", &message.name));
        let location = violations.collect(
            convert::location_from(message.location.as_ref()).map_err(|v| v.within("location")),
        );
        let etag = violations.collect(convert::etag_from("etag", &message.etag));
        let (Some(key), Some(id), Some(location), Some(etag)) = (key, id, location, etag) else {
            return Err(crate::error::invalid(&violations));
        };
        crate::auth::note_resource(id.name());
        let call = self
            .state
            .store
            .update_call_location(&key, &principal.name, id, &location, etag)
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::UpdateCallLocationResponse {
            call: Some(self.call_message(&call).await?),
        }))
    }

    async fn link_call_to_incident(
        &self,
        request: Request<pb::LinkCallToIncidentRequest>,
    ) -> Result<Response<pb::LinkCallToIncidentResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "LinkCallToIncident",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let id = violations.collect(CallId::parse_name("name", &message.name));
        let incident = violations.collect(IncidentId::parse_name("incident", &message.incident));
        violations.collect(note("note", &message.note));
        let etag = violations.collect(convert::etag_from("etag", &message.etag));
        let (Some(key), Some(id), Some(incident), Some(etag)) = (key, id, incident, etag) else {
            return Err(crate::error::invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(crate::error::invalid(&violations));
        }
        crate::auth::note_resource(id.name());
        let (call, incident) = self
            .state
            .store
            .link_call(&key, &principal.name, id, incident, &message.note, etag)
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::LinkCallToIncidentResponse {
            call: Some(self.call_message(&call).await?),
            incident: Some(self.incident_message(&incident).await?),
        }))
    }

    async fn open_incident_from_call(
        &self,
        request: Request<pb::OpenIncidentFromCallRequest>,
    ) -> Result<Response<pb::OpenIncidentFromCallResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "OpenIncidentFromCall",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let id = violations.collect(CallId::parse_name("name", &message.name));
        if !message.incident_type.is_empty() {
            if is_type_code(&message.incident_type) {
                self.type_exists("incident_type", &message.incident_type, &mut violations);
            } else {
                violations.add(
                    "incident_type",
                    "must be an incident type code: A-Z, 0-9, '_' or '-', at most 64",
                );
            }
        }
        check_length(&mut violations, "summary", &message.summary, 500);
        let etag = violations.collect(convert::etag_from("etag", &message.etag));
        let (Some(key), Some(id), Some(etag)) = (key, id, etag) else {
            return Err(crate::error::invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(crate::error::invalid(&violations));
        }
        let incident_type =
            (!message.incident_type.is_empty()).then_some(message.incident_type.as_str());
        crate::auth::note_resource(id.name());
        let (call, incident) = self
            .state
            .store
            .open_incident_from_call(
                &key,
                &principal.name,
                id,
                incident_type,
                &|code| {
                    self.state
                        .catalogue
                        .get(code)
                        .map(|t| i16::from(t.default_priority))
                },
                &message.summary,
                etag,
            )
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::OpenIncidentFromCallResponse {
            call: Some(self.call_message(&call).await?),
            incident: Some(self.incident_message(&incident).await?),
        }))
    }

    async fn dispose_call(
        &self,
        request: Request<pb::DisposeCallRequest>,
    ) -> Result<Response<pb::DisposeCallResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "DisposeCall",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let id = violations.collect(CallId::parse_name("name", &message.name));
        let disposition = convert::disposition_from(message.disposition);
        match disposition {
            None => violations.add("disposition", "required: why the call needs no incident"),
            Some(Disposition::Other) if message.note.trim().is_empty() => {
                violations.add("note", "required when the disposition is OTHER")
            }
            Some(_) => {}
        }
        violations.collect(note("note", &message.note));
        let etag = violations.collect(convert::etag_from("etag", &message.etag));
        let (Some(key), Some(id), Some(disposition), Some(etag)) = (key, id, disposition, etag)
        else {
            return Err(crate::error::invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(crate::error::invalid(&violations));
        }
        crate::auth::note_resource(id.name());
        let call = self
            .state
            .store
            .dispose_call(&key, &principal.name, id, disposition, &message.note, etag)
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::DisposeCallResponse {
            call: Some(self.call_message(&call).await?),
        }))
    }

    async fn find_duplicate_candidates(
        &self,
        request: Request<pb::FindDuplicateCandidatesRequest>,
    ) -> Result<Response<pb::FindDuplicateCandidatesResponse>, Status> {
        let message = request.into_inner();
        let mut violations = Violations::new();
        let max = match message.max_candidates {
            0 => self.state.duplicate_policy.max_candidates,
            n if (1..=50).contains(&n) => usize::try_from(n).unwrap_or(1),
            _ => {
                violations.add("max_candidates", "must be from 1 to 50 (0 for the default)");
                0
            }
        };
        if let Some(probe) = message.probe {
            if !message.name.is_empty() {
                violations.add("name", "must be empty when probe is set (one or the other)");
            }
            let details = violations.collect(self.probe_details(probe));
            let Some(details) = details.filter(|_| violations.is_empty()) else {
                return Err(crate::error::invalid(&violations));
            };
            return Ok(Response::new(pb::FindDuplicateCandidatesResponse {
                duplicate_candidates: self.candidates_of(&details, None, max).await?,
            }));
        }
        let id = violations.collect(CallId::parse_name("name", &message.name));
        let Some(id) = id.filter(|_| violations.is_empty()) else {
            return Err(crate::error::invalid(&violations));
        };
        let call = self.state.store.get_call(id).await.map_err(Error::from)?;
        Ok(Response::new(pb::FindDuplicateCandidatesResponse {
            duplicate_candidates: self.candidates(&call, max).await?,
        }))
    }
}
