//! The demo's planned operations: tonight's concert in the Zócalo (C2 Móvil Centro as command
//! post, the 20 SSC patrols nearest the square staged, the cameras around it, the Guardia
//! Nacional taking part) and a standing watch zone over a hot spot in Iztapalapa. Request ids
//! come from the seed, so a second load creates nothing.

use chrono::{Duration, Timelike as _, Utc};
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::operation_service_client::OperationServiceClient;

use super::city::City;
use super::{Summary, request_id, rpc};
use crate::client::Clients;
use crate::error::Result;

/// The flagpole of the Zócalo.
const ZOCALO: (f64, f64) = (19.432_608, -99.133_209);
/// A hot spot in Iztapalapa (around Ermita Iztapalapa and Calzada Ermita).
const IZTAPALAPA: (f64, f64) = (19.3580, -99.0600);

fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let d_lat = lat2 - lat1;
    let d_lon = (b.1 - a.1).to_radians();
    let h = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
    2.0 * 6_371_000.0 * h.sqrt().asin()
}

/// A square `half_m` either side of `centre`.
fn square(centre: (f64, f64), half_m: f64) -> pb::Polygon {
    let d_lat = half_m / 111_320.0;
    let d_lon = half_m / (111_320.0 * centre.0.to_radians().cos());
    pb::Polygon {
        points: [(-1.0, -1.0), (-1.0, 1.0), (1.0, 1.0), (1.0, -1.0)]
            .into_iter()
            .map(|(n, e)| pb::GeoPoint {
                latitude: centre.0 + n * d_lat,
                longitude: centre.1 + e * d_lon,
            })
            .collect(),
    }
}

/// Every camera's name by its code.
async fn cameras_by_code(clients: &Clients) -> Result<std::collections::HashMap<String, String>> {
    let mut found = std::collections::HashMap::new();
    let mut page_token = String::new();
    loop {
        let page = clients
            .directory()
            .list_cameras(pb::ListCamerasRequest {
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .map_err(rpc("ListCameras"))?
            .into_inner();
        found.extend(page.cameras.into_iter().map(|c| (c.code, c.name)));
        if page.next_page_token.is_empty() {
            return Ok(found);
        }
        page_token = page.next_page_token;
    }
}

pub async fn ensure_operations(
    supervisor: &Clients,
    city: &City,
    seed: u64,
    summary: &mut Summary,
) -> Result<()> {
    let units = super::units_by_call_sign(supervisor).await?;
    let cameras = cameras_by_code(supervisor).await?;
    let agencies = supervisor
        .directory()
        .list_agencies(pb::ListAgenciesRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .map_err(rpc("ListAgencies"))?
        .into_inner()
        .agencies;
    let agency = |code: &str| {
        agencies
            .iter()
            .find(|a| a.code == code)
            .map(|a| a.name.clone())
    };
    // The Guardia Nacional takes part in the concert: a federal agency.
    let federal = match agency("GN") {
        Some(name) => name,
        None => supervisor
            .directory()
            .create_agency(pb::CreateAgencyRequest {
                request_id: request_id(seed, "agency/GN"),
                agency: Some(pb::Agency {
                    code: "GN".into(),
                    display_name: "Guardia Nacional (federal)".into(),
                    kind: pb::AgencyKind::Police.into(),
                    ..Default::default()
                }),
            })
            .await
            .map_err(rpc("CreateAgency"))?
            .into_inner()
            .agency
            .map(|a| a.name)
            .unwrap_or_default(),
    };
    let mut patrols: Vec<(f64, &str)> = city
        .units
        .iter()
        .filter(|u| u.agency == "SSC" && u.unit_type == pb::UnitType::Patrol)
        .map(|u| (distance_m(ZOCALO, (u.lat, u.lon)), u.call_sign.as_str()))
        .collect();
    patrols.sort_by(|a, b| a.0.total_cmp(&b.0));
    let staged: Vec<String> = patrols
        .iter()
        .filter_map(|(_, call_sign)| units.get(*call_sign).map(|u| u.name.clone()))
        .take(20)
        .collect();
    let command_post = city
        .units
        .iter()
        .filter(|u| u.unit_type == pb::UnitType::MobileCommandPost)
        .min_by(|a, b| {
            distance_m(ZOCALO, (a.lat, a.lon)).total_cmp(&distance_m(ZOCALO, (b.lat, b.lon)))
        })
        .and_then(|u| units.get(&u.call_sign))
        .map(|u| u.name.clone())
        .unwrap_or_default();
    let near = |centre: (f64, f64), radius_m: f64| -> Vec<String> {
        city.cameras
            .iter()
            .filter(|c| distance_m(centre, (c.lat, c.lon)) <= radius_m)
            .filter_map(|c| cameras.get(&c.code).cloned())
            .collect()
    };
    // Tonight: from 18:00 local (UTC-6) for eight hours, or from now when later.
    let now = Utc::now();
    let evening = now
        .with_hour(0)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .map_or(now, |midnight| midnight + Duration::hours(24));
    let start = (evening - Duration::hours(6)).min(now);
    let plans = [
        (
            "operation/concert",
            pb::Operation {
                display_name: "Concierto en el Zócalo".into(),
                zones: vec![square(ZOCALO, 130.0)],
                start_time: Some(crate::parse::timestamp(start)),
                end_time: Some(crate::parse::timestamp(evening + Duration::hours(2))),
                agencies: [agency("SSC"), agency("C5"), agency("ERUM"), Some(federal)]
                    .into_iter()
                    .flatten()
                    .collect(),
                command_post,
                staged_units: staged,
                cameras: near(ZOCALO, 500.0),
                ..Default::default()
            },
        ),
        (
            "operation/iztapalapa",
            pb::Operation {
                display_name: "Zona de vigilancia Iztapalapa (alta incidencia)".into(),
                zones: vec![square(IZTAPALAPA, 700.0)],
                start_time: Some(crate::parse::timestamp(now - Duration::days(1))),
                end_time: None,
                agencies: [agency("SSC"), agency("C5")]
                    .into_iter()
                    .flatten()
                    .collect(),
                cameras: near(IZTAPALAPA, 700.0),
                ..Default::default()
            },
        ),
    ];
    let mut client = OperationServiceClient::new(supervisor.authed_channel());
    // Planned once: an operation of the same name is the one an earlier load planned (its
    // window was computed then, so its request would differ).
    let mut planned: Vec<String> = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_operations(pb::ListOperationsRequest {
                page_size: 500,
                page_token,
            })
            .await
            .map_err(rpc("ListOperations"))?
            .into_inner();
        planned.extend(page.operations.into_iter().map(|o| o.display_name));
        page_token = page.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    for (what, operation) in plans {
        if planned.contains(&operation.display_name) {
            summary.add("operations", false);
            continue;
        }
        client
            .create_operation(pb::CreateOperationRequest {
                request_id: request_id(seed, what),
                operation: Some(operation),
            })
            .await
            .map_err(rpc("CreateOperation"))?;
        summary.add("operations", true);
    }
    Ok(())
}
