//! Fixtures shared by the test binaries: setting a scene over gRPC (as the test server's
//! supervisor) and reading back what happened. One place for the agencies, stations, units,
//! positions, calls, incidents and assignments a test needs.

use crate::{TestServer, request_id};
use dispatch_proto::v1 as pb;

/// Mexico City's Zócalo.
pub const ZOCALO: (f64, f64) = (19.432_608, -99.133_209);
/// The square (south, west, north, east) a "central" partner serves.
pub const CENTRE: [f64; 4] = [19.30, -99.25, 19.55, -99.00];

pub fn geo((latitude, longitude): (f64, f64)) -> pb::GeoPoint {
    pb::GeoPoint {
        latitude,
        longitude,
    }
}

pub fn point(at: (f64, f64)) -> Option<pb::GeoPoint> {
    Some(geo(at))
}

/// A device fix at `at`, as a call's location.
pub fn location(at: (f64, f64), uncertainty_m: f64) -> Option<pb::Location> {
    Some(pb::Location {
        point: point(at),
        uncertainty_m,
        source: pb::LocationSource::Device.into(),
        civic_address: String::new(),
    })
}

/// An agency named by its code (`display_name` too): "agencies/{uuid}".
pub async fn agency(server: &TestServer, code: &str, kind: pb::AgencyKind) -> String {
    create_agency(
        server,
        pb::Agency {
            code: code.into(),
            display_name: code.into(),
            kind: kind.into(),
            ..Default::default()
        },
    )
    .await
    .name
}

pub async fn create_agency(server: &TestServer, agency: pb::Agency) -> pb::Agency {
    server
        .directory()
        .create_agency(pb::CreateAgencyRequest {
            request_id: request_id(),
            agency: Some(agency),
        })
        .await
        .expect("agency")
        .into_inner()
        .agency
        .expect("agency")
}

/// Position fixes, now, from the AVL gateway.
pub async fn report(server: &TestServer, moves: &[(&str, (f64, f64))]) {
    let response = server
        .gateway()
        .await
        .report_position_batch(pb::ReportPositionBatchRequest {
            request_id: request_id(),
            reports: moves
                .iter()
                .map(|(unit, at)| position_report(unit, *at))
                .collect(),
        })
        .await
        .expect("report")
        .into_inner();
    assert!(response.rejected.is_empty(), "{response:?}");
}

/// A fix of `unit` at `at`, now, 10 m accurate.
pub fn position_report(unit: &str, at: (f64, f64)) -> pb::PositionReport {
    let now = chrono::Utc::now();
    pb::PositionReport {
        unit: unit.into(),
        point: point(at),
        accuracy_m: 10.0,
        heading_deg: None,
        speed_mps: None,
        fix_time: Some(prost_types::Timestamp {
            seconds: now.timestamp(),
            nanos: i32::try_from(now.timestamp_subsec_nanos()).expect("nanos"),
        }),
    }
}

/// A 911 call at `at` and the incident opened from it.
pub async fn incident_at(server: &TestServer, at: (f64, f64)) -> pb::Incident {
    let call = call_at(at, 10.0);
    open_from(server, call, "").await
}

/// A 911 call at `at` (with a fresh callback number), as a call taker records it.
pub fn call_at(at: (f64, f64), uncertainty_m: f64) -> pb::CreateCallRequest {
    pb::CreateCallRequest {
        request_id: request_id(),
        channel: pb::CallChannel::Voice911.into(),
        location: location(at, uncertainty_m),
        callback_number: format!("+5255{:08}", uuid::Uuid::new_v4().as_u128() % 100_000_000),
        ..Default::default()
    }
}

/// Records `call` and opens an incident of `incident_type` (empty: the call's hint) from it.
pub async fn open_from(
    server: &TestServer,
    call: pb::CreateCallRequest,
    incident_type: &str,
) -> pb::Incident {
    let call = server
        .calls()
        .create_call(call)
        .await
        .expect("call")
        .into_inner()
        .call
        .expect("call");
    open_incident(server, &call.name, incident_type).await
}

/// Opens an incident of `incident_type` (empty: the call's hint) from the call `call`.
pub async fn open_incident(server: &TestServer, call: &str, incident_type: &str) -> pb::Incident {
    server
        .calls()
        .open_incident_from_call(pb::OpenIncidentFromCallRequest {
            request_id: request_id(),
            name: call.into(),
            incident_type: incident_type.into(),
            ..Default::default()
        })
        .await
        .expect("open incident")
        .into_inner()
        .incident
        .expect("incident")
}

