//! VictimCareReferralService over gRPC on real PostgreSQL (issue 7): partner suggestions by area,
//! service and capacity; consent and idempotent creation; every legal and a selection of illegal
//! transitions, re-addressing; follow-up schedules and the overdue list; partner scoping (partner
//! A never reaches partner B's referrals) and the audit of victim-data reads; the resumable watch
//! stream.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::RunQueryDsl as _;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::directory_service_client::DirectoryServiceClient;
use dispatch_proto::v1::victim_care_referral_service_client::VictimCareReferralServiceClient;
use dispatch_proto::v1::watch_referrals_response::Item;
use dispatch_tests::fixtures::{
    self, CENTRE, ZOCALO, create_partner, geo, kinds_of, mask, square_area,
};
use dispatch_tests::{
    Authed, TestServer, assert_invalid, assert_refused, request_id, violated_fields,
};
use pb::ReferralNeed as Need;
use pb::ReferralStatus as S;
use tonic::Code;
use tonic_types::StatusExt as _;

type Client = VictimCareReferralServiceClient<Authed>;
type Feed = tonic::Streaming<pb::WatchReferralsResponse>;

/// How long a watch stream may take to deliver what it owes: generous, never a sleep.
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `km` kilometres due north of the Zócalo.
fn north_of_zocalo(km: f64) -> (f64, f64) {
    (ZOCALO.0 + km / 111.195, ZOCALO.1)
}

/// Great-circle distance in metres (mean Earth radius).
fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1, lat2, lon2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

/// A rectangle as a closed GeoJSON ring (longitude first).
fn geojson_ring([south, west, north, east]: [f64; 4]) -> String {
    format!(
        "[[{west},{south}],[{east},{south}],[{east},{north}],[{west},{north}],[{west},{south}]]"
    )
}

fn needs(list: &[Need]) -> Vec<i32> {
    list.iter().map(|&need| need.into()).collect()
}

fn capacity(available_slots: i32, total_slots: i32, not_accepting: bool) -> Option<pb::Capacity> {
    Some(pb::Capacity {
        available_slots,
        total_slots,
        not_accepting,
        ..Default::default()
    })
}

/// A partner serving the centre of the city, 5 of 10 slots free, located at `at`.
fn partner_spec(
    code: &str,
    kind: pb::PartnerKind,
    services: &[Need],
    at: (f64, f64),
) -> pb::PartnerAgency {
    pb::PartnerAgency {
        code: code.into(),
        display_name: format!("{code} (prueba)"),
        kind: kind.into(),
        services: needs(services),
        service_areas: vec![square_area("Centro", CENTRE)],
        capacity: capacity(5, 10, false),
        contacts: vec![pb::Contact {
            name: "Guardia".into(),
            role: "duty psychologist".into(),
            phone: "+525555550100".into(),
            email: String::new(),
        }],
        location: Some(geo(at)),
        address: "Av. 5 de Mayo 1, Centro".into(),
        ..Default::default()
    }
}

/// A partner agency and a principal acting for it.
struct Partner {
    agency: pb::PartnerAgency,
    principal: String,
    token: String,
}

impl Partner {
    fn name(&self) -> &str {
        &self.agency.name
    }

    fn client(&self, server: &TestServer) -> Client {
        server.referrals_as(&self.token)
    }
}

/// A shelter offering only shelter, `km` north of the Zócalo.
fn shelter_spec(code: &str, km: f64) -> pb::PartnerAgency {
    partner_spec(
        code,
        pb::PartnerKind::Shelter,
        &[Need::Shelter],
        north_of_zocalo(km),
    )
}

async fn partner(server: &TestServer, spec: pb::PartnerAgency) -> Partner {
    let agency = create_partner(server, spec).await;
    let (principal, token) = server
        .principal(
            pb::Role::PartnerAgency,
            &agency.code.to_lowercase(),
            None,
            Some(&agency.name),
        )
        .await;
    Partner {
        agency,
        principal,
        token,
    }
}

async fn set_capacity(
    directory: &DirectoryServiceClient<Authed>,
    partner: &str,
    capacity: Option<pb::Capacity>,
) -> pb::PartnerAgency {
    directory
        .clone()
        .update_partner_capacity(pb::UpdatePartnerCapacityRequest {
            request_id: request_id(),
            partner: partner.to_owned(),
            capacity,
            etag: String::new(),
        })
        .await
        .expect("update capacity")
        .into_inner()
        .partner_agency
        .expect("partner agency")
}

/// A call at `at`, opened as an incident of `incident_type`.
async fn incident(server: &TestServer, at: (f64, f64), incident_type: &str) -> pb::Incident {
    let account = "una mujer pide ayuda";
    fixtures::reported_incident(server, at, account, incident_type, incident_type).await
}

fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).expect("nanos"),
    }
}

fn time(ts: Option<&prost_types::Timestamp>) -> DateTime<Utc> {
    let ts = ts.expect("a timestamp");
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).expect("nanos"))
        .expect("a valid timestamp")
}

fn victim(alias: &str) -> pb::Victim {
    pb::Victim {
        alias: alias.into(),
        full_name: String::new(),
        age_range: pb::AgeRange::Adult.into(),
        gender: "mujer".into(),
        language: "es-MX".into(),
        safe_contact: Some(pb::SafeContact {
            channel: pb::SafeContactChannel::Sms.into(),
            value: "55 1234 5678".into(),
            safe_times: "entre semana de 9 a 13".into(),
        }),
        safety_notes: "el agresor vive en el domicilio".into(),
    }
}

fn consent() -> pb::Consent {
    pb::Consent {
        given: true,
        given_by: "victim".into(),
        given_time: Some(timestamp(Utc::now() - chrono::Duration::minutes(5))),
        scope: "share contact with the partner".into(),
    }
}

/// A complete CreateReferral request with given consent.
fn referral_request(
    incident: &pb::Incident,
    partner: &str,
    list: &[Need],
) -> pb::CreateReferralRequest {
    pb::CreateReferralRequest {
        request_id: request_id(),
        incident: incident.name.clone(),
        victim: Some(victim("Rosa")),
        needs: needs(list),
        partner: partner.to_owned(),
        consent: Some(consent()),
        life_threat_medical_handoff: false,
        notes: "canalizada desde el 911".into(),
    }
}

/// A life-threat medical hand-off without consent.
fn handoff(incident: &pb::Incident, partner: &str, list: &[Need]) -> pb::CreateReferralRequest {
    pb::CreateReferralRequest {
        consent: None,
        life_threat_medical_handoff: true,
        ..referral_request(incident, partner, list)
    }
}

async fn create(
    server: &TestServer,
    request: pb::CreateReferralRequest,
) -> Result<pb::Referral, tonic::Status> {
    server
        .referrals()
        .create_referral(request)
        .await
        .map(|r| r.into_inner().referral.expect("referral"))
}

/// A referral (with consent) of a victim of `incident` to `partner`.
async fn refer(
    server: &TestServer,
    incident: &pb::Incident,
    partner: &str,
    list: &[Need],
) -> pb::Referral {
    create(server, referral_request(incident, partner, list))
        .await
        .expect("create referral")
}

async fn get(client: &Client, name: &str) -> Result<pb::Referral, tonic::Status> {
    client
        .clone()
        .get_referral(pb::GetReferralRequest { name: name.into() })
        .await
        .map(|r| r.into_inner().referral.expect("referral"))
}

async fn accept(client: &Client, name: &str) -> Result<pb::Referral, tonic::Status> {
    client
        .clone()
        .accept_referral(pb::AcceptReferralRequest {
            request_id: request_id(),
            name: name.into(),
            note: "la recibimos".into(),
            etag: String::new(),
        })
        .await
        .map(|r| r.into_inner().referral.expect("referral"))
}

async fn decline(client: &Client, name: &str, reason: &str) -> Result<pb::Referral, tonic::Status> {
    client
        .clone()
        .decline_referral(pb::DeclineReferralRequest {
            request_id: request_id(),
            name: name.into(),
            reason: reason.into(),
            etag: String::new(),
        })
        .await
        .map(|r| r.into_inner().referral.expect("referral"))
}

