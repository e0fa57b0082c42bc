//! Travel by road (`DISPATCH_ROAD_NETWORK`) over the real Aguascalientes extract
//! (`../shared/data/osm/aguascalientes.osm.pbf`, referenced where it lives): one-way streets are
//! respected, the hierarchy answers what Dijkstra answers, a unit the roads make far is ranked
//! behind a farther one by air, and an unreadable or empty extract stops start-up in one line.

use std::path::PathBuf;
use std::sync::Arc;

use dispatch_geo::road::{RoadNetwork, RoadSpeeds};
use dispatch_geo::synthetic::SplitMix64;
use dispatch_proto::v1 as pb;
use dispatch_tests::TestServer;
use dispatch_tests::fixtures;

const EXTRACT: &str = "osm/aguascalientes.osm.pbf";

/// The extract, or `None` (and a line saying the test is skipped) on a machine without it.
fn extract() -> Option<PathBuf> {
    let found = crate::cli::data_file(EXTRACT).map(PathBuf::from);
    if found.is_none() {
        eprintln!("{EXTRACT} not found: the road test is skipped");
    }
    found
}

fn network(extract: &std::path::Path) -> Arc<RoadNetwork> {
    let (network, _) =
        dispatch_server::road_network::load(extract, &RoadSpeeds::default()).expect("loads");
    Arc::new(network)
}

#[test]
fn aguascalientes_routes_respect_one_way_streets() {
    let Some(extract) = extract() else { return };
    let network = network(&extract);
    let reference = network.reference(0);
    let two_way: std::collections::HashSet<(u32, u32)> =
        network.arcs().iter().map(|a| (a.from, a.to)).collect();
    let one_way: Vec<_> = network
        .arcs()
        .iter()
        .filter(|a| !two_way.contains(&(a.to, a.from)))
        .collect();
    assert!(one_way.len() > 20, "only {} one-way arcs", one_way.len());
    for arc in one_way {
        let along = network
            .route_ms(0, arc.from, arc.to)
            .expect("a route along");
        let against = network.route_ms(0, arc.to, arc.from).expect("a route back");
        assert!(along <= arc.weight_ms(&network_kmh()) as u64);
        // Back against a one-way street means going round: strictly longer than the street.
        assert!(
            against > along,
            "{arc:?}: {against} ms back, {along} ms along"
        );
        assert_eq!(reference.route_ms(arc.to, arc.from), Some(against));
    }
}

fn network_kmh() -> dispatch_geo::road::ClassSpeeds {
    RoadSpeeds::default().all
}

#[test]
fn aguascalientes_hierarchy_equals_dijkstra_over_random_pairs() {
    let Some(extract) = extract() else { return };
    let network = network(&extract);
    assert!(network.nodes() > 1_000, "{network:?}");
    let reference = network.reference(0);
    let mut rng = SplitMix64::new(22);
    for _ in 0..1_000 {
        let a = rng.below(network.nodes()) as u32;
        let b = rng.below(network.nodes()) as u32;
        let expected = reference.route_ms(a, b);
        assert!(expected.is_some(), "the graph is strongly connected");
        assert_eq!(network.route_ms(0, a, b), expected, "{a} → {b}");
    }
}

