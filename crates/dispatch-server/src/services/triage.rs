//! `IncidentTriageService`: the type catalogue, triage, and the incident's life until closed.

mod watch;

use std::sync::Arc;

use tonic::{Request, Response, Status};

use dispatch_domain::ids::IncidentId;
use dispatch_domain::incident::{Merger, Triage};
use dispatch_domain::triage;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::incident_triage_service_server::IncidentTriageService;
use dispatch_store::incidents::IncidentDetail;

use super::request;
use crate::AppState;
use crate::auth::{Principal, note_resource};
use crate::edge::incidents::{
    self, AddIncidentNote, CancelIncident, ChangeIncidentStatus, CloseIncident, ListIncidentTypes,
    ListIncidents, MergeIncidents, TriageIncident, UpdateIncident, WatchIncidents,
};
use crate::edge::views;
use crate::error::Error;
use crate::feed::WatchStream;

#[derive(Debug, Clone)]
pub struct IncidentTriage {
    state: Arc<AppState>,
}

impl IncidentTriage {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

fn full(detail: &IncidentDetail) -> Option<pb::Incident> {
    Some(views::incident(detail, true))
}

impl IncidentTriage {
    /// A field unit sees only the incident it is assigned to; any other reads as missing.
    async fn scope_field_unit(&self, principal: &Principal, id: IncidentId) -> Result<(), Status> {
        if principal.role != dispatch_domain::auth::Role::FieldUnit {
            return Ok(());
        }
        let current = match principal.unit {
            Some(unit) => {
                self.state
                    .store
                    .get_unit(unit)
                    .await
                    .map_err(Error::from)?
                    .current_incident
            }
            None => None,
        };
        if current == Some(id) {
            Ok(())
        } else {
            Err(Status::not_found(format!("{id} not found")))
        }
    }
}

#[tonic::async_trait]
impl IncidentTriageService for IncidentTriage {
    type WatchIncidentsStream = WatchStream<pb::WatchIncidentsResponse>;

    async fn list_incident_types(
        &self,
        request: Request<pb::ListIncidentTypesRequest>,
    ) -> Result<Response<pb::ListIncidentTypesResponse>, Status> {
        let query = ListIncidentTypes::try_from(request.into_inner()).map_err(Error::from)?;
        let page = &query.page;
        let mut matching: Vec<&triage::IncidentType> = self
            .state
            .catalogue
            .types()
            .filter(|t| query.categories.is_empty() || query.categories.contains(&t.category))
            .filter(|t| {
                query.disciplines.is_empty()
                    || t.disciplines.iter().any(|d| query.disciplines.contains(d))
            })
            .filter(|t| {
                page.after
                    .as_ref()
                    .is_none_or(|after| t.code.as_str() > after.as_str())
            })
            .collect();
        matching.sort_by(|a, b| a.code.cmp(&b.code));
        let size = usize::try_from(page.size).unwrap_or(usize::MAX);
        let next = (matching.len() > size).then(|| matching[size - 1].code.clone());
        matching.truncate(size);
        Ok(Response::new(pb::ListIncidentTypesResponse {
            incident_types: matching.into_iter().map(incidents::incident_type).collect(),
            next_page_token: request::code_token(next),
        }))
    }

    async fn get_incident_type(
        &self,
        request: Request<pb::GetIncidentTypeRequest>,
    ) -> Result<Response<pb::GetIncidentTypeResponse>, Status> {
        let name = &request.get_ref().name;
        let code = incidents::incident_type_code(name).map_err(Error::from)?;
        let incident_type = self
            .state
            .catalogue
            .get(code)
            .ok_or_else(|| crate::error::not_found(name))?;
        Ok(Response::new(pb::GetIncidentTypeResponse {
            incident_type: Some(incidents::incident_type(incident_type)),
        }))
    }

