//! The partner-agency RPCs of `DirectoryService`: create, read, list, update, capacity.

use tonic::{Request, Response, Status};

use dispatch_domain::Violations;
use dispatch_domain::call::check_length;
use dispatch_domain::directory::{check_code, check_display_name};
use dispatch_domain::location::GeoPoint;
use dispatch_domain::referral::{
    Need, PartnerKind, parse_partner_name, partner_name, validate_needs,
};
use dispatch_proto::v1 as pb;
use dispatch_store::partners::NewPartner;

use crate::AppState;
use crate::auth::{Principal, note_resource};
use crate::edge::enums::{WireEnum, enum_filter};
use crate::edge::partners::{contacts_json, partner_message, service_areas};
use crate::error::{Error, invalid};
use crate::services::request::{self, idempotency};

pub async fn create_partner(
    state: &AppState,
    request: Request<pb::CreatePartnerAgencyRequest>,
) -> Result<Response<pb::CreatePartnerAgencyResponse>, Status> {
    let principal = Principal::of(&request);
    let message = request.into_inner();
    let mut violations = Violations::new();
    let key = violations.collect(idempotency(
        "CreatePartnerAgency",
        &principal,
        &message.request_id,
        &message,
        |m| m.request_id.clear(),
    ));
    let Some(partner) = message.partner_agency else {
        violations.add("partner_agency", "required");
        return Err(invalid(&violations));
    };
    check_code(&mut violations, "partner_agency.code", &partner.code, 64);
    check_display_name(
        &mut violations,
        "partner_agency.display_name",
        &partner.display_name,
    );
    let partner_kind = PartnerKind::from_wire(partner.kind);
    if partner_kind.is_none() {
        violations.add("partner_agency.kind", "required");
    }
    let services = violations.collect(validate_needs(
        "partner_agency.services",
        &partner
            .services
            .iter()
            .map(|v| Need::from_wire(*v))
            .collect::<Vec<_>>(),
    ));
    let areas = service_areas(&partner.service_areas, &mut violations);
    if areas.is_empty() && partner.service_areas.is_empty() {
        violations.add(
            "partner_agency.service_areas",
            "at least one area the partner serves",
        );
    }
    let location = partner.location.as_ref().and_then(|p| {
        violations.collect(
            GeoPoint::new(p.latitude, p.longitude).map_err(|v| v.within("partner_agency.location")),
        )
    });
    let capacity = partner.capacity.unwrap_or_default();
    if capacity.available_slots < 0 || capacity.total_slots < 0 {
        violations.add("partner_agency.capacity", "slots must not be negative");
    } else if capacity.available_slots > capacity.total_slots {
        violations.add(
            "partner_agency.capacity.available_slots",
            "must not exceed total_slots",
        );
    }
    check_length(
        &mut violations,
        "partner_agency.address",
        &partner.address,
        500,
    );
    let (Some(key), Some(partner_kind), Some(services)) = (key, partner_kind, services) else {
        return Err(invalid(&violations));
    };
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    let contacts = contacts_json(&partner.contacts);
    let new = NewPartner {
        code: partner.code,
        display_name: partner.display_name,
        kind: partner_kind,
        services,
        areas,
        location,
        address: partner.address,
        available_slots: capacity.available_slots,
        total_slots: capacity.total_slots,
        not_accepting: capacity.not_accepting,
        contacts,
    };
    let created = state
        .store
        .create_partner(&key, &principal.name, &new)
        .await
        .map_err(Error::from)?
        .value;
    note_resource(partner_name(created.id));
    Ok(Response::new(pb::CreatePartnerAgencyResponse {
        partner_agency: Some(partner_message(&created)),
    }))
}

