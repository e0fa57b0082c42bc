//! Partner agencies on the wire: their messages, service areas and contacts.

use dispatch_domain::Violations;
use dispatch_domain::call::check_length;
use dispatch_domain::directory::{check_code, check_display_name};
use dispatch_domain::ids::PartnerId;
use dispatch_domain::location::GeoPoint;
use dispatch_domain::referral::{Need, PartnerKind, Polygon, ServiceArea, validate_needs};
use dispatch_proto::v1 as pb;
use dispatch_store::Page;
use dispatch_store::partners::{NewPartner, Partner, PartnerCapacity, PartnerChanges};

use super::enums::{WireEnum, enum_filter};
use super::wire::{self, mutation, timestamp, valid};
use crate::services::request::{self, Mutation};

pub fn partner_message(partner: &Partner) -> pb::PartnerAgency {
    let details = &partner.details;
    pb::PartnerAgency {
        name: partner.id.name(),
        code: details.code.clone(),
        display_name: details.display_name.clone(),
        kind: details.kind.wire(),
        services: details.services.iter().map(|n| n.wire()).collect(),
        service_areas: details
            .areas
            .iter()
            .flat_map(|area| {
                area.polygons.iter().map(|polygon| pb::ServiceArea {
                    display_name: area.display_name.clone(),
                    shape: Some(pb::service_area::Shape::Polygon(pb::Polygon {
                        points: polygon.exterior().iter().map(wire::geo_point).collect(),
                    })),
                })
            })
            .collect(),
        capacity: Some(pb::Capacity {
            available_slots: details.available_slots,
            total_slots: details.total_slots,
            not_accepting: details.not_accepting,
            update_time: Some(timestamp(partner.capacity_updated_at)),
            note: partner.capacity_note.clone(),
        }),
        contacts: serde_json::from_value::<Vec<(String, String, String, String)>>(
            details.contacts.clone(),
        )
        .unwrap_or_default()
        .into_iter()
        .map(|(name, role, phone, email)| pb::Contact {
            name,
            role,
            phone,
            email,
        })
        .collect(),
        location: details.location.as_ref().map(wire::geo_point),
        address: details.address.clone(),
        create_time: Some(timestamp(partner.created_at)),
        update_time: Some(timestamp(partner.updated_at)),
        etag: request::etag(partner.version),
    }
}

/// Wire service areas into the domain's; violations name `partner_agency.service_areas[i]`.
fn service_areas(areas: &[pb::ServiceArea], violations: &mut Violations) -> Vec<ServiceArea> {
    let mut valid = Vec::new();
    for (i, area) in areas.iter().enumerate() {
        let field = format!("partner_agency.service_areas[{i}]");
        let polygons = match &area.shape {
            Some(pb::service_area::Shape::Polygon(polygon)) => {
                // Every bad point, each at its own path.
                let mut points = Vec::with_capacity(polygon.points.len());
                let mut bad_point = false;
                for (j, p) in polygon.points.iter().enumerate() {
                    match GeoPoint::new(p.latitude, p.longitude) {
                        Ok(point) => points.push(point),
                        Err(v) => {
                            bad_point = true;
                            violations.collect::<()>(Err(
                                v.within(&format!("{field}.polygon.points[{j}]"))
                            ));
                        }
                    }
                }
                if bad_point {
                    None
                } else {
                    violations.collect(
                        Polygon::new(points)
                            .map(|p| vec![p])
                            .map_err(|v| v.within(&format!("{field}.polygon"))),
                    )
                }
            }
            Some(pb::service_area::Shape::Geojson(text)) => violations.collect(
                Polygon::from_geojson(text).map_err(|v| v.within(&format!("{field}.geojson"))),
            ),
            None => {
                violations.add(field.clone(), "required: a polygon or GeoJSON");
                None
            }
        };
        if let Some(polygons) = polygons {
            valid.extend(violations.collect(
                ServiceArea::new(area.display_name.clone(), polygons).map_err(|v| v.within(&field)),
            ));
        }
    }
    valid
}

fn contacts_json(contacts: &[pb::Contact]) -> serde_json::Value {
    serde_json::to_value(
        contacts
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.role.clone(),
                    c.phone.clone(),
                    c.email.clone(),
                )
            })
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default()
}

fn needs(field: &str, values: &[i32]) -> Result<Vec<Need>, Violations> {
    validate_needs(
        field,
        &values
            .iter()
            .map(|v| Need::from_wire(*v))
            .collect::<Vec<_>>(),
    )
}

fn optional_point(
    field: &str,
    value: Option<&pb::GeoPoint>,
    violations: &mut Violations,
) -> Option<GeoPoint> {
    value.and_then(|p| {
        violations.collect(GeoPoint::new(p.latitude, p.longitude).map_err(|v| v.within(field)))
    })
}

/// Slots are counted, and never more free than there are; violations name `field`.
fn check_capacity(field: &str, capacity: &pb::Capacity, violations: &mut Violations) {
    if capacity.available_slots < 0 || capacity.total_slots < 0 {
        violations.add(field, "slots must not be negative");
    } else if capacity.available_slots > capacity.total_slots {
        violations.add(
            format!("{field}.available_slots"),
            "must not exceed total_slots",
        );
    }
}

pub struct CreatePartner {
    pub mutation: Mutation,
    pub partner: NewPartner,
}