#[test]
fn the_prepared_graph_is_cached_beside_the_extract_while_it_is_unchanged() {
    let Some(extract) = extract() else { return };
    // A copy in a directory of its own (the shared data is read-only), made at test time.
    let dir =
        std::env::temp_dir().join(format!("dispatch-roads-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let copy = dir.join("region.osm.pbf");
    std::fs::copy(&extract, &copy).expect("copy");
    let speeds = RoadSpeeds::default();
    let load =
        |speeds: &RoadSpeeds| dispatch_server::road_network::load(&copy, speeds).expect("loads");
    let (first, built) = load(&speeds);
    assert!(!built.from_cache && built.ways > 500, "{built:?}");
    assert!(
        built.cache.starts_with(&dir) && built.cache.is_file(),
        "{built:?}"
    );
    let (second, cached) = load(&speeds);
    assert!(cached.from_cache, "{cached:?}");
    assert_eq!(cached.cache, built.cache);
    assert_eq!(
        (first.nodes(), first.arcs()),
        (second.nodes(), second.arcs())
    );
    let n = first.nodes() as u32;
    for (a, b) in [(0, n - 1), (n / 3, n / 2), (n - 7, 5)] {
        assert_eq!(first.route_ms(0, a, b), second.route_ms(0, a, b));
    }
    // Other speeds, or another extract, are another graph.
    let (_, other) = load(&RoadSpeeds::parse("residential=20").expect("speeds"));
    assert!(!other.from_cache && other.cache != built.cache, "{other:?}");
    let mut changed = std::fs::read(&copy).expect("read");
    changed.extend_from_slice(&[0]);
    assert_ne!(
        dispatch_server::road_network::cache_path(&copy, &changed, &speeds),
        built.cache
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn seconds(duration: Option<&prost_types::Duration>) -> f64 {
    let duration = duration.expect("eta");
    duration.seconds as f64 + f64::from(duration.nanos) / 1e9
}

/// Three graph nodes: an incident, a unit near it by air but far by road (across a barrier:
/// a one-way grid, a highway, a river), and one farther by air with a road between.
struct Barrier {
    incident: (f64, f64),
    near_by_air: (f64, f64),
    near_by_road: (f64, f64),
    /// Drive times of the two, seconds.
    road_s: (f64, f64),
}

fn barrier_on(network: &RoadNetwork) -> Barrier {
    let n = network.nodes() as u32;
    let at = |node: u32| network.point(node).expect("a node");
    let mut rng = SplitMix64::new(7);
    for _ in 0..2_000 {
        let incident = rng.below(n as usize) as u32;
        let here = at(incident);
        let mut near = None;
        for _ in 0..200 {
            let unit = rng.below(n as usize) as u32;
            let air = at(unit).distance_m(&here);
            if !(300.0..3_000.0).contains(&air) {
                continue;
            }
            let road = network.route_ms(0, unit, incident).expect("a route") as f64 / 1e3;
            match near {
                None => near = Some((unit, air, road)),
                Some((other, other_air, other_road)) => {
                    let ((a, a_air, a_road), (b, b_air, b_road)) = if air < other_air {
                        ((unit, air, road), (other, other_air, other_road))
                    } else {
                        ((other, other_air, other_road), (unit, air, road))
                    };
                    // Clearly nearer by air, clearly farther by road.
                    if a_air * 1.3 < b_air && a_road > b_road * 1.5 {
                        let point = |node| {
                            let p = at(node);
                            (p.latitude(), p.longitude())
                        };
                        return Barrier {
                            incident: point(incident),
                            near_by_air: point(a),
                            near_by_road: point(b),
                            road_s: (a_road, b_road),
                        };
                    }
                    near = Some((unit, air, road));
                }
            }
        }
    }
    panic!("no barrier found in the extract");
}

async fn engine_unit(server: &TestServer, agency: &str, call_sign: &str, at: (f64, f64)) -> String {
    let unit = fixtures::create_unit(
        server,
        pb::Unit {
            capabilities: vec!["engine".into()],
            ..fixtures::available(agency, call_sign, pb::UnitType::Engine)
        },
    )
    .await;
    fixtures::report(server, &[(unit.name.as_str(), at)]).await;
    unit.name
}

/// The two units' candidates, best first.
async fn ranked(server: &TestServer, barrier: &Barrier) -> (Vec<pb::Candidate>, [String; 2]) {
    let agency = fixtures::agency(server, "BOMB", pb::AgencyKind::Fire).await;
    let by_air = engine_unit(server, &agency, "E1", barrier.near_by_air).await;
    let by_road = engine_unit(server, &agency, "E2", barrier.near_by_road).await;
    let incident = fixtures::incident_at(server, barrier.incident).await;
    let request =
        fixtures::recommendation_request(&incident.name, fixtures::plan(&[("engine", 1)]), 2);
    let recommendation = fixtures::recommend(server, request).await;
    (
        recommendation.fills[0].candidates.clone(),
        [by_air, by_road],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_across_a_barrier_is_ranked_behind_a_farther_one_with_a_road_between() {
    let Some(extract) = extract() else { return };
    let barrier = barrier_on(&network(&extract));

    // Without an extract: today's ranking, by air.
    let server = TestServer::start().await;
    let (candidates, [by_air, by_road]) = ranked(&server, &barrier).await;
    let order: Vec<&str> = candidates.iter().map(|c| c.unit.as_str()).collect();
    assert_eq!(order, [by_air.as_str(), by_road.as_str()]);
    assert!(
        candidates
            .iter()
            .all(|c| c.travel_model != pb::TravelModel::Road as i32),
        "{candidates:?}"
    );
    server.stop().await;

    let mut config = dispatch_server::Config::defaults();
    config.road_network = Some(extract.clone());
    let server = TestServer::start_with(config).await;
    let (candidates, [by_air, by_road]) = ranked(&server, &barrier).await;
    let order: Vec<&str> = candidates.iter().map(|c| c.unit.as_str()).collect();
    assert_eq!(order, [by_road.as_str(), by_air.as_str()], "{candidates:?}");
    for candidate in &candidates {
        assert_eq!(candidate.travel_model, pb::TravelModel::Road as i32);
        assert!(
            candidate.reason.ends_with("by road"),
            "{}",
            candidate.reason
        );
    }
    // The ETAs are the drive times (the units and the incident stand on graph nodes).
    let (slow, fast) = barrier.road_s;
    assert!(
        (seconds(candidates[0].eta.as_ref()) - fast).abs() < 0.5,
        "{candidates:?} {fast}"
    );
    assert!(
        (seconds(candidates[1].eta.as_ref()) - slow).abs() < 0.5,
        "{candidates:?} {slow}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_or_empty_extract_stops_start_up_in_one_line() {
    let dir =
        std::env::temp_dir().join(format!("dispatch-roads-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let empty = dir.join("empty.osm.pbf");
    std::fs::write(&empty, b"").expect("write");
    let garbage = dir.join("garbage.osm.pbf");
    std::fs::write(&garbage, b"this is not a protobuf blob at all, just text").expect("write");
    for (path, expected) in [
        (dir.join("missing.osm.pbf"), "cannot be read"),
        (empty, "holds no drivable road network"),
        (garbage, "is not an OpenStreetMap PBF extract"),
    ] {
        let mut config = dispatch_server::Config::defaults();
        config.road_network = Some(path.clone());
        let message = dispatch_tests::start_up_error(&config).await;
        assert!(
            message.contains(expected),
            "{expected} missing from: {message}"
        );
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(!message.contains('\n'), "more than one line: {message}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_map_draws_the_roads_of_the_road_network() {
    let Some(extract) = extract() else { return };
    let mut config = dispatch_server::Config::defaults();
    config.road_network = Some(extract);
    let server = TestServer::start_with(config).await;
    let (status, _, body) =
        crate::console::http1(&server, "GET /map/base.geojson HTTP/1.1", b"").await;
    assert_eq!(status, 200);
    let collection: serde_json::Value = serde_json::from_slice(&body).expect("GeoJSON");
    let features = collection["features"].as_array().expect("features");
    assert!(features.len() > 500, "{}", features.len());
    for feature in features {
        assert_eq!(feature["geometry"]["type"], "LineString");
        assert!(feature["properties"]["highway"].is_string(), "{feature}");
        for point in feature["geometry"]["coordinates"].as_array().expect("line") {
            let (lon, lat) = (
                point[0].as_f64().expect("lon"),
                point[1].as_f64().expect("lat"),
            );
            assert!(
                (-102.6..-102.0).contains(&lon) && (21.6..22.2).contains(&lat),
                "{point}"
            );
        }
    }
    server.stop().await;
}