pub async fn get_unit(server: &TestServer, name: &str) -> pb::Unit {
    server
        .directory()
        .get_unit(pb::GetUnitRequest { name: name.into() })
        .await
        .expect("get unit")
        .into_inner()
        .unit
        .expect("unit")
}

pub async fn station(server: &TestServer, agency: &str, code: &str, at: (f64, f64)) -> String {
    server
        .directory()
        .create_station(station_request(agency, code, at))
        .await
        .expect("station")
        .into_inner()
        .station
        .expect("station")
        .name
}

/// Station `code` ("Base {code}") of `agency`, at `at`.
pub fn station_request(agency: &str, code: &str, at: (f64, f64)) -> pb::CreateStationRequest {
    pb::CreateStationRequest {
        request_id: request_id(),
        station: Some(pb::Station {
            agency: agency.into(),
            code: code.into(),
            display_name: format!("Base {code}"),
            location: point(at),
            ..Default::default()
        }),
    }
}

/// `km` kilometres north (negative: south) and east of `from`.
pub fn offset((lat, lon): (f64, f64), north_km: f64, east_km: f64) -> (f64, f64) {
    (
        lat + north_km / 111.195,
        lon + east_km / (111.195 * lat.to_radians().cos()),
    )
}

/// A small city centre: a police agency and an EMS agency, each with a station, and around the
/// Zócalo two patrols and two ALS ambulances (the nearer of each first), all AVAILABLE with
/// fresh fixes.
#[derive(Debug)]
pub struct Scene {
    /// The police and EMS agencies, "agencies/{uuid}".
    pub police: String,
    pub ems: String,
    pub patrols: Vec<pb::Unit>,
    pub ambulances: Vec<pb::Unit>,
}

impl Scene {
    pub async fn new(server: &TestServer) -> Self {
        let police = agency(server, "SSC", pb::AgencyKind::Police).await;
        let ems = agency(server, "ERUM", pb::AgencyKind::Ems).await;
        let police_station = station(server, &police, "CUH1", offset(ZOCALO, 0.8, 0.3)).await;
        let ems_station = station(server, &ems, "ERUM1", offset(ZOCALO, -1.0, -0.5)).await;
        let mut patrols = Vec::new();
        for (call_sign, at) in [
            ("P-CUH1-01", offset(ZOCALO, 0.4, 0.2)),
            ("P-CUH1-02", offset(ZOCALO, 2.5, -1.5)),
        ] {
            patrols.push(
                unit_at(
                    server,
                    &police,
                    &police_station,
                    call_sign,
                    pb::UnitType::Patrol,
                    at,
                )
                .await,
            );
        }
        let mut ambulances = Vec::new();
        for (call_sign, at) in [
            ("A-ERUM-01", offset(ZOCALO, -0.6, 0.1)),
            ("A-ERUM-02", offset(ZOCALO, -3.0, 2.0)),
        ] {
            ambulances.push(
                unit_at(
                    server,
                    &ems,
                    &ems_station,
                    call_sign,
                    pb::UnitType::AlsAmbulance,
                    at,
                )
                .await,
            );
        }
        Self {
            police,
            ems,
            patrols,
            ambulances,
        }
    }
}

/// An AVAILABLE unit of `agency` based at `station`, with a fresh fix at `at`.
pub async fn unit_at(
    server: &TestServer,
    agency: &str,
    station: &str,
    call_sign: &str,
    unit_type: pb::UnitType,
    at: (f64, f64),
) -> pb::Unit {
    let unit = create_unit(
        server,
        pb::Unit {
            home_station: station.into(),
            ..available(agency, call_sign, unit_type)
        },
    )
    .await;
    report(server, &[(unit.name.as_str(), at)]).await;
    unit
}

/// An AVAILABLE unit of `agency`, with no station and no position yet.
pub async fn unit(
    server: &TestServer,
    agency: &str,
    call_sign: &str,
    unit_type: pb::UnitType,
) -> pb::Unit {
    create_unit(server, available(agency, call_sign, unit_type)).await
}

/// An AVAILABLE unit of `agency`, to create.
pub fn available(agency: &str, call_sign: &str, unit_type: pb::UnitType) -> pb::Unit {
    pb::Unit {
        call_sign: call_sign.into(),
        agency: agency.into(),
        unit_type: unit_type.into(),
        status: pb::UnitStatus::Available.into(),
        ..Default::default()
    }
}

