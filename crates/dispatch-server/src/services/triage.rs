//! `IncidentTriageService`: the type catalogue, triage, and the incident's life until closed.

pub(crate) mod selection;
mod watch;

use dispatch_domain::ids::IncidentId;
use dispatch_domain::incident::{Merger, Triage};
use dispatch_domain::triage;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::incident_triage_service_server::IncidentTriageService;
use dispatch_store::incidents::IncidentDetail;

use super::request;
use super::rpc::{Caller, service};
use crate::auth::{Principal, note_resource};
use crate::edge::incidents::{
    self, AddIncidentNote, CancelIncident, ChangeIncidentStatus, CloseIncident, ListIncidentTypes,
    ListIncidents, MergeIncidents, TriageIncident, UpdateIncident,
};
use crate::edge::views;
use crate::error::Error;

service! {
    /// The type catalogue, triage, and the incident's life until closed.
    IncidentTriage: IncidentTriageService {
        rpc list_incident_types(ListIncidentTypesRequest) -> ListIncidentTypesResponse;
        rpc get_incident_type(GetIncidentTypeRequest) -> GetIncidentTypeResponse;
        rpc triage_incident(TriageIncidentRequest, catalogue) -> TriageIncidentResponse;
        rpc get_incident(GetIncidentRequest) -> GetIncidentResponse;
        rpc list_incidents(ListIncidentsRequest, catalogue) -> ListIncidentsResponse;
        rpc update_incident(UpdateIncidentRequest, catalogue) -> UpdateIncidentResponse;
        rpc add_incident_note(AddIncidentNoteRequest) -> AddIncidentNoteResponse;
        rpc change_incident_status(ChangeIncidentStatusRequest) -> ChangeIncidentStatusResponse;
        rpc merge_incidents(MergeIncidentsRequest) -> MergeIncidentsResponse;
        rpc close_incident(CloseIncidentRequest) -> CloseIncidentResponse;
        rpc cancel_incident(CancelIncidentRequest) -> CancelIncidentResponse;
        watch watch_incidents(WatchIncidentsRequest) -> WatchIncidentsStream of WatchIncidentsResponse;
    }
}

fn full(detail: &IncidentDetail) -> Option<pb::Incident> {
    Some(views::incident(detail, true))
}

impl IncidentTriage {
    /// A field unit sees only the incident it is assigned to; any other reads as missing.
    async fn scope_field_unit(&self, principal: &Principal, id: IncidentId) -> Result<(), Error> {
        if principal.role != dispatch_domain::auth::Role::FieldUnit {
            return Ok(());
        }
        let current = match principal.unit {
            Some(unit) => self.state.store.get_unit(unit).await?.current_incident,
            None => None,
        };
        if current == Some(id) {
            Ok(())
        } else {
            Err(Error::NotFound(id.to_string()))
        }
    }
}

impl IncidentTriage {
    async fn list_incident_types(
        &self,
        _: Caller,
        query: ListIncidentTypes,
    ) -> Result<pb::ListIncidentTypesResponse, Error> {
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
        Ok(pb::ListIncidentTypesResponse {
            incident_types: matching.into_iter().map(incidents::incident_type).collect(),
            next_page_token: request::code_token(next),
        })
    }

    async fn get_incident_type(
        &self,
        _: Caller,
        request: pb::GetIncidentTypeRequest,
    ) -> Result<pb::GetIncidentTypeResponse, Error> {
        let code = incidents::incident_type_code(&request.name)?;
        let incident_type = self
            .state
            .catalogue
            .get(code)
            .ok_or_else(|| Error::NotFound(request.name.clone()))?;
        Ok(pb::GetIncidentTypeResponse {
            incident_type: Some(incidents::incident_type(incident_type)),
        })
    }

    async fn triage_incident(
        &self,
        caller: Caller,
        command: TriageIncident,
    ) -> Result<pb::TriageIncidentResponse, Error> {
        note_resource(command.incident.name());
        let triage = Triage {
            incident: command.incident,
            incident_type: command.incident_type,
            answers: command.answers,
            expected_version: command.etag,
        };
        let key = caller.key(command.mutation);
        let detail = self
            .state
            .store
            .triage_incident(&key, caller.actor(), &self.state.catalogue, &triage)
            .await?
            .value;
        Ok(pb::TriageIncidentResponse {
            incident: full(&detail),
            triage_record: detail.triage_history.last().map(views::triage_record),
        })
    }

    async fn get_incident(
        &self,
        caller: Caller,
        request: pb::GetIncidentRequest,
    ) -> Result<pb::GetIncidentResponse, Error> {
        let id = IncidentId::parse_name("name", &request.name)?;
        super::operations::scope_liaison(&self.state, &caller.principal, id).await?;
        let detail = self.state.store.incident_detail(id).await?;
        let basic = request.view == i32::from(pb::IncidentView::Basic);
        Ok(pb::GetIncidentResponse {
            incident: Some(views::incident(&detail, !basic)),
        })
    }

