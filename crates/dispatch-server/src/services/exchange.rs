//! `IncidentExchangeService`: incidents as other emergency systems exchange them, NENA EIDOs.
//! `watch` is the stream of them that WatchIncidentEidos and the STA-024 WebSocket
//! (`crate::http`) share.

pub(crate) mod watch;

use sha2::{Digest as _, Sha256};

use dispatch_domain::Violations;
use dispatch_domain::event::{Event, IncidentEvent};
use dispatch_domain::ids::IncidentId;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::incident_exchange_service_server::IncidentExchangeService;
use dispatch_standards::eido::{
    EmergencyIncidentDataObject, IncidentRecord, Merge, MergeDirection, incident_eido,
};
use dispatch_store::exchange::IncidentExchange as Exchange;

use super::request;
use super::rpc::{Caller, service};
use super::triage::selection::{IncidentRelevance, IncidentSelection};
use crate::AppState;
use crate::auth::note_resource;
use crate::edge::enums::WireEnum as _;
use crate::edge::exchange::ImportEido;
use crate::edge::exchange::WatchIncidentEidos;
use crate::edge::views;
use crate::edge::wire::timestamp;
use crate::error::Error;
use crate::feed::{WatchStream, spawn_watch};
use watch::EidoWatch;

service! {
    /// Incidents as NENA EIDOs.
    IncidentExchange: IncidentExchangeService {
        rpc get_incident_eido(GetIncidentEidoRequest) -> GetIncidentEidoResponse;
        rpc import_eido(ImportEidoRequest, catalogue) -> ImportEidoResponse;
        watch watch_incident_eidos(WatchIncidentEidosRequest) -> WatchIncidentEidosStream of WatchIncidentEidosResponse;
    }
}

impl IncidentExchange {
    async fn get_incident_eido(
        &self,
        _: Caller,
        request: pb::GetIncidentEidoRequest,
    ) -> Result<pb::GetIncidentEidoResponse, Error> {
        let id = IncidentId::parse_name("name", &request.name)?;
        let eido = Eido::of_incident(&self.state, id).await?;
        Ok(pb::GetIncidentEidoResponse {
            incident_tracking_id: eido.document.prologue.id.clone(),
            last_update_time: Some(timestamp(
                eido.document.prologue.last_update_time_stamp.to_utc(),
            )),
            etag: eido.etag,
            incident_etag: request::etag(eido.incident_version),
            eido_json: eido.json,
        })
    }

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

impl IncidentExchange {
    async fn import_eido(
        &self,
        caller: Caller,
        command: ImportEido,
    ) -> Result<pb::ImportEidoResponse, Error> {
        let ImportEido { mutation, import } = command;
        let key = caller.key(mutation);
        let imported = self
            .state
            .store
            .import_eido(&key, caller.actor(), &import)
            .await?
            .value;
        note_resource(imported.detail.incident.id.name());
        Ok(pb::ImportEidoResponse {
            incident: Some(views::incident(&imported.detail, true)),
            outcome: imported.outcome.wire(),
            tracking_id: imported.tracking_id,
            version_time: Some(timestamp(imported.version)),
        })
    }
}

/// An incident's EIDO as it is now, as a document and as the JSON text that is sent.
#[derive(Debug, Clone)]
pub struct Eido {
    pub document: EmergencyIncidentDataObject,
    pub json: String,
    /// A digest of `json`: it changes exactly when the document does.
    pub etag: String,
    /// The incident's row version when the document was made.
    pub incident_version: i64,
}

impl Eido {
    /// Reads the incident and everything it names at one moment and makes its EIDO.
    pub async fn of_incident(state: &AppState, id: IncidentId) -> Result<Self, Error> {
        let exchange = state.store.incident_exchange(id).await?;
        let incident_version = exchange.detail.incident.version;
        let document = incident_eido(&state.centre, &record(state, exchange));
        let json = serde_json::to_string(&document).map_err(|error| {
            dispatch_store::Error::Internal(format!("writing the EIDO of {id}: {error}"))
        })?;
        let digest = Sha256::digest(json.as_bytes());
        let etag = digest[..12]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Ok(Self {
            document,
            json,
            etag,
            incident_version,
        })
    }
}

/// The store's reading as the EIDO's input: the catalogue's entry for the incident's type, and
/// the merges read from the incident's own timeline entries.
fn record(state: &AppState, exchange: Exchange) -> IncidentRecord {
    let Exchange {
        detail,
        calls,
        agencies,
        principals,
    } = exchange;
    let own = detail.incident.id;
    let merges = detail
        .timeline
        .iter()
        // The survivor's timeline also reads the duplicates' own entries: only this incident's.
        .filter(|entry| entry.incident == Some(own))
        .filter_map(|entry| {
            let (merge, direction) = match &entry.event {
                Event::Incident(IncidentEvent::MergedIn(merge)) => {
                    (merge, MergeDirection::Replacing)
                }
                Event::Incident(IncidentEvent::MergedInto(merge)) => {
                    (merge, MergeDirection::Replaced)
                }
                _ => return None,
            };
            Some(Merge {
                other: merge.incident,
                direction,
                at: entry.time,
                actor: entry.actor.clone(),
            })
        })
        .collect();
    IncidentRecord {
        incident_type: detail
            .incident
            .incident_type
            .as_deref()
            .and_then(|code| state.catalogue.get(code))
            .cloned(),
        calls,
        notes: detail.notes,
        assignments: detail.assignments,
        agencies,
        principals,
        merges,
        incident: detail.incident,
    }
}
