//! `CallIntakeService`: call takers and the gateways that feed them.

use dispatch_domain::call::{Call, Channel, IncidentFromCall, NewCall};
use dispatch_domain::duplicates::{self, CallProbe, DuplicatePolicy, NearbyIncident};
use dispatch_domain::ids::{CallId, IncidentId, OperationId};
use dispatch_domain::incident::Incident;
use dispatch_domain::operation::CrowdRule;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::call_intake_service_server::CallIntakeService;
use dispatch_store::Written;
use dispatch_store::calls::{LocationRecord, NearbyQuery};
use dispatch_store::intake::RecordedCall;

use super::request;
use super::rpc::{Caller, service};
use crate::auth::{audit_of_success, note_audit_written, note_resource};
use crate::edge::calls::{
    self, CreateCall, DisposeCall, DuplicateSubject, FindDuplicates, LinkCall, ListCalls,
    OpenIncident, UpdateCallLocation,
};
use crate::error::Error;

service! {
    /// Call takers' and gateways' calls, and the incidents opened from them.
    CallIntake: CallIntakeService {
        rpc create_call(CreateCallRequest, catalogue) -> CreateCallResponse;
        rpc get_call(GetCallRequest) -> GetCallResponse;
        rpc list_calls(ListCallsRequest) -> ListCallsResponse;
        rpc update_call_location(UpdateCallLocationRequest) -> UpdateCallLocationResponse;
        rpc link_call_to_incident(LinkCallToIncidentRequest) -> LinkCallToIncidentResponse;
        rpc open_incident_from_call(OpenIncidentFromCallRequest, catalogue)
            -> OpenIncidentFromCallResponse;
        rpc dispose_call(DisposeCallRequest) -> DisposeCallResponse;
        rpc find_duplicate_candidates(FindDuplicateCandidatesRequest, catalogue)
            -> FindDuplicateCandidatesResponse;
    }
}

impl CallIntake {
    async fn call_message(&self, call: &Call) -> Result<pb::Call, Error> {
        let history = self.state.store.call_location_history(call.id).await?;
        Ok(calls::call(call, &history))
    }

    async fn incident_message(&self, incident: &Incident) -> Result<pb::Incident, Error> {
        let detail = self.state.store.incident_detail(incident.id).await?;
        Ok(crate::edge::views::incident(&detail, true))
    }

    /// The planned operation in force when a call with `details` was received whose zones it
    /// came in inside, with the duplicate rule it follows there.
    async fn operation_of(
        &self,
        details: &NewCall,
    ) -> Result<Option<(OperationId, CrowdRule)>, Error> {
        let staging = self
            .state
            .store
            .active_operations(details.received_at)
            .await?;
        Ok(staging
            .operation_at(&details.location.point)
            .map(|operation| (operation.id(), operation.crowd_rule())))
    }

    /// What the duplicate search of a call with `details` looks for under `policy`.
    fn nearby_query(details: &NewCall, policy: &DuplicatePolicy) -> NearbyQuery {
        NearbyQuery {
            area: details.location.point.bounding_box(policy.max_radius_m),
            received_at: details.received_at,
            window: policy.window,
            callback_number: details
                .callback_number
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
            source_device_id: details.source_device_id.clone(),
            limit: 200,
        }
    }

