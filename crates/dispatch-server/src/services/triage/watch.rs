//! WatchIncidents: which incidents a stream matches and how an event looks on it. The stream
//! protocol itself (snapshot, resume, gap from the database, slow consumers) is `crate::feed`.

use std::collections::HashSet;

use dispatch_domain::location::Area;
use dispatch_proto::v1 as pb;
use dispatch_store::EventRecord;
use dispatch_store::feed::IncidentSummary;
use dispatch_store::incidents::IncidentDetail;

use super::Caller;
use super::selection::{IncidentRelevance, IncidentSelection};
use crate::AppState;
use crate::edge::incidents::WatchIncidents;
use crate::edge::views;
use crate::edge::wire;
use crate::error::Error;
use crate::feed::{FeedItem, Watch, WatchResponse, WatchStream, spawn_watch};

/// An incident as a Watch stream shows it (BASIC view with assignments).
fn incident_message(summary: &IncidentSummary) -> pb::Incident {
    views::incident(
        &IncidentDetail {
            incident: summary.incident.clone(),
            calls: Vec::new(),
            notes: Vec::new(),
            triage_history: Vec::new(),
            timeline: Vec::new(),
            assignments: summary.assignments.clone(),
        },
        false,
    )
}

/// One WatchIncidents stream.
pub struct IncidentWatch {
    state: std::sync::Arc<AppState>,
    selection: IncidentSelection,
    in_view: HashSet<dispatch_domain::ids::IncidentId>,
    /// A liaison's agency: the stream shows only the incidents of its operations.
    liaison: Option<dispatch_domain::ids::AgencyId>,
    /// The incidents a liaison's stream may show, as far as known.
    allowed: HashSet<dispatch_domain::ids::IncidentId>,
}

impl IncidentWatch {
    fn matches(&self, summary: &IncidentSummary) -> bool {
        self.selection.matches(&self.state.catalogue, summary)
    }

    async fn matching(&mut self) -> Result<Vec<IncidentSummary>, Error> {
        let mut found = self.selection.matching(&self.state).await?;
        if let Some(agency) = self.liaison {
            let store = &self.state.store;
            self.allowed = store
                .incidents_of_agency_operations(agency)
                .await?
                .into_iter()
                .collect();
            found.retain(|s| self.allowed.contains(&s.incident.id));
        }
        Ok(found)
    }

    /// For a liaison's stream: whether the incident belongs to its agency's operations (one
    /// not seen before is looked up).
    async fn allows(&mut self, item: &FeedItem) -> Result<bool, Error> {
        let Some(agency) = self.liaison else {
            return Ok(true);
        };
        let Some(incident) = item.incident.as_ref().map(|s| &s.incident) else {
            return Ok(false);
        };
        // An incident is tagged in the transaction that creates it, or never: one without an
        // operation is no liaison's, and needs no look-up.
        if incident.operation.is_none() {
            return Ok(false);
        }
        let id = incident.id;
        if !self.allowed.contains(&id) {
            if !self
                .state
                .store
                .incident_visible_to_agency(id, agency)
                .await?
            {
                return Ok(false);
            }
            self.allowed.insert(id);
        }
        Ok(true)
    }
}

impl Watch for IncidentWatch {
    type Response = pb::WatchIncidentsResponse;

    async fn snapshot(&mut self, _: &AppState) -> Result<Vec<Self::Response>, Error> {
        let found = self.matching().await?;
        self.in_view = found.iter().map(|s| s.incident.id).collect();
        Ok(found
            .iter()
            .map(|summary| Self::Response::snapshot(incident_message(summary)))
            .collect())
    }

    async fn prime(&mut self, _: &AppState) -> Result<(), Error> {
        self.in_view = self
            .matching()
            .await?
            .iter()
            .map(|s| s.incident.id)
            .collect();
        Ok(())
    }

    async fn event(&mut self, item: &FeedItem) -> Result<Option<Self::Response>, Error> {
        if !self.allows(item).await? {
            return Ok(None);
        }
        Ok(self.change(item))
    }
}

impl IncidentWatch {
    /// The message for an event, if it concerns this stream.
    fn change(&mut self, item: &FeedItem) -> Option<pb::WatchIncidentsResponse> {
        let summary = item.incident.as_ref()?;
        let id = summary.incident.id;
        let left_filter = if self.matches(summary) {
            self.in_view.insert(id);
            false
        } else if self.in_view.remove(&id) {
            true
        } else {
            return None;
        };
        let event = &item.event;
        let record = EventRecord {
            sequence: event.seq,
            time: event.time,
            actor: event.actor.clone(),
            call: event.call,
            incident: event.incident,
            unit: event.unit,
            event: event.event.clone(),
        };
        let incident = item
            .rendered_incident
            .get_or_init(|| incident_message(summary))
            .clone();
        // The entry is this change, from its own event row; its place in the timeline is the
        // one it took when it was recorded. Only `incident` is as at delivery.
        let position = item.timeline_position.unwrap_or_default();
        Some(pb::WatchIncidentsResponse::event(Box::new(
            pb::IncidentEvent {
                sequence: event.position,
                time: Some(wire::timestamp(event.published_at)),
                entry: Some(views::timeline_entry(&record, id, position)),
                incident: Some(incident),
                left_filter,
            },
        )))
    }
}

impl super::IncidentTriage {
    /// Starts a WatchIncidents stream (reading its agency's kind first).
    pub(super) async fn watch_incidents(
        &self,
        caller: Caller,
        request: WatchIncidents,
    ) -> Result<WatchStream<pb::WatchIncidentsResponse>, Error> {
        let state = &self.state;
        let liaison = (caller.principal.role == dispatch_domain::auth::Role::Liaison)
            .then(|| {
                caller
                    .principal
                    .agency
                    .ok_or(Error::NotFound("incidents".into()))
            })
            .transpose()?;
        if liaison.is_some() {
            crate::auth::note_victim_data_read("incidents");
        }
        let WatchIncidents {
            statuses,
            min_priority,
            area,
            agency,
            after,
        } = request;
        let agency = match agency {
            Some(id) => Some(IncidentRelevance::of(state, id).await?),
            None => None,
        };
        let watch = IncidentWatch {
            state: state.clone(),
            selection: IncidentSelection {
                area: area.map(Area::Box),
                statuses,
                min_priority,
                agency,
                ..IncidentSelection::default()
            },
            in_view: HashSet::new(),
            liaison,
            allowed: HashSet::new(),
        };
        Ok(spawn_watch(state.clone(), watch, after))
    }
}