    async fn triage_incident(
        &self,
        request: Request<pb::TriageIncidentRequest>,
    ) -> Result<Response<pb::TriageIncidentResponse>, Status> {
        let principal = Principal::of(&request);
        let command = TriageIncident::try_from((request.into_inner(), &self.state.catalogue))
            .map_err(Error::from)?;
        note_resource(command.incident.name());
        let detail = self
            .state
            .store
            .triage_incident(
                &command.mutation.key("TriageIncident", &principal),
                &principal.name,
                &self.state.catalogue,
                &Triage {
                    incident: command.incident,
                    incident_type: command.incident_type,
                    answers: command.answers,
                    expected_version: command.etag,
                },
            )
            .await
            .map_err(Error::from)?
            .value;
        let record = detail.triage_history.last().map(views::triage_record);
        Ok(Response::new(pb::TriageIncidentResponse {
            incident: full(&detail),
            triage_record: record,
        }))
    }

    async fn get_incident(
        &self,
        request: Request<pb::GetIncidentRequest>,
    ) -> Result<Response<pb::GetIncidentResponse>, Status> {
        let message = request.into_inner();
        let id = IncidentId::parse_name("name", &message.name).map_err(Error::from)?;
        let detail = self
            .state
            .store
            .incident_detail(id)
            .await
            .map_err(Error::from)?;
        let basic = message.view == i32::from(pb::IncidentView::Basic);
        Ok(Response::new(pb::GetIncidentResponse {
            incident: Some(views::incident(&detail, !basic)),
        }))
    }

    async fn list_incidents(
        &self,
        request: Request<pb::ListIncidentsRequest>,
    ) -> Result<Response<pb::ListIncidentsResponse>, Status> {
        let query = ListIncidents::try_from((request.into_inner(), &self.state.catalogue))
            .map_err(Error::from)?;
        let (found, next) = self
            .state
            .store
            .list_incidents(&query.filter, &query.page)
            .await
            .map_err(Error::from)?;
        // The BASIC view still says who is on each incident (one query for the page).
        let mut assignments = if query.full_view {
            std::collections::HashMap::new()
        } else {
            let ids: Vec<_> = found.iter().map(|i| i.id).collect();
            self.state
                .store
                .assignments_of_incidents(&ids)
                .await
                .map_err(Error::from)?
        };
        let mut messages = Vec::with_capacity(found.len());
        for incident in found {
            let detail = if query.full_view {
                self.state
                    .store
                    .incident_detail(incident.id)
                    .await
                    .map_err(Error::from)?
            } else {
                IncidentDetail {
                    assignments: assignments.remove(&incident.id).unwrap_or_default(),
                    incident,
                    calls: Vec::new(),
                    notes: Vec::new(),
                    triage_history: Vec::new(),
                    timeline: Vec::new(),
                }
            };
            messages.push(views::incident(&detail, query.full_view));
        }
        Ok(Response::new(pb::ListIncidentsResponse {
            incidents: messages,
            next_page_token: request::time_token(next),
        }))
    }

