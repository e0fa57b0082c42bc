//! The partner-agency RPCs of `DirectoryService`: create, read, list, update, capacity. A
//! partner principal reaches only its own partner; any other reads as missing.

use dispatch_domain::ids::PartnerId;
use dispatch_proto::v1 as pb;

use super::Directory;
use crate::auth::{Principal, note_resource};
use crate::edge::partners::{
    CreatePartner, ListPartners, UpdateCapacity, UpdatePartner, partner_message,
};
use crate::error::Error;
use crate::services::request;
use crate::services::rpc::Caller;

/// NOT_FOUND for a partner outside a partner principal's scope, as for a missing one.
fn in_scope(principal: &Principal, id: PartnerId) -> Result<(), Error> {
    if principal.partner_scope().is_some_and(|own| own != id) {
        return Err(Error::NotFound(id.to_string()));
    }
    Ok(())
}

impl Directory {
    pub(super) async fn create_partner_agency(
        &self,
        caller: Caller,
        command: CreatePartner,
    ) -> Result<pb::CreatePartnerAgencyResponse, Error> {
        let key = caller.key(command.mutation);
        let store = &self.state.store;
        let created = store.create_partner(&key, caller.actor(), &command.partner);
        let created = created.await?.value;
        note_resource(created.id.name());
        Ok(pb::CreatePartnerAgencyResponse {
            partner_agency: Some(partner_message(&created)),
        })
    }

    pub(super) async fn update_partner_agency(
        &self,
        caller: Caller,
        command: UpdatePartner,
    ) -> Result<pb::UpdatePartnerAgencyResponse, Error> {
        let UpdatePartner {
            mutation,
            partner,
            changes,
            etag,
        } = command;
        note_resource(partner.name());
        let key = caller.key(mutation);
        let store = &self.state.store;
        let updated = store.update_partner(&key, caller.actor(), partner, &changes, etag);
        Ok(pb::UpdatePartnerAgencyResponse {
            partner_agency: Some(partner_message(&updated.await?.value)),
        })
    }

    pub(super) async fn get_partner_agency(
        &self,
        caller: Caller,
        request: pb::GetPartnerAgencyRequest,
    ) -> Result<pb::GetPartnerAgencyResponse, Error> {
        let id = PartnerId::parse_name("name", &request.name)?;
        in_scope(&caller.principal, id)?;
        let partner = self.state.store.get_partner(id).await?;
        Ok(pb::GetPartnerAgencyResponse {
            partner_agency: Some(partner_message(&partner)),
        })
    }

    pub(super) async fn list_partner_agencies(
        &self,
        _: Caller,
        query: ListPartners,
    ) -> Result<pb::ListPartnerAgenciesResponse, Error> {
        let (partners, next) = self.state.store.list_partners(&query.page).await?;
        Ok(pb::ListPartnerAgenciesResponse {
            partner_agencies: partners
                .iter()
                .filter(|p| query.kinds.is_empty() || query.kinds.contains(&p.details.kind))
                .filter(|p| {
                    query.services.is_empty()
                        || query
                            .services
                            .iter()
                            .any(|s| p.details.services.contains(s))
                })
                .filter(|p| {
                    query
                        .serves
                        .is_none_or(|point| p.details.areas.iter().any(|a| a.contains(&point)))
                })
                .map(partner_message)
                .collect(),
            next_page_token: request::code_token(next),
        })
    }

    pub(super) async fn update_partner_capacity(
        &self,
        caller: Caller,
        command: UpdateCapacity,
    ) -> Result<pb::UpdatePartnerCapacityResponse, Error> {
        let UpdateCapacity {
            mutation,
            partner,
            capacity,
        } = command;
        in_scope(&caller.principal, partner)?;
        let key = caller.key(mutation);
        let store = &self.state.store;
        let updated = store.update_partner_capacity(&key, caller.actor(), partner, &capacity);
        let updated = updated.await?.value;
        note_resource(partner.name());
        Ok(pb::UpdatePartnerCapacityResponse {
            partner_agency: Some(partner_message(&updated)),
        })
    }
}
