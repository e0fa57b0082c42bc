//! Fixtures shared by the test binaries: setting a scene over gRPC (as the test server's
//! supervisor) and reading back what happened. One place for the agencies, stations, units,
//! positions, calls, incidents and assignments a test needs.

use std::time::Duration;

use crate::{Authed, TestServer, request_id};
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::directory_service_client::DirectoryServiceClient;
use dispatch_proto::v1::watch_incidents_response::Item as IncidentItem;

/// `paths`, as an update's field mask.
pub fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|&path| path.to_owned()).collect(),
    })
}

/// The kinds of timeline or history entries, as their enum (which must know every one).
pub fn kinds_of<K>(kinds: impl IntoIterator<Item = i32>) -> Vec<K>
where
    K: TryFrom<i32>,
    K::Error: std::fmt::Debug,
{
    kinds
        .into_iter()
        .map(|kind| K::try_from(kind).expect("a known kind"))
        .collect()
}

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
    create_agency(server, new_agency(code, code, kind))
        .await
        .name
}

/// Agency `code` of `kind`, to create.
pub fn new_agency(code: &str, display_name: &str, kind: pb::AgencyKind) -> pb::Agency {
    pb::Agency {
        code: code.into(),
        display_name: display_name.into(),
        kind: kind.into(),
        ..Default::default()
    }
}

pub async fn create_agency(server: &TestServer, agency: pb::Agency) -> pb::Agency {
    create_agency_in(&mut server.directory(), agency).await
}

