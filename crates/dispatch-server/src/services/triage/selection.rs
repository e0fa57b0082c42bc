//! Which incidents a stream follows: the filters WatchIncidents, WatchIncidentEidos and the
//! STA-024 subscriptions share, checked against an incident as the feed delivers it and read as
//! a snapshot from the store.

use dispatch_domain::directory::AgencyKind;
use dispatch_domain::ids::{AgencyId, IncidentId};
use dispatch_domain::incident::IncidentStatus;
use dispatch_domain::location::Area;
use dispatch_domain::triage::{Catalogue, Discipline};
use dispatch_store::feed::IncidentSummary;
use dispatch_store::incidents::IncidentFilter;
use dispatch_store::{Page, TimeCursor};

use crate::AppState;
use crate::error::Error;

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

/// An agency's interest in incidents: its discipline's, and those its units were sent to.
#[derive(Debug)]
pub struct IncidentRelevance {
    agency: AgencyId,
    discipline: Option<Discipline>,
}

impl IncidentRelevance {
    /// Reads the agency's kind (NOT_FOUND if there is no such agency).
    pub async fn of(state: &AppState, agency: AgencyId) -> Result<Self, Error> {
        let found = state.store.get_agency(agency).await?;
        Ok(Self {
            agency,
            discipline: discipline_of(found.details.kind),
        })
    }
}

/// The filters of one stream; they combine with AND, an empty one matches everything.
#[derive(Debug, Default)]
pub struct IncidentSelection {
    pub area: Option<Area>,
    pub statuses: Vec<IncidentStatus>,
    pub min_priority: Option<i16>,
    /// Incident type codes; an incident without a type yet matches none of them.
    pub incident_types: Vec<String>,
    pub agency: Option<IncidentRelevance>,
    /// Only this incident.
    pub incident: Option<IncidentId>,
}

impl IncidentSelection {
    pub fn matches(&self, catalogue: &Catalogue, summary: &IncidentSummary) -> bool {
        let incident = &summary.incident;
        if self.incident.is_some_and(|id| id != incident.id) {
            return false;
        }
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
        if !self.incident_types.is_empty()
            && !incident
                .incident_type
                .as_ref()
                .is_some_and(|code| self.incident_types.contains(code))
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
                    catalogue
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

    /// Every matching incident now, newest first.
    pub async fn matching(&self, state: &AppState) -> Result<Vec<IncidentSummary>, Error> {
        if let Some(id) = self.incident {
            let mut summaries = state.store.incident_summaries(&[id]).await?;
            return Ok(summaries
                .remove(&id)
                .filter(|summary| self.matches(&state.catalogue, summary))
                .into_iter()
                .collect());
        }
        let filter = IncidentFilter {
            statuses: self.statuses.clone(),
            min_priority: self.min_priority,
            incident_types: self.incident_types.clone(),
            area: self.area.map(|area| area.bounding_box()),
            ..IncidentFilter::default()
        };
        let mut found = Vec::new();
        let mut after: Option<TimeCursor> = None;
        loop {
            let page = Page {
                size: SNAPSHOT_PAGE,
                after,
            };
            let (incidents, next) = state.store.list_incidents(&filter, &page).await?;
            let ids: Vec<IncidentId> = incidents.iter().map(|i| i.id).collect();
            let mut summaries = state.store.incident_summaries(&ids).await?;
            for id in ids {
                if let Some(summary) = summaries.remove(&id)
                    && self.matches(&state.catalogue, &summary)
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