    async fn update_incident(
        &self,
        request: Request<pb::UpdateIncidentRequest>,
    ) -> Result<Response<pb::UpdateIncidentResponse>, Status> {
        let principal = Principal::of(&request);
        let command = UpdateIncident::try_from((request.into_inner(), &self.state.catalogue))
            .map_err(Error::from)?;
        note_resource(command.incident.name());
        let detail = self
            .state
            .store
            .update_incident(
                &command.mutation.key("UpdateIncident", &principal),
                &principal.name,
                command.incident,
                &command.changes,
                &command.reason,
                command.etag,
            )
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::UpdateIncidentResponse {
            incident: full(&detail),
        }))
    }

    async fn add_incident_note(
        &self,
        request: Request<pb::AddIncidentNoteRequest>,
    ) -> Result<Response<pb::AddIncidentNoteResponse>, Status> {
        let principal = Principal::of(&request);
        // Out of a field unit's scope reads as missing, before anything else is judged.
        if let Ok(id) = IncidentId::parse_name("name", &request.get_ref().name) {
            self.scope_field_unit(&principal, id).await?;
        }
        let command = AddIncidentNote::try_from(request.into_inner()).map_err(Error::from)?;
        note_resource(command.incident.name());
        let detail = self
            .state
            .store
            .add_incident_note(
                &command.mutation.key("AddIncidentNote", &principal),
                &principal.name,
                command.incident,
                &command.text,
            )
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::AddIncidentNoteResponse {
            incident: full(&detail),
        }))
    }

    async fn change_incident_status(
        &self,
        request: Request<pb::ChangeIncidentStatusRequest>,
    ) -> Result<Response<pb::ChangeIncidentStatusResponse>, Status> {
        let principal = Principal::of(&request);
        let command = ChangeIncidentStatus::try_from(request.into_inner()).map_err(Error::from)?;
        note_resource(command.incident.name());
        let detail = self
            .state
            .store
            .change_incident_status(
                &command.mutation.key("ChangeIncidentStatus", &principal),
                &principal.name,
                command.incident,
                command.target,
                &command.note,
                command.etag,
            )
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::ChangeIncidentStatusResponse {
            incident: full(&detail),
        }))
    }

    async fn merge_incidents(
        &self,
        request: Request<pb::MergeIncidentsRequest>,
    ) -> Result<Response<pb::MergeIncidentsResponse>, Status> {
        let principal = Principal::of(&request);
        let command = MergeIncidents::try_from(request.into_inner()).map_err(Error::from)?;
        let (survivor, duplicate) = self
            .state
            .store
            .merge_incidents(
                &command.mutation.key("MergeIncidents", &principal),
                &principal.name,
                &Merger {
                    survivor: command.survivor,
                    duplicate: command.duplicate,
                    survivor_version: command.survivor_etag,
                    duplicate_version: command.duplicate_etag,
                    note: command.note,
                },
            )
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::MergeIncidentsResponse {
            survivor: full(&survivor),
            duplicate: full(&duplicate),
        }))
    }

    async fn close_incident(
        &self,
        request: Request<pb::CloseIncidentRequest>,
    ) -> Result<Response<pb::CloseIncidentResponse>, Status> {
        let principal = Principal::of(&request);
        let command = CloseIncident::try_from(request.into_inner()).map_err(Error::from)?;
        let key = command.mutation.key("CloseIncident", &principal);
        let detail = match command.duplicate_of {
            Some(survivor) => {
                let (_, duplicate) = self
                    .state
                    .store
                    .merge_incidents(
                        &key,
                        &principal.name,
                        &Merger {
                            survivor,
                            duplicate: command.incident,
                            survivor_version: None,
                            duplicate_version: command.etag,
                            note: command.note,
                        },
                    )
                    .await
                    .map_err(Error::from)?
                    .value;
                duplicate
            }
            None => {
                self.state
                    .store
                    .close_incident(
                        &key,
                        &principal.name,
                        command.incident,
                        command.code,
                        &command.note,
                        command.etag,
                    )
                    .await
                    .map_err(Error::from)?
                    .value
            }
        };
        Ok(Response::new(pb::CloseIncidentResponse {
            incident: full(&detail),
        }))
    }

    async fn cancel_incident(
        &self,
        request: Request<pb::CancelIncidentRequest>,
    ) -> Result<Response<pb::CancelIncidentResponse>, Status> {
        let principal = Principal::of(&request);
        let command = CancelIncident::try_from(request.into_inner()).map_err(Error::from)?;
        note_resource(command.incident.name());
        let detail = self
            .state
            .store
            .cancel_incident(
                &command.mutation.key("CancelIncident", &principal),
                &principal.name,
                command.incident,
                &command.reason,
                command.etag,
            )
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::CancelIncidentResponse {
            incident: full(&detail),
        }))
    }

    async fn watch_incidents(
        &self,
        request: Request<pb::WatchIncidentsRequest>,
    ) -> Result<Response<Self::WatchIncidentsStream>, Status> {
        let request = WatchIncidents::try_from(request.into_inner()).map_err(Error::from)?;
        Ok(Response::new(
            watch::watch_incidents(&self.state, request).await?,
        ))
    }
}