pub async fn create_unit(server: &TestServer, unit: pb::Unit) -> pb::Unit {
    server
        .directory()
        .create_unit(pb::CreateUnitRequest {
            request_id: request_id(),
            unit: Some(unit),
        })
        .await
        .expect("create unit")
        .into_inner()
        .unit
        .expect("unit")
}

/// A service area: the polygon through `corners`, (latitude, longitude) pairs.
pub fn polygon_area(display_name: &str, corners: &[(f64, f64)]) -> pb::ServiceArea {
    pb::ServiceArea {
        display_name: display_name.into(),
        shape: Some(pb::service_area::Shape::Polygon(pb::Polygon {
            points: corners
                .iter()
                .map(|&(latitude, longitude)| pb::GeoPoint {
                    latitude,
                    longitude,
                })
                .collect(),
        })),
    }
}

/// A service area: the rectangle `[south, west, north, east]`.
pub fn square_area(display_name: &str, [south, west, north, east]: [f64; 4]) -> pb::ServiceArea {
    let corners = [(south, west), (south, east), (north, east), (north, west)];
    polygon_area(display_name, &corners)
}

/// Mexico City and around, as a rectangle.
pub const CDMX: [(f64, f64); 4] = [(19.0, -99.5), (19.0, -98.8), (19.8, -98.8), (19.8, -99.5)];

/// A shelter ("Refugio") serving [`CDMX`]: "partners/{uuid}".
pub async fn shelter(server: &TestServer, code: &str) -> String {
    let area = polygon_area("CDMX", &CDMX);
    let shelter = partner_agency(
        code,
        "Refugio",
        pb::PartnerKind::Shelter,
        pb::ReferralNeed::Shelter,
        area,
    );
    create_partner(server, shelter).await.name
}

/// Partner agency `code` of `kind`, offering `need` in `area`, to create.
pub fn partner_agency(
    code: &str,
    display_name: &str,
    kind: pb::PartnerKind,
    need: pb::ReferralNeed,
    area: pb::ServiceArea,
) -> pb::PartnerAgency {
    pb::PartnerAgency {
        code: code.into(),
        display_name: display_name.into(),
        kind: kind.into(),
        services: vec![need.into()],
        service_areas: vec![area],
        ..Default::default()
    }
}

/// `available_slots` of `total_slots` free, accepting.
pub fn capacity(available_slots: i32, total_slots: i32) -> Option<pb::Capacity> {
    Some(pb::Capacity {
        available_slots,
        total_slots,
        ..Default::default()
    })
}

pub async fn create_partner(server: &TestServer, partner: pb::PartnerAgency) -> pb::PartnerAgency {
    server
        .directory()
        .create_partner_agency(pb::CreatePartnerAgencyRequest {
            request_id: request_id(),
            partner_agency: Some(partner),
        })
        .await
        .expect("partner")
        .into_inner()
        .partner_agency
        .expect("partner")
}

/// A 911 call about a crash at `at`, and the incident opened from it (type TRAFFIC-INJURY,
/// not triaged yet).
pub async fn crash_at(server: &TestServer, at: (f64, f64)) -> pb::Incident {
    let call = pb::CreateCallRequest {
        account: "Choque, hay heridos".into(),
        incident_type_hint: "TRAFFIC-INJURY".into(),
        ..call_at(at, 20.0)
    };
    open_from(server, call, "TRAFFIC-INJURY").await
}

pub async fn get_incident(server: &TestServer, name: &str) -> pb::Incident {
    server
        .triage()
        .get_incident(pb::GetIncidentRequest {
            name: name.into(),
            ..Default::default()
        })
        .await
        .expect("get incident")
        .into_inner()
        .incident
        .expect("incident")
}

/// Triages a TRAFFIC-INJURY incident with someone not alert: one ALS and one patrol.
pub async fn triage_not_alert(server: &TestServer, incident: &str) {
    let yes_no = |id: &str, value: bool| pb::TriageAnswer {
        question_id: id.into(),
        value: Some(pb::triage_answer::Value::YesNo(value)),
    };
    server
        .triage()
        .triage_incident(pb::TriageIncidentRequest {
            request_id: request_id(),
            name: incident.into(),
            answers: vec![yes_no("all_alert", false), yes_no("fire", false)],
            ..Default::default()
        })
        .await
        .expect("triage");
}

