//! CallIntakeService over gRPC on real PostgreSQL: intake from every channel, idempotency under
//! concurrent retries, duplicate suggestions, links, dispositions, location history, bad input.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl as _;
use dispatch_proto::v1 as pb;
use dispatch_tests::fixtures::{self, ZOCALO, create_call as create};
use dispatch_tests::{TestServer, assert_invalid, assert_refused, request_id, violated_fields};
use prost_types::Timestamp;
use tonic::Code;
use tonic_types::StatusExt as _;

fn point(latitude: f64, longitude: f64) -> Option<pb::Location> {
    fixtures::location((latitude, longitude), 20.0)
}

/// `metres` north of a point.
/// UpdateCallLocation of `call` to `location`, `etag` checked when not empty.
async fn update_location(
    server: &TestServer,
    call: &str,
    location: Option<pb::Location>,
    etag: &str,
) -> Result<pb::UpdateCallLocationResponse, tonic::Status> {
    let request = pb::UpdateCallLocationRequest {
        request_id: request_id(),
        name: call.into(),
        location,
        etag: etag.into(),
    };
    let answer = server.calls().update_call_location(request).await?;
    Ok(answer.into_inner())
}

fn north_of((latitude, longitude): (f64, f64), metres: f64) -> (f64, f64) {
    (latitude + metres / 111_195.0, longitude)
}

fn call_at((latitude, longitude): (f64, f64)) -> pb::CreateCallRequest {
    pb::CreateCallRequest {
        request_id: request_id(),
        channel: pb::CallChannel::Voice911.into(),
        callback_number: "+52 55 5555 0101".into(),
        language: "es-MX".into(),
        location: point(latitude, longitude),
        account: "Choque entre dos autos, hay un herido".into(),
        incident_type_hint: "TRAFFIC-INJURY".into(),
        ..Default::default()
    }
}

fn ts(time: chrono::DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: time.timestamp(),
        nanos: 0,
    })
}