    /// The open incidents a call with `details` may duplicate, most likely first, at or above
    /// the model's threshold; `linked` (the incident the call already belongs to) left out.
    /// `channel` is `None` for a probe, which has none. Inside a planned operation's zones
    /// its own rule (`crowd`) applies: a crowd calls about few emergencies from one place
    /// (domain `operation::CrowdRule`). `nearby`, when given, is the search already run
    /// under the centre's policy (with its batch, for a new call outside any operation).
    async fn candidates_of(
        &self,
        details: &NewCall,
        channel: Option<Channel>,
        linked: Option<IncidentId>,
        max: usize,
        crowd: Option<CrowdRule>,
        nearby: Option<Vec<NearbyIncident>>,
    ) -> Result<Vec<pb::DuplicateCandidate>, Error> {
        let model = &self.state.duplicate_model;
        let location = &details.location;
        let crowd_policy = crowd.map(|rule| rule.policy(&self.state.duplicate_policy));
        let policy = crowd_policy
            .as_ref()
            .unwrap_or(&self.state.duplicate_policy);
        let nearby = match nearby {
            Some(nearby) if crowd.is_none() => nearby,
            _ => {
                let query = Self::nearby_query(details, policy);
                self.state.store.nearby_open_incidents(&query).await?
            }
        };
        let nearby: Vec<_> = nearby
            .into_iter()
            .filter(|incident| Some(incident.id) != linked)
            .collect();
        let probe = CallProbe {
            point: location.point,
            uncertainty_m: location.uncertainty_m,
            received_at: details.received_at,
            incident_type: details.incident_type_hint.clone(),
            channel,
        };
        // Most calls have no open incident in reach: the rate query runs only when one does.
        if !nearby
            .iter()
            .any(|incident| duplicates::pair_features(policy, &probe, incident, 0.0).is_some())
        {
            return Ok(Vec::new());
        }
        let local_calls_per_day = match crowd {
            Some(rule) => rule.local_calls_per_day,
            None => {
                self.state
                    .store
                    .local_calls_per_day(
                        location.point,
                        details.received_at,
                        model.density.radius_m,
                        model.density.days,
                    )
                    .await?
            }
        };
        let mut ranked = duplicates::rank(policy, model, &probe, nearby, local_calls_per_day);
        ranked.retain(|candidate| crowd.is_none_or(|rule| rule.keeps(candidate)));
        ranked.truncate(max);
        Ok(ranked
            .iter()
            .map(|candidate| {
                let radius =
                    policy.radius_m(location.uncertainty_m, candidate.incident.uncertainty_m);
                calls::candidate(candidate, radius)
            })
            .collect())
    }
}

impl CallIntake {
    async fn create_call(
        &self,
        caller: Caller,
        command: CreateCall,
    ) -> Result<pb::CreateCallResponse, Error> {
        let key = caller.key(command.mutation);
        // Written with the call, in its transaction: no second commit for the audit trail.
        let audit = audit_of_success();
        // Searched with the call's batch, unless the call turns out to be inside an operation.
        let search = Self::nearby_query(&command.call, &self.state.duplicate_policy);
        let RecordedCall {
            call: Written {
                value: created,
                replayed,
            },
            operation,
            audited,
            nearby,
        } = self
            .state
            .store
            .create_call(
                &key,
                caller.actor(),
                &command.call,
                audit.as_ref(),
                Some(&search),
            )
            .await?;
        if audited {
            note_audit_written();
        }
        note_resource(created.id.name());
        let crowd = if replayed {
            self.operation_of(&created.details).await?
        } else {
            operation
        };
        let duplicate_candidates = self
            .candidates_of(
                &created.details,
                Some(created.details.channel),
                created.incident,
                self.state.duplicate_policy.max_candidates,
                crowd.map(|(_, rule)| rule),
                nearby,
            )
            .await?;
        let message = if replayed {
            self.call_message(&created).await?
        } else {
            // A new call's location history is the one location it was created with.
            let first = LocationRecord {
                location: created.details.location.clone(),
                recorded_by: created.call_taker.clone(),
                recorded_at: created.created_at,
            };
            calls::call(&created, &[first])
        };
        Ok(pb::CreateCallResponse {
            call: Some(message),
            duplicate_candidates,
            replayed,
        })
    }

    async fn get_call(
        &self,
        _: Caller,
        request: pb::GetCallRequest,
    ) -> Result<pb::GetCallResponse, Error> {
        let id = CallId::parse_name("name", &request.name)?;
        let found = self.state.store.get_call(id).await?;
        Ok(pb::GetCallResponse {
            call: Some(self.call_message(&found).await?),
        })
    }