    async fn list_incidents(
        &self,
        _: Caller,
        query: ListIncidents,
    ) -> Result<pb::ListIncidentsResponse, Error> {
        let store = &self.state.store;
        let (found, next) = store.list_incidents(&query.filter, &query.page).await?;
        // The BASIC view still says who is on each incident (one query for the page).
        let mut assignments = if query.full_view {
            std::collections::HashMap::new()
        } else {
            let ids: Vec<_> = found.iter().map(|i| i.id).collect();
            store.assignments_of_incidents(&ids).await?
        };
        let mut messages = Vec::with_capacity(found.len());
        for incident in found {
            let detail = if query.full_view {
                store.incident_detail(incident.id).await?
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
        Ok(pb::ListIncidentsResponse {
            incidents: messages,
            next_page_token: request::time_token(next),
        })
    }

    async fn update_incident(
        &self,
        caller: Caller,
        command: UpdateIncident,
    ) -> Result<pb::UpdateIncidentResponse, Error> {
        let UpdateIncident {
            mutation,
            incident,
            changes,
            reason,
            etag,
        } = command;
        note_resource(incident.name());
        let key = caller.key(mutation);
        let store = &self.state.store;
        let updated =
            store.update_incident(&key, caller.actor(), incident, &changes, &reason, etag);
        Ok(pb::UpdateIncidentResponse {
            incident: full(&updated.await?.value),
        })
    }

    async fn add_incident_note(
        &self,
        caller: Caller,
        request: pb::AddIncidentNoteRequest,
    ) -> Result<pb::AddIncidentNoteResponse, Error> {
        // Out of a field unit's scope reads as missing, before anything else is judged.
        if let Ok(id) = IncidentId::parse_name("name", &request.name) {
            self.scope_field_unit(&caller.principal, id).await?;
        }
        let AddIncidentNote {
            mutation,
            incident,
            text,
        } = AddIncidentNote::try_from(request)?;
        note_resource(incident.name());
        let key = caller.key(mutation);
        let store = &self.state.store;
        let noted = store.add_incident_note(&key, caller.actor(), incident, &text);
        Ok(pb::AddIncidentNoteResponse {
            incident: full(&noted.await?.value),
        })
    }

    async fn change_incident_status(
        &self,
        caller: Caller,
        command: ChangeIncidentStatus,
    ) -> Result<pb::ChangeIncidentStatusResponse, Error> {
        let ChangeIncidentStatus {
            mutation,
            incident,
            target,
            note,
            etag,
        } = command;
        note_resource(incident.name());
        let key = caller.key(mutation);
        let store = &self.state.store;
        let changed =
            store.change_incident_status(&key, caller.actor(), incident, target, &note, etag);
        Ok(pb::ChangeIncidentStatusResponse {
            incident: full(&changed.await?.value),
        })
    }

    async fn merge_incidents(
        &self,
        caller: Caller,
        command: MergeIncidents,
    ) -> Result<pb::MergeIncidentsResponse, Error> {
        let merger = Merger {
            survivor: command.survivor,
            duplicate: command.duplicate,
            survivor_version: command.survivor_etag,
            duplicate_version: command.duplicate_etag,
            note: command.note,
        };
        let key = caller.key(command.mutation);
        let store = &self.state.store;
        let (survivor, duplicate) = store
            .merge_incidents(&key, caller.actor(), &merger)
            .await?
            .value;
        Ok(pb::MergeIncidentsResponse {
            survivor: full(&survivor),
            duplicate: full(&duplicate),
        })
    }

    async fn close_incident(
        &self,
        caller: Caller,
        command: CloseIncident,
    ) -> Result<pb::CloseIncidentResponse, Error> {
        let key = caller.key(command.mutation);
        let store = &self.state.store;
        let closed = match command.duplicate_of {
            // Closing as a duplicate is a merge into the incident that is kept.
            Some(survivor) => {
                let merger = Merger {
                    survivor,
                    duplicate: command.incident,
                    survivor_version: None,
                    duplicate_version: command.etag,
                    note: command.note,
                };
                store
                    .merge_incidents(&key, caller.actor(), &merger)
                    .await?
                    .value
                    .1
            }
            None => {
                let (incident, code, note) = (command.incident, command.code, &command.note);
                let closing =
                    store.close_incident(&key, caller.actor(), incident, code, note, command.etag);
                closing.await?.value
            }
        };
        Ok(pb::CloseIncidentResponse {
            incident: full(&closed),
        })
    }

    async fn cancel_incident(
        &self,
        caller: Caller,
        command: CancelIncident,
    ) -> Result<pb::CancelIncidentResponse, Error> {
        let CancelIncident {
            mutation,
            incident,
            reason,
            etag,
        } = command;
        note_resource(incident.name());
        let key = caller.key(mutation);
        let store = &self.state.store;
        let cancelled = store.cancel_incident(&key, caller.actor(), incident, &reason, etag);
        Ok(pb::CancelIncidentResponse {
            incident: full(&cancelled.await?.value),
        })
    }
}
