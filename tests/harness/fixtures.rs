//! Fixtures shared by the test binaries: setting a scene over gRPC (as the test server's
//! supervisor) and reading back what happened. One place for the agencies, stations, units,
//! positions, calls, incidents and assignments a test needs.

use crate::{TestServer, request_id};
use dispatch_proto::v1 as pb;

pub const ZOCALO: (f64, f64) = (19.432_608, -99.133_209);

pub fn point((latitude, longitude): (f64, f64)) -> Option<pb::GeoPoint> {
    Some(pb::GeoPoint {
        latitude,
        longitude,
    })
}

pub async fn agency(server: &TestServer, code: &str, kind: pb::AgencyKind) -> String {
    server
        .directory()
        .create_agency(pb::CreateAgencyRequest {
            request_id: request_id(),
            agency: Some(pb::Agency {
                code: code.into(),
                display_name: code.into(),
                kind: kind.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("agency")
        .into_inner()
        .agency
        .expect("agency")
        .name
}

/// Position fixes, now, from the AVL gateway.
pub async fn report(server: &TestServer, moves: &[(&str, (f64, f64))]) {
    let now = chrono::Utc::now();
    let response = server
        .gateway()
        .await
        .report_position_batch(pb::ReportPositionBatchRequest {
            request_id: request_id(),
            reports: moves
                .iter()
                .map(|(unit, at)| pb::PositionReport {
                    unit: (*unit).into(),
                    point: point(*at),
                    accuracy_m: 10.0,
                    heading_deg: None,
                    speed_mps: None,
                    fix_time: Some(prost_types::Timestamp {
                        seconds: now.timestamp(),
                        nanos: i32::try_from(now.timestamp_subsec_nanos()).expect("nanos"),
                    }),
                })
                .collect(),
        })
        .await
        .expect("report")
        .into_inner();
    assert!(response.rejected.is_empty(), "{response:?}");
}

/// A 911 call at `at` and the incident opened from it.
pub async fn incident_at(server: &TestServer, at: (f64, f64)) -> pb::Incident {
    let call = call_at(at, 10.0);
    open_from(server, call, "").await
}

/// A 911 call at `at` (with a fresh callback number), as a call taker records it.
fn call_at(at: (f64, f64), uncertainty_m: f64) -> pb::CreateCallRequest {
    pb::CreateCallRequest {
        request_id: request_id(),
        channel: pb::CallChannel::Voice911.into(),
        location: Some(pb::Location {
            point: point(at),
            uncertainty_m,
            source: pb::LocationSource::Device.into(),
            civic_address: String::new(),
        }),
        callback_number: format!("+5255{:08}", uuid::Uuid::new_v4().as_u128() % 100_000_000),
        ..Default::default()
    }
}

/// Records `call` and opens an incident of `incident_type` (empty: the call's hint) from it.
async fn open_from(
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
    server
        .calls()
        .open_incident_from_call(pb::OpenIncidentFromCallRequest {
            request_id: request_id(),
            name: call.name,
            incident_type: incident_type.into(),
            ..Default::default()
        })
        .await
        .expect("incident")
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
        .create_station(pb::CreateStationRequest {
            request_id: request_id(),
            station: Some(pb::Station {
                agency: agency.into(),
                code: code.into(),
                display_name: format!("Base {code}"),
                location: point(at),
                ..Default::default()
            }),
        })
        .await
        .expect("station")
        .into_inner()
        .station
        .expect("station")
        .name
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
    let unit = server
        .directory()
        .create_unit(pb::CreateUnitRequest {
            request_id: request_id(),
            unit: Some(pb::Unit {
                call_sign: call_sign.into(),
                agency: agency.into(),
                home_station: station.into(),
                unit_type: unit_type.into(),
                status: pb::UnitStatus::Available.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("create unit")
        .into_inner()
        .unit
        .expect("unit");
    report(server, &[(unit.name.as_str(), at)]).await;
    unit
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
        .assign_units(pb::AssignUnitsRequest {
            request_id: request_id(),
            incident: incident.into(),
            units: vec![unit.into()],
            recommendation: String::new(),
            override_reason: "browser test".into(),
        })
        .await
        .expect("assign");
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

pub async fn set_status(server: &TestServer, unit: &str, status: pb::UnitStatus) {
    server
        .units()
        .set_unit_status(pb::SetUnitStatusRequest {
            request_id: request_id(),
            unit: unit.into(),
            status: status.into(),
            ..Default::default()
        })
        .await
        .expect("status");
}

/// Milliseconds since the Unix epoch, the clock the browser's `Date.now()` reads.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    i64::try_from(since.as_millis()).expect("milliseconds fit")
}
