//! `IncidentExchangeService`: incidents as other emergency systems speak them (NENA EIDO).

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::incident_exchange_service_server::IncidentExchangeService;

use super::rpc::{Caller, service};
use crate::auth::note_resource;
use crate::edge::enums::WireEnum as _;
use crate::edge::exchange::ImportEido;
use crate::edge::views;
use crate::edge::wire::timestamp;
use crate::error::Error;

service! {
    /// Incidents as other emergency systems speak them.
    IncidentExchange: IncidentExchangeService {
        rpc import_eido(ImportEidoRequest, catalogue) -> ImportEidoResponse;
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
