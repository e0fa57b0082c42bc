use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use dispatch_domain::directory::UnitType;
use dispatch_domain::location::GeoPoint;
use proptest::prelude::*;
use uuid::Uuid;

use super::synthetic::street_grid;
use super::*;
use crate::synthetic::SplitMix64;
use crate::{
    Engine, EngineConfig, Fix, GreatCircleTravel, Nearest, TravelModel, TravelSource, UnitState,
};

fn point(latitude: f64, longitude: f64) -> GeoPoint {
    GeoPoint::new(latitude, longitude).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
}

fn residential(direction: Direction) -> Drivable {
    Drivable {
        class: RoadClass::Residential,
        direction,
    }
}

fn road_travel(network: RoadNetwork) -> RoadTravel {
    RoadTravel::new(
        Arc::new(network),
        Box::new(GreatCircleTravel::default()),
        GreatCircleTravel::default(),
    )
}

fn unit_at(id: u128, at: GeoPoint) -> UnitState {
    UnitState {
        id: Uuid::from_u128(id),
        unit_type: UnitType::Engine,
        capabilities: vec!["fire".to_owned()],
        available: true,
        position: Some(Fix {
            point: at,
            fix_time: now(),
        }),
        home: None,
    }
}

/// A block: 0 → 1 one-way along the bottom, the other three sides both ways.
fn one_way_block() -> RoadNetwork {
    let corners = [
        (0, point(21.880, -102.300)),
        (1, point(21.880, -102.290)),
        (2, point(21.890, -102.290)),
        (3, point(21.890, -102.300)),
    ];
    let mut builder = RoadGraphBuilder::new();
    builder.add_way(residential(Direction::Forward), &[corners[0], corners[1]]);
    builder.add_way(
        residential(Direction::Both),
        &[corners[1], corners[2], corners[3], corners[0]],
    );
    builder.build(&RoadSpeeds::default()).unwrap()
}

#[test]
fn routes_respect_one_way_streets() {
    let network = one_way_block();
    let (a, _) = network.snap(point(21.880, -102.300)).unwrap();
    let (b, _) = network.snap(point(21.880, -102.290)).unwrap();
    let with_the_flow = network.route_ms(0, a, b).unwrap();
    let against = network.route_ms(0, b, a).unwrap();
    // Against the one-way street a unit drives round the other three sides.
    assert!(against > 2 * with_the_flow, "{against} vs {with_the_flow}");
    let reference = network.reference(0);
    assert_eq!(reference.route_ms(a, b), Some(with_the_flow));
    assert_eq!(reference.route_ms(b, a), Some(against));
    // `oneway=-1` is the same street the other way.
    let mut builder = RoadGraphBuilder::new();
    builder.add_way(
        residential(Direction::Backward),
        &[(1, point(21.880, -102.290)), (0, point(21.880, -102.300))],
    );
    builder.add_way(
        residential(Direction::Both),
        &[
            (1, point(21.880, -102.290)),
            (2, point(21.890, -102.290)),
            (3, point(21.890, -102.300)),
            (0, point(21.880, -102.300)),
        ],
    );
    let reversed = builder.build(&RoadSpeeds::default()).unwrap();
    let (a, _) = reversed.snap(point(21.880, -102.300)).unwrap();
    let (b, _) = reversed.snap(point(21.880, -102.290)).unwrap();
    assert_eq!(reversed.route_ms(0, a, b), Some(with_the_flow));
}

/// Two banks of a river 200 m apart, joined by one bridge 3 km east.
fn river() -> RoadNetwork {
    let mut builder = RoadGraphBuilder::new();
    let bank = |id0: i64, latitude: f64| {
        (0..=40)
            .map(|i| {
                (
                    id0 + i,
                    point(latitude, -102.30 + f64::from(i as u8) * 0.001),
                )
            })
            .collect::<Vec<_>>()
    };
    let north = bank(0, 21.882);
    let south = bank(100, 21.880);
    builder.add_way(residential(Direction::Both), &north);
    builder.add_way(residential(Direction::Both), &south);
    builder.add_way(residential(Direction::Both), &[north[30], south[30]]);
    builder.build(&RoadSpeeds::default()).unwrap()
}

#[test]
fn a_unit_across_the_river_ranks_behind_a_farther_one_on_our_side() {
    let incident = point(21.882, -102.300);
    let across = point(21.880, -102.300); // 220 m by air, 6 km by road
    let same_side = point(21.882, -102.290); // 1 km by air and by road
    let units = [unit_at(1, across), unit_at(2, same_side)];
    let by_air = Engine::from_units(EngineConfig::default(), units.clone());
    let search = Nearest::new(incident, Some("fire"), 2, now());
    let order = |engine: &Engine| {
        engine
            .nearest(&search)
            .iter()
            .map(|c| c.unit.as_u128())
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&by_air), [1, 2]);
    let by_road = Engine::from_units(
        EngineConfig {
            travel: Box::new(road_travel(river())),
            ..EngineConfig::default()
        },
        units,
    );
    assert_eq!(order(&by_road), [2, 1]);
    let ranked = by_road.nearest(&search);
    assert!(ranked.iter().all(|c| c.travel == TravelSource::Road));
    assert!(
        ranked[0].reason.ends_with("by road"),
        "{}",
        ranked[0].reason
    );
}

