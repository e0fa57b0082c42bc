//! `IncidentExchangeService`: our incidents as NENA EIDOs for other systems. `watch` is the
//! stream of them that WatchIncidentEidos and the STA-024 WebSocket (`crate::http`) share.

pub(crate) mod watch;

use dispatch_domain::Violations;
use dispatch_domain::ids::IncidentId;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::incident_exchange_service_server::IncidentExchangeService;

use super::rpc::{Caller, service};
use super::triage::selection::{IncidentRelevance, IncidentSelection};
use crate::AppState;
use crate::edge::exchange::WatchIncidentEidos;
use crate::error::Error;
use crate::feed::{WatchStream, spawn_watch};
use watch::EidoWatch;

service! {
    /// Our incidents as NENA EIDOs.
    IncidentExchange: IncidentExchangeService {
        watch watch_incident_eidos(WatchIncidentEidosRequest) -> WatchIncidentEidosStream of WatchIncidentEidosResponse;
    }
}

impl IncidentExchange {
    /// Starts a WatchIncidentEidos stream (checking its filter's types, agency and incident
    /// first).
    async fn watch_incident_eidos(
        &self,
        _: Caller,
        request: WatchIncidentEidos,
    ) -> Result<WatchStream<pb::WatchIncidentEidosResponse>, Error> {
        let state = &self.state;
        let mut unknown = Violations::new();
        for (index, code) in request.incident_types.iter().enumerate() {
            if state.catalogue.get(code).is_none() {
                unknown.add(
                    format!("incident_types[{index}]"),
                    format!("no incident type {code:?} in the catalogue"),
                );
            }
        }
        if !unknown.is_empty() {
            return Err(unknown.into());
        }
        let agency = match request.agency {
            Some(id) => Some(IncidentRelevance::of(state, id).await?),
            None => None,
        };
        if let Some(incident) = request.incident {
            state.store.get_incident(incident).await?;
        }
        let selection = IncidentSelection {
            area: request.area,
            statuses: request.statuses,
            incident_types: request.incident_types,
            agency,
            incident: request.incident,
            ..IncidentSelection::default()
        };
        let watch = EidoWatch::<pb::WatchIncidentEidosResponse>::new(state.clone(), selection);
        Ok(spawn_watch(state.clone(), watch, request.after))
    }
}

/// The incident's EIDO as JSON.
// TEMPORARY, until helper eido-out's assembly of an incident's EIDO is merged: the incident's
// identity and status only, enough to drive the conveyance.
pub(crate) async fn incident_eido_json(
    state: &AppState,
    incident: IncidentId,
) -> Result<serde_json::Value, Error> {
    let found = state.store.get_incident(incident).await?;
    let tracking = format!(
        "urn:emergency:uid:incidentid:{}:example.invalid",
        incident.0.simple()
    );
    Ok(serde_json::json!({
        "$id": tracking,
        "incidentComponent": {
            "incidentStatusInternalText": [found.status.as_str()],
        }
    }))
}
