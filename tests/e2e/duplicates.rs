//! The duplicate likelihood over gRPC on real PostgreSQL: a repeat call's candidates carry a
//! calibrated likelihood at or above the server's threshold, the same geometry is less likely
//! where unrelated calls are dense (counted by when they were received, back-entered calls
//! included), and a malformed model file stops the start naming every bad entry.

use chrono::{DateTime, Duration, SubsecRound as _, Utc};
use dispatch_domain::location::GeoPoint;
use dispatch_proto::v1 as pb;
use dispatch_tests::TestServer;
use dispatch_tests::fixtures::{self, ZOCALO, create_call};
use dispatch_tests::request_id;
use futures::StreamExt as _;
use prost_types::Timestamp;

/// `metres` north and `east` metres east of a point (flat, fine at these distances).
fn offset((latitude, longitude): (f64, f64), north: f64, east: f64) -> (f64, f64) {
    (
        latitude + north / 111_195.0,
        longitude + east / (111_195.0 * latitude.to_radians().cos()),
    )
}

fn call(at: (f64, f64), received: DateTime<Utc>, back_entered: bool) -> pb::CreateCallRequest {
    pb::CreateCallRequest {
        request_id: request_id(),
        channel: pb::CallChannel::Voice911.into(),
        received_time: Some(Timestamp {
            seconds: received.timestamp(),
            nanos: 0,
        }),
        back_entered,
        location: fixtures::location(at, 20.0),
        account: "Choque entre dos autos".into(),
        incident_type_hint: "TRAFFIC-INJURY".into(),
        ..Default::default()
    }
}

/// A call at `area` a minute ago, opened as an incident, and a second report 50 m north half a
/// minute later: the incident and the second call's candidates.
async fn repeat_in(
    server: &TestServer,
    area: (f64, f64),
    now: DateTime<Utc>,
) -> (String, Vec<pb::DuplicateCandidate>) {
    let first = create_call(server, call(area, now - Duration::seconds(60), false))
        .await
        .call
        .expect("call");
    let incident = fixtures::open_incident(server, &first.name, "").await;
    let repeat = create_call(
        server,
        call(offset(area, 50.0, 0.0), now - Duration::seconds(30), false),
    )
    .await;
    (incident.name, repeat.duplicate_candidates)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_is_less_likely_where_unrelated_calls_are_dense() {
    let server = TestServer::start().await;
    let threshold = dispatch_server::Config::defaults()
        .duplicate_model()
        .expect("the built-in model")
        .threshold;
    let now = Utc::now().trunc_subsecs(0);
    // 5 km from the Zócalo: out of reach of its duplicate search (2 km) and its density (1 km).
    let dense = offset(ZOCALO, 5_000.0, 0.0);
    // The week before: an unrelated call an hour within 900 m, entered now with their received
    // times (as a replay or a paper backlog enters them); ten more 8 to 9 days old and twenty
    // 1.1 to 1.4 km away, which do not count.
    let mut earlier = Vec::new();
    for k in 1..=140 {
        let angle = f64::from(k) * 0.7;
        let metres = 100.0 + f64::from((k * 37) % 800);
        let at = offset(dense, metres * angle.cos(), metres * angle.sin());
        earlier.push(call(at, now - Duration::hours(k.into()), true));
    }
    for k in 0..10 {
        let received = now - Duration::days(8) - Duration::hours(2 * i64::from(k));
        earlier.push(call(dense, received, true));
    }
    for k in 0..20 {
        let angle = f64::from(k) * 0.31;
        let metres = 1_100.0 + f64::from(k) * 15.0;
        let at = offset(dense, metres * angle.cos(), metres * angle.sin());
        earlier.push(call(at, now - Duration::hours(3), true));
    }
    futures::stream::iter(
        earlier
            .into_iter()
            .map(|request| create_call(&server, request)),
    )
    .buffer_unordered(8)
    .collect::<Vec<_>>()
    .await;

    // The store's rate: 140 calls over the 7 days (the history is 9 days long), 72 over 3 (the
    // one received exactly 3 days before counts).
    let store = dispatch_store::Store::connect(
        dispatch_server::Config::defaults().store_config(server.database_url.clone()),
    )
    .await
    .expect("store");
    let point = |(latitude, longitude): (f64, f64)| GeoPoint::new(latitude, longitude).unwrap();
    let rate = |days| store.local_calls_per_day(point(dense), now, 1_000.0, days);
    assert_eq!(rate(7).await.expect("rate"), 20.0);
    assert_eq!(rate(3).await.expect("rate"), 24.0);
    assert_eq!(
        store
            .local_calls_per_day(point(ZOCALO), now, 1_000.0, 7)
            .await
            .expect("rate"),
        0.0
    );

    let (quiet_incident, quiet) = repeat_in(&server, ZOCALO, now).await;
    assert_eq!(quiet.len(), 1, "{quiet:?}");
    let likely = &quiet[0];
    assert_eq!(likely.incident, quiet_incident);
    assert!(
        likely.likelihood > 0.0 && likely.likelihood < 1.0,
        "{likely:?}"
    );
    assert!(likely.likelihood >= threshold, "{likely:?}");
    assert_eq!(likely.score, likely.likelihood);
    assert!(
        likely
            .explanation
            .starts_with(&format!("{:.0} % likely", likely.likelihood * 100.0)),
        "{}",
        likely.explanation
    );

    // The same geometry among twenty unrelated calls a day: less likely, or not suggested at all
    // (which of the two depends on the hour's share of calls).
    let (dense_incident, crowded) = repeat_in(&server, dense, now).await;
    if let Some(candidate) = crowded.first() {
        assert_eq!(candidate.incident, dense_incident);
        assert!(candidate.likelihood >= threshold, "{candidate:?}");
        assert!(
            candidate.likelihood < likely.likelihood - 0.05,
            "dense {} against quiet {}",
            candidate.likelihood,
            likely.likelihood
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_duplicate_model_stops_start_up_naming_each_entry() {
    let dir = std::env::temp_dir().join(format!(
        "dispatch-duplicate-model-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("bad.toml");
    let broken = dispatch_server::config::BUILT_IN_DUPLICATE_MODEL
        .replacen("threshold = ", "threshold = 7", 1)
        .replacen("log_distance = ", "log_distanse = ", 1)
        .replacen("hour_factor = [", "hour_factor = [1.0, ", 1);
    std::fs::write(&path, broken).expect("write");
    let mut config = dispatch_server::Config::defaults();
    config.duplicate_model = Some(path.clone());
    let store = dispatch_store::Store::connect(
        config.store_config(dispatch_tests::fresh_database().await.expect("db")),
    )
    .await
    .expect("store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let error = dispatch_server::serve(&config, store, listener, std::future::pending())
        .await
        .expect_err("refuses to start");
    let message = error.to_string();
    for named in [
        "threshold",
        "weights.log_distanse",
        "weights.log_distance: required",
        "density.hour_factor: must have exactly 24 entries",
        "4 problems",
    ] {
        assert!(message.contains(named), "{named} not in {message}");
    }
    assert!(message.contains(&path.display().to_string()), "{message}");
    let _ = std::fs::remove_dir_all(&dir);
}
