//! The contract, to the letter (issue 15): what a client generated from `proto/` relies on,
//! over gRPC on real PostgreSQL. Request ids per method, the uncertainty limit, incident type
//! hints from the catalogue, timeline positions, Watch events that carry their own change,
//! duplicate ages, folios of back-entered calls, and the status of a new unit.

use chrono::Utc;
use diesel::QueryableByName;
use diesel::sql_types::{Bool, Text};
use diesel_async::RunQueryDsl as _;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::watch_incidents_response::Item as IncidentItem;
use dispatch_proto::v1::watch_referrals_response::Item as ReferralItem;
use dispatch_proto::v1::watch_units_response::Item as UnitItem;
use dispatch_tests::fixtures::{
    self, CENTRE, ZOCALO, add_note as note, create_call, geo, get_incident, mask,
    next_message as next, set_status,
};
use dispatch_tests::{
    TestServer, assert_database_refuses, assert_invalid, assert_refused, request_id,
    violated_fields,
};
use prost_types::Timestamp;
use tonic::Code;

/// `metres` north of a point.
fn north_of((latitude, longitude): (f64, f64), metres: f64) -> (f64, f64) {
    (latitude + metres / 111_195.0, longitude)
}

fn location(at: (f64, f64), uncertainty_m: f64) -> Option<pb::Location> {
    Some(pb::Location {
        point: Some(geo(at)),
        uncertainty_m,
        source: pb::LocationSource::Network.into(),
        civic_address: String::new(),
    })
}

fn ts(time: chrono::DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: time.timestamp(),
        nanos: 0,
    })
}

fn seconds(ts: Option<&Timestamp>) -> i64 {
    ts.expect("a timestamp").seconds
}

fn call_request(at: (f64, f64), incident_type_hint: &str) -> pb::CreateCallRequest {
    pb::CreateCallRequest {
        location: location(at, 20.0),
        account: "choque con un herido".into(),
        incident_type_hint: incident_type_hint.into(),
        ..fixtures::call_at(at, 20.0)
    }
}

async fn incident_at(server: &TestServer, at: (f64, f64), incident_type: &str) -> pb::Incident {
    let call = create_call(server, call_request(at, incident_type))
        .await
        .call
        .expect("call");
    open_incident(server, &call).await
}

async fn open_incident(server: &TestServer, call: &pb::Call) -> pb::Incident {
    fixtures::open_incident(server, &call.name, "").await
}

fn sequences(incident: &pb::Incident) -> Vec<i64> {
    incident.timeline.iter().map(|e| e.sequence).collect()
}

async fn agency(server: &TestServer) -> String {
    fixtures::agency(server, "SSC", pb::AgencyKind::Police).await
}

async fn create_unit(
    server: &TestServer,
    agency: &str,
    call_sign: &str,
    status: pb::UnitStatus,
) -> pb::Unit {
    let unit = pb::Unit {
        status: status.into(),
        ..fixtures::available(agency, call_sign, pb::UnitType::Patrol)
    };
    fixtures::create_unit(server, unit).await
}

async fn report(server: &TestServer, unit: &str, at: (f64, f64)) {
    fixtures::report(server, &[(unit, at)]).await;
}

/// The units a recommendation for one patrol offers.
async fn recommended(server: &TestServer, incident: &str) -> Vec<String> {
    fixtures::recommended_patrols(server, incident, 3).await
}

/// The feed position a fresh stream's snapshot is consistent with (no snapshot items yet).
async fn incident_head(server: &TestServer) -> i64 {
    // On a loaded machine the snapshot may complete before the set-up's events are published
    // (the stream waits a moment, then goes on: see feed/stream.rs), and sequence 0 is no place
    // to resume from (it asks for a snapshot). Another look finds them published.
    for _ in 0..50 {
        let head = incident_snapshot_head(server).await;
        if head > 0 {
            return head;
        }
    }
    panic!("no incident event was ever published")
}

async fn incident_snapshot_head(server: &TestServer) -> i64 {
    let mut stream = server
        .triage()
        .watch_incidents(pb::WatchIncidentsRequest::default())
        .await
        .expect("watch incidents")
        .into_inner();
    loop {
        match next(&mut stream).await.item.expect("item") {
            IncidentItem::SnapshotComplete(done) => return done.sequence,
            IncidentItem::Snapshot(_) | IncidentItem::Heartbeat(_) => {}
            other => panic!("unexpected during the snapshot: {other:?}"),
        }
    }
}