/// UpdateReferralStatus with a note (required when cancelling).
async fn update(client: &Client, name: &str, status: S) -> Result<pb::Referral, tonic::Status> {
    client
        .clone()
        .update_referral_status(pb::UpdateReferralStatusRequest {
            request_id: request_id(),
            name: name.into(),
            status: status.into(),
            note: "cambio de estado".into(),
            etag: String::new(),
        })
        .await
        .map(|r| r.into_inner().referral.expect("referral"))
}

/// ReaddressReferral, as the centre (a supervisor).
async fn readdress(
    server: &TestServer,
    name: &str,
    partner: &str,
) -> Result<pb::Referral, tonic::Status> {
    server
        .referrals()
        .readdress_referral(pb::ReaddressReferralRequest {
            request_id: request_id(),
            name: name.into(),
            partner: partner.into(),
            note: "otra institución".into(),
            etag: String::new(),
        })
        .await
        .map(|r| r.into_inner().referral.expect("referral"))
}

async fn record(
    client: &Client,
    referral: &str,
    follow_up: &str,
    outcome: pb::FollowUpOutcome,
    note: &str,
) -> Result<pb::RecordFollowUpResponse, tonic::Status> {
    client
        .clone()
        .record_follow_up(pb::RecordFollowUpRequest {
            request_id: request_id(),
            referral: referral.into(),
            follow_up: follow_up.into(),
            outcome: outcome.into(),
            outcome_note: note.into(),
            done_time: None,
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Every page of ListReferrals with `filter`.
async fn list(
    client: &Client,
    filter: pb::ListReferralsRequest,
) -> Result<Vec<pb::Referral>, tonic::Status> {
    fixtures::every_page(filter, async |request| {
        client.clone().list_referrals(request).await
    })
    .await
}

/// Every page of ListFollowUps with `filter`.
async fn follow_ups(
    client: &Client,
    filter: pb::ListFollowUpsRequest,
) -> Result<Vec<pb::FollowUp>, tonic::Status> {
    fixtures::every_page(filter, async |request| {
        client.clone().list_follow_ups(request).await
    })
    .await
}

fn of_referral(referral: &str) -> pb::ListFollowUpsRequest {
    pb::ListFollowUpsRequest {
        referral: referral.into(),
        ..Default::default()
    }
}

fn with_statuses(statuses: &[pb::FollowUpStatus]) -> pb::ListFollowUpsRequest {
    pb::ListFollowUpsRequest {
        statuses: statuses.iter().map(|&s| s.into()).collect(),
        ..Default::default()
    }
}

fn names(referrals: &[pb::Referral]) -> Vec<&str> {
    referrals.iter().map(|r| r.name.as_str()).collect()
}

fn follow_up_names(list: &[pb::FollowUp]) -> Vec<&str> {
    list.iter().map(|f| f.name.as_str()).collect()
}

fn status_of(referral: &pb::Referral) -> S {
    S::try_from(referral.status).expect("a known status")
}

fn follow_up_status(follow_up: &pb::FollowUp) -> pb::FollowUpStatus {
    pb::FollowUpStatus::try_from(follow_up.status).expect("a known follow-up status")
}

fn kinds(referral: &pb::Referral) -> Vec<pb::ReferralHistoryEntryKind> {
    kinds_of(referral.history.iter().map(|e| e.kind))
}

fn entry_kind(entry: Option<&pb::ReferralHistoryEntry>) -> pb::ReferralHistoryEntryKind {
    pb::ReferralHistoryEntryKind::try_from(entry.expect("a history entry").kind).expect("kind")
}

fn matched(suggestion: &pb::PartnerSuggestion) -> Vec<Need> {
    let mut list: Vec<Need> = suggestion
        .matched_needs
        .iter()
        .map(|&n| Need::try_from(n).expect("need"))
        .collect();
    list.sort_unstable();
    list
}

/// FAILED_PRECONDITION whose PreconditionFailure names `referral` and its `current` status.
#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, referral: &str, current: &str) {
    let status = result.expect_err(&format!("illegal in {current}"));
    assert_eq!(
        status.code(),
        Code::FailedPrecondition,
        "in {current}: {status:?}"
    );
    let failure = status
        .get_details_precondition_failure()
        .expect("a PreconditionFailure");
    assert!(
        failure.violations.iter().any(|v| v.subject == referral
            && v.description
                .to_lowercase()
                .replace(' ', "_")
                .contains(current)),
        "{failure:?} should name {referral} and its status {current}"
    );
}

#[track_caller]
fn refused_create(result: Result<pb::Referral, tonic::Status>, why: &str) {
    let status = result.expect_err(why);
    assert_eq!(status.code(), Code::FailedPrecondition, "{why}: {status:?}");
}

#[track_caller]
fn not_found<T: std::fmt::Debug>(result: Result<T, tonic::Status>, what: &str) {
    let status = result.expect_err(what);
    assert_eq!(status.code(), Code::NotFound, "{what}: {status:?}");
}

async fn watch(client: &Client, request: pb::WatchReferralsRequest) -> Result<Feed, tonic::Status> {
    tokio::time::timeout(WAIT, client.clone().watch_referrals(request))
        .await
        .expect("the watch answers in time")
        .map(tonic::Response::into_inner)
}

async fn watch_from(client: &Client, after_sequence: i64) -> Feed {
    watch(
        client,
        pb::WatchReferralsRequest {
            after_sequence,
            ..Default::default()
        },
    )
    .await
    .expect("watch referrals")
}

/// The next message of `feed` that is not a heartbeat.
async fn next_item(feed: &mut Feed) -> Item {
    loop {
        let message = tokio::time::timeout(WAIT, feed.message())
            .await
            .expect("the stream delivers within 10 s")
            .expect("the stream is healthy")
            .expect("the stream is still open");
        match message.item.expect("exactly one item is set") {
            Item::Heartbeat(_) => {}
            item => return item,
        }
    }
}

async fn next_event(feed: &mut Feed) -> pb::ReferralEvent {
    match next_item(feed).await {
        Item::Event(event) => event,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// The snapshot phase: the items, then the SnapshotComplete.
async fn snapshot(feed: &mut Feed) -> (Vec<pb::Referral>, pb::SnapshotComplete) {
    let mut items = Vec::new();
    loop {
        match next_item(feed).await {
            Item::Snapshot(referral) => items.push(referral),
            Item::SnapshotComplete(done) => return (items, done),
            other => panic!("expected a snapshot item, got {other:?}"),
        }
    }
}

#[derive(Debug, diesel::QueryableByName)]
struct AuditRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    principal: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    method: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    resource: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    outcome: String,
}

async fn victim_data_reads(server: &TestServer) -> Vec<AuditRow> {
    let mut conn = server.db().await;
    diesel::sql_query(
        "SELECT principal, method, resource, outcome FROM audit_records \
         WHERE action = 'victim_data_read' ORDER BY id",
    )
    .load(&mut conn)
    .await
    .expect("audit rows")
}

// ---------------------------------------------------------------------------------------------
// 1. Suggestions
// ---------------------------------------------------------------------------------------------

async fn suggest(
    server: &TestServer,
    at: (f64, f64),
    list: &[Need],
    limit: i32,
) -> Vec<pb::PartnerSuggestion> {
    server
        .referrals()
        .suggest_partners(pb::SuggestPartnersRequest {
            location: Some(geo(at)),
            needs: needs(list),
            limit,
        })
        .await
        .expect("suggest partners")
        .into_inner()
        .suggestions
}

fn suggested(suggestions: &[pb::PartnerSuggestion]) -> Vec<&str> {
    suggestions.iter().map(|s| s.partner.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_are_suggested_by_area_service_and_capacity() {
    use pb::PartnerKind as K;
    let server = TestServer::start().await;

    // Left out at the Zócalo: serves Monterrey only (with plenty of room); offers only legal aid;
    // offers both needs but is on diversion.
    let mut far = partner_spec(
        "REFUGIO-MTY",
        K::Shelter,
        &[Need::Shelter],
        (25.67, -100.31),
    );
    far.service_areas = vec![square_area("Monterrey", [25.5, -100.5, 25.8, -100.1])];
    far.capacity = capacity(30, 30, false);
    let far = create_partner(&server, far).await;
    let legal = create_partner(
        &server,
        partner_spec(
            "JURIDICO",
            K::LegalAid,
            &[Need::Legal],
            north_of_zocalo(0.5),
        ),
    )
    .await;
    let mut diverted = partner_spec(
        "REFUGIO-LLENO",
        K::Shelter,
        &[Need::Shelter, Need::Psychological],
        north_of_zocalo(0.2),
    );
    diverted.capacity = capacity(40, 40, true);
    let diverted = create_partner(&server, diverted).await;

    // Suggested. The women's centre covers both needs (first despite one slot) and serves a
    // GeoJSON MultiPolygon: Ecatepec, and the centre with a hole south of the Zócalo.
    let ecatepec = [19.58, -99.10, 19.68, -99.00];
    let hole = [19.34, -99.12, 19.38, -99.08];
    let mut womens = partner_spec(
        "CENTRO-MUJERES",
        K::WomensCentre,
        &[Need::Shelter, Need::Psychological, Need::Legal],
        north_of_zocalo(5.0),
    );
    womens.service_areas = vec![pb::ServiceArea {
        display_name: "Centro y Ecatepec".into(),
        shape: Some(pb::service_area::Shape::Geojson(format!(
            r#"{{"type":"MultiPolygon","coordinates":[[{}],[{},{}]]}}"#,
            geojson_ring(ecatepec),
            geojson_ring(CENTRE),
            geojson_ring(hole),
        ))),
    }];
    womens.capacity = capacity(1, 10, false);
    let womens = create_partner(&server, womens).await;
    // Shelter only: more slots first, then nearer first.
    let mut roomy = shelter_spec("REFUGIO-AMPLIO", 6.0);
    roomy.capacity = capacity(4, 10, false);
    let roomy = create_partner(&server, roomy).await;
    let mut near = shelter_spec("REFUGIO-CERCA", 1.0);
    near.capacity = capacity(2, 10, false);
    let near = partner(&server, near).await;
    let mut farther = shelter_spec("REFUGIO-LEJOS", 3.0);
    farther.capacity = capacity(2, 10, false);
    let farther = create_partner(&server, farther).await;

    let wanted = [Need::Shelter, Need::Psychological];
    let suggestions = suggest(&server, ZOCALO, &wanted, 0).await;
    assert_eq!(
        suggested(&suggestions),
        [
            womens.name.as_str(),
            roomy.name.as_str(),
            near.name(),
            farther.name.as_str()
        ],
        "needs covered, then slots, then distance; {} (outside), {} (no such service) and {} \
         (not accepting) left out: {suggestions:#?}",
        far.name,
        legal.name,
        diverted.name,
    );
    let first = &suggestions[0];
    assert_eq!(first.display_name, womens.display_name);
    assert_eq!(first.kind, i32::from(K::WomensCentre));
    assert_eq!(first.available_slots, 1);
    assert_eq!(matched(first), [Need::Psychological, Need::Shelter]);
    for (suggestion, km) in suggestions.iter().zip([5.0, 6.0, 1.0, 3.0]) {
        let expected = distance_m(ZOCALO, north_of_zocalo(km));
        assert!(
            (suggestion.distance_m - expected).abs() < expected * 0.02 + 50.0,
            "{}: {} m, expected about {expected} m",
            suggestion.partner,
            suggestion.distance_m
        );
        assert!(!suggestion.reason.trim().is_empty(), "a reason is given");
    }
    for single in &suggestions[1..] {
        assert_eq!(matched(single), [Need::Shelter]);
    }
    assert_eq!(suggestions[1].available_slots, 4);
    assert_eq!(
        suggested(&suggest(&server, ZOCALO, &wanted, 2).await),
        [womens.name.as_str(), roomy.name.as_str()],
        "limit"
    );

    // The GeoJSON area: its Ecatepec polygon serves a point no one else serves; its hole does
    // not serve a point the others serve.
    let in_ecatepec = (19.61, -99.04);
    assert_eq!(
        suggested(&suggest(&server, in_ecatepec, &[Need::Shelter], 0).await),
        [womens.name.as_str()]
    );
    let in_hole = (19.36, -99.10);
    assert_eq!(
        suggested(&suggest(&server, in_hole, &[Need::Shelter], 0).await),
        [roomy.name.as_str(), near.name(), farther.name.as_str()],
        "the hole of the women's centre's area is not served"
    );
    let serving_ecatepec = server
        .directory()
        .list_partner_agencies(pb::ListPartnerAgenciesRequest {
            serves_point: Some(geo(in_ecatepec)),
            ..Default::default()
        })
        .await
        .expect("list partners")
        .into_inner()
        .partner_agencies;
    assert_eq!(
        serving_ecatepec
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        [womens.name.as_str()]
    );

    // Capacity moves the ranking: the roomy shelter goes on diversion (the centre sets it), the
    // near one frees slots (it sets its own).
    set_capacity(&server.directory(), &roomy.name, capacity(4, 10, true)).await;
    let own = set_capacity(
        &server.directory_as(&near.token),
        near.name(),
        capacity(6, 10, false),
    )
    .await;
    assert_eq!(own.capacity.as_ref().expect("capacity").available_slots, 6);
    let suggestions = suggest(&server, ZOCALO, &wanted, 0).await;
    assert_eq!(
        suggested(&suggestions),
        [womens.name.as_str(), near.name(), farther.name.as_str()]
    );
    assert_eq!(suggestions[1].available_slots, 6);

    // Nowhere served is an empty answer, not an error; bad needs are INVALID_ARGUMENT.
    assert!(suggest(&server, (22.0, -95.0), &wanted, 0).await.is_empty());
    for (bad, field) in [(vec![], "needs"), (vec![Need::Unspecified], "needs[0]")] {
        let status = server
            .referrals()
            .suggest_partners(pb::SuggestPartnersRequest {
                location: Some(geo(ZOCALO)),
                needs: needs(&bad),
                limit: 0,
            })
            .await
            .expect_err("bad needs");
        assert!(
            violated_fields(&status).iter().any(|f| f == field),
            "{field}: {status:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Consent and idempotent creation
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_needs_consent_except_a_life_threat_hand_off_to_a_hospital() {
    use pb::PartnerKind as K;
    let server = TestServer::start().await;
    let staff = server.referrals();
    let case = incident(&server, ZOCALO, "GV-SEXUAL-ASSAULT").await;
    let shelter = create_partner(
        &server,
        partner_spec(
            "REFUGIO",
            K::Shelter,
            &[Need::Shelter, Need::Psychological],
            north_of_zocalo(1.0),
        ),
    )
    .await;
    let hospital = create_partner(
        &server,
        partner_spec(
            "HOSPITAL-GRAL",
            K::Hospital,
            &[Need::Medical, Need::Psychological],
            north_of_zocalo(2.0),
        ),
    )
    .await;
    let red_cross = create_partner(
        &server,
        partner_spec(
            "CRUZ-ROJA",
            K::RedCross,
            &[Need::Medical],
            north_of_zocalo(3.0),
        ),
    )
    .await;

    // Without consent: refused, whether the consent is absent or says "not given".
    let mut absent = referral_request(&case, &shelter.name, &[Need::Shelter]);
    absent.consent = None;
    refused_create(create(&server, absent).await, "no consent");
    let mut not_given = referral_request(&case, &shelter.name, &[Need::Shelter]);
    not_given.consent = Some(pb::Consent {
        given: false,
        ..consent()
    });
    refused_create(create(&server, not_given).await, "consent not given");
    // Not flagged: a hospital and medical care still need consent.
    let mut unflagged = referral_request(&case, &hospital.name, &[Need::Medical]);
    unflagged.consent = None;
    refused_create(create(&server, unflagged).await, "hand-off not flagged");
    // Flagged, but not exactly MEDICAL to a HOSPITAL.
    refused_create(
        create(
            &server,
            handoff(&case, &hospital.name, &[Need::Medical, Need::Psychological]),
        )
        .await,
        "hand-off with more than medical",
    );
    refused_create(
        create(
            &server,
            handoff(&case, &hospital.name, &[Need::Psychological]),
        )
        .await,
        "hand-off without medical",
    );
    refused_create(
        create(&server, handoff(&case, &red_cross.name, &[Need::Medical])).await,
        "hand-off to a Cruz Roja, not a hospital",
    );
    refused_create(
        create(&server, handoff(&case, &shelter.name, &[Need::Medical])).await,
        "hand-off to a shelter",
    );
    // Nothing was written.
    let all = pb::ListReferralsRequest::default();
    assert!(list(&staff, all.clone()).await.expect("list").is_empty());
    assert!(
        follow_ups(&staff, pb::ListFollowUpsRequest::default())
            .await
            .expect("follow-ups")
            .is_empty()
    );

    // Bad consent fields are INVALID_ARGUMENT naming them, and write nothing either.
    let mut empty = referral_request(&case, &shelter.name, &[Need::Shelter]);
    empty.consent = Some(pb::Consent {
        given: true,
        given_by: String::new(),
        given_time: None,
        scope: String::new(),
    });
    let status = create(&server, empty).await.expect_err("empty consent");
    let mut fields = violated_fields(&status);
    fields.sort();
    assert_eq!(
        fields,
        ["consent.given_by", "consent.given_time", "consent.scope"]
    );
    let mut future = referral_request(&case, &shelter.name, &[Need::Shelter]);
    future.consent = Some(pb::Consent {
        given_time: Some(timestamp(Utc::now() + chrono::Duration::hours(1))),
        ..consent()
    });
    assert_invalid(
        create(&server, future).await,
        "consent in the future",
        &["consent.given_time"],
    );
    assert!(list(&staff, all.clone()).await.expect("list").is_empty());

    // Exactly the life-threat hand-off: MEDICAL only, to a HOSPITAL, without consent.
    let handed = create(&server, handoff(&case, &hospital.name, &[Need::Medical]))
        .await
        .expect("the hand-off needs no consent");
    assert!(handed.life_threat_medical_handoff);
    assert_eq!(status_of(&handed), S::Requested);
    assert_eq!(handed.partner, hospital.name);
    assert_eq!(handed.needs, needs(&[Need::Medical]));
    assert!(!handed.consent.as_ref().is_some_and(|c| c.given));
    // A hospital on diversion still receives a hand-off, but no ordinary referral.
    set_capacity(&server.directory(), &hospital.name, capacity(0, 20, true)).await;
    let diverted = create(&server, handoff(&case, &hospital.name, &[Need::Medical]))
        .await
        .expect("a hand-off to a hospital on diversion");
    assert_eq!(status_of(&diverted), S::Requested);
    refused_create(
        create(
            &server,
            referral_request(&case, &hospital.name, &[Need::Medical]),
        )
        .await,
        "ordinary referral to a partner not accepting",
    );

    // With consent: created, the consent kept, and the incident's timeline says so.
    let referral = refer(
        &server,
        &case,
        &shelter.name,
        &[Need::Shelter, Need::Psychological],
    )
    .await;
    assert_eq!(status_of(&referral), S::Requested);
    let kept = referral.consent.as_ref().expect("consent");
    assert!(kept.given);
    assert_eq!(kept.given_by, "victim");
    assert_eq!(kept.scope, "share contact with the partner");
    assert!(kept.given_time.is_some());
    assert_eq!(referral.victim.as_ref().expect("victim").alias, "Rosa");
    assert!(!referral.requested_by.is_empty());
    assert_eq!(kinds(&referral), [pb::ReferralHistoryEntryKind::Created]);
    let timeline = fixtures::get_incident(&server, &case.name).await.timeline;
    let created: Vec<&str> = timeline
        .iter()
        .filter(|e| e.kind == i32::from(pb::TimelineEntryKind::ReferralCreated))
        .map(|e| e.referral.as_str())
        .collect();
    assert_eq!(created.len(), 3, "one entry per referral: {timeline:#?}");
    assert!(created.contains(&referral.name.as_str()));

    // The other rules of CreateReferral.
    refused_create(
        create(
            &server,
            referral_request(&case, &shelter.name, &[Need::Legal]),
        )
        .await,
        "a need the partner does not offer",
    );
    not_found(
        create(
            &server,
            referral_request(
                &case,
                &format!("partners/{}", uuid::Uuid::new_v4()),
                &[Need::Shelter],
            ),
        )
        .await,
        "unknown partner",
    );
    let mut lost = referral_request(&case, &shelter.name, &[Need::Shelter]);
    lost.incident = format!("incidents/{}", uuid::Uuid::new_v4());
    not_found(create(&server, lost).await, "unknown incident");
    let mistake = incident(&server, (19.40, -99.15), "GV-DOMESTIC").await;
    fixtures::cancel_incident(&server, &mistake.name, "abierto por error")
        .await
        .expect("cancel incident");
    refused_create(
        create(
            &server,
            referral_request(&mistake, &shelter.name, &[Need::Shelter]),
        )
        .await,
        "a cancelled incident",
    );
    assert_eq!(list(&staff, all).await.expect("list").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_create_never_makes_a_second_referral() {
    let server = TestServer::start().await;
    let staff = server.referrals();
    let case = incident(&server, ZOCALO, "GV-DOMESTIC").await;
    let shelter = create_partner(&server, shelter_spec("REFUGIO", 1.0)).await;

    let request = referral_request(&case, &shelter.name, &[Need::Shelter]);
    let first = create(&server, request.clone()).await.expect("create");
    let again = create(&server, request.clone()).await.expect("retry");
    assert_eq!(again.name, first.name);
    assert_eq!(
        follow_up_names(&again.follow_ups),
        follow_up_names(&first.follow_ups)
    );

    // Many retries at once: one executes, all answer with it.
    let burst = referral_request(&case, &shelter.name, &[Need::Shelter]);
    let answers = futures::future::join_all((0..5).map(|_| create(&server, burst.clone()))).await;
    let burst_names: Vec<String> = answers
        .into_iter()
        .map(|a| a.expect("a concurrent retry").name)
        .collect();
    assert!(
        burst_names.iter().all(|n| *n == burst_names[0]),
        "{burst_names:?}"
    );
    assert_ne!(burst_names[0], first.name);

    // The same request_id with another payload is refused.
    let mut changed = request.clone();
    changed.notes = "otra nota".into();
    let status = create(&server, changed)
        .await
        .expect_err("reused request_id");
    assert_refused(&status, Code::AlreadyExists, "REQUEST_ID_REUSED");

    let referrals = list(
        &staff,
        pb::ListReferralsRequest {
            incident: case.name.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(
        names(&referrals),
        [burst_names[0].as_str(), first.name.as_str()],
        "two referrals, newest first"
    );
    assert_eq!(
        follow_ups(&staff, pb::ListFollowUpsRequest::default())
            .await
            .expect("follow-ups")
            .len(),
        6,
        "three follow-ups per referral, none for the retries"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. The lifecycle
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrals_move_only_along_the_legal_transitions() {
    use pb::ReferralHistoryEntryKind as H;
    let server = TestServer::start().await;
    let staff = server.referrals();
    let case = incident(&server, ZOCALO, "GV-DOMESTIC").await;
    let shelter = partner(
        &server,
        partner_spec(
            "REFUGIO",
            pb::PartnerKind::Shelter,
            &[Need::Shelter, Need::Legal],
            north_of_zocalo(1.0),
        ),
    )
    .await;
    let legal = partner(
        &server,
        partner_spec(
            "JURIDICO",
            pb::PartnerKind::LegalAid,
            &[Need::Shelter, Need::Legal],
            north_of_zocalo(2.0),
        ),
    )
    .await;
    let p = shelter.client(&server);

    // REQUESTED: only accept, decline or cancel.
    let r = refer(&server, &case, shelter.name(), &[Need::Shelter]).await;
    assert_eq!(status_of(&r), S::Requested);
    for target in [S::InProgress, S::OnHold, S::Completed] {
        refused(update(&p, &r.name, target).await, &r.name, "requested");
    }
    refused(
        readdress(&server, &r.name, legal.name()).await,
        &r.name,
        "requested",
    );
    for target in [S::Requested, S::Accepted, S::Declined, S::Unspecified] {
        let status = update(&p, &r.name, target)
            .await
            .expect_err("not an update target");
        assert_eq!(violated_fields(&status), ["status"], "{target:?}");
    }

    // REQUESTED -> ACCEPTED -> IN_PROGRESS -> ON_HOLD -> IN_PROGRESS -> ON_HOLD -> COMPLETED.
    let accepted = accept(&p, &r.name).await.expect("accept");
    assert_eq!(status_of(&accepted), S::Accepted);
    assert_ne!(accepted.etag, r.etag, "the etag changes on every write");
    let stale = p
        .clone()
        .update_referral_status(pb::UpdateReferralStatusRequest {
            request_id: request_id(),
            name: r.name.clone(),
            status: S::InProgress.into(),
            note: String::new(),
            etag: r.etag.clone(),
        })
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    assert_eq!(
        status_of(&get(&staff, &r.name).await.expect("get")),
        S::Accepted
    );
    refused(accept(&p, &r.name).await, &r.name, "accepted");
    refused(decline(&p, &r.name, "sin cupo").await, &r.name, "accepted");
    refused(update(&p, &r.name, S::OnHold).await, &r.name, "accepted");
    refused(
        readdress(&server, &r.name, legal.name()).await,
        &r.name,
        "accepted",
    );

    let started = update(&p, &r.name, S::InProgress).await.expect("start");
    assert_eq!(status_of(&started), S::InProgress);
    refused(
        update(&p, &r.name, S::InProgress).await,
        &r.name,
        "in_progress",
    );
    refused(accept(&p, &r.name).await, &r.name, "in_progress");
    refused(decline(&p, &r.name, "ya no").await, &r.name, "in_progress");
    refused(
        readdress(&server, &r.name, legal.name()).await,
        &r.name,
        "in_progress",
    );

    let held = update(&p, &r.name, S::OnHold).await.expect("hold");
    assert_eq!(status_of(&held), S::OnHold);
    refused(update(&p, &r.name, S::OnHold).await, &r.name, "on_hold");
    refused(accept(&p, &r.name).await, &r.name, "on_hold");
    refused(decline(&p, &r.name, "ya no").await, &r.name, "on_hold");
    refused(
        readdress(&server, &r.name, legal.name()).await,
        &r.name,
        "on_hold",
    );

    let resumed = update(&p, &r.name, S::InProgress).await.expect("resume");
    assert_eq!(status_of(&resumed), S::InProgress);
    update(&p, &r.name, S::OnHold).await.expect("hold again");
    let completed = update(&p, &r.name, S::Completed)
        .await
        .expect("complete from on hold");
    assert_eq!(status_of(&completed), S::Completed);
    for target in [S::InProgress, S::OnHold, S::Completed, S::Cancelled] {
        refused(update(&p, &r.name, target).await, &r.name, "completed");
    }
    refused(accept(&p, &r.name).await, &r.name, "completed");
    refused(decline(&p, &r.name, "tarde").await, &r.name, "completed");
    refused(
        readdress(&server, &r.name, legal.name()).await,
        &r.name,
        "completed",
    );

    // The history records every step, in order, with who made it.
    assert_eq!(
        kinds(&completed),
        [
            H::Created,
            H::Accepted,
            H::StatusChanged,
            H::StatusChanged,
            H::StatusChanged,
            H::StatusChanged,
            H::StatusChanged
        ]
    );
    let steps: Vec<(i32, i32)> = completed.history[1..]
        .iter()
        .map(|e| (e.from_status, e.to_status))
        .collect();
    let expected: Vec<(i32, i32)> = [
        (S::Requested, S::Accepted),
        (S::Accepted, S::InProgress),
        (S::InProgress, S::OnHold),
        (S::OnHold, S::InProgress),
        (S::InProgress, S::OnHold),
        (S::OnHold, S::Completed),
    ]
    .into_iter()
    .map(|(from, to)| (from.into(), to.into()))
    .collect();
    assert_eq!(steps, expected);
    assert_eq!(completed.history[0].to_status, i32::from(S::Requested));
    assert_eq!(completed.history[0].actor, completed.requested_by);
    assert!(
        completed.history[1..]
            .iter()
            .all(|e| e.actor == shelter.principal)
    );

    // ACCEPTED -> COMPLETED.
    let r = refer(&server, &case, shelter.name(), &[Need::Shelter]).await;
    accept(&p, &r.name).await.expect("accept");
    let done = update(&p, &r.name, S::Completed)
        .await
        .expect("complete from accepted");
    assert_eq!(status_of(&done), S::Completed);

    // ACCEPTED -> CANCELLED (a note is required), and CANCELLED is terminal.
    let r = refer(&server, &case, shelter.name(), &[Need::Shelter]).await;
    accept(&p, &r.name).await.expect("accept");
    let status_without_note = staff
        .clone()
        .update_referral_status(pb::UpdateReferralStatusRequest {
            request_id: request_id(),
            name: r.name.clone(),
            status: S::Cancelled.into(),
            note: String::new(),
            etag: String::new(),
        })
        .await
        .expect_err("cancel without a note");
    assert_eq!(violated_fields(&status_without_note), ["note"]);
    let cancelled = update(&staff, &r.name, S::Cancelled)
        .await
        .expect("cancel from accepted");
    assert_eq!(status_of(&cancelled), S::Cancelled);
    for target in [S::InProgress, S::OnHold, S::Completed, S::Cancelled] {
        refused(update(&p, &r.name, target).await, &r.name, "cancelled");
    }
    refused(accept(&p, &r.name).await, &r.name, "cancelled");
    refused(decline(&p, &r.name, "tarde").await, &r.name, "cancelled");
    refused(
        readdress(&server, &r.name, legal.name()).await,
        &r.name,
        "cancelled",
    );

    // REQUESTED, IN_PROGRESS and ON_HOLD -> CANCELLED.
    let r = refer(&server, &case, shelter.name(), &[Need::Shelter]).await;
    assert_eq!(
        status_of(
            &update(&staff, &r.name, S::Cancelled)
                .await
                .expect("cancel from requested")
        ),
        S::Cancelled
    );
    let r = refer(&server, &case, shelter.name(), &[Need::Shelter]).await;
    accept(&p, &r.name).await.expect("accept");
    update(&p, &r.name, S::InProgress).await.expect("start");
    assert_eq!(
        status_of(
            &update(&p, &r.name, S::Cancelled)
                .await
                .expect("cancel from in progress")
        ),
        S::Cancelled
    );
    let r = refer(&server, &case, shelter.name(), &[Need::Shelter]).await;
    accept(&p, &r.name).await.expect("accept");
    update(&p, &r.name, S::InProgress).await.expect("start");
    update(&p, &r.name, S::OnHold).await.expect("hold");
    assert_eq!(
        status_of(
            &update(&staff, &r.name, S::Cancelled)
                .await
                .expect("cancel from on hold")
        ),
        S::Cancelled
    );

    // DECLINED needs a reason; from DECLINED only re-addressing (to another partner) or
    // cancelling.
    let r = refer(
        &server,
        &case,
        shelter.name(),
        &[Need::Shelter, Need::Legal],
    )
    .await;
    let status_without_reason = decline(&p, &r.name, "").await.expect_err("no reason");
    assert_eq!(violated_fields(&status_without_reason), ["reason"]);
    assert_eq!(
        status_of(&get(&staff, &r.name).await.expect("get")),
        S::Requested
    );
    let reason = "sin camas disponibles";
    let declined = decline(&p, &r.name, reason).await.expect("decline");
    assert_eq!(status_of(&declined), S::Declined);
    assert_eq!(declined.decline_reason, reason);
    refused(accept(&p, &r.name).await, &r.name, "declined");
    refused(decline(&p, &r.name, "otra vez").await, &r.name, "declined");
    for target in [S::InProgress, S::OnHold, S::Completed] {
        refused(update(&staff, &r.name, target).await, &r.name, "declined");
    }
    refused(
        readdress(&server, &r.name, shelter.name()).await,
        &r.name,
        "declined",
    );

    // Re-addressed: REQUESTED again, to the other partner, with the whole history.
    let readdressed = readdress(&server, &r.name, legal.name())
        .await
        .expect("readdress");
    assert_eq!(readdressed.name, r.name);
    assert_eq!(status_of(&readdressed), S::Requested);
    assert_eq!(readdressed.partner, legal.name());
    assert_eq!(
        kinds(&readdressed),
        [H::Created, H::Declined, H::Readdressed]
    );
    let history = &readdressed.history;
    assert_eq!(history[0].partner, shelter.name());
    assert_eq!(history[1].note, reason, "the reason stays in the history");
    assert_eq!(history[1].actor, shelter.principal);
    assert_eq!(
        (history[1].from_status, history[1].to_status),
        (S::Requested.into(), S::Declined.into())
    );
    assert_eq!(history[2].partner, legal.name());
    assert_eq!(
        (history[2].from_status, history[2].to_status),
        (S::Declined.into(), S::Requested.into())
    );

    // The new partner sees it, history and all; the old one no longer does.
    let l = legal.client(&server);
    let seen = get(&l, &r.name).await.expect("the new partner reads it");
    assert_eq!(kinds(&seen), [H::Created, H::Declined, H::Readdressed]);
    assert!(names(&list(&l, Default::default()).await.expect("list")).contains(&r.name.as_str()));
    not_found(get(&p, &r.name).await, "the old partner reads it");
    assert!(
        !names(&list(&p, Default::default()).await.expect("list")).contains(&r.name.as_str()),
        "the old partner lists it"
    );
    not_found(accept(&p, &r.name).await, "the old partner accepts it");
    let accepted = accept(&l, &r.name).await.expect("the new partner accepts");
    assert_eq!(status_of(&accepted), S::Accepted);

    // DECLINED -> CANCELLED ("any non-terminal status -> CANCELLED").
    let r = refer(&server, &case, shelter.name(), &[Need::Shelter]).await;
    decline(&p, &r.name, reason).await.expect("decline");
    assert_eq!(
        status_of(
            &update(&staff, &r.name, S::Cancelled)
                .await
                .expect("cancel from declined")
        ),
        S::Cancelled
    );
    refused(
        readdress(&server, &r.name, legal.name()).await,
        &r.name,
        "cancelled",
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Follow-ups
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gender_violence_referrals_are_followed_up_after_two_three_and_seven_days() {
    use pb::FollowUpOutcome as O;
    use pb::FollowUpStatus as F;
    let server = TestServer::start().await;
    let staff = server.referrals();
    let gv = incident(&server, ZOCALO, "GV-WOMENS-LINE").await;
    let fall = incident(&server, (19.45, -99.14), "MED-FALL").await;
    let centre = partner(
        &server,
        partner_spec(
            "CENTRO-MUJERES",
            pb::PartnerKind::WomensCentre,
            &[Need::Psychological, Need::Legal, Need::FollowUpCalls],
            north_of_zocalo(1.0),
        ),
    )
    .await;
    let c = centre.client(&server);

    let before = Utc::now();
    let referral = refer(&server, &gv, centre.name(), &[Need::Psychological]).await;
    let created = time(referral.create_time.as_ref());
    assert!(
        (created - before).num_seconds().abs() < 60,
        "created {created}, now {before}"
    );
    let scheduled = referral.follow_ups.clone();
    assert_eq!(scheduled.len(), 3, "{scheduled:#?}");
    for (follow_up, days) in scheduled.iter().zip([2, 3, 7]) {
        let offset = time(follow_up.due_time.as_ref()) - created;
        assert!(
            (offset - chrono::Duration::days(days)).num_seconds().abs() <= 60,
            "{} due {offset} after creation, expected {days} days",
            follow_up.name
        );
        assert!(follow_up.scheduled);
        assert_eq!(follow_up_status(follow_up), F::Pending);
        assert_eq!(follow_up.outcome, i32::from(O::Unspecified));
        assert!(follow_up.done_time.is_none());
        assert!(follow_up.recorded_by.is_empty());
        assert!(
            follow_up
                .name
                .starts_with(&format!("{}/follow-ups/", referral.name)),
            "{}",
            follow_up.name
        );
    }

    // Not gender violence: no schedule.
    let other = refer(&server, &fall, centre.name(), &[Need::Psychological]).await;
    assert!(other.follow_ups.is_empty(), "{:#?}", other.follow_ups);
    assert!(
        follow_ups(&staff, of_referral(&other.name))
            .await
            .expect("list")
            .is_empty()
    );

    // Listed earliest due first; nothing overdue yet.
    let listed = follow_ups(&staff, of_referral(&referral.name))
        .await
        .expect("list");
    assert_eq!(follow_up_names(&listed), follow_up_names(&scheduled));
    assert!(
        follow_ups(&staff, with_statuses(&[F::Overdue]))
            .await
            .expect("list")
            .is_empty()
    );

    // Two days pass for the first one (time cannot be waited for: its due time is moved back).
    // The GV referral's follow-ups are the only ones, so the earliest is its 2-day one.
    let mut conn = server.db().await;
    diesel::sql_query(
        "UPDATE follow_ups SET due_at = now() - interval '1 hour' \
         WHERE due_at = (SELECT min(due_at) FROM follow_ups)",
    )
    .execute(&mut conn)
    .await
    .expect("move the first follow-up into the past");
    let overdue = follow_ups(&staff, with_statuses(&[F::Overdue]))
        .await
        .expect("overdue");
    assert_eq!(follow_up_names(&overdue), [scheduled[0].name.as_str()]);
    assert_eq!(follow_up_status(&overdue[0]), F::Overdue);
    let partners_overdue = follow_ups(&c, with_statuses(&[F::Overdue]))
        .await
        .expect("overdue");
    assert_eq!(
        follow_up_names(&partners_overdue),
        [scheduled[0].name.as_str()]
    );
    let pending = follow_ups(
        &staff,
        pb::ListFollowUpsRequest {
            statuses: vec![F::Pending.into()],
            ..of_referral(&referral.name)
        },
    )
    .await
    .expect("pending");
    assert_eq!(
        follow_up_names(&pending),
        [scheduled[1].name.as_str(), scheduled[2].name.as_str()]
    );
    let now = Utc::now();
    let next_days = follow_ups(
        &staff,
        pb::ListFollowUpsRequest {
            due: Some(pb::TimeRange {
                start: Some(timestamp(now)),
                end: Some(timestamp(now + chrono::Duration::days(4))),
            }),
            ..Default::default()
        },
    )
    .await
    .expect("due in the next four days");
    assert_eq!(follow_up_names(&next_days), [scheduled[1].name.as_str()]);
    let read = get(&staff, &referral.name).await.expect("get");
    assert_eq!(follow_up_status(&read.follow_ups[0]), F::Overdue);

    // Recording needs an outcome, and a note for OTHER.
    assert_invalid(
        record(&c, &referral.name, &scheduled[0].name, O::Unspecified, "").await,
        "no outcome",
        &["outcome"],
    );
    assert_invalid(
        record(&c, &referral.name, &scheduled[0].name, O::Other, "").await,
        "OTHER without a note",
        &["outcome_note"],
    );

    // The partner records the overdue one: outcome and who made it.
    let recorded = record(
        &c,
        &referral.name,
        &scheduled[0].name,
        O::ReachedSafe,
        "está con su hermana",
    )
    .await
    .expect("record follow-up");
    let done = recorded.follow_up.expect("follow-up");
    assert_eq!(done.name, scheduled[0].name);
    assert_eq!(follow_up_status(&done), F::Done);
    assert_eq!(done.outcome, i32::from(O::ReachedSafe));
    assert_eq!(done.outcome_note, "está con su hermana");
    assert_eq!(done.recorded_by, centre.principal);
    assert!(done.scheduled);
    assert!(done.done_time.is_some());
    let after = recorded.referral.expect("referral");
    let last = after.history.last().expect("history");
    assert_eq!(
        entry_kind(Some(last)),
        pb::ReferralHistoryEntryKind::FollowUpRecorded
    );
    assert_eq!(last.follow_up, scheduled[0].name);
    assert_eq!(last.actor, centre.principal);
    assert!(
        follow_ups(&staff, with_statuses(&[F::Overdue]))
            .await
            .expect("overdue")
            .is_empty()
    );
    let done_list = follow_ups(&staff, with_statuses(&[F::Done]))
        .await
        .expect("done");
    assert_eq!(follow_up_names(&done_list), [scheduled[0].name.as_str()]);
    assert_eq!(done_list[0].recorded_by, centre.principal);
    let again = record(&c, &referral.name, &scheduled[0].name, O::ReachedSafe, "")
        .await
        .expect_err("a follow-up already done");
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");

    // An ad-hoc follow-up.
    let ad_hoc = record(&c, &referral.name, "", O::NotReached, "no contestó")
        .await
        .expect("ad-hoc follow-up")
        .follow_up
        .expect("follow-up");
    assert!(!ad_hoc.scheduled);
    assert_eq!(follow_up_status(&ad_hoc), F::Done);
    assert_eq!(ad_hoc.recorded_by, centre.principal);
    assert_eq!(ad_hoc.due_time, ad_hoc.done_time);
    assert_eq!(
        follow_ups(&staff, of_referral(&referral.name))
            .await
            .expect("list")
            .len(),
        4
    );

    // Cancelling a referral cancels its pending follow-ups; nothing more can be recorded.
    let second = refer(&server, &gv, centre.name(), &[Need::Legal]).await;
    assert_eq!(second.follow_ups.len(), 3);
    update(&staff, &second.name, S::Cancelled)
        .await
        .expect("cancel");
    let cancelled = follow_ups(&staff, of_referral(&second.name))
        .await
        .expect("list");
    assert_eq!(cancelled.len(), 3);
    assert!(
        cancelled
            .iter()
            .all(|f| follow_up_status(f) == F::Cancelled),
        "{cancelled:#?}"
    );
    let status = record(&c, &second.name, &cancelled[0].name, O::ReachedSafe, "")
        .await
        .expect_err("a cancelled referral");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let status = record(&c, &second.name, "", O::ReachedSafe, "")
        .await
        .expect_err("ad hoc on a cancelled referral");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
}

// ---------------------------------------------------------------------------------------------
// 5. Partner scoping and the audit of victim-data reads
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_never_reaches_another_partners_referrals() {
    let server = TestServer::start().await;
    let staff = server.referrals();
    let case = incident(&server, ZOCALO, "GV-DOMESTIC").await;
    let a = partner(&server, shelter_spec("REFUGIO-A", 1.0)).await;
    let b = partner(&server, shelter_spec("REFUGIO-B", 2.0)).await;
    let (ca, cb) = (a.client(&server), b.client(&server));
    // Two victims of one incident, one referred to each partner.
    let ra = refer(&server, &case, a.name(), &[Need::Shelter]).await;
    let mut to_b = referral_request(&case, b.name(), &[Need::Shelter]);
    to_b.victim = Some(victim("Lucía"));
    let rb = create(&server, to_b).await.expect("create");

    // Reads: B's referral is NOT_FOUND to A, exactly like one that does not exist.
    let own = get(&ca, &ra.name).await.expect("A reads its own");
    assert_eq!(own.victim.as_ref().expect("victim").alias, "Rosa");
    not_found(get(&ca, &rb.name).await, "A reads B's");
    not_found(get(&cb, &ra.name).await, "B reads A's");
    not_found(
        get(&ca, &format!("referrals/{}", uuid::Uuid::new_v4())).await,
        "A reads an unknown referral",
    );

    // Lists: only its own, also when filtering by the shared incident or by B.
    assert_eq!(
        names(&list(&ca, Default::default()).await.expect("list")),
        [ra.name.as_str()]
    );
    assert_eq!(
        names(&list(&cb, Default::default()).await.expect("list")),
        [rb.name.as_str()]
    );
    let by_incident = list(
        &ca,
        pb::ListReferralsRequest {
            incident: case.name.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("list by incident");
    assert_eq!(
        names(&by_incident),
        [ra.name.as_str()],
        "no other victim of the incident"
    );
    if let Ok(listed) = list(
        &ca,
        pb::ListReferralsRequest {
            partner: b.name().to_owned(),
            ..Default::default()
        },
    )
    .await
    {
        assert!(
            listed.is_empty(),
            "A lists B's referrals: {:?}",
            names(&listed)
        );
    }
    assert_eq!(
        list(
            &staff,
            pb::ListReferralsRequest {
                incident: case.name.clone(),
                ..Default::default()
            },
        )
        .await
        .expect("staff list")
        .len(),
        2
    );

    // Follow-ups: only its own.
    let mine = follow_ups(&ca, pb::ListFollowUpsRequest::default())
        .await
        .expect("follow-ups");
    assert_eq!(mine.len(), 3);
    assert!(
        mine.iter()
            .all(|f| f.name.starts_with(&format!("{}/", ra.name))),
        "{:?}",
        follow_up_names(&mine)
    );
    match follow_ups(&ca, of_referral(&rb.name)).await {
        Ok(theirs) => assert!(theirs.is_empty(), "A lists B's follow-ups: {theirs:#?}"),
        Err(status) => assert_eq!(status.code(), Code::NotFound, "{status:?}"),
    }

    // Mutations of B's referral: NOT_FOUND, and nothing changes.
    not_found(accept(&ca, &rb.name).await, "A accepts B's");
    not_found(
        decline(&ca, &rb.name, "no es nuestra").await,
        "A declines B's",
    );
    not_found(update(&ca, &rb.name, S::InProgress).await, "A starts B's");
    not_found(update(&ca, &rb.name, S::Cancelled).await, "A cancels B's");
    let theirs = &rb.follow_ups[0].name;
    not_found(
        record(&ca, &rb.name, theirs, pb::FollowUpOutcome::ReachedSafe, "").await,
        "A records B's follow-up",
    );
    not_found(
        record(&ca, &rb.name, "", pb::FollowUpOutcome::NotReached, "").await,
        "A records an ad-hoc follow-up on B's",
    );
    let status = record(&ca, &ra.name, theirs, pb::FollowUpOutcome::ReachedSafe, "")
        .await
        .expect_err("B's follow-up under A's referral");
    assert!(
        matches!(status.code(), Code::NotFound | Code::InvalidArgument),
        "{status:?}"
    );
    let untouched = get(&staff, &rb.name).await.expect("staff reads B's");
    assert_eq!(status_of(&untouched), S::Requested);
    assert_eq!(untouched.history.len(), 1);
    assert_eq!(untouched.etag, rb.etag);
    assert!(
        untouched
            .follow_ups
            .iter()
            .all(|f| follow_up_status(f) == pb::FollowUpStatus::Pending)
    );

    // The stream: A's snapshot holds only its own; B's changes never reach it.
    let mut feed = watch_from(&ca, 0).await;
    let (items, done) = snapshot(&mut feed).await;
    assert_eq!(names(&items), [ra.name.as_str()]);
    assert_eq!(done.item_count, 1);
    accept(&cb, &rb.name).await.expect("B accepts its own");
    refer(&server, &case, b.name(), &[Need::Shelter]).await;
    accept(&ca, &ra.name).await.expect("A accepts its own");
    let event = next_event(&mut feed).await;
    assert_eq!(
        event.referral.as_ref().expect("referral").name,
        ra.name,
        "A's stream carried {event:#?}"
    );
    assert_eq!(
        entry_kind(event.entry.as_ref()),
        pb::ReferralHistoryEntryKind::Accepted
    );
    drop(feed);
    // Asking for B's feed is refused.
    let asked = watch(
        &ca,
        pb::WatchReferralsRequest {
            partner: b.name().to_owned(),
            ..Default::default()
        },
    )
    .await;
    let refusal = match asked {
        Err(status) => status,
        Ok(mut feed) => tokio::time::timeout(WAIT, feed.message())
            .await
            .expect("an answer in time")
            .expect_err("A watches B's feed"),
    };
    assert!(
        matches!(
            refusal.code(),
            Code::PermissionDenied | Code::InvalidArgument | Code::NotFound
        ),
        "{refusal:?}"
    );

    // Every read of victim data is audited, with who read it.
    let (reader, token) = server.person(pb::Role::Dispatcher, "despacho").await;
    get(&server.referrals_as(&token), &rb.name)
        .await
        .expect("a dispatcher reads");
    let reads = victim_data_reads(&server).await;
    assert!(
        reads.iter().any(|r| r.principal == a.principal
            && r.method.ends_with("/GetReferral")
            && r.resource == ra.name),
        "A's GetReferral is audited: {reads:#?}"
    );
    assert!(
        reads
            .iter()
            .any(|r| r.principal == a.principal && r.method.ends_with("/ListReferrals")),
        "A's ListReferrals is audited: {reads:#?}"
    );
    assert!(
        reads.iter().any(|r| r.principal == reader
            && r.method.ends_with("/GetReferral")
            && r.resource == rb.name),
        "the dispatcher's read is audited: {reads:#?}"
    );
    assert!(
        !reads
            .iter()
            .any(|r| r.principal == a.principal && r.resource == rb.name && r.outcome == "success"),
        "A never read B's referral: {reads:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. The watch stream
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_stream_resumes_after_a_reconnect_without_gaps_or_repeats() {
    use pb::ReferralHistoryEntryKind as H;
    let server = TestServer::start().await;
    let case = incident(&server, ZOCALO, "GV-DOMESTIC").await;
    let a = partner(&server, shelter_spec("REFUGIO-A", 1.0)).await;
    let b = partner(&server, shelter_spec("REFUGIO-B", 2.0)).await;
    let (ca, cb) = (a.client(&server), b.client(&server));
    let r1 = refer(&server, &case, a.name(), &[Need::Shelter]).await;
    let r2 = refer(&server, &case, a.name(), &[Need::Shelter]).await;
    let r3 = refer(&server, &case, b.name(), &[Need::Shelter]).await;

    // Snapshot: A's referrals, then the sequence it is consistent with.
    let mut feed = watch_from(&ca, 0).await;
    let (items, done) = snapshot(&mut feed).await;
    let mut snapped = names(&items);
    snapped.sort_unstable();
    let mut expected = vec![r1.name.as_str(), r2.name.as_str()];
    expected.sort_unstable();
    assert_eq!(snapped, expected);
    assert_eq!(done.item_count, 2);
    assert!(done.sequence > 0);

    // Live: A's changes arrive in order, B's do not.
    let r4 = refer(&server, &case, a.name(), &[Need::Shelter]).await;
    refer(&server, &case, b.name(), &[Need::Shelter]).await;
    accept(&ca, &r1.name).await.expect("accept r1");
    let created = next_event(&mut feed).await;
    assert_eq!(created.referral.as_ref().expect("referral").name, r4.name);
    assert_eq!(entry_kind(created.entry.as_ref()), H::Created);
    assert!(created.sequence > done.sequence);
    let accepted = next_event(&mut feed).await;
    assert_eq!(accepted.referral.as_ref().expect("referral").name, r1.name);
    assert_eq!(entry_kind(accepted.entry.as_ref()), H::Accepted);
    assert_eq!(
        status_of(accepted.referral.as_ref().expect("referral")),
        S::Accepted
    );
    assert!(accepted.sequence > created.sequence);
    let last = accepted.sequence;

    // Disconnected while things change.
    drop(feed);
    accept(&ca, &r2.name).await.expect("accept r2");
    decline(&cb, &r3.name, "sin cupo")
        .await
        .expect("B declines r3");
    decline(&ca, &r4.name, "sin cupo")
        .await
        .expect("A declines r4");
    let r6 = refer(&server, &case, a.name(), &[Need::Shelter]).await;
    update(&ca, &r1.name, S::InProgress)
        .await
        .expect("start r1");
    readdress(&server, &r3.name, a.name())
        .await
        .expect("r3 to A");
    readdress(&server, &r4.name, b.name())
        .await
        .expect("r4 to B");

    // Resumed: exactly the missed events of A, in order, no snapshot.
    let missed = [
        (&r2.name, H::Accepted, S::Accepted),
        (&r4.name, H::Declined, S::Declined),
        (&r6.name, H::Created, S::Requested),
        (&r1.name, H::StatusChanged, S::InProgress),
        (&r3.name, H::Readdressed, S::Requested),
    ];
    let mut feed = watch_from(&ca, last).await;
    let mut received = Vec::new();
    let mut previous = last;
    for (name, kind, after) in missed {
        let event = next_event(&mut feed).await;
        let referral = event.referral.as_ref().expect("referral");
        assert_eq!(
            (
                &referral.name,
                entry_kind(event.entry.as_ref()),
                status_of(referral)
            ),
            (name, kind, after),
            "{event:#?}"
        );
        assert_eq!(referral.partner, a.name(), "only A's referrals");
        assert!(event.sequence > previous, "strictly increasing sequences");
        previous = event.sequence;
        received.push(event);
    }
    // Nothing else was owed: the next event is a new change (no repeats, nothing of r4 after
    // it went to B).
    update(&ca, &r1.name, S::Completed)
        .await
        .expect("complete r1");
    let next = next_event(&mut feed).await;
    assert_eq!(next.referral.as_ref().expect("referral").name, r1.name);
    assert_eq!(
        status_of(next.referral.as_ref().expect("referral")),
        S::Completed
    );
    assert!(next.sequence > previous);
    drop(feed);

    // Resuming from the middle gives the rest, in order.
    let mut feed = watch_from(&ca, received[1].sequence).await;
    let mut rest = Vec::new();
    for _ in 0..4 {
        rest.push(next_event(&mut feed).await.sequence);
    }
    assert_eq!(
        rest,
        [
            received[2].sequence,
            received[3].sequence,
            received[4].sequence,
            next.sequence
        ]
    );
    drop(feed);

    // A resume point beyond the log's head cannot be served: resync, then the stream ends.
    let mut feed = watch_from(&ca, next.sequence + 1_000_000).await;
    match next_item(&mut feed).await {
        Item::ResyncRequired(resync) => {
            assert_eq!(resync.reason, i32::from(pb::ResyncReason::SequenceAhead));
        }
        other => panic!("expected ResyncRequired, got {other:?}"),
    }
    let end = tokio::time::timeout(WAIT, feed.message())
        .await
        .expect("the stream ends in time");
    assert!(matches!(end, Ok(None)), "{end:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_record_is_corrected_with_its_etag() {
    let server = TestServer::start().await;
    let area = square_area("Centro", [19.40, -99.16, 19.46, -99.10]);
    let (kind, need) = (pb::PartnerKind::LegalAid, pb::ReferralNeed::Legal);
    let spec = fixtures::partner_agency("LEGAL-1", "Asesoría", kind, need, area);
    let created = create_partner(
        &server,
        pb::PartnerAgency {
            capacity: fixtures::capacity(3, 5),
            ..spec
        },
    )
    .await;
    let update = |etag: String| pb::UpdatePartnerAgencyRequest {
        request_id: request_id(),
        partner_agency: Some(pb::PartnerAgency {
            name: created.name.clone(),
            etag,
            services: vec![
                pb::ReferralNeed::Legal.into(),
                pb::ReferralNeed::Psychological.into(),
            ],
            ..Default::default()
        }),
        update_mask: mask(&["services"]),
    };
    let updated = server
        .directory()
        .update_partner_agency(update(created.etag.clone()))
        .await
        .expect("update")
        .into_inner()
        .partner_agency
        .expect("partner");
    assert_eq!(updated.services.len(), 2);
    let stale = server
        .directory()
        .update_partner_agency(update(created.etag.clone()))
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    // Suggestions see the new service at once.
    let suggestions = suggest(&server, (19.43, -99.13), &[Need::Psychological], 0).await;
    assert_eq!(suggestions.len(), 1);
    assert_eq!(suggestions[0].partner, created.name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_never_has_more_free_slots_than_slots() {
    let server = TestServer::start().await;
    let mut spec = shelter_spec("REFUGIO-5", 1.0);
    spec.capacity = capacity(5, 3, false);
    let status = server
        .directory()
        .create_partner_agency(pb::CreatePartnerAgencyRequest {
            request_id: request_id(),
            partner_agency: Some(spec.clone()),
        })
        .await
        .expect_err("5 free of 3");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        vec!["partner_agency.capacity.available_slots".to_owned()]
    );
    assert_eq!(server.count("partners").await, 0);

    spec.capacity = capacity(3, 5, false);
    let partner = create_partner(&server, spec).await;
    let status = server
        .directory()
        .update_partner_capacity(pb::UpdatePartnerCapacityRequest {
            request_id: request_id(),
            partner: partner.name.clone(),
            capacity: capacity(70, 20, false),
            etag: String::new(),
        })
        .await
        .expect_err("70 free of 20");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        vec!["capacity.available_slots".to_owned()]
    );
    let now = fixtures::get_partner(&server, &partner.name)
        .await
        .capacity
        .expect("capacity");
    assert_eq!(
        (now.available_slots, now.total_slots),
        (3, 5),
        "nothing written"
    );

    // The database holds the rule too.
    let mut conn = server.db().await;
    let refused = diesel::sql_query("UPDATE partners SET available_slots = total_slots + 1")
        .execute(&mut conn)
        .await
        .expect_err("a CHECK constraint");
    assert!(
        refused
            .to_string()
            .contains("partners_available_within_total"),
        "{refused}"
    );
    server.stop().await;
}
