//! `CallIntakeService`: call takers and the gateways that feed them.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use dispatch_domain::call::{Call, IncidentFromCall, NewCall};
use dispatch_domain::duplicates::{self, CallProbe};
use dispatch_domain::ids::{CallId, IncidentId};
use dispatch_domain::incident::Incident;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::call_intake_service_server::CallIntakeService;
use dispatch_store::Written;
use dispatch_store::calls::{LocationRecord, NearbyQuery};

use crate::AppState;
use crate::auth::{Principal, note_resource};
use crate::edge::calls::{
    self, CreateCall, DisposeCall, DuplicateSubject, FindDuplicates, LinkCall, ListCalls,
    OpenIncident, UpdateCallLocation,
};
use crate::error::Error;

#[derive(Debug, Clone)]
pub struct CallIntake {
    state: Arc<AppState>,
}

impl CallIntake {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }

    async fn call_message(&self, call: &Call) -> Result<pb::Call, Error> {
        let history = self.state.store.call_location_history(call.id).await?;
        Ok(calls::call(call, &history))
    }

    async fn incident_message(&self, incident: &Incident) -> Result<pb::Incident, Error> {
        let detail = self.state.store.incident_detail(incident.id).await?;
        Ok(crate::edge::views::incident(&detail, true))
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
                calls::candidate(candidate, radius)
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
        let command = CreateCall::try_from((request.into_inner(), &self.state.catalogue))
            .map_err(Error::from)?;
        let key = command.mutation.key("CreateCall", &principal);
        let Written {
            value: call,
            replayed,
        } = self
            .state
            .store
            .create_call(&key, &principal.name, &command.call)
            .await
            .map_err(Error::from)?;
        note_resource(call.id.name());
        let duplicate_candidates = self
            .candidates_of(
                &call.details,
                call.incident,
                self.state.duplicate_policy.max_candidates,
            )
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
            calls::call(&call, &[first])
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
        let id = CallId::parse_name("name", &request.get_ref().name).map_err(Error::from)?;
        let call = self.state.store.get_call(id).await.map_err(Error::from)?;
        Ok(Response::new(pb::GetCallResponse {
            call: Some(self.call_message(&call).await?),
        }))
    }

    async fn list_calls(
        &self,
        request: Request<pb::ListCallsRequest>,
    ) -> Result<Response<pb::ListCallsResponse>, Status> {
        let query = ListCalls::try_from(request.into_inner()).map_err(Error::from)?;
        let (found, next) = self
            .state
            .store
            .list_calls(&query.filter, &query.page)
            .await
            .map_err(Error::from)?;
        let ids: Vec<CallId> = found.iter().map(|call| call.id).collect();
        let mut histories = self
            .state
            .store
            .call_location_histories(&ids)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListCallsResponse {
            calls: found
                .iter()
                .map(|call| calls::call(call, &histories.remove(&call.id).unwrap_or_default()))
                .collect(),
            next_page_token: super::request::time_token(next),
        }))
    }

    async fn update_call_location(
        &self,
        request: Request<pb::UpdateCallLocationRequest>,
    ) -> Result<Response<pb::UpdateCallLocationResponse>, Status> {
        let principal = Principal::of(&request);
        let command = UpdateCallLocation::try_from(request.into_inner()).map_err(Error::from)?;
        note_resource(command.call.name());
        let call = self
            .state
            .store
            .update_call_location(
                &command.mutation.key("UpdateCallLocation", &principal),
                &principal.name,
                command.call,
                &command.location,
                command.etag,
            )
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
        let command = LinkCall::try_from(request.into_inner()).map_err(Error::from)?;
        note_resource(command.call.name());
        let (call, incident) = self
            .state
            .store
            .link_call(
                &command.mutation.key("LinkCallToIncident", &principal),
                &principal.name,
                command.call,
                command.incident,
                &command.note,
                command.etag,
            )
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
        let command = OpenIncident::try_from((request.into_inner(), &self.state.catalogue))
            .map_err(Error::from)?;
        note_resource(command.call.name());
        let (call, incident) = self
            .state
            .store
            .open_incident_from_call(
                &command.mutation.key("OpenIncidentFromCall", &principal),
                &principal.name,
                &self.state.catalogue,
                &IncidentFromCall {
                    call: command.call,
                    incident_type: command.incident_type,
                    summary: command.summary,
                    expected_version: command.etag,
                },
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
        let command = DisposeCall::try_from(request.into_inner()).map_err(Error::from)?;
        note_resource(command.call.name());
        let call = self
            .state
            .store
            .dispose_call(
                &command.mutation.key("DisposeCall", &principal),
                &principal.name,
                command.call,
                command.disposition,
                &command.note,
                command.etag,
            )
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
        let query = FindDuplicates::try_from((request.into_inner(), &self.state.catalogue))
            .map_err(Error::from)?;
        let max = query
            .max
            .unwrap_or(self.state.duplicate_policy.max_candidates);
        let duplicate_candidates = match query.subject {
            DuplicateSubject::Probe(details) => self.candidates_of(&details, None, max).await?,
            DuplicateSubject::Call(id) => {
                let call = self.state.store.get_call(id).await.map_err(Error::from)?;
                self.candidates_of(&call.details, call.incident, max)
                    .await?
            }
        };
        Ok(Response::new(pb::FindDuplicateCandidatesResponse {
            duplicate_candidates,
        }))
    }
}