/// Commits `unit` to `incident` (an override of no recommendation).
pub async fn assign(server: &TestServer, incident: &str, unit: &str) {
    server
        .units()
        .assign_units(assign_request(incident, unit, "browser test"))
        .await
        .expect("assign");
}

/// `unit` to `incident`, an override of no recommendation for `override_reason`.
pub fn assign_request(incident: &str, unit: &str, override_reason: &str) -> pb::AssignUnitsRequest {
    pb::AssignUnitsRequest {
        request_id: request_id(),
        incident: incident.into(),
        units: vec![unit.into()],
        recommendation: String::new(),
        override_reason: override_reason.into(),
    }
}

/// Takes `unit` off `incident`: it is AVAILABLE again.
pub async fn release(server: &TestServer, incident: &str, unit: &str) {
    server
        .units()
        .release_unit(pb::ReleaseUnitRequest {
            request_id: request_id(),
            unit: unit.into(),
            incident: incident.into(),
            reason: "browser test".into(),
        })
        .await
        .expect("release");
}

pub async fn set_status(server: &TestServer, unit: &str, status: pb::UnitStatus) -> pb::Unit {
    server
        .units()
        .set_unit_status(set_status_request(unit, status))
        .await
        .expect("status")
        .into_inner()
        .unit
        .expect("unit")
}

pub fn set_status_request(unit: &str, status: pb::UnitStatus) -> pb::SetUnitStatusRequest {
    pb::SetUnitStatusRequest {
        request_id: request_id(),
        unit: unit.into(),
        status: status.into(),
        ..Default::default()
    }
}

/// Milliseconds since the Unix epoch, the clock the browser's `Date.now()` reads.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    i64::try_from(since.as_millis()).expect("milliseconds fit")
}

/// Every item of a List RPC, page after page: `page` fetches the page at a token (empty: the
/// first) and returns its items and the next page's token (empty after the last).
pub async fn every_page<T>(
    mut page: impl AsyncFnMut(String) -> Result<(Vec<T>, String), tonic::Status>,
) -> Result<Vec<T>, tonic::Status> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = page(token).await?;
        all.extend(items);
        if next.is_empty() {
            return Ok(all);
        }
        token = next;
    }
}

/// The units a recommendation for one patrol offers for `incident`, best first, at most
/// `candidates`.
pub async fn recommended_patrols(
    server: &TestServer,
    incident: &str,
    candidates: i32,
) -> Vec<String> {
    server
        .units()
        .recommend_units(patrol_recommendation(incident, candidates))
        .await
        .expect("recommend")
        .into_inner()
        .recommendation
        .expect("recommendation")
        .fills
        .into_iter()
        .flat_map(|fill| fill.candidates)
        .map(|candidate| candidate.unit)
        .collect()
}

/// A referral of victim `alias`, an adult, from `incident` to `partner` for `need`, with the
/// victim's consent given a minute ago.
pub fn referral_request(
    incident: &str,
    partner: &str,
    need: pb::ReferralNeed,
    alias: &str,
) -> pb::CreateReferralRequest {
    pb::CreateReferralRequest {
        request_id: request_id(),
        incident: incident.into(),
        victim: Some(pb::Victim {
            alias: alias.into(),
            age_range: pb::AgeRange::Adult.into(),
            ..Default::default()
        }),
        needs: vec![need.into()],
        partner: partner.into(),
        consent: Some(pb::Consent {
            given: true,
            given_by: "victim".into(),
            given_time: Some(prost_types::Timestamp {
                seconds: chrono::Utc::now().timestamp() - 60,
                nanos: 0,
            }),
            scope: "share contact with the partner".into(),
        }),
        life_threat_medical_handoff: false,
        notes: String::new(),
    }
}

pub async fn refer(server: &TestServer, request: pb::CreateReferralRequest) -> pb::Referral {
    server
        .referrals()
        .create_referral(request)
        .await
        .expect("create referral")
        .into_inner()
        .referral
        .expect("referral")
}

/// A recommendation for one patrol for `incident`, at most `candidates` offered.
pub fn patrol_recommendation(incident: &str, candidates: i32) -> pb::RecommendUnitsRequest {
    pb::RecommendUnitsRequest {
        request_id: request_id(),
        incident: incident.into(),
        plan_override: Some(pb::ResponsePlan {
            requirements: vec![pb::PlanRequirement {
                capability: "patrol".into(),
                count: 1,
                description: String::new(),
            }],
        }),
        max_candidates_per_requirement: candidates,
    }
}