pub async fn update_partner(
    state: &AppState,
    request: Request<pb::UpdatePartnerAgencyRequest>,
) -> Result<Response<pb::UpdatePartnerAgencyResponse>, Status> {
    let principal = Principal::of(&request);
    let message = request.into_inner();
    let mut violations = Violations::new();
    let key = violations.collect(idempotency(
        "UpdatePartnerAgency",
        &principal,
        &message.request_id,
        &message,
        |m| m.request_id.clear(),
    ));
    let Some(partner) = &message.partner_agency else {
        violations.add(
            "partner_agency",
            "required: the partner's name, etag and new values",
        );
        return Err(invalid(&violations));
    };
    let id = violations.collect(parse_partner_name("partner_agency.name", &partner.name));
    let etag = match violations.collect(request::etag_from("partner_agency.etag", &partner.etag)) {
        Some(Some(version)) => Some(version),
        Some(None) => {
            violations.add(
                "partner_agency.etag",
                "required: the etag of the partner as you last read it",
            );
            None
        }
        None => None,
    };
    let paths = message
        .update_mask
        .as_ref()
        .map(|m| m.paths.clone())
        .unwrap_or_default();
    if paths.is_empty() {
        violations.add("update_mask", "required");
    }
    let mut changes = dispatch_store::partners::PartnerChanges::default();
    for (i, path) in paths.iter().enumerate() {
        match path.as_str() {
            "display_name" => {
                check_display_name(
                    &mut violations,
                    "partner_agency.display_name",
                    &partner.display_name,
                );
                changes.display_name = Some(partner.display_name.clone());
            }
            "kind" => match PartnerKind::from_wire(partner.kind) {
                Some(k) => changes.kind = Some(k),
                None => violations.add("partner_agency.kind", "required"),
            },
            "services" => {
                changes.services = violations.collect(validate_needs(
                    "partner_agency.services",
                    &partner
                        .services
                        .iter()
                        .map(|v| Need::from_wire(*v))
                        .collect::<Vec<_>>(),
                ));
            }
            "service_areas" => {
                let areas = service_areas(&partner.service_areas, &mut violations);
                if partner.service_areas.is_empty() {
                    violations.add(
                        "partner_agency.service_areas",
                        "at least one area the partner serves",
                    );
                }
                changes.areas = Some(areas);
            }
            "contacts" => changes.contacts = Some(contacts_json(&partner.contacts)),
            "location" => {
                changes.location = Some(partner.location.as_ref().and_then(|p| {
                    violations.collect(
                        GeoPoint::new(p.latitude, p.longitude)
                            .map_err(|v| v.within("partner_agency.location")),
                    )
                }));
            }
            "address" => {
                check_length(
                    &mut violations,
                    "partner_agency.address",
                    &partner.address,
                    500,
                );
                changes.address = Some(partner.address.clone());
            }
            other => violations.add(
                format!("update_mask.paths[{i}]"),
                format!("{other:?} cannot be updated here"),
            ),
        }
    }
    let (Some(key), Some(id), Some(etag)) = (key, id, etag) else {
        return Err(invalid(&violations));
    };
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    note_resource(partner_name(id));
    let updated = state
        .store
        .update_partner(&key, &principal.name, id, &changes, etag)
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
    let id = parse_partner_name("name", &request.get_ref().name).map_err(Error::from)?;
    if principal.partner_scope().is_some_and(|own| own != id) {
        return Err(Status::not_found(format!("{} not found", partner_name(id))));
    }
    let partner = state.store.get_partner(id).await.map_err(Error::from)?;
    Ok(Response::new(pb::GetPartnerAgencyResponse {
        partner_agency: Some(partner_message(&partner)),
    }))
}

pub async fn list_partners(
    state: &AppState,
    request: Request<pb::ListPartnerAgenciesRequest>,
) -> Result<Response<pb::ListPartnerAgenciesResponse>, Status> {
    let message = request.into_inner();
    let mut violations = Violations::new();
    let page = violations.collect(request::code_page(message.page_size, &message.page_token));
    let kinds = violations.collect(enum_filter::<PartnerKind>("kinds", &message.kinds));
    let services = violations.collect(enum_filter::<Need>("services", &message.services));
    let point = message.serves_point.as_ref().and_then(|p| {
        violations
            .collect(GeoPoint::new(p.latitude, p.longitude).map_err(|v| v.within("serves_point")))
    });
    let (Some(page), Some(kinds), Some(services)) = (page, kinds, services) else {
        return Err(invalid(&violations));
    };
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    let (partners, next) = state
        .store
        .list_partners(&page)
        .await
        .map_err(Error::from)?;
    Ok(Response::new(pb::ListPartnerAgenciesResponse {
        partner_agencies: partners
            .iter()
            .filter(|p| kinds.is_empty() || kinds.contains(&p.details.kind))
            .filter(|p| {
                services.is_empty() || services.iter().any(|s| p.details.services.contains(s))
            })
            .filter(|p| {
                point.is_none_or(|point| p.details.areas.iter().any(|a| a.contains(&point)))
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
    let message = request.into_inner();
    let mut violations = Violations::new();
    let key = violations.collect(idempotency(
        "UpdatePartnerCapacity",
        &principal,
        &message.request_id,
        &message,
        |m| m.request_id.clear(),
    ));
    let id = violations.collect(parse_partner_name("partner", &message.partner));
    let capacity = message.capacity.unwrap_or_default();
    if capacity.available_slots < 0 || capacity.total_slots < 0 {
        violations.add("capacity", "slots must not be negative");
    } else if capacity.available_slots > capacity.total_slots {
        violations.add("capacity.available_slots", "must not exceed total_slots");
    }
    check_length(&mut violations, "capacity.note", &capacity.note, 500);
    let (Some(key), Some(id)) = (key, id) else {
        return Err(invalid(&violations));
    };
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    if principal.partner_scope().is_some_and(|own| own != id) {
        return Err(Status::not_found(format!("{} not found", partner_name(id))));
    }
    let partner = state
        .store
        .update_partner_capacity(
            &key,
            &principal.name,
            id,
            capacity.available_slots,
            capacity.total_slots,
            capacity.not_accepting,
            &capacity.note,
        )
        .await
        .map_err(Error::from)?
        .value;
    note_resource(partner_name(id));
    Ok(Response::new(pb::UpdatePartnerCapacityResponse {
        partner_agency: Some(partner_message(&partner)),
    }))
}