    async fn list_calls(
        &self,
        _: Caller,
        query: ListCalls,
    ) -> Result<pb::ListCallsResponse, Error> {
        let store = &self.state.store;
        let (found, next) = store.list_calls(&query.filter, &query.page).await?;
        let ids: Vec<CallId> = found.iter().map(|call| call.id).collect();
        let mut histories = store.call_location_histories(&ids).await?;
        Ok(pb::ListCallsResponse {
            calls: found
                .iter()
                .map(|call| calls::call(call, &histories.remove(&call.id).unwrap_or_default()))
                .collect(),
            next_page_token: request::time_token(next),
        })
    }

    async fn update_call_location(
        &self,
        caller: Caller,
        command: UpdateCallLocation,
    ) -> Result<pb::UpdateCallLocationResponse, Error> {
        let UpdateCallLocation {
            mutation,
            call: id,
            location,
            etag,
        } = command;
        note_resource(id.name());
        let key = caller.key(mutation);
        let store = &self.state.store;
        let moved = store.update_call_location(&key, caller.actor(), id, &location, etag);
        Ok(pb::UpdateCallLocationResponse {
            call: Some(self.call_message(&moved.await?.value).await?),
        })
    }

    async fn link_call_to_incident(
        &self,
        caller: Caller,
        command: LinkCall,
    ) -> Result<pb::LinkCallToIncidentResponse, Error> {
        let LinkCall {
            mutation,
            call: id,
            incident,
            note,
            etag,
        } = command;
        note_resource(id.name());
        let key = caller.key(mutation);
        let store = &self.state.store;
        let (linked, incident) = store
            .link_call(&key, caller.actor(), id, incident, &note, etag)
            .await?
            .value;
        Ok(pb::LinkCallToIncidentResponse {
            call: Some(self.call_message(&linked).await?),
            incident: Some(self.incident_message(&incident).await?),
        })
    }

    async fn open_incident_from_call(
        &self,
        caller: Caller,
        command: OpenIncident,
    ) -> Result<pb::OpenIncidentFromCallResponse, Error> {
        note_resource(command.call.name());
        let opening = IncidentFromCall {
            call: command.call,
            incident_type: command.incident_type,
            summary: command.summary,
            expected_version: command.etag,
        };
        let key = caller.key(command.mutation);
        let (opened_from, incident) = self
            .state
            .store
            .open_incident_from_call(&key, caller.actor(), &self.state.catalogue, &opening)
            .await?
            .value;
        Ok(pb::OpenIncidentFromCallResponse {
            call: Some(self.call_message(&opened_from).await?),
            incident: Some(self.incident_message(&incident).await?),
        })
    }

    async fn dispose_call(
        &self,
        caller: Caller,
        command: DisposeCall,
    ) -> Result<pb::DisposeCallResponse, Error> {
        let DisposeCall {
            mutation,
            call: id,
            disposition,
            note,
            etag,
        } = command;
        note_resource(id.name());
        let key = caller.key(mutation);
        let store = &self.state.store;
        let disposed = store.dispose_call(&key, caller.actor(), id, disposition, &note, etag);
        Ok(pb::DisposeCallResponse {
            call: Some(self.call_message(&disposed.await?.value).await?),
        })
    }

    async fn find_duplicate_candidates(
        &self,
        _: Caller,
        query: FindDuplicates,
    ) -> Result<pb::FindDuplicateCandidatesResponse, Error> {
        let max = query
            .max
            .unwrap_or(self.state.duplicate_policy.max_candidates);
        let duplicate_candidates = match query.subject {
            DuplicateSubject::Probe(details) => {
                let crowd = self.operation_of(&details).await?.map(|(_, rule)| rule);
                self.candidates_of(&details, None, None, max, crowd, None)
                    .await?
            }
            DuplicateSubject::Call(id) => {
                let call = self.state.store.get_call(id).await?;
                let crowd = self.operation_of(&call.details).await?;
                self.candidates_of(
                    &call.details,
                    Some(call.details.channel),
                    call.incident,
                    max,
                    crowd.map(|(_, rule)| rule),
                    None,
                )
                .await?
            }
        };
        Ok(pb::FindDuplicateCandidatesResponse {
            duplicate_candidates,
        })
    }
}