async fn unit_head(server: &TestServer) -> i64 {
    let mut stream = server
        .units()
        .watch_units(pb::WatchUnitsRequest::default())
        .await
        .expect("watch units")
        .into_inner();
    loop {
        match next(&mut stream).await.item.expect("item") {
            UnitItem::SnapshotComplete(done) => return done.sequence,
            UnitItem::Snapshot(_) | UnitItem::Heartbeat(_) => {}
            other => panic!("unexpected during the snapshot: {other:?}"),
        }
    }
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

#[derive(QueryableByName)]
struct Word {
    #[diesel(sql_type = Text)]
    word: String,
}

// ---------------------------------------------------------------------------------------------
// 1. request_id is keyed by (RPC method, request_id)
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_id_serves_each_method_once() {
    let server = TestServer::start().await;
    let shared = request_id();
    let mut request = call_request(ZOCALO, "TRAFFIC-INJURY");
    request.request_id = shared.clone();
    let call = create_call(&server, request.clone())
        .await
        .call
        .expect("call");
    let incident = open_incident(&server, &call).await;

    // The id of the CreateCall, used again for another method: a new request, not a reuse.
    let add = pb::AddIncidentNoteRequest {
        request_id: shared.clone(),
        name: incident.name.clone(),
        text: "el conductor huyó a pie".into(),
    };
    let noted = server
        .triage()
        .add_incident_note(add.clone())
        .await
        .expect("the same id for another method is accepted")
        .into_inner()
        .incident
        .expect("incident");
    assert_eq!(noted.notes.len(), 1);

    // Within one method the id still means one request: a retry writes nothing more...
    let again = server
        .triage()
        .add_incident_note(add.clone())
        .await
        .expect("retry")
        .into_inner()
        .incident
        .expect("incident");
    assert_eq!(again.notes.len(), 1, "a retry adds no second note");
    let retried = create_call(&server, request.clone()).await;
    assert!(retried.replayed);
    assert_eq!(retried.call.expect("call").name, call.name);
    assert_eq!(server.count("calls").await, 1);

    // ...and another payload under the same method and id is refused, for either method.
    for status in [
        server
            .triage()
            .add_incident_note(pb::AddIncidentNoteRequest {
                text: "otra nota".into(),
                ..add.clone()
            })
            .await
            .expect_err("reused for AddIncidentNote"),
        server
            .calls()
            .create_call(pb::CreateCallRequest {
                account: "otra cosa".into(),
                ..request.clone()
            })
            .await
            .expect_err("reused for CreateCall"),
    ] {
        assert_refused(&status, Code::AlreadyExists, "REQUEST_ID_REUSED");
    }
    assert_eq!(get_incident(&server, &incident.name).await.notes.len(), 1);
    assert_eq!(server.count("calls").await, 1);

    // In the database: one row per (method, id), and the key makes a second one impossible.
    let mut conn = server.db().await;
    let methods: Vec<Word> = diesel::sql_query(
        "SELECT method AS word FROM idempotency_keys WHERE request_id = $1::uuid ORDER BY 1",
    )
    .bind::<Text, _>(&shared)
    .load(&mut conn)
    .await
    .expect("keys");
    let methods: Vec<&str> = methods.iter().map(|m| m.word.as_str()).collect();
    assert_eq!(methods, ["AddIncidentNote", "CreateCall"]);
    let twin = diesel::sql_query(
        "INSERT INTO idempotency_keys (request_id, method, principal, request, resource) \
         VALUES ($1::uuid, 'CreateCall', 'principals/x', '\\x00', 'calls/x')",
    )
    .bind::<Text, _>(&shared)
    .execute(&mut conn)
    .await;
    assert!(
        twin.is_err(),
        "a second key for (CreateCall, id) was stored"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Location.uncertainty_m is 0..50,000
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncertainty_over_fifty_kilometres_is_refused_and_never_stored() {
    let server = TestServer::start().await;
    let mut request = call_request(ZOCALO, "");
    request.location = location(ZOCALO, 50_001.0);
    let status = server
        .calls()
        .create_call(request)
        .await
        .expect_err("50,001 m");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["location.uncertainty_m"]);
    assert_eq!(server.count("calls").await, 0);
    assert_eq!(server.count("call_locations").await, 0);

    // The limit itself is fine, for a call and then for its incident.
    let mut request = call_request(ZOCALO, "");
    request.location = location(ZOCALO, 50_000.0);
    let call = create_call(&server, request).await.call.expect("call");
    assert_eq!(
        call.location.as_ref().expect("location").uncertainty_m,
        50_000.0
    );
    assert_invalid(
        server
            .calls()
            .update_call_location(pb::UpdateCallLocationRequest {
                request_id: request_id(),
                name: call.name.clone(),
                location: location(ZOCALO, 50_001.0),
                etag: String::new(),
            })
            .await,
        "50,001 m",
        &["location.uncertainty_m"],
    );
    let incident = open_incident(&server, &call).await;
    let status = server
        .triage()
        .update_incident(pb::UpdateIncidentRequest {
            request_id: request_id(),
            incident: Some(pb::Incident {
                name: incident.name.clone(),
                etag: incident.etag.clone(),
                location: location(ZOCALO, 50_001.0),
                ..Default::default()
            }),
            update_mask: mask(&["location"]),
            reason: String::new(),
        })
        .await
        .expect_err("50,001 m");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        ["incident.location.uncertainty_m"]
    );
    assert_eq!(server.count("call_locations").await, 1);

    // The database holds the same limit for anything that gets past the server.
    let statements = [
        "UPDATE calls SET uncertainty_m = 50001",
        "UPDATE incidents SET uncertainty_m = 50001",
        "UPDATE call_locations SET uncertainty_m = 50001",
    ];
    assert_database_refuses(&mut server.db().await, &statements, "uncertainty_m").await;
}

// ---------------------------------------------------------------------------------------------
// 3. incident_type_hint names a type of the catalogue
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_type_hint_outside_the_catalogue_is_refused() {
    let server = TestServer::start().await;
    let status = server
        .calls()
        .create_call(call_request(ZOCALO, "TRAFFIC-UFO"))
        .await
        .expect_err("unknown type");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["incident_type_hint"]);
    assert_eq!(server.count("calls").await, 0);

    // A malformed code is named once, for its form.
    assert_invalid(
        server
            .calls()
            .create_call(call_request(ZOCALO, "not a code!"))
            .await,
        "malformed type",
        &["incident_type_hint"],
    );

    // A code of the catalogue is accepted; opening the incident checks its type the same way.
    let call = create_call(&server, call_request(ZOCALO, "TRAFFIC-INJURY"))
        .await
        .call
        .expect("call");
    assert_eq!(call.incident_type_hint, "TRAFFIC-INJURY");
    assert_invalid(
        fixtures::try_open_incident(&server, &call.name, "TRAFFIC-UFO").await,
        "unknown type",
        &["incident_type"],
    );
    assert_eq!(server.count("incidents").await, 0);
}