impl TryFrom<pb::CreatePartnerAgencyRequest> for CreatePartner {
    type Error = Violations;

    fn try_from(message: pb::CreatePartnerAgencyRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let partner = wire::required(
            message.partner_agency,
            "partner_agency",
            "required",
            &mut violations,
        )?;
        check_code(&mut violations, "partner_agency.code", &partner.code, 64);
        check_display_name(
            &mut violations,
            "partner_agency.display_name",
            &partner.display_name,
        );
        let kind = PartnerKind::from_wire(partner.kind);
        if kind.is_none() {
            violations.add("partner_agency.kind", "required");
        }
        let services = violations.collect(needs("partner_agency.services", &partner.services));
        let areas = service_areas(&partner.service_areas, &mut violations);
        if areas.is_empty() && partner.service_areas.is_empty() {
            violations.add(
                "partner_agency.service_areas",
                "at least one area the partner serves",
            );
        }
        let location = optional_point(
            "partner_agency.location",
            partner.location.as_ref(),
            &mut violations,
        );
        let capacity = partner.capacity.unwrap_or_default();
        check_capacity("partner_agency.capacity", &capacity, &mut violations);
        check_length(
            &mut violations,
            "partner_agency.address",
            &partner.address,
            500,
        );
        let (Some(mutation), Some(kind), Some(services)) = (mutation, kind, services) else {
            return Err(violations);
        };
        let partner = NewPartner {
            code: partner.code,
            display_name: partner.display_name,
            kind,
            services,
            areas,
            location,
            address: partner.address,
            available_slots: capacity.available_slots,
            total_slots: capacity.total_slots,
            not_accepting: capacity.not_accepting,
            contacts: contacts_json(&partner.contacts),
        };
        valid(violations, || Some(Self { mutation, partner }))
    }
}

pub struct UpdatePartner {
    pub mutation: Mutation,
    pub partner: PartnerId,
    pub changes: PartnerChanges,
    pub etag: i64,
}

impl TryFrom<pb::UpdatePartnerAgencyRequest> for UpdatePartner {
    type Error = Violations;

    fn try_from(message: pb::UpdatePartnerAgencyRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let partner = wire::required(
            message.partner_agency.as_ref(),
            "partner_agency",
            "required: the partner's name, etag and new values",
            &mut violations,
        )?;
        let id = violations.collect(PartnerId::parse_name("partner_agency.name", &partner.name));
        let etag = request::required_etag(
            "partner_agency.etag",
            &partner.etag,
            "partner",
            &mut violations,
        );
        let mask = wire::Mask::of(
            message.update_mask.as_ref(),
            "display_name, kind, services, service_areas, contacts, location, address",
            &mut violations,
        );
        let mut changes = PartnerChanges::default();
        for (i, path) in mask.paths() {
            match path {
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
                    changes.services =
                        violations.collect(needs("partner_agency.services", &partner.services));
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
                    changes.location = Some(optional_point(
                        "partner_agency.location",
                        partner.location.as_ref(),
                        &mut violations,
                    ));
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
                other => mask.refuse(i, other, &mut violations),
            }
        }
        let (Some(mutation), Some(partner), Some(etag)) = (mutation, id, etag) else {
            return Err(violations);
        };
        valid(violations, || {
            Some(Self {
                mutation,
                partner,
                changes,
                etag,
            })
        })
    }
}

pub struct ListPartners {
    pub page: Page<String>,
    pub kinds: Vec<PartnerKind>,
    pub services: Vec<Need>,
    /// Only partners whose service areas hold this point.
    pub serves: Option<GeoPoint>,
}

impl TryFrom<pb::ListPartnerAgenciesRequest> for ListPartners {
    type Error = Violations;

    fn try_from(message: pb::ListPartnerAgenciesRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let page = violations.collect(request::code_page(message.page_size, &message.page_token));
        let kinds = violations.collect(enum_filter::<PartnerKind>("kinds", &message.kinds));
        let services = violations.collect(enum_filter::<Need>("services", &message.services));
        let serves = optional_point(
            "serves_point",
            message.serves_point.as_ref(),
            &mut violations,
        );
        valid(violations, || {
            Some(Self {
                page: page?,
                kinds: kinds?,
                services: services?,
                serves,
            })
        })
    }
}

pub struct UpdateCapacity {
    pub mutation: Mutation,
    pub partner: PartnerId,
    pub capacity: PartnerCapacity,
}

impl TryFrom<pb::UpdatePartnerCapacityRequest> for UpdateCapacity {
    type Error = Violations;

    fn try_from(message: pb::UpdatePartnerCapacityRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let id = violations.collect(PartnerId::parse_name("partner", &message.partner));
        let capacity = message.capacity.unwrap_or_default();
        check_capacity("capacity", &capacity, &mut violations);
        check_length(&mut violations, "capacity.note", &capacity.note, 500);
        let (Some(mutation), Some(partner)) = (mutation, id) else {
            return Err(violations);
        };
        valid(violations, || {
            Some(Self {
                mutation,
                partner,
                capacity: PartnerCapacity {
                    available_slots: capacity.available_slots,
                    total_slots: capacity.total_slots,
                    not_accepting: capacity.not_accepting,
                    note: capacity.note,
                },
            })
        })
    }
}
