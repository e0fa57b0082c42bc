//! The travel-time model file: RecommendUnits' ETAs come from it (a fitted curve per unit type,
//! the turnout for a unit in quarters, the great-circle model for other types), and a malformed
//! file stops start-up naming every bad entry.

use dispatch_proto::v1 as pb;
use dispatch_tests::TestServer;
use dispatch_tests::fixtures::{self, ZOCALO, incident_at, offset};

/// Engines: 60 s + 100 s·√d_km, 90 s of turnout from quarters day and night.
const MODEL: &str = "format = 1\n\
    provenance = \"written by hand for this test\"\n\
    night_hours_utc = []\n\
    max_speed_kmh = 90\n\
    [types.engine]\n\
    a_s = 60\n\
    b_s = 100\n\
    c = 0.5\n\
    turnout_day_s = 90\n\
    turnout_night_s = 90\n";

fn model_file(text: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("dispatch-travel-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("travel_model.toml");
    std::fs::write(&path, text).expect("write");
    path
}

fn seconds(duration: Option<&prost_types::Duration>) -> f64 {
    let duration = duration.expect("eta");
    duration.seconds as f64 + f64::from(duration.nanos) / 1e9
}

async fn unit(
    server: &TestServer,
    agency: &str,
    station: &str,
    call_sign: &str,
    unit_type: pb::UnitType,
    capability: &str,
    at: (f64, f64),
) -> String {
    let unit = fixtures::create_unit(
        server,
        pb::Unit {
            home_station: station.into(),
            capabilities: vec![capability.into()],
            ..fixtures::available(agency, call_sign, unit_type)
        },
    )
    .await;
    fixtures::report(server, &[(unit.name.as_str(), at)]).await;
    unit.name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommendations_take_their_etas_from_the_travel_model_file() {
    let path = model_file(MODEL);
    let mut config = dispatch_server::Config::defaults();
    config.travel_model = Some(path.clone());
    let server = TestServer::start_with(config).await;
    let agency = fixtures::agency(&server, "BOMB", pb::AgencyKind::Fire).await;
    let quarters = offset(ZOCALO, 2.0, 0.0);
    let station = fixtures::station(&server, &agency, "E1", quarters).await;
    // In quarters 2 km north; on the road 1 km east (its station is elsewhere); an ambulance,
    // a type the file does not fit, 1.5 km south.
    let in_quarters = unit(
        &server,
        &agency,
        &station,
        "E1",
        pb::UnitType::Engine,
        "engine",
        quarters,
    )
    .await;
    let on_road = unit(
        &server,
        &agency,
        &station,
        "E2",
        pb::UnitType::Engine,
        "engine",
        offset(ZOCALO, 0.0, 1.0),
    )
    .await;
    let ems = fixtures::agency(&server, "ERUM", pb::AgencyKind::Ems).await;
    let ambulance = unit(
        &server,
        &ems,
        "",
        "A1",
        pb::UnitType::AlsAmbulance,
        "als",
        offset(ZOCALO, -1.5, 0.0),
    )
    .await;
    let incident = incident_at(&server, ZOCALO).await;
    let request = fixtures::recommendation_request(
        &incident.name,
        fixtures::plan(&[("engine", 2), ("als", 1)]),
        3,
    );
    let recommendation = fixtures::recommend(&server, request).await;
    let engines = &recommendation.fills[0].candidates;
    let names: Vec<&str> = engines.iter().map(|c| c.unit.as_str()).collect();
    assert_eq!(names, [on_road.as_str(), in_quarters.as_str()]);
    let curve = |m: f64| 60.0 + 100.0 * (m / 1_000.0).sqrt();
    let (road, home) = (&engines[0], &engines[1]);
    assert!(
        (road.straight_line_m - 1_000.0).abs() < 5.0,
        "{}",
        road.straight_line_m
    );
    assert!((seconds(road.eta.as_ref()) - curve(road.straight_line_m)).abs() < 1e-3);
    assert!((seconds(home.eta.as_ref()) - 90.0 - curve(home.straight_line_m)).abs() < 1e-3);
    let als = &recommendation.fills[1].candidates[0];
    assert_eq!(als.unit, ambulance);
    // The great-circle fallback: 1.4 × distance at 12.5 m/s.
    let fallback = als.straight_line_m * 1.4 / 12.5;
    assert!(
        (seconds(als.eta.as_ref()) - fallback).abs() < 1e-3,
        "{als:?}"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_travel_model_stops_start_up_naming_every_bad_entry() {
    let broken = MODEL
        .replace("max_speed_kmh = 90", "max_speed_kmh = -5")
        .replace("c = 0.5", "c = \"half\"")
        .replace(
            "[types.engine]",
            "[types.fire_truck]\na_s = 1\n[types.engine]",
        );
    let path = model_file(&broken);
    let mut config = dispatch_server::Config::defaults();
    config.travel_model = Some(path.clone());
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
    for entry in [
        "max_speed_kmh: -5 is outside",
        "types.fire_truck: unknown unit type",
        "types.fire_truck.b_s: required",
        "types.engine.c: expected a number, got string",
    ] {
        assert!(message.contains(entry), "{entry} missing from: {message}");
    }
    assert!(message.contains(&path.display().to_string()), "{message}");
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}
