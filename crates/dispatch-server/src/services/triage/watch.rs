//! WatchIncidents: which incidents a stream matches and how an event looks on it. The stream
//! protocol itself (snapshot, resume, gap from the database, slow consumers) is `crate::feed`.

use std::collections::HashSet;
use std::sync::Arc;

use dispatch_domain::directory::AgencyKind;
use dispatch_domain::ids::{AgencyId, IncidentId};
use dispatch_domain::incident::IncidentStatus;
use dispatch_domain::location::BoundingBox;
use dispatch_domain::triage::Discipline;
use dispatch_proto::v1 as pb;
use dispatch_store::EventRecord;
use dispatch_store::feed::IncidentSummary;
use dispatch_store::incidents::{IncidentDetail, IncidentFilter};
use dispatch_store::{Page, TimeCursor};

use super::Caller;
use crate::AppState;
use crate::edge::incidents::WatchIncidents;
use crate::edge::views;
use crate::edge::wire;
use crate::error::Error;
use crate::feed::{FeedItem, Watch, WatchResponse, WatchStream, spawn_watch};

/// Incidents read per snapshot query.
const SNAPSHOT_PAGE: i64 = 1000;

/// The discipline whose incidents an agency of this kind works.
fn discipline_of(kind: AgencyKind) -> Option<Discipline> {
    match kind {
        AgencyKind::Police => Some(Discipline::Police),
        AgencyKind::Fire => Some(Discipline::Fire),
        AgencyKind::Ems | AgencyKind::RedCross => Some(Discipline::Ems),
        AgencyKind::CivilProtection => Some(Discipline::CivilProtection),
        AgencyKind::Federal => Some(Discipline::Federal),
        AgencyKind::Other => None,
    }
}

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

#[derive(Debug)]
struct IncidentRelevance {
    agency: AgencyId,
    discipline: Option<Discipline>,
}

/// One WatchIncidents stream.
pub struct IncidentWatch {
    state: Arc<AppState>,
    area: Option<BoundingBox>,
    statuses: Vec<IncidentStatus>,
    min_priority: Option<i16>,
    agency: Option<IncidentRelevance>,
    in_view: HashSet<IncidentId>,
}

impl IncidentWatch {
    fn matches(&self, summary: &IncidentSummary) -> bool {
        let incident = &summary.incident;
        if self
            .area
            .is_some_and(|area| !area.contains(incident.location.point))
        {
            return false;
        }
        if !self.statuses.is_empty() && !self.statuses.contains(&incident.status) {
            return false;
        }
        if self
            .min_priority
            .is_some_and(|min| incident.priority.unwrap_or(0) < min)
        {
            return false;
        }
        if let Some(relevance) = &self.agency {
            let sent_one = summary
                .assignments
                .iter()
                .any(|a| a.agency == relevance.agency);
            let its_discipline = match &incident.incident_type {
                None => true,
                Some(code) => relevance.discipline.is_some_and(|d| {
                    self.state
                        .catalogue
                        .get(code)
                        .is_some_and(|t| t.disciplines.contains(&d))
                }),
            };
            if !sent_one && !its_discipline {
                return false;
            }
        }
        true
    }

    /// Every matching incident now.
    async fn matching(&self) -> Result<Vec<IncidentSummary>, Error> {
        let filter = IncidentFilter {
            statuses: self.statuses.clone(),
            min_priority: self.min_priority,
            area: self.area,
            ..IncidentFilter::default()
        };
        let mut found = Vec::new();
        let mut after: Option<TimeCursor> = None;
        loop {
            let page = Page {
                size: SNAPSHOT_PAGE,
                after,
            };
            let (incidents, next) = self.state.store.list_incidents(&filter, &page).await?;
            let ids: Vec<IncidentId> = incidents.iter().map(|i| i.id).collect();
            let mut summaries = self.state.store.incident_summaries(&ids).await?;
            // Newest first, as listed.
            for id in ids {
                if let Some(summary) = summaries.remove(&id)
                    && self.matches(&summary)
                {
                    found.push(summary);
                }
            }
            match next {
                Some(cursor) => after = Some(cursor),
                None => return Ok(found),
            }
        }
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

    fn event(&mut self, item: &FeedItem) -> Option<Self::Response> {
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
        Some(Self::Response::event(Box::new(pb::IncidentEvent {
            sequence: event.position,
            time: Some(wire::timestamp(event.published_at)),
            entry: Some(views::timeline_entry(&record, id, position)),
            incident: Some(incident),
            left_filter,
        })))
    }
}

impl super::IncidentTriage {
    /// Starts a WatchIncidents stream (reading its agency's kind first).
    pub(super) async fn watch_incidents(
        &self,
        _: Caller,
        request: WatchIncidents,
    ) -> Result<WatchStream<pb::WatchIncidentsResponse>, Error> {
        let state = &self.state;
        let WatchIncidents {
            statuses,
            min_priority,
            area,
            agency,
            after,
        } = request;
        let agency = match agency {
            Some(id) => {
                let agency = state.store.get_agency(id).await?;
                Some(IncidentRelevance {
                    agency: id,
                    discipline: discipline_of(agency.details.kind),
                })
            }
            None => None,
        };
        let watch = IncidentWatch {
            state: state.clone(),
            area,
            statuses,
            min_priority,
            agency,
            in_view: HashSet::new(),
        };
        Ok(spawn_watch(state.clone(), watch, after))
    }
}