async fn open_incident(server: &TestServer, call: &pb::Call) -> pb::Incident {
    fixtures::open_incident(server, &call.name, "").await
}

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = Text)]
    actor: String,
    #[diesel(sql_type = Text)]
    kind: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_from_every_channel_is_recorded_with_a_daily_folio() {
    let server = TestServer::start().await;
    let channels = [
        pb::CallChannel::Voice911,
        pb::CallChannel::App911,
        pb::CallChannel::PanicButton,
        pb::CallChannel::Camera,
        pb::CallChannel::Radio,
        pb::CallChannel::SocialMedia,
        pb::CallChannel::WomensLine,
        pb::CallChannel::PlateReader,
        pb::CallChannel::AlarmCompany,
        pb::CallChannel::Text,
        pb::CallChannel::PartnerApp,
    ];
    let before = Utc::now();
    let mut folios = HashSet::new();
    for (i, channel) in channels.iter().enumerate() {
        let mut request = call_at(north_of(ZOCALO, 10_000.0 * i as f64));
        request.channel = (*channel).into();
        let call = create(&server, request).await.call.expect("call");
        assert_eq!(call.channel, i32::from(*channel));
        assert_eq!(call.state, i32::from(pb::CallState::Open));
        assert_eq!(call.callback_number, "+525555550101", "normalised");
        assert_eq!(call.location_history.len(), 1);
        let received = call.received_time.expect("received time defaults to now");
        assert!(
            received.seconds >= before.timestamp() - 1
                && received.seconds <= Utc::now().timestamp() + 1
        );
        // C5/YYMMDD/NNNNN, consecutive within the day.
        let parts: Vec<&str> = call.folio.split('/').collect();
        assert_eq!(parts.len(), 3, "{}", call.folio);
        assert_eq!(parts[0], "C5");
        assert_eq!(parts[1].len(), 6);
        assert_eq!(parts[2], format!("{:05}", i + 1));
        assert!(folios.insert(call.folio.clone()));
    }
    assert_eq!(server.count("calls").await, channels.len() as i64);

    // Every state change is in the append-only log with who did it.
    let mut conn = server.db().await;
    let events: Vec<EventRow> =
        diesel::sql_query("SELECT actor, kind FROM events WHERE call_id IS NOT NULL ORDER BY seq")
            .load(&mut conn)
            .await
            .expect("events");
    assert_eq!(events.len(), channels.len());
    assert!(
        events
            .iter()
            .all(|e| e.kind == "call_received" && !e.actor.is_empty())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_back_entered_call_keeps_its_original_times() {
    let server = TestServer::start().await;
    let received = Utc::now() - Duration::hours(3);
    let mut request = call_at(ZOCALO);
    request.back_entered = true;
    request.received_time = ts(received);
    request.answered_time = ts(received + Duration::seconds(12));
    let call = create(&server, request).await.call.expect("call");
    assert!(call.back_entered);
    assert_eq!(
        call.received_time.expect("received").seconds,
        received.timestamp()
    );
    assert_eq!(
        call.answered_time.expect("answered").seconds,
        received.timestamp() + 12
    );
    assert!(call.create_time.expect("created").seconds >= Utc::now().timestamp() - 5);

    // Back-entered without its original time is refused.
    let mut request = call_at(ZOCALO);
    request.back_entered = true;
    assert_invalid(
        server.calls().create_call(request).await,
        "no original time",
        &["received_time"],
    );
}

/// A change that makes a good request bad.
type Mutation = Box<dyn Fn(&mut pb::CreateCallRequest)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_each_field_and_writes_nothing() {
    let server = TestServer::start().await;
    let tables = [
        "calls",
        "call_locations",
        "events",
        "idempotency_keys",
        "folio_counters",
    ];
    let mut before = Vec::new();
    for table in tables {
        before.push(server.count(table).await);
    }
    let cases: Vec<(&str, Mutation, Vec<&str>)> = vec![
        (
            "latitude",
            Box::new(|r| r.location = point(91.0, 0.0)),
            vec!["location.point.latitude"],
        ),
        (
            "longitude",
            Box::new(|r| r.location = point(0.0, -180.5)),
            vec!["location.point.longitude"],
        ),
        (
            "NaN",
            Box::new(|r| r.location = point(f64::NAN, f64::INFINITY)),
            vec!["location.point.latitude", "location.point.longitude"],
        ),
        (
            "negative uncertainty",
            Box::new(|r| r.location.as_mut().expect("location").uncertainty_m = -1.0),
            vec!["location.uncertainty_m"],
        ),
        (
            "infinite uncertainty",
            Box::new(|r| r.location.as_mut().expect("location").uncertainty_m = f64::INFINITY),
            vec!["location.uncertainty_m"],
        ),
        (
            "unknown channel",
            Box::new(|r| r.channel = 99),
            vec!["channel"],
        ),
        (
            "unspecified channel",
            Box::new(|r| r.channel = 0),
            vec!["channel"],
        ),
        (
            "oversized account",
            Box::new(|r| r.account = "a".repeat(8_001)),
            vec!["account"],
        ),
        (
            "malformed callback",
            Box::new(|r| r.callback_number = "call me maybe".into()),
            vec!["callback_number"],
        ),
        (
            "missing location",
            Box::new(|r| r.location = None),
            vec!["location"],
        ),
        (
            "missing request id",
            Box::new(|r| r.request_id.clear()),
            vec!["request_id"],
        ),
        (
            "future",
            Box::new(|r| r.received_time = ts(Utc::now() + Duration::hours(2))),
            vec!["received_time"],
        ),
        (
            "far future timestamp",
            Box::new(|r| {
                r.received_time = Some(Timestamp {
                    seconds: i64::MAX,
                    nanos: 0,
                })
            }),
            vec!["received_time"],
        ),
        (
            "answered before received",
            Box::new(|r| {
                r.received_time = ts(Utc::now() - Duration::minutes(5));
                r.answered_time = ts(Utc::now() - Duration::minutes(10));
            }),
            vec!["answered_time"],
        ),
        (
            "type hint",
            Box::new(|r| r.incident_type_hint = "not a code!".into()),
            vec!["incident_type_hint"],
        ),
        (
            "everything at once",
            Box::new(|r| {
                r.channel = 0;
                r.callback_number = "x".into();
                r.account = "a".repeat(9_000);
                r.location = point(-100.0, 200.0);
            }),
            vec![
                "channel",
                "callback_number",
                "account",
                "location.point.latitude",
                "location.point.longitude",
            ],
        ),
    ];
    for (what, mutate, fields) in cases {
        let mut request = call_at(ZOCALO);
        mutate(&mut request);
        let status = server.calls().create_call(request).await.expect_err(what);
        assert_eq!(violated_fields(&status), fields, "{what}: {status:?}");
    }
    for (table, before) in tables.into_iter().zip(before) {
        assert_eq!(server.count(table).await, before, "{table} was written");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_retries_make_exactly_one_call() {
    let server = Arc::new(TestServer::start().await);
    let keys_before = server.count("idempotency_keys").await;
    let request = call_at(ZOCALO);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let server = server.clone();
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            server.calls().create_call(request).await
        }));
    }
    let mut names = HashSet::new();
    let mut originals = 0;
    for task in tasks {
        let response = task
            .await
            .expect("task")
            .expect("every retry succeeds")
            .into_inner();
        names.insert(response.call.expect("call").name);
        if !response.replayed {
            originals += 1;
        }
    }
    assert_eq!(names.len(), 1, "all retries name the same call");
    assert_eq!(originals, 1, "exactly one request executed");
    assert_eq!(server.count("calls").await, 1);
    assert_eq!(server.count("call_locations").await, 1);
    assert_eq!(server.count("idempotency_keys").await, keys_before + 1);

    // The same id with another payload is refused and says so.
    let mut changed = request.clone();
    changed.account = "otra cosa".into();
    let status = server
        .calls()
        .create_call(changed)
        .await
        .expect_err("reused id");
    assert_refused(&status, Code::AlreadyExists, "REQUEST_ID_REUSED");
    assert!(
        status.message().contains("request_id"),
        "{}",
        status.message()
    );
    assert_eq!(server.count("calls").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_call_is_suggested_ranked_and_linked_on_the_timeline() {
    let server = TestServer::start().await;
    let first = create(&server, call_at(ZOCALO)).await;
    assert!(first.duplicate_candidates.is_empty(), "nothing open yet");
    let incident = open_incident(&server, first.call.as_ref().expect("call")).await;
    assert_eq!(incident.status, i32::from(pb::IncidentStatus::New));
    assert_eq!(incident.linked_call_count, 1);
    assert!(incident.folio.starts_with("INC/"), "{}", incident.folio);

    // A second, unrelated incident farther away (but within the search radius).
    let other = create(&server, call_at(north_of(ZOCALO, 400.0))).await;
    let other_incident = open_incident(&server, other.call.as_ref().expect("call")).await;

    // 80 m from the first: both are suggested, the nearer first, with distance, age and reasons.
    let mut repeat = call_at(north_of(ZOCALO, 80.0));
    repeat.channel = pb::CallChannel::PanicButton.into();
    repeat.account = "Ahora hay dos heridos y sale humo".into();
    let repeat = create(&server, repeat).await;
    let candidates = &repeat.duplicate_candidates;
    assert_eq!(candidates.len(), 2, "{candidates:?}");
    assert_eq!(candidates[0].incident, incident.name);
    assert_eq!(candidates[1].incident, other_incident.name);
    assert!(candidates[0].likelihood > candidates[1].likelihood);
    assert_eq!(candidates[0].score, candidates[0].likelihood);
    let distance = candidates[0].distance_m.expect("distance");
    assert!((60.0..100.0).contains(&distance), "{distance}");
    assert!(candidates[0].age.expect("age").seconds < 60);
    assert!(
        candidates[0]
            .reasons
            .contains(&i32::from(pb::DuplicateReason::WithinRadius))
    );
    assert!(
        candidates[0]
            .reasons
            .contains(&i32::from(pb::DuplicateReason::SameType))
    );
    assert!(
        candidates[0]
            .reasons
            .contains(&i32::from(pb::DuplicateReason::SameCallbackNumber))
    );
    assert!(
        candidates[0].explanation.contains(&incident.folio),
        "{}",
        candidates[0].explanation
    );

    // A call 5 km away matches nothing.
    let far = create(&server, call_at(north_of(ZOCALO, 5_000.0))).await;
    assert!(far.duplicate_candidates.is_empty());

    let linked = server
        .calls()
        .link_call_to_incident(pb::LinkCallToIncidentRequest {
            request_id: request_id(),
            name: repeat.call.as_ref().expect("call").name.clone(),
            incident: incident.name.clone(),
            note: "escalation: second injured, smoke".into(),
            etag: String::new(),
        })
        .await
        .expect("link")
        .into_inner();
    let call = linked.call.expect("call");
    let incident = linked.incident.expect("incident");
    assert_eq!(call.state, i32::from(pb::CallState::Linked));
    assert_eq!(call.incident, incident.name);
    assert_eq!(incident.linked_call_count, 2);
    assert_eq!(incident.calls.len(), 2);
    let link = incident
        .timeline
        .iter()
        .rev()
        .find(|entry| entry.kind == i32::from(pb::TimelineEntryKind::CallLinked))
        .expect("a CALL_LINKED entry");
    assert_eq!(link.call, call.name);
    assert!(
        link.description.contains("second injured"),
        "{}",
        link.description
    );
    assert!(!link.actor.is_empty());
    assert_eq!(
        incident.timeline[0].kind,
        i32::from(pb::TimelineEntryKind::Created)
    );

    // Linking again is refused with the current state named; the linked incident is no longer a
    // candidate for this call.
    let status = server
        .calls()
        .link_call_to_incident(pb::LinkCallToIncidentRequest {
            request_id: request_id(),
            name: call.name.clone(),
            incident: other_incident.name.clone(),
            ..Default::default()
        })
        .await
        .expect_err("already linked");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let failure = status
        .get_details_precondition_failure()
        .expect("precondition failure");
    assert_eq!(failure.violations[0].subject, call.name);
    assert!(
        failure.violations[0].description.contains("linked"),
        "{failure:?}"
    );
    let again = server
        .calls()
        .find_duplicate_candidates(pb::FindDuplicateCandidatesRequest {
            name: call.name.clone(),
            max_candidates: 0,
            probe: None,
        })
        .await
        .expect("candidates")
        .into_inner();
    assert!(
        again
            .duplicate_candidates
            .iter()
            .all(|c| c.incident != incident.name)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_uncertainty_widens_the_duplicate_search() {
    // The gate is the subject here: with the threshold near 0 every candidate that passes it is
    // shown (the model finds 900 m unlikely at busy hours whatever the uncertainty).
    let mut config = dispatch_server::Config::defaults();
    config.duplicate_threshold = Some(0.001);
    let server = TestServer::start_with(config).await;
    let first = create(&server, call_at(ZOCALO)).await;
    open_incident(&server, first.call.as_ref().expect("call")).await;
    // 900 m away with a precise fix: outside the 500 m + 20 m + 20 m radius.
    let mut precise = call_at(north_of(ZOCALO, 900.0));
    precise.callback_number = "+525555550998".into();
    let precise = create(&server, precise).await;
    assert!(precise.duplicate_candidates.is_empty());
    // The same place from a cell tower with 600 m uncertainty: within reach.
    let mut vague = call_at(north_of(ZOCALO, 900.0));
    vague.location.as_mut().expect("location").uncertainty_m = 600.0;
    vague.location.as_mut().expect("location").source = pb::LocationSource::Network.into();
    vague.callback_number = "+525555550999".into();
    let vague = create(&server, vague).await;
    assert_eq!(vague.duplicate_candidates.len(), 1);
    assert!(vague.duplicate_candidates[0].search_radius_m >= 1_100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_calls_about_one_collision_make_one_incident() {
    // Concurrent linking is the subject here, so every candidate past the gate is shown: in the
    // first seconds of the burst, 25 reports taken at once and not yet linked count as the local
    // background, and at busy hours the shipped model puts a caller 150 m away below its
    // threshold (a known weakness of the density term; see issue 18's note).
    let mut config = dispatch_server::Config::defaults();
    config.duplicate_threshold = Some(0.001);
    let server = Arc::new(TestServer::start_with(config).await);
    let start = Utc::now() - Duration::minutes(5);
    // A centre with a week of history, 10 km away. The duplicate likelihood divides by the local
    // call rate over the past week (at least one day of it): on an empty store, 25 reports taken
    // at once and not yet linked would make the scene look like a dense area for a moment.
    let mut last_week = call_at(north_of(ZOCALO, 10_000.0));
    last_week.received_time = ts(start - Duration::days(7));
    last_week.back_entered = true;
    create(&server, last_week).await;
    let first = create(&server, call_at(ZOCALO)).await.call.expect("call");
    let incident = open_incident(&server, &first).await;

    // 499 more callers around the scene within five minutes, 25 call takers at a time, each
    // taking the top suggestion.
    let semaphore = Arc::new(tokio::sync::Semaphore::new(25));
    let mut tasks = Vec::new();
    for i in 1..500u32 {
        let server = server.clone();
        let semaphore = semaphore.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire().await.expect("permit");
            let angle = f64::from(i) * 0.7;
            let metres = f64::from(i % 150);
            let mut request = call_at((
                ZOCALO.0 + metres * angle.cos() / 111_195.0,
                ZOCALO.1 + metres * angle.sin() / 104_900.0,
            ));
            request.callback_number = format!("+5255{:08}", i);
            request.received_time = ts(start + Duration::milliseconds(i64::from(i) * 600));
            let created = server
                .calls()
                .create_call(request)
                .await
                .expect("create")
                .into_inner();
            let top = created
                .duplicate_candidates
                .into_iter()
                .next()
                .expect("a suggestion")
                .incident;
            server
                .calls()
                .link_call_to_incident(pb::LinkCallToIncidentRequest {
                    request_id: request_id(),
                    name: created.call.expect("call").name,
                    incident: top,
                    ..Default::default()
                })
                .await
                .expect("link")
                .into_inner()
        }));
    }
    for task in tasks {
        task.await.expect("caller");
    }
    assert_eq!(server.count("incidents").await, 1);
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = server.db().await;
    let linked: Count = diesel::sql_query("SELECT count(*) AS n FROM calls WHERE state = 'linked'")
        .get_result(&mut conn)
        .await
        .expect("count");
    assert_eq!(linked.n, 500);
    let links: Count =
        diesel::sql_query("SELECT count(*) AS n FROM events WHERE kind = 'call_linked'")
            .get_result(&mut conn)
            .await
            .expect("count");
    assert_eq!(links.n, 500);

    // Listing the incident's calls pages through all 500 exactly once.
    let listed = fixtures::every_page(
        pb::ListCallsRequest {
            page_size: 200,
            incident: incident.name.clone(),
            ..Default::default()
        },
        async |request| server.calls().list_calls(request).await,
    )
    .await
    .expect("list");
    let mut seen = HashSet::new();
    for call in listed {
        assert!(seen.insert(call.name), "a call listed twice");
    }
    assert_eq!(seen.len(), 500);
    let response = server
        .calls()
        .find_duplicate_candidates(pb::FindDuplicateCandidatesRequest {
            name: first.name.clone(),
            max_candidates: 0,
            probe: None,
        })
        .await
        .expect("candidates")
        .into_inner();
    assert!(
        response.duplicate_candidates.is_empty(),
        "its own incident is not its duplicate"
    );
    let mut final_incident = fixtures::get_call(&server, &first.name).await;
    final_incident.location_history.clear();
    assert_eq!(final_incident.incident, incident.name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_without_an_incident_are_disposed_and_stay_out_of_incidents() {
    let server = TestServer::start().await;
    let call = create(&server, call_at(ZOCALO)).await.call.expect("call");
    assert_invalid(
        server
            .calls()
            .dispose_call(pb::DisposeCallRequest {
                request_id: request_id(),
                name: call.name.clone(),
                disposition: pb::CallDisposition::Other.into(),
                ..Default::default()
            })
            .await,
        "OTHER needs a note",
        &["note"],
    );
    let disposed = server
        .calls()
        .dispose_call(pb::DisposeCallRequest {
            request_id: request_id(),
            name: call.name.clone(),
            disposition: pb::CallDisposition::Prank.into(),
            note: "niños jugando".into(),
            etag: call.etag.clone(),
        })
        .await
        .expect("dispose")
        .into_inner()
        .call
        .expect("call");
    assert_eq!(disposed.state, i32::from(pb::CallState::Disposed));
    assert_eq!(disposed.disposition, i32::from(pb::CallDisposition::Prank));
    assert_eq!(disposed.disposition_note, "niños jugando");

    // A disposed call neither opens an incident nor takes location updates.
    let status = fixtures::try_open_incident(&server, &call.name, "")
        .await
        .expect_err("disposed");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let status = update_location(&server, &call.name, point(19.0, -99.0), "")
        .await
        .expect_err("disposed");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("disposed"),
        "{}",
        status.message()
    );
    assert_eq!(server.count("incidents").await, 0);
    assert_eq!(server.count("call_locations").await, 1);

    // A stale etag is ABORTED and writes nothing.
    let other = create(&server, call_at(ZOCALO)).await.call.expect("call");
    update_location(&server, &other.name, point(19.5, -99.1), &other.etag)
        .await
        .expect("first update with the current etag");
    let status = server
        .calls()
        .dispose_call(pb::DisposeCallRequest {
            request_id: request_id(),
            name: other.name.clone(),
            disposition: pb::CallDisposition::HangUp.into(),
            note: String::new(),
            etag: other.etag,
        })
        .await
        .expect_err("stale etag");
    assert_eq!(status.code(), Code::Aborted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moving_caller_leaves_a_location_history() {
    let server = TestServer::start().await;
    let call = create(&server, call_at(ZOCALO)).await.call.expect("call");
    let mut last = call.clone();
    for step in 1..=3 {
        let (lat, lon) = north_of(ZOCALO, 200.0 * f64::from(step));
        last = update_location(&server, &call.name, point(lat, lon), "")
            .await
            .expect("update")
            .call
            .expect("call");
    }
    assert_eq!(last.location_history.len(), 4);
    let current = last.location.expect("location").point.expect("point");
    let newest = last.location_history[3]
        .location
        .clone()
        .expect("location")
        .point
        .expect("point");
    assert_eq!(current, newest);
    let oldest = last.location_history[0]
        .location
        .clone()
        .expect("location")
        .point
        .expect("point");
    assert_eq!((oldest.latitude, oldest.longitude), ZOCALO);

    // Bad location updates name the field.
    assert_invalid(
        update_location(&server, &call.name, point(f64::NAN, 0.0), "").await,
        "NaN",
        &["location.point.latitude"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_listed_newest_first_with_filters() {
    let server = TestServer::start().await;
    let now = Utc::now();
    let mut names = Vec::new();
    for i in 0..7 {
        let mut request = call_at(north_of(ZOCALO, 3_000.0 * f64::from(i)));
        request.received_time = ts(now - Duration::minutes(70 - i64::from(i) * 10));
        request.channel = if i % 2 == 0 {
            pb::CallChannel::Voice911
        } else {
            pb::CallChannel::Radio
        }
        .into();
        names.push(create(&server, request).await.call.expect("call").name);
    }
    server
        .calls()
        .dispose_call(pb::DisposeCallRequest {
            request_id: request_id(),
            name: names[0].clone(),
            disposition: pb::CallDisposition::HangUp.into(),
            ..Default::default()
        })
        .await
        .expect("dispose");

    let list = async |request: pb::ListCallsRequest| {
        let calls = fixtures::list_calls(&server, request).await;
        calls.into_iter().map(|c| c.name).collect::<Vec<_>>()
    };
    let all = list(pb::ListCallsRequest::default()).await;
    let newest_first: Vec<String> = names.iter().rev().cloned().collect();
    assert_eq!(all, newest_first);
    let radio = list(pb::ListCallsRequest {
        channels: vec![pb::CallChannel::Radio.into()],
        ..Default::default()
    })
    .await;
    assert_eq!(
        radio,
        [names[5].clone(), names[3].clone(), names[1].clone()]
    );
    let disposed = list(pb::ListCallsRequest {
        dispositions: vec![pb::CallDisposition::HangUp.into()],
        ..Default::default()
    })
    .await;
    assert_eq!(disposed, [names[0].clone()]);
    let open = list(pb::ListCallsRequest {
        states: vec![pb::CallState::Open.into()],
        ..Default::default()
    })
    .await;
    assert_eq!(open.len(), 6);
    let window = list(pb::ListCallsRequest {
        received: Some(pb::TimeRange {
            start: ts(now - Duration::minutes(45)),
            end: ts(now - Duration::minutes(15)),
        }),
        ..Default::default()
    })
    .await;
    assert_eq!(
        window,
        [names[5].clone(), names[4].clone(), names[3].clone()]
    );

    // Pages of 3 cover everything once, in order.
    let paged: Vec<String> = fixtures::every_page(
        pb::ListCallsRequest {
            page_size: 3,
            ..Default::default()
        },
        async |request| server.calls().list_calls(request).await,
    )
    .await
    .expect("page")
    .into_iter()
    .map(|c| c.name)
    .collect();
    assert_eq!(paged, newest_first);

    let status = server
        .calls()
        .list_calls(pb::ListCallsRequest {
            page_token: "garbage".into(),
            channels: vec![77],
            ..Default::default()
        })
        .await
        .expect_err("bad filters");
    assert_eq!(violated_fields(&status), ["page_token", "channels[0]"]);
}

/// Coordinates nearer zero than floating point can scale (5e-324 degrees) are accepted as the
/// zero they are: the call, the duplicate search and the rate query beside a second call, and
/// the incident opened from it (its station area, a distance in SQL) all work. PostgreSQL
/// refused `radians(5e-324)` as an underflow, so OpenIncidentFromCall answered INTERNAL after
/// drawing a folio (found by the hostile-input test, seed 8445556178196591168).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinates_too_small_for_floating_point_are_zero() {
    let server = TestServer::start().await;
    let first = create(&server, fixtures::call_at((5e-324, -1e-310), 10.0))
        .await
        .call
        .expect("call");
    let incident = fixtures::open_incident(&server, &first.name, "").await;
    assert_eq!(incident.linked_call_count, 1);
    // Beside the open incident: its duplicate search runs, with the local call rate.
    let second = create(&server, fixtures::call_at((1e-300, 2e-320), 10.0)).await;
    assert_eq!(
        second
            .duplicate_candidates
            .as_slice()
            .first()
            .map(|c| c.incident.as_str()),
        Some(incident.name.as_str())
    );
    let point = first
        .location
        .as_ref()
        .and_then(|l| l.point.as_ref())
        .expect("point");
    assert_eq!((point.latitude, point.longitude), (0.0, 0.0));
}
