//! Incidents as EIDOs, each time one changes: the stream behind WatchIncidentEidos and the
//! STA-024 WebSocket subscriptions. Which incidents is an [`IncidentSelection`]; the stream
//! protocol (snapshot or resume, the gap from the database, live events, ResyncRequired) is
//! `crate::feed`'s, so a subscriber resumes without a gap like any Watch client.

use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use dispatch_domain::ids::IncidentId;

use crate::AppState;
use crate::error::Error;
use crate::feed::{FeedItem, Watch, WatchResponse};
use crate::services::triage::selection::IncidentSelection;

/// An incident's EIDO now (a snapshot item).
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentEido {
    pub incident: IncidentId,
    pub eido: serde_json::Value,
}

/// An incident's EIDO after one of its changes.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentEidoChange {
    /// The change's position in the feed: the resume point.
    pub sequence: i64,
    pub time: DateTime<Utc>,
    /// The EIDO as read when the change was delivered (perhaps a little later than the change).
    pub eido: IncidentEido,
    /// The incident stopped matching with this change (closed, moved out of the area): its
    /// last EIDO, and none after unless it matches again.
    pub left_filter: bool,
}

/// One stream of EIDOs; `R` is how its items travel (the gRPC response, or the WebSocket's).
pub struct EidoWatch<R> {
    state: Arc<AppState>,
    selection: IncidentSelection,
    in_view: HashSet<IncidentId>,
    response: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for EidoWatch<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EidoWatch")
            .field("selection", &self.selection)
            .field("in_view", &self.in_view.len())
            .finish_non_exhaustive()
    }
}

impl<R> EidoWatch<R> {
    pub fn new(state: Arc<AppState>, selection: IncidentSelection) -> Self {
        Self {
            state,
            selection,
            in_view: HashSet::new(),
            response: PhantomData,
        }
    }

    async fn eido(&self, incident: IncidentId) -> Result<IncidentEido, Error> {
        Ok(IncidentEido {
            incident,
            eido: super::incident_eido_json(&self.state, incident).await?,
        })
    }
}

impl<R> Watch for EidoWatch<R>
where
    R: WatchResponse<Resource = IncidentEido, Event = IncidentEidoChange>,
{
    type Response = R;

    async fn snapshot(&mut self, state: &AppState) -> Result<Vec<R>, Error> {
        let found = self.selection.matching(state).await?;
        self.in_view = found.iter().map(|s| s.incident.id).collect();
        let mut items = Vec::with_capacity(found.len());
        for summary in &found {
            items.push(R::snapshot(self.eido(summary.incident.id).await?));
        }
        Ok(items)
    }

    async fn prime(&mut self, state: &AppState) -> Result<(), Error> {
        self.in_view = self
            .selection
            .matching(state)
            .await?
            .iter()
            .map(|s| s.incident.id)
            .collect();
        Ok(())
    }

    async fn event(&mut self, item: &FeedItem) -> Result<Option<R>, Error> {
        let Some(summary) = item.incident.as_ref() else {
            return Ok(None);
        };
        let id = summary.incident.id;
        let left_filter = if self.selection.matches(&self.state.catalogue, summary) {
            self.in_view.insert(id);
            false
        } else if self.in_view.remove(&id) {
            true
        } else {
            return Ok(None);
        };
        Ok(Some(R::event(IncidentEidoChange {
            sequence: item.event.position,
            time: item.event.published_at,
            eido: self.eido(id).await?,
            left_filter,
        })))
    }
}
