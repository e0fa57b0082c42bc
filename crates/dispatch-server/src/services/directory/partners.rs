//! The partner-agency RPCs of `DirectoryService`: create, read, list, update, capacity. A
//! partner principal reaches only its own partner; any other reads as missing.

use tonic::{Request, Response, Status};

use dispatch_domain::ids::PartnerId;
use dispatch_proto::v1 as pb;

use crate::AppState;
use crate::auth::{Principal, note_resource};
use crate::edge::partners::{
    CreatePartner, ListPartners, UpdateCapacity, UpdatePartner, partner_message,
};
use crate::error::Error;
use crate::services::request;

/// NOT_FOUND for a partner outside a partner principal's scope, as for a missing one.
fn in_scope(principal: &Principal, id: PartnerId) -> Result<(), Status> {
    if principal.partner_scope().is_some_and(|own| own != id) {
        return Err(Status::not_found(format!("{id} not found")));
    }
    Ok(())
}

pub async fn create_partner(
    state: &AppState,
    request: Request<pb::CreatePartnerAgencyRequest>,
) -> Result<Response<pb::CreatePartnerAgencyResponse>, Status> {
    let principal = Principal::of(&request);
    let command = CreatePartner::try_from(request.into_inner()).map_err(Error::from)?;
    let created = state
        .store
        .create_partner(
            &command.mutation.key("CreatePartnerAgency", &principal),
            &principal.name,
            &command.partner,
        )
        .await
        .map_err(Error::from)?
        .value;
    note_resource(created.id.name());
    Ok(Response::new(pb::CreatePartnerAgencyResponse {
        partner_agency: Some(partner_message(&created)),
    }))
}

pub async fn update_partner(
    state: &AppState,
    request: Request<pb::UpdatePartnerAgencyRequest>,
) -> Result<Response<pb::UpdatePartnerAgencyResponse>, Status> {
    let principal = Principal::of(&request);
    let command = UpdatePartner::try_from(request.into_inner()).map_err(Error::from)?;
    note_resource(command.partner.name());
    let updated = state
        .store
        .update_partner(
            &command.mutation.key("UpdatePartnerAgency", &principal),
            &principal.name,
            command.partner,
            &command.changes,
            command.etag,
        )
        .await
        .map_err(Error::from)?
        .value;
    Ok(Response::new(pb::UpdatePartnerAgencyResponse {
        partner_agency: Some(partner_message(&updated)),
    }))
}

pub async fn get_partner(
    state: &AppState,
    request: Request<pb::GetPartnerAgencyRequest>,
) -> Result<Response<pb::GetPartnerAgencyResponse>, Status> {
    let principal = Principal::of(&request);
    let id = PartnerId::parse_name("name", &request.get_ref().name).map_err(Error::from)?;
    in_scope(&principal, id)?;
    let partner = state.store.get_partner(id).await.map_err(Error::from)?;
    Ok(Response::new(pb::GetPartnerAgencyResponse {
        partner_agency: Some(partner_message(&partner)),
    }))
}

pub async fn list_partners(
    state: &AppState,
    request: Request<pb::ListPartnerAgenciesRequest>,
) -> Result<Response<pb::ListPartnerAgenciesResponse>, Status> {
    let query = ListPartners::try_from(request.into_inner()).map_err(Error::from)?;
    let (partners, next) = state
        .store
        .list_partners(&query.page)
        .await
        .map_err(Error::from)?;
    Ok(Response::new(pb::ListPartnerAgenciesResponse {
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
    }))
}

pub async fn update_partner_capacity(
    state: &AppState,
    request: Request<pb::UpdatePartnerCapacityRequest>,
) -> Result<Response<pb::UpdatePartnerCapacityResponse>, Status> {
    let principal = Principal::of(&request);
    let command = UpdateCapacity::try_from(request.into_inner()).map_err(Error::from)?;
    in_scope(&principal, command.partner)?;
    let partner = state
        .store
        .update_partner_capacity(
            &command.mutation.key("UpdatePartnerCapacity", &principal),
            &principal.name,
            command.partner,
            &command.capacity,
        )
        .await
        .map_err(Error::from)?
        .value;
    note_resource(command.partner.name());
    Ok(Response::new(pb::UpdatePartnerCapacityResponse {
        partner_agency: Some(partner_message(&partner)),
    }))
}