#[test]
fn off_the_graph_and_flying_units_take_the_straight_line() {
    let travel = road_travel(river());
    let on_road = point(21.882, -102.300);
    let far = point(21.95, -102.300); // 7 km north of every road
    let d = on_road.distance_m(&far);
    let straight = GreatCircleTravel::default();
    assert_eq!(
        travel.estimate(far, on_road, d, UnitType::Engine),
        (
            straight.eta(far, on_road, d, UnitType::Engine),
            TravelSource::StraightLine
        )
    );
    let near = point(21.881, -102.300);
    let d = on_road.distance_m(&near);
    assert_eq!(
        travel.estimate(near, on_road, d, UnitType::Drone).1,
        TravelSource::StraightLine
    );
    assert_eq!(
        travel.estimate(near, on_road, d, UnitType::Engine).1,
        TravelSource::Road
    );
}

#[test]
fn small_fragments_are_left_out() {
    let mut builder = RoadGraphBuilder::new();
    builder.add_way(
        residential(Direction::Both),
        &[(0, point(21.88, -102.30)), (1, point(21.88, -102.29))],
    );
    builder.add_way(
        residential(Direction::Both),
        &[
            (10, point(21.90, -102.30)),
            (11, point(21.90, -102.29)),
            (12, point(21.90, -102.28)),
        ],
    );
    // A dead-end one-way street: reachable, but nothing comes back.
    builder.add_way(
        residential(Direction::Forward),
        &[(12, point(21.90, -102.28)), (13, point(21.90, -102.27))],
    );
    let network = builder.build(&RoadSpeeds::default()).unwrap();
    assert_eq!(network.nodes(), 3);
    assert!(
        RoadGraphBuilder::new()
            .build(&RoadSpeeds::default())
            .is_err()
    );
}

#[test]
fn per_type_speeds_get_their_own_graph() {
    let speeds = RoadSpeeds::parse("engine:residential=12.5").unwrap();
    let mut builder = RoadGraphBuilder::new();
    builder.add_way(
        residential(Direction::Both),
        &[(0, point(21.88, -102.30)), (1, point(21.88, -102.29))],
    );
    let network = builder.build(&speeds).unwrap();
    assert_eq!(network.profiles(), 2);
    let fast = network
        .route_ms(network.profile_of(UnitType::Patrol), 0, 1)
        .unwrap();
    let slow = network
        .route_ms(network.profile_of(UnitType::Engine), 0, 1)
        .unwrap();
    assert!(slow.abs_diff(2 * fast) <= 2, "{slow} vs {fast}");
}

#[test]
fn the_cached_form_routes_the_same() {
    let network = street_grid(20, 150.0, 21.88, -102.29, 7)
        .build(&RoadSpeeds::default())
        .unwrap();
    let again = RoadNetwork::from_prepared(network.to_prepared()).unwrap();
    for (a, b) in [(0, 5), (17, 300), (250, 3)] {
        assert_eq!(network.route_ms(0, a, b), again.route_ms(0, a, b));
    }
    let mut stale = network.to_prepared();
    stale.format += 1;
    assert!(RoadNetwork::from_prepared(stale).is_none());
}

/// The early stop stays exact with road times: every query agrees with a scan of all units.
#[test]
fn the_engine_never_misses_a_unit_by_road() {
    let network = street_grid(40, 120.0, 21.88, -102.29, 3)
        .build(&RoadSpeeds::default())
        .unwrap();
    let mut rng = SplitMix64::new(11);
    let around = |rng: &mut SplitMix64| {
        point(
            21.88 + (rng.next_f64() - 0.5) * 0.05,
            -102.29 + (rng.next_f64() - 0.5) * 0.05,
        )
    };
    let units: Vec<UnitState> = (0..300)
        .map(|i| UnitState {
            unit_type: [UnitType::Engine, UnitType::Patrol, UnitType::Drone][i % 3],
            ..unit_at(i as u128, around(&mut rng))
        })
        .collect();
    let engine = Engine::from_units(
        EngineConfig {
            travel: Box::new(road_travel(network)),
            ..EngineConfig::default()
        },
        units,
    );
    let exclude = HashSet::new();
    for _ in 0..50 {
        let search = Nearest::new(around(&mut rng), Some("fire"), 10, now()).excluding(&exclude);
        assert_eq!(engine.nearest(&search), engine.nearest_by_scan(&search));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// The contraction hierarchy answers exactly what Dijkstra answers, one-way streets and all,
    /// for one source at a time and for many sources against one target (the reused half).
    #[test]
    fn hierarchy_equals_dijkstra(
        seed in any::<u64>(),
        queries in prop::collection::vec((any::<u32>(), prop::collection::vec(any::<u32>(), 1..8)), 12),
    ) {
        let network = street_grid(24, 100.0, 21.88, -102.29, seed).build(&RoadSpeeds::default()).unwrap();
        let reference = network.reference(0);
        let n = network.nodes() as u32;
        for (target, sources) in queries {
            let target = target % n;
            for source in sources {
                let source = source % n;
                prop_assert_eq!(network.route_ms(0, source, target), reference.route_ms(source, target));
            }
        }
    }
}