/// Creates `agency` through `directory` (a client that may create agencies).
pub async fn create_agency_in(
    directory: &mut DirectoryServiceClient<Authed>,
    agency: pb::Agency,
) -> pb::Agency {
    directory
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

/// Creates `principal` through `admin` (a directory client holding an admin's token) and issues
/// it a bearer token: returns the principal's name and the token.
pub async fn enrol(
    admin: &mut DirectoryServiceClient<Authed>,
    principal: pb::Principal,
) -> (String, String) {
    let description = principal.display_name.clone();
    let principal = admin
        .create_principal(pb::CreatePrincipalRequest {
            request_id: request_id(),
            principal: Some(principal),
        })
        .await
        .expect("create principal")
        .into_inner()
        .principal
        .expect("principal");
    let token = admin
        .issue_credential(pb::IssueCredentialRequest {
            request_id: request_id(),
            principal: principal.name.clone(),
            kind: pb::CredentialKind::BearerToken.into(),
            description,
            ..Default::default()
        })
        .await
        .expect("issue credential")
        .into_inner()
        .token;
    (principal.name, token)
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

/// A 911 call at `at` (15 m accurate) telling `account` and hinting `hint`, and the incident
/// opened from it as `incident_type` (empty: the hint).
pub async fn reported_incident(
    server: &TestServer,
    at: (f64, f64),
    account: &str,
    hint: &str,
    incident_type: &str,
) -> pb::Incident {
    let call = pb::CreateCallRequest {
        account: account.into(),
        incident_type_hint: hint.into(),
        ..call_at(at, 15.0)
    };
    open_from(server, call, incident_type).await
}

/// Records `call` and opens an incident of `incident_type` (empty: the call's hint) from it.
pub async fn open_from(
    server: &TestServer,
    call: pb::CreateCallRequest,
    incident_type: &str,
) -> pb::Incident {
    let call = create_call(server, call).await.call.expect("call");
    open_incident(server, &call.name, incident_type).await
}

/// Records a call: the call and the incidents it may duplicate.
pub async fn create_call(
    server: &TestServer,
    call: pb::CreateCallRequest,
) -> pb::CreateCallResponse {
    create_call_as(server, &server.token, call).await
}

/// Records a call as the holder of `token`: the call and the incidents it may duplicate.
pub async fn create_call_as(
    server: &TestServer,
    token: &str,
    call: pb::CreateCallRequest,
) -> pb::CreateCallResponse {
    server
        .calls_as(token)
        .create_call(call)
        .await
        .expect("create call")
        .into_inner()
}

/// Adds the note `text` to `incident`.
pub async fn add_note(server: &TestServer, incident: &str, text: &str) -> pb::Incident {
    server
        .triage()
        .add_incident_note(pb::AddIncidentNoteRequest {
            request_id: request_id(),
            name: incident.into(),
            text: text.into(),
        })
        .await
        .expect("note")
        .into_inner()
        .incident
        .expect("incident")
}

/// Opens an incident of `incident_type` (empty: the call's hint) from the call `call`.
pub async fn open_incident(server: &TestServer, call: &str, incident_type: &str) -> pb::Incident {
    open_incident_as(server, &server.token, call, incident_type).await
}

/// [`open_incident`], as the holder of `token`.
pub async fn open_incident_as(
    server: &TestServer,
    token: &str,
    call: &str,
    incident_type: &str,
) -> pb::Incident {
    try_open_incident_as(server, token, call, incident_type)
        .await
        .expect("open incident")
}

/// OpenIncidentFromCall of `call` (an empty `incident_type`: the call's hint) as the supervisor:
/// the incident, or why not.
pub async fn try_open_incident(
    server: &TestServer,
    call: &str,
    incident_type: &str,
) -> Result<pb::Incident, tonic::Status> {
    try_open_incident_as(server, &server.token, call, incident_type).await
}

async fn try_open_incident_as(
    server: &TestServer,
    token: &str,
    call: &str,
    incident_type: &str,
) -> Result<pb::Incident, tonic::Status> {
    let request = pb::OpenIncidentFromCallRequest {
        request_id: request_id(),
        name: call.into(),
        incident_type: incident_type.into(),
        ..Default::default()
    };
    let answer = server
        .calls_as(token)
        .open_incident_from_call(request)
        .await?;
    Ok(answer.into_inner().incident.expect("incident"))
}

/// `pub async fn $name(server, name) -> $resource`: the resource `name`, read through
/// `$client` (an expression of `server`) with `$rpc`, which must answer it.
macro_rules! getter {
    ($name:ident($server:ident) = $client:expr, $rpc:ident(pb::$request:ident { $($more:tt)* }) -> $field:ident: $resource:ty) => {
        pub async fn $name($server: &TestServer, name: &str) -> $resource {
            $client
                .$rpc(pb::$request {
                    name: name.into(),
                    $($more)*
                })
                .await
                .expect(stringify!($rpc))
                .into_inner()
                .$field
                .expect(stringify!($field))
        }
    };
}

getter!(get_call(server) = server.calls(), get_call(pb::GetCallRequest {}) -> call: pb::Call);
getter!(get_unit(server) = server.directory(), get_unit(pb::GetUnitRequest {}) -> unit: pb::Unit);
getter!(
    get_referral(server) = server.referrals(),
    get_referral(pb::GetReferralRequest {}) -> referral: pb::Referral
);
getter!(
    get_incident(server) = server.triage(),
    get_incident(pb::GetIncidentRequest { ..Default::default() }) -> incident: pb::Incident
);
getter!(
    get_partner(server) = server.directory(),
    get_partner_agency(pb::GetPartnerAgencyRequest {}) -> partner_agency: pb::PartnerAgency
);
getter!(
    get_recommendation(server) = server.units(),
    get_recommendation(pb::GetRecommendationRequest {}) -> recommendation: pb::Recommendation
);
getter!(
    get_principal(server) = server.directory_as(&server.admin_token),
    get_principal(pb::GetPrincipalRequest {}) -> principal: pb::Principal
);

/// One page of the audit trail, as the holder of `token` reads it.
pub async fn audit_records(
    server: &TestServer,
    token: &str,
    request: pb::ListAuditRecordsRequest,
) -> Vec<pb::AuditRecord> {
    server
        .directory_as(token)
        .list_audit_records(request)
        .await
        .expect("audit records")
        .into_inner()
        .audit_records
}

/// The first page of agencies.
pub async fn agencies(server: &TestServer) -> Vec<pb::Agency> {
    let request = pb::ListAgenciesRequest::default();
    let page = server.directory().list_agencies(request).await;
    page.expect("list agencies").into_inner().agencies
}

/// The first page of incident types.
pub async fn incident_types(server: &TestServer) -> Vec<pb::IncidentType> {
    let request = pb::ListIncidentTypesRequest::default();
    let page = server.triage().list_incident_types(request).await;
    page.expect("list incident types")
        .into_inner()
        .incident_types
}

/// The first page of calls `request` asks for.
pub async fn list_calls(server: &TestServer, request: pb::ListCallsRequest) -> Vec<pb::Call> {
    server
        .calls()
        .list_calls(request)
        .await
        .expect("list calls")
        .into_inner()
        .calls
}

/// The first page of incidents `request` asks for.
pub async fn list_incidents(
    server: &TestServer,
    request: pb::ListIncidentsRequest,
) -> Vec<pb::Incident> {
    server
        .triage()
        .list_incidents(request)
        .await
        .expect("list incidents")
        .into_inner()
        .incidents
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
    create_unit_in(&mut server.directory(), unit).await
}

/// Creates `unit` through `directory` (a client that may create units).
pub async fn create_unit_in(
    directory: &mut DirectoryServiceClient<Authed>,
    unit: pb::Unit,
) -> pb::Unit {
    directory
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

/// Triages a TRAFFIC-INJURY incident with someone not alert: one ALS and one patrol.
pub async fn triage_not_alert(server: &TestServer, incident: &str) {
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
    assign_units(server, incident, &[unit], "browser test")
        .await
        .expect("assign");
}

/// Commits `units` to `incident`, an override of no recommendation for `override_reason`:
/// the answer, or the refusal.
pub async fn assign_units(
    server: &TestServer,
    incident: &str,
    units: &[&str],
    override_reason: &str,
) -> Result<pb::AssignUnitsResponse, tonic::Status> {
    server
        .units()
        .assign_units(assign_request(incident, units, "", override_reason))
        .await
        .map(tonic::Response::into_inner)
}

/// `units` to `incident`, following `recommendation` (empty: none) or overriding it for
/// `override_reason`.
pub fn assign_request(
    incident: &str,
    units: &[&str],
    recommendation: &str,
    override_reason: &str,
) -> pb::AssignUnitsRequest {
    pb::AssignUnitsRequest {
        request_id: request_id(),
        incident: incident.into(),
        units: units.iter().map(|&unit| unit.to_owned()).collect(),
        recommendation: recommendation.into(),
        override_reason: override_reason.into(),
        dispatch_time: None,
    }
}

/// Takes `unit` off `incident`: it is AVAILABLE again.
pub async fn release(server: &TestServer, incident: &str, unit: &str) {
    release_unit(server, incident, unit, "browser test")
        .await
        .expect("release");
}

/// Takes `unit` off `incident` for `reason`: the answer, or the refusal.
pub async fn release_unit(
    server: &TestServer,
    incident: &str,
    unit: &str,
    reason: &str,
) -> Result<pb::ReleaseUnitResponse, tonic::Status> {
    server
        .units()
        .release_unit(pb::ReleaseUnitRequest {
            request_id: request_id(),
            unit: unit.into(),
            incident: incident.into(),
            reason: reason.into(),
            release_time: None,
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Merges `duplicate` into `survivor` with `note` (whatever their etags): the answer, or the
/// refusal.
pub async fn merge_incidents(
    server: &TestServer,
    survivor: &str,
    duplicate: &str,
    note: &str,
) -> Result<pb::MergeIncidentsResponse, tonic::Status> {
    server
        .triage()
        .merge_incidents(pb::MergeIncidentsRequest {
            request_id: request_id(),
            survivor: survivor.into(),
            duplicate: duplicate.into(),
            note: note.into(),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
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

/// A list request that pages: the same request at another page token.
pub trait ListRequest: Clone {
    fn at(&self, page_token: String) -> Self;
}

/// A page a list RPC answers: its items and the next page's token ("" after the last).
pub trait ListPage {
    type Item;
    fn split(self) -> (Vec<Self::Item>, String);
}

macro_rules! list_pages {
    ($($request:ident => $response:ident.$items:ident: $item:ident),* $(,)?) => {$(
        impl ListRequest for pb::$request {
            fn at(&self, page_token: String) -> Self {
                Self { page_token, ..self.clone() }
            }
        }

        impl ListPage for pb::$response {
            type Item = pb::$item;
            fn split(self) -> (Vec<pb::$item>, String) {
                (self.$items, self.next_page_token)
            }
        }
    )*};
}

list_pages! {
    ListCallsRequest => ListCallsResponse.calls: Call,
    ListIncidentsRequest => ListIncidentsResponse.incidents: Incident,
    ListIncidentTypesRequest => ListIncidentTypesResponse.incident_types: IncidentType,
    ListAuditRecordsRequest => ListAuditRecordsResponse.audit_records: AuditRecord,
    ListReferralsRequest => ListReferralsResponse.referrals: Referral,
    ListFollowUpsRequest => ListFollowUpsResponse.follow_ups: FollowUp,
}

/// Everything `request` lists, page after page, each page asked for with `list` (the RPC).
pub async fn every_page<Q: ListRequest, P: ListPage>(
    request: Q,
    mut list: impl AsyncFnMut(Q) -> Result<tonic::Response<P>, tonic::Status>,
) -> Result<Vec<P::Item>, tonic::Status> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = list(request.at(token)).await?.into_inner().split();
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
    recommend(server, patrol_recommendation(incident, candidates))
        .await
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
    recommendation_request(incident, plan(&[("patrol", 1)]), candidates)
}

/// A recommendation for `incident` by `plan` (none: the incident's own), at most `candidates`
/// offered per requirement (0: the server's default).
pub fn recommendation_request(
    incident: &str,
    plan: Option<pb::ResponsePlan>,
    candidates: i32,
) -> pb::RecommendUnitsRequest {
    pb::RecommendUnitsRequest {
        request_id: request_id(),
        incident: incident.into(),
        plan_override: plan,
        max_candidates_per_requirement: candidates,
    }
}

/// A response plan: `count` units with each capability.
pub fn plan(requirements: &[(&str, i32)]) -> Option<pb::ResponsePlan> {
    Some(pb::ResponsePlan {
        requirements: requirements
            .iter()
            .map(|&(capability, count)| pb::PlanRequirement {
                capability: capability.into(),
                count,
                description: String::new(),
            })
            .collect(),
    })
}

/// The recommendation the server makes for `request`.
pub async fn recommend(
    server: &TestServer,
    request: pb::RecommendUnitsRequest,
) -> pb::Recommendation {
    server
        .units()
        .recommend_units(request)
        .await
        .expect("recommend")
        .into_inner()
        .recommendation
        .expect("recommendation")
}

/// A yes/no answer to the triage question `id`.
pub fn yes_no(id: &str, value: bool) -> pb::TriageAnswer {
    answer(id, pb::triage_answer::Value::YesNo(value))
}

/// A numeric answer to the triage question `id`.
pub fn number(id: &str, value: f64) -> pb::TriageAnswer {
    answer(id, pb::triage_answer::Value::Number(value))
}

/// One of the offered choices, as the answer to the triage question `id`.
pub fn choice(id: &str, value: &str) -> pb::TriageAnswer {
    answer(id, pb::triage_answer::Value::Choice(value.into()))
}

fn answer(id: &str, value: pb::triage_answer::Value) -> pb::TriageAnswer {
    pb::TriageAnswer {
        question_id: id.into(),
        value: Some(value),
    }
}

/// Triages `incident` with `answers`, as `incident_type` (empty: the type it has) when its
/// etag is `etag` (empty: whatever it is): the answer, or the refusal.
pub async fn triage(
    server: &TestServer,
    incident: &str,
    incident_type: &str,
    answers: Vec<pb::TriageAnswer>,
    etag: &str,
) -> Result<pb::TriageIncidentResponse, tonic::Status> {
    server
        .triage()
        .triage_incident(pb::TriageIncidentRequest {
            request_id: request_id(),
            name: incident.into(),
            incident_type: incident_type.into(),
            answers,
            etag: etag.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The catalogue's incident type `code`, with its protocol.
pub async fn incident_type(server: &TestServer, code: &str) -> pb::IncidentType {
    server
        .triage()
        .get_incident_type(pb::GetIncidentTypeRequest {
            name: format!("incident-types/{code}"),
        })
        .await
        .expect("get incident type")
        .into_inner()
        .incident_type
        .expect("incident type")
}

/// The questions of incident type `code`'s triage protocol (it must have one).
pub async fn protocol_questions(server: &TestServer, code: &str) -> Vec<pb::Question> {
    let protocol = incident_type(server, code).await.protocol;
    protocol.expect("a triage protocol").questions
}

/// Moves `incident` to `status` (no note, any etag): the incident, or the refusal.
pub async fn change_status(
    server: &TestServer,
    incident: &str,
    status: pb::IncidentStatus,
) -> Result<pb::Incident, tonic::Status> {
    server
        .triage()
        .change_incident_status(pb::ChangeIncidentStatusRequest {
            request_id: request_id(),
            name: incident.into(),
            status: status.into(),
            note: String::new(),
            etag: String::new(),
        })
        .await
        .map(|r| r.into_inner().incident.expect("incident"))
}

/// Closes `incident` with `code` and `note` (any etag): the incident, or the refusal.
pub async fn close_incident(
    server: &TestServer,
    incident: &str,
    code: pb::ClosingCode,
    note: &str,
) -> Result<pb::Incident, tonic::Status> {
    server
        .triage()
        .close_incident(pb::CloseIncidentRequest {
            request_id: request_id(),
            name: incident.into(),
            closing_code: code.into(),
            note: note.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().incident.expect("incident"))
}

/// Cancels `incident` for `reason` (any etag): the incident, or the refusal.
pub async fn cancel_incident(
    server: &TestServer,
    incident: &str,
    reason: &str,
) -> Result<pb::Incident, tonic::Status> {
    server
        .triage()
        .cancel_incident(pb::CancelIncidentRequest {
            request_id: request_id(),
            name: incident.into(),
            reason: reason.into(),
            etag: String::new(),
        })
        .await
        .map(|r| r.into_inner().incident.expect("incident"))
}

/// A camera or other device, as created.
pub async fn create_camera(server: &TestServer, camera: pb::Camera) -> pb::Camera {
    server
        .directory()
        .create_camera(pb::CreateCameraRequest {
            request_id: request_id(),
            camera: Some(camera),
        })
        .await
        .expect("create camera")
        .into_inner()
        .camera
        .expect("camera")
}

/// How long a Watch stream may take to deliver what it owes: generous, never a sleep.
pub const STREAM_WAIT: Duration = Duration::from_secs(15);

/// The next message of a Watch stream, which must come within [`STREAM_WAIT`].
pub async fn next_message<T>(stream: &mut tonic::Streaming<T>) -> T {
    tokio::time::timeout(STREAM_WAIT, stream.message())
        .await
        .expect("the stream delivers in time")
        .expect("no stream error")
        .expect("the stream goes on")
}

/// The events a WatchIncidents stream sends, heartbeats skipped, up to and including the first
/// for which `last` holds; anything else it sends fails the test.
pub async fn incident_events_until(
    stream: &mut tonic::Streaming<pb::WatchIncidentsResponse>,
    last: impl Fn(&pb::IncidentEvent) -> bool,
) -> Vec<pb::IncidentEvent> {
    let mut events = Vec::new();
    loop {
        match next_message(stream).await.item.expect("an item") {
            IncidentItem::Event(event) => {
                let done = last(&event);
                events.push(*event);
                if done {
                    return events;
                }
            }
            IncidentItem::Heartbeat(_) => {}
            other => panic!("unexpected: {other:?}"),
        }
    }
}

/// What a feed event is about, for [`feed_positions`].
#[derive(Debug, Clone, Copy)]
pub enum FeedSubject {
    Unit,
    Incident,
}

#[derive(diesel::QueryableByName)]
struct Position {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    position: i64,
}

/// The feed positions in `(after, until]` of the events about a unit (or an incident), as the
/// database has them: what a Watch stream resuming after `after` owes, in order.
pub async fn feed_positions(
    server: &TestServer,
    subject: FeedSubject,
    after: i64,
    until: i64,
) -> Vec<i64> {
    use diesel_async::RunQueryDsl as _;
    let column = match subject {
        FeedSubject::Unit => "unit_id",
        FeedSubject::Incident => "incident_id",
    };
    let mut conn = server.db().await;
    diesel::sql_query(format!(
        "SELECT f.position FROM event_feed f JOIN events e ON e.seq = f.seq \
         WHERE e.{column} IS NOT NULL AND f.position > $1 AND f.position <= $2 ORDER BY 1"
    ))
    .bind::<diesel::sql_types::BigInt, _>(after)
    .bind::<diesel::sql_types::BigInt, _>(until)
    .load::<Position>(&mut conn)
    .await
    .expect("positions")
    .into_iter()
    .map(|p| p.position)
    .collect()
}