// ---------------------------------------------------------------------------------------------
// 4 and 5. Timeline positions; Watch events carry their own change
// ---------------------------------------------------------------------------------------------

/// Every WatchIncidents event after `after` until (and including) the one `last` accepts.
async fn incident_events_after(
    server: &TestServer,
    after: i64,
    last: impl Fn(&pb::IncidentEvent) -> bool,
) -> Vec<pb::IncidentEvent> {
    let mut stream = server
        .triage()
        .watch_incidents(pb::WatchIncidentsRequest {
            after_sequence: after,
            ..Default::default()
        })
        .await
        .expect("watch incidents")
        .into_inner();
    fixtures::incident_events_until(&mut stream, last).await
}

fn entry_kind(event: &pb::IncidentEvent) -> pb::TimelineEntryKind {
    pb::TimelineEntryKind::try_from(event.entry.as_ref().expect("entry").kind).expect("kind")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_sequences_are_positions_in_the_incident_and_events_keep_theirs() {
    let server = TestServer::start().await;
    let head = incident_head(&server).await;

    // Two incidents whose entries interleave in the centre-wide log.
    let survivor = incident_at(&server, ZOCALO, "TRAFFIC-INJURY").await;
    let duplicate = incident_at(&server, north_of(ZOCALO, 60.0), "TRAFFIC-INJURY").await;
    note(&server, &survivor.name, "s-1").await;
    note(&server, &duplicate.name, "d-1").await;
    let before_merge = note(&server, &survivor.name, "s-2").await;
    assert_eq!(
        sequences(&before_merge),
        [1, 2, 3, 4],
        "{:#?}",
        before_merge.timeline
    );
    assert_eq!(
        sequences(&get_incident(&server, &duplicate.name).await),
        [1, 2, 3]
    );

    // After a merge the survivor's timeline holds both, renumbered in time order.
    fixtures::merge_incidents(&server, &survivor.name, &duplicate.name, "el mismo choque")
        .await
        .expect("merge");
    let kept = get_incident(&server, &survivor.name).await;
    let merged = get_incident(&server, &duplicate.name).await;
    let expected: Vec<i64> = (1..=kept.timeline.len() as i64).collect();
    assert_eq!(sequences(&kept), expected);
    assert!(kept.timeline.len() > 7, "{:#?}", kept.timeline);
    let expected: Vec<i64> = (1..=merged.timeline.len() as i64).collect();
    assert_eq!(sequences(&merged), expected);

    // Every event, delivered now (long after its change), carries its change: the entry as
    // GetIncident showed it right after that change, at the position it had then; only the
    // incident part is as at delivery (both are closed or merged by now).
    let events = incident_events_after(&server, head, |event| {
        event
            .incident
            .as_ref()
            .is_some_and(|i| i.name == duplicate.name)
            && entry_kind(event) == pb::TimelineEntryKind::Closed
    })
    .await;
    let mut survivor_entries = Vec::new();
    for event in &events {
        let incident = event.incident.as_ref().expect("incident");
        let entry = event.entry.clone().expect("entry");
        let position = usize::try_from(entry.sequence).expect("positive position");
        if incident.name == survivor.name {
            // Before the merge the survivor's timeline was its own; the merge entry and what
            // follows are where the merged timeline has them.
            let then = if entry.kind == i32::from(pb::TimelineEntryKind::MergedIn) {
                &kept
            } else {
                &before_merge
            };
            assert_eq!(then.timeline.get(position - 1), Some(&entry), "{events:#?}");
            survivor_entries.push(entry.sequence);
        } else {
            assert_eq!(incident.name, duplicate.name);
            assert_eq!(
                merged.timeline.get(position - 1),
                Some(&entry),
                "{events:#?}"
            );
            assert_eq!(incident.status, i32::from(pb::IncidentStatus::Closed));
        }
    }
    assert_eq!(survivor_entries, [1, 2, 3, 4, 8], "{events:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_unit_event_says_what_its_own_change_did() {
    let server = TestServer::start().await;
    let police = agency(&server).await;
    let unit = create_unit(&server, &police, "P-01", pb::UnitStatus::Available).await;
    report(&server, &unit.name, north_of(ZOCALO, 300.0)).await;
    let incident = incident_at(&server, ZOCALO, "TRAFFIC-INJURY").await;
    let head = unit_head(&server).await;

    fixtures::assign_units(&server, &incident.name, &[&unit.name], "la más cercana")
        .await
        .expect("assign");
    set_status(&server, &unit.name, pb::UnitStatus::EnRoute).await;
    set_status(&server, &unit.name, pb::UnitStatus::OnScene).await;
    set_status(&server, &unit.name, pb::UnitStatus::Available).await;
    let fresh = create_unit(&server, &police, "P-02", pb::UnitStatus::Unspecified).await;
    set_status(&server, &fresh.name, pb::UnitStatus::Available).await;

    // Resumed after all of it: each event says what its own change did; `unit` is as now.
    let mut stream = server
        .units()
        .watch_units(pb::WatchUnitsRequest {
            after_sequence: head,
            ..Default::default()
        })
        .await
        .expect("watch units")
        .into_inner();
    let mut changes = Vec::new();
    while changes.len() < 6 {
        match next(&mut stream).await.item.expect("item") {
            UnitItem::Event(event) => {
                if event.kind == i32::from(pb::UnitEventKind::PositionChanged) {
                    continue;
                }
                let now = event.unit.as_ref().expect("unit");
                assert_eq!(now.status, i32::from(pb::UnitStatus::Available));
                let status = |value: i32| pb::UnitStatus::try_from(value).expect("status");
                let kind = pb::UnitEventKind::try_from(event.kind).expect("kind");
                changes.push((
                    now.call_sign.clone(),
                    kind,
                    status(event.previous_status),
                    status(event.status),
                ));
            }
            UnitItem::Heartbeat(_) => {}
            other => panic!("unexpected: {other:?}"),
        }
    }
    use pb::UnitEventKind as K;
    use pb::UnitStatus as S;
    let p = |sign: &str, kind, from, to| (sign.to_owned(), kind, from, to);
    assert_eq!(
        changes,
        [
            p("P-01", K::StatusChanged, S::Available, S::Dispatched),
            p("P-01", K::StatusChanged, S::Dispatched, S::EnRoute),
            p("P-01", K::StatusChanged, S::EnRoute, S::OnScene),
            p("P-01", K::StatusChanged, S::OnScene, S::Available),
            p("P-02", K::Created, S::Unspecified, S::OutOfService),
            p("P-02", K::StatusChanged, S::OutOfService, S::Available),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 5. A FOLLOW_UP_RECORDED event names its follow-up
// ---------------------------------------------------------------------------------------------

async fn next_referral_event(
    stream: &mut tonic::Streaming<pb::WatchReferralsResponse>,
) -> pb::ReferralEvent {
    loop {
        match next(stream).await.item.expect("item") {
            ReferralItem::Event(event) => return event,
            ReferralItem::Heartbeat(_) => {}
            other => panic!("expected an event, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_event_names_its_follow_up_live_and_late() {
    use pb::ReferralHistoryEntryKind as H;
    let server = TestServer::start().await;
    let case = incident_at(&server, ZOCALO, "GV-DOMESTIC").await;
    let area = fixtures::square_area("Centro", CENTRE);
    let (kind, need) = (
        pb::PartnerKind::WomensCentre,
        pb::ReferralNeed::Psychological,
    );
    let spec = fixtures::partner_agency("CENTRO-MUJERES", "Centro de atención", kind, need, area);
    let partner = fixtures::create_partner(
        &server,
        pb::PartnerAgency {
            location: Some(geo(north_of(ZOCALO, 1_000.0))),
            ..spec
        },
    )
    .await;
    let (_, token) = server
        .principal(pb::Role::PartnerAgency, "centro", None, Some(&partner.name))
        .await;
    let client = server.referrals_as(&token);
    let need = pb::ReferralNeed::Psychological;
    let request = fixtures::referral_request(&case.name, &partner.name, need, "Rosa");
    let referral = fixtures::refer(&server, request).await;

    let mut live = client
        .clone()
        .watch_referrals(pb::WatchReferralsRequest::default())
        .await
        .expect("watch referrals")
        .into_inner();
    let head = loop {
        match next(&mut live).await.item.expect("item") {
            ReferralItem::SnapshotComplete(done) => break done.sequence,
            ReferralItem::Snapshot(_) | ReferralItem::Heartbeat(_) => {}
            other => panic!("unexpected during the snapshot: {other:?}"),
        }
    };
    let record = |text: &'static str| {
        let mut client = client.clone();
        let referral = referral.name.clone();
        async move {
            client
                .record_follow_up(pb::RecordFollowUpRequest {
                    request_id: request_id(),
                    referral,
                    follow_up: String::new(),
                    outcome: pb::FollowUpOutcome::NotReached.into(),
                    outcome_note: text.into(),
                    done_time: None,
                })
                .await
                .expect("record follow-up")
                .into_inner()
                .follow_up
                .expect("follow-up")
        }
    };
    let first = record("no contestó").await;
    let event = next_referral_event(&mut live).await;
    assert_eq!(
        event.time,
        Some(published_at(&server, event.sequence).await),
        "an event's time is when the feed published it, as for incidents and units"
    );
    let entry = event.entry.expect("entry");
    assert_eq!(entry.kind, i32::from(H::FollowUpRecorded));
    assert_eq!(
        entry.follow_up, first.name,
        "the live event names its follow-up"
    );
    let second = record("tampoco contestó").await;
    client
        .clone()
        .accept_referral(pb::AcceptReferralRequest {
            request_id: request_id(),
            name: referral.name.clone(),
            note: String::new(),
            etag: String::new(),
        })
        .await
        .expect("accept");

    // The same entries through GetReferral, and through a stream resumed after both.
    let read = client
        .clone()
        .get_referral(pb::GetReferralRequest {
            name: referral.name.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .referral
        .expect("referral");
    let recorded: Vec<&pb::ReferralHistoryEntry> = read
        .history
        .iter()
        .filter(|h| h.kind == i32::from(H::FollowUpRecorded))
        .collect();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0], &entry);
    let mut late = client
        .clone()
        .watch_referrals(pb::WatchReferralsRequest {
            after_sequence: head,
            ..Default::default()
        })
        .await
        .expect("watch referrals")
        .into_inner();
    // Delivered after the referral was accepted, each still says what it was right after it.
    for (follow_up, expected) in [(&first, recorded[0]), (&second, recorded[1])] {
        let event = next_referral_event(&mut late).await;
        let entry = event.entry.expect("entry");
        assert_eq!(entry.follow_up, follow_up.name);
        assert_eq!(&entry, expected);
        let then = event.referral.expect("referral");
        assert_eq!(then.status, i32::from(pb::ReferralStatus::Requested));
        assert_eq!(then.history.last(), Some(&entry));
    }
    let accepted = next_referral_event(&mut late).await;
    assert_eq!(accepted.entry.expect("entry").kind, i32::from(H::Accepted));
    assert_eq!(
        accepted.referral.expect("referral").status,
        i32::from(pb::ReferralStatus::Accepted)
    );
}

// ---------------------------------------------------------------------------------------------
// 6. A duplicate candidate's age runs from the incident's creation
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_candidates_age_runs_from_the_incidents_creation() {
    // The age is the subject, not the likelihood: a repeat 90 minutes after the first report is
    // below the default threshold at busy hours, so every candidate that passes the gate is shown.
    let mut config = dispatch_server::Config::defaults();
    config.duplicate_threshold = Some(0.001);
    let server = TestServer::start_with(config).await;
    // First reported 90 minutes ago (a call the centre held), opened as an incident now.
    let mut first = call_request(ZOCALO, "TRAFFIC-INJURY");
    first.received_time = ts(Utc::now() - chrono::Duration::minutes(90));
    let first = create_call(&server, first).await.call.expect("call");
    let incident = open_incident(&server, &first).await;
    let created = seconds(incident.create_time.as_ref());

    let repeat = create_call(
        &server,
        call_request(north_of(ZOCALO, 50.0), "TRAFFIC-INJURY"),
    )
    .await;
    let candidate = repeat
        .duplicate_candidates
        .iter()
        .find(|c| c.incident == incident.name)
        .expect("the incident is a candidate");
    let received = seconds(repeat.call.as_ref().expect("call").received_time.as_ref());
    let age = candidate.age.expect("age").seconds;
    assert!(
        (age - (received - created)).abs() <= 1,
        "age {age} s, received {received}, created {created}"
    );
    assert!(
        age < 60,
        "{age} s: measured from the first call, not the incident's creation"
    );

    // A back-entered call received before the incident existed: age zero, never negative.
    let mut back = call_request(north_of(ZOCALO, 30.0), "TRAFFIC-INJURY");
    back.back_entered = true;
    back.received_time = ts(Utc::now() - chrono::Duration::minutes(100));
    let back = create_call(&server, back).await;
    let candidate = back
        .duplicate_candidates
        .iter()
        .find(|c| c.incident == incident.name)
        .expect("the incident is a candidate");
    let age = candidate.age.expect("age");
    assert_eq!((age.seconds, age.nanos), (0, 0));
}

// ---------------------------------------------------------------------------------------------
// 7. A back-entered call is numbered on the day it is entered
// ---------------------------------------------------------------------------------------------

/// The centre-local date (America/Mexico_City, the default) of `time` as YYMMDD.
async fn local_day(server: &TestServer, time: i64) -> String {
    let mut conn = server.db().await;
    let day: Word = diesel::sql_query(
        "SELECT to_char(to_timestamp($1::bigint) AT TIME ZONE 'America/Mexico_City', 'YYMMDD') \
         AS word",
    )
    .bind::<diesel::sql_types::BigInt, _>(time)
    .get_result(&mut conn)
    .await
    .expect("local day");
    day.word
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_back_entered_call_is_numbered_on_the_day_it_is_entered() {
    let server = TestServer::start().await;
    let today = create_call(&server, call_request(ZOCALO, ""))
        .await
        .call
        .expect("call");

    let received = Utc::now() - chrono::Duration::days(3);
    let mut request = call_request(north_of(ZOCALO, 5_000.0), "");
    request.back_entered = true;
    request.received_time = ts(received);
    let back = create_call(&server, request).await.call.expect("call");
    assert!(back.back_entered);
    assert_eq!(seconds(back.received_time.as_ref()), received.timestamp());

    let entered = seconds(back.create_time.as_ref());
    let entry_day = local_day(&server, entered).await;
    let received_day = local_day(&server, received.timestamp()).await;
    assert_ne!(entry_day, received_day);
    let parts: Vec<&str> = back.folio.split('/').collect();
    assert_eq!(parts[..2], ["C5", entry_day.as_str()], "{}", back.folio);
    // Numbered in order of entry, after the call entered before it (unless midnight passed).
    let before: Vec<&str> = today.folio.split('/').collect();
    if before[1] == parts[1] {
        let number = |n: &str| n.parse::<u32>().expect("number");
        assert_eq!(number(parts[2]), number(before[2]) + 1);
    }

    // Nothing was numbered on the day it was received.
    let mut conn = server.db().await;
    let flag: Flag = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM folio_counters WHERE kind = 'call' \
                        AND to_char(day, 'YYMMDD') = $1) AS flag",
    )
    .bind::<Text, _>(&received_day)
    .get_result(&mut conn)
    .await
    .expect("counters");
    assert!(!flag.flag);
}

// ---------------------------------------------------------------------------------------------
// 8. CreateUnit without a status
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_created_without_a_status_waits_out_of_service_for_its_crew() {
    let server = TestServer::start().await;
    let police = agency(&server).await;
    let unit = create_unit(&server, &police, "P-10", pb::UnitStatus::Unspecified).await;
    assert_eq!(unit.status, i32::from(pb::UnitStatus::OutOfService));
    assert_eq!(
        unit.primary_status,
        i32::from(pb::PrimaryStatus::NotAvailable)
    );

    // Its tracker reports from the yard: it is still not offered for an incident nearby.
    report(&server, &unit.name, north_of(ZOCALO, 200.0)).await;
    let incident = incident_at(&server, ZOCALO, "TRAFFIC-INJURY").await;
    assert!(recommended(&server, &incident.name).await.is_empty());

    // The crew signs on.
    let on_shift = set_status(&server, &unit.name, pb::UnitStatus::Available).await;
    assert_eq!(on_shift.status, i32::from(pb::UnitStatus::Available));
    assert_eq!(
        recommended(&server, &incident.name).await,
        [unit.name.as_str()]
    );

    // A unit created already crewed says so.
    let crewed = create_unit(&server, &police, "P-11", pb::UnitStatus::Available).await;
    assert_eq!(crewed.status, i32::from(pb::UnitStatus::Available));
}

#[derive(QueryableByName)]
struct PublishedAt {
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    published_at: chrono::DateTime<Utc>,
}

/// When the feed published the event at `position`, as the database has it.
async fn published_at(server: &TestServer, position: i64) -> Timestamp {
    let mut conn = server.db().await;
    let row: PublishedAt =
        diesel::sql_query("SELECT published_at FROM event_feed WHERE position = $1")
            .bind::<diesel::sql_types::BigInt, _>(position)
            .get_result(&mut conn)
            .await
            .expect("published_at");
    Timestamp {
        seconds: row.published_at.timestamp(),
        nanos: i32::try_from(row.published_at.timestamp_subsec_nanos()).expect("nanos"),
    }
}

/// incident.proto: priority is "set from the type's default priority on creation" (found by
/// the console's queue, which showed every new incident at priority 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_incident_of_a_known_type_has_its_types_default_priority() {
    let server = TestServer::start().await;
    let default_of = |code: &str| {
        let catalogue = dispatch_server::Config::defaults()
            .catalogue()
            .expect("the built-in catalogue");
        i32::from(catalogue.get(code).expect("a type").default_priority)
    };
    // The type from the call's hint.
    let from_hint = incident_at(&server, (19.43, -99.13), "TRAFFIC-INJURY").await;
    assert_eq!(from_hint.priority, default_of("TRAFFIC-INJURY"));
    assert!(from_hint.priority > 0);
    // The type given when opening wins over the hint.
    let call = create_call(&server, call_request((19.44, -99.14), "TRAFFIC-INJURY"))
        .await
        .call
        .expect("call");
    let given = fixtures::open_incident(&server, &call.name, "MED-CARDIAC-ARREST").await;
    assert_eq!(given.priority, default_of("MED-CARDIAC-ARREST"));
    // No type yet: no priority until triage.
    let untyped = incident_at(&server, (19.45, -99.15), "").await;
    assert_eq!(untyped.priority, 0);
    // The feed says the same.
    assert_eq!(
        get_incident(&server, &from_hint.name).await.priority,
        from_hint.priority
    );
    server.stop().await;
}

/// AssignUnitsRequest.override_reason is the decision record of what was not recommended:
/// assigning the recommended unit and one more keeps the reason with the extra unit only
/// (found by the console: the timeline said every unit was "not as recommended").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_override_reason_stays_with_the_units_that_were_not_recommended() {
    let server = TestServer::start().await;
    let agency = agency(&server).await;
    let incident = incident_at(&server, (19.43, -99.13), "TRAFFIC-INJURY").await;
    let near = create_unit(&server, &agency, "P-NEAR", pb::UnitStatus::Available).await;
    let far = create_unit(&server, &agency, "P-FAR", pb::UnitStatus::Available).await;
    report(&server, &near.name, (19.431, -99.13)).await;
    report(&server, &far.name, (19.45, -99.13)).await;
    let recommendation = server
        .units()
        .recommend_units(fixtures::patrol_recommendation(&incident.name, 3))
        .await
        .expect("recommend")
        .into_inner()
        .recommendation
        .expect("recommendation");
    let picked: Vec<&str> = recommendation
        .fills
        .iter()
        .flat_map(|fill| fill.candidates.iter().filter(|c| c.picked))
        .map(|c| c.unit.as_str())
        .collect();
    assert_eq!(picked, vec![near.name.as_str()]);
    let assigned = server
        .units()
        .assign_units(fixtures::assign_request(
            &incident.name,
            &[&near.name, &far.name],
            &recommendation.name,
            "second patrol for traffic control",
        ))
        .await
        .expect("assign")
        .into_inner()
        .incident
        .expect("incident");
    let reason_of = |unit: &str| {
        assigned
            .assignments
            .iter()
            .find(|a| a.unit == unit)
            .map(|a| a.override_reason.clone())
            .expect("an assignment")
    };
    assert_eq!(reason_of(&near.name), "");
    assert_eq!(reason_of(&far.name), "second patrol for traffic control");
    let timeline = get_incident(&server, &incident.name).await.timeline;
    let line_of = |unit: &str| {
        timeline
            .iter()
            .find(|e| e.unit == unit && e.kind() == pb::TimelineEntryKind::UnitDispatched)
            .map(|e| e.description.clone())
            .expect("a dispatch entry")
    };
    assert!(
        !line_of(&near.name).contains("not as recommended"),
        "{}",
        line_of(&near.name)
    );
    assert!(
        line_of(&far.name).contains("not as recommended"),
        "{}",
        line_of(&far.name)
    );
    server.stop().await;
}

async fn station(
    server: &TestServer,
    agency: &str,
    code: &str,
) -> Result<pb::Station, tonic::Status> {
    server
        .directory()
        .create_station(fixtures::station_request(agency, code, (19.43, -99.13)))
        .await
        .map(|r| r.into_inner().station.expect("station"))
}

/// directory.proto: a station's code is "unique within the agency": two agencies may each have a
/// station "01"; one agency may not have two. Listing pages through stations sharing a code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_code_is_unique_within_its_agency_only() {
    let server = TestServer::start().await;
    let police = agency(&server).await;
    let fire = fixtures::agency(&server, "BOMBEROS", pb::AgencyKind::Fire).await;
    let police_01 = station(&server, &police, "01").await.expect("police 01");
    let fire_01 = station(&server, &fire, "01")
        .await
        .expect("fire 01 beside police 01");
    let police_02 = station(&server, &police, "02").await.expect("police 02");
    let again = station(&server, &police, "01")
        .await
        .expect_err("a second 01 of the police");
    assert_eq!(again.code(), Code::AlreadyExists);
    assert!(again.message().contains("\"01\""), "{}", again.message());
    assert_eq!(server.count("stations").await, 3);

    // One at a time: every station once, by code.
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = server
            .directory()
            .list_stations(pb::ListStationsRequest {
                page_size: 1,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .expect("a page")
            .into_inner();
        seen.extend(page.stations.into_iter().map(|s| s.name));
        page_token = page.next_page_token;
        if page_token.is_empty() {
            break;
        }
        assert!(seen.len() <= 3, "paging does not end: {seen:?}");
    }
    let mut first_two = vec![police_01.name, fire_01.name];
    first_two.sort();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let mut got_two = seen[..2].to_vec();
    got_two.sort();
    assert_eq!(got_two, first_two, "both 01s first");
    assert_eq!(seen[2], police_02.name);
    server.stop().await;
}

/// incident.proto: the BASIC view (ListIncidents' default) omits calls, notes, timeline and
/// triage history, not the assignments: a list says which units are on each incident.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_list_says_which_units_are_assigned() {
    let server = TestServer::start().await;
    let agency = agency(&server).await;
    let busy = incident_at(&server, (19.43, -99.13), "TRAFFIC-INJURY").await;
    let quiet = incident_at(&server, (19.44, -99.14), "TRAFFIC-INJURY").await;
    let unit = create_unit(&server, &agency, "P-LIST-01", pb::UnitStatus::Available).await;
    report(&server, &unit.name, (19.431, -99.13)).await;
    fixtures::assign_units(
        &server,
        &busy.name,
        &[&unit.name],
        "the patrol on the corner",
    )
    .await
    .expect("assign");
    let listed = fixtures::list_incidents(&server, pb::ListIncidentsRequest::default()).await;
    let of = |name: &str| {
        listed
            .iter()
            .find(|i| i.name == name)
            .expect("listed")
            .clone()
    };
    let busy = of(&busy.name);
    assert_eq!(
        busy.assignments
            .iter()
            .map(|a| a.unit.as_str())
            .collect::<Vec<_>>(),
        vec![unit.name.as_str()]
    );
    assert_eq!(busy.assignments[0].call_sign, "P-LIST-01");
    assert!(
        busy.timeline.is_empty() && busy.calls.is_empty(),
        "still the BASIC view"
    );
    assert!(of(&quiet.name).assignments.is_empty());
    server.stop().await;
}
