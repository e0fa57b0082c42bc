//! Partner agencies on the wire: their messages, service areas and contacts.

use dispatch_domain::Violations;
use dispatch_domain::location::GeoPoint;
use dispatch_domain::referral::{Polygon, ServiceArea, partner_name};
use dispatch_proto::v1 as pb;
use dispatch_store::partners::Partner;

use super::enums::WireEnum;
use super::wire::{self, timestamp};
use crate::services::request;

pub fn partner_message(partner: &Partner) -> pb::PartnerAgency {
    let details = &partner.details;
    pb::PartnerAgency {
        name: partner_name(partner.id),
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

/// GeoJSON Polygon or MultiPolygon text into the domain's polygons.
pub fn geojson_polygons(text: &str) -> Result<Vec<Polygon>, Violations> {
    let bad =
        |why: &str| Violations::single("", format!("not a GeoJSON Polygon or MultiPolygon: {why}"));
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
    let geometry = if value["type"] == "Feature" {
        &value["geometry"]
    } else {
        &value
    };
    let rings_of = |coords: &serde_json::Value| -> Result<Vec<Vec<[f64; 2]>>, Violations> {
        serde_json::from_value(coords.clone())
            .map_err(|_| bad("coordinates must be [[[lon, lat], ...], ...]"))
    };
    match geometry["type"].as_str() {
        Some("Polygon") => Ok(vec![Polygon::from_geojson_rings(&rings_of(
            &geometry["coordinates"],
        )?)?]),
        Some("MultiPolygon") => geometry["coordinates"]
            .as_array()
            .ok_or_else(|| bad("coordinates must be an array"))?
            .iter()
            .map(|polygon| Polygon::from_geojson_rings(&rings_of(polygon)?))
            .collect(),
        _ => Err(bad("type must be Polygon or MultiPolygon")),
    }
}

/// Wire service areas into the domain's; violations name `partner_agency.service_areas[i]`.
pub fn service_areas(areas: &[pb::ServiceArea], violations: &mut Violations) -> Vec<ServiceArea> {
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
            Some(pb::service_area::Shape::Geojson(text)) => violations
                .collect(geojson_polygons(text).map_err(|v| v.within(&format!("{field}.geojson")))),
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

pub fn contacts_json(contacts: &[pb::Contact]) -> serde_json::Value {
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
