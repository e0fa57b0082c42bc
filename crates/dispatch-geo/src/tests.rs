//! The engine against a brute-force model that keeps its own copy of every unit.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use dispatch_domain::directory::UnitType;
use dispatch_domain::location::GeoPoint;
use dispatch_domain::triage::Requirement;
use uuid::Uuid;

use crate::engine::describe;
use crate::synthetic::{FleetShape, Region, SplitMix64, capabilities_of};
use crate::{
    Candidate, Engine, EngineConfig, Fill, Fix, GreatCircleTravel, Nearest, TravelModel, UnitState,
};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

fn point(lat: f64, lon: f64) -> GeoPoint {
    GeoPoint::new(lat, lon).unwrap()
}

fn requirement(capability: &str, count: u32) -> Requirement {
    Requirement {
        capability: capability.to_owned(),
        count,
        description: String::new(),
    }
}

/// Every unit as the server last described it, ranked by scanning them all.
struct Model<'a> {
    config: &'a EngineConfig,
    units: HashMap<Uuid, UnitState>,
}

impl Model<'_> {
    fn move_unit(&mut self, id: Uuid, fix: Fix) -> bool {
        match self.units.get_mut(&id) {
            Some(unit) if unit.position.is_none_or(|old| old.fix_time <= fix.fix_time) => {
                unit.position = Some(fix);
                true
            }
            _ => false,
        }
    }

    fn rank(&self, search: &Nearest<'_>) -> Vec<Candidate> {
        let Nearest {
            at,
            capability,
            k,
            now,
            ..
        } = *search;
        let mut all: Vec<Candidate> = self
            .units
            .values()
            .filter(|u| u.available && !search.excludes(u.id))
            .filter(|u| capability.is_none_or(|c| u.capabilities.iter().any(|h| h == c)))
            .filter_map(|u| {
                let fix = u.position?;
                let d = fix.point.distance_m(&at);
                let (mut eta, travel) = self.config.travel.estimate(fix.point, at, d, u.unit_type);
                let age = now - fix.fix_time;
                let stale = age > self.config.stale_after;
                if stale {
                    eta += self.config.stale_penalty;
                }
                Some(Candidate {
                    unit: u.id,
                    unit_type: u.unit_type,
                    straight_line_m: d,
                    eta,
                    stale,
                    position_age: age.max(TimeDelta::zero()),
                    travel,
                    reason: describe(u.unit_type, d, eta, stale.then_some(age), travel),
                })
            })
            .collect();
        all.sort_by(|a, b| {
            a.eta
                .cmp(&b.eta)
                .then(a.straight_line_m.total_cmp(&b.straight_line_m))
                .then(a.unit.cmp(&b.unit))
        });
        all.truncate(k);
        all
    }

    /// The semantics, naively: picks in plan order, then alternates excluding every pick.
    fn recommend(
        &self,
        at: GeoPoint,
        plan: &[Requirement],
        exclude: &HashSet<Uuid>,
        now: DateTime<Utc>,
    ) -> Vec<Fill> {
        let mut skip = exclude.clone();
        let picks: Vec<Vec<Candidate>> = plan
            .iter()
            .map(|r| {
                let wanted = Nearest::new(at, Some(&r.capability), r.count as usize, now);
                let picks = self.rank(&wanted.excluding(&skip));
                skip.extend(picks.iter().map(|c| c.unit));
                picks
            })
            .collect();
        plan.iter()
            .zip(picks)
            .map(|(r, mut candidates)| {
                let picked = candidates.len();
                let alternates = Nearest::new(at, Some(&r.capability), self.config.alternates, now);
                candidates.extend(self.rank(&alternates.excluding(&skip)));
                Fill {
                    requirement: r.clone(),
                    candidates,
                    picked,
                    shortfall: r.count - picked as u32,
                }
            })
            .collect()
    }
}

/// Fast drones and a long stale penalty: the ETA order differs a lot from the distance order.
fn eccentric_config() -> EngineConfig {
    let mut travel = GreatCircleTravel::default();
    travel.speeds_mps.insert(UnitType::Drone, 60.0);
    travel.speeds_mps.insert(UnitType::MobileCommandPost, 3.0);
    travel.road_factor = 1.9;
    EngineConfig {
        stale_after: TimeDelta::minutes(10),
        stale_penalty: TimeDelta::minutes(20),
        travel: Box::new(travel),
        alternates: 3,
    }
}

/// Road factors from 1 to 3 depending on where the unit is (a river, a ring road...), and only
/// the trait's default per-type bound.
#[derive(Debug)]
struct PatchyRoads;

impl TravelModel for PatchyRoads {
    fn eta(
        &self,
        from: GeoPoint,
        _to: GeoPoint,
        straight_line_m: f64,
        unit_type: UnitType,
    ) -> TimeDelta {
        let patch =
            ((from.latitude() * 1e3).floor() + (from.longitude() * 1e3).floor()).rem_euclid(3.0);
        let speed = if unit_type == UnitType::Drone {
            30.0
        } else {
            15.0
        };
        crate::travel::seconds(straight_line_m * (1.0 + patch) / speed)
    }

    fn max_speed_mps(&self) -> f64 {
        30.0
    }
}

fn patchy_config() -> EngineConfig {
    EngineConfig {
        travel: Box::new(PatchyRoads),
        alternates: 1,
        ..EngineConfig::default()
    }
}

const CAPABILITIES: [&str; 9] = [
    "aed", "als", "bls", "patrol", "engine", "ladder", "drone", "chief", "unknown",
];

fn random_plan(rng: &mut SplitMix64) -> Vec<Requirement> {
    (0..1 + rng.below(4))
        .map(|_| {
            requirement(
                CAPABILITIES[rng.below(CAPABILITIES.len())],
                rng.below(5) as u32,
            )
        })
        .collect()
}

fn check_region(region: Region, config: fn() -> EngineConfig, seed: u64) {
    let now = now();
    let mut rng = SplitMix64::new(seed);
    let shape = FleetShape {
        region,
        busy: 0.9,
        unpositioned: 0.03,
        stale: 0.1,
        stale_age: TimeDelta::minutes(31),
    };
    let mut fleet: Vec<UnitState> = shape.units(&mut rng, 1_500, now).collect();
    // Some units share a spot (a station): ties are broken by distance, then id.
    for i in (1..fleet.len()).step_by(40) {
        fleet[i].position = fleet[i - 1].position;
        fleet[i].unit_type = fleet[i - 1].unit_type;
        fleet[i].available = true;
    }
    let mut bulk = Engine::from_units(config(), fleet.clone());
    let mut incremental = Engine::new(config());
    for unit in &fleet {
        incremental.upsert(unit.clone());
    }
    let model_config = config();
    let mut model = Model {
        config: &model_config,
        units: fleet.iter().map(|u| (u.id, u.clone())).collect(),
    };
    let mut ids: Vec<Uuid> = fleet.iter().map(|u| u.id).collect();

    for round in 0..400 {
        // Mutate all three the same way.
        for _ in 0..5 {
            let id = ids[rng.below(ids.len())];
            match rng.below(10) {
                0..=4 => {
                    let mut fix = shape.fix(&mut rng, now);
                    if rng.chance(0.2) {
                        fix.fix_time -= TimeDelta::hours(3); // older than the current one
                    }
                    let expected = model.move_unit(id, fix);
                    assert_eq!(bulk.move_unit(id, fix), expected);
                    assert_eq!(incremental.move_unit(id, fix), expected);
                }
                5..=7 => {
                    let available = rng.chance(0.3);
                    if let Some(unit) = model.units.get_mut(&id) {
                        unit.available = available;
                    }
                    let known = model.units.contains_key(&id);
                    assert_eq!(bulk.set_available(id, available), known);
                    assert_eq!(incremental.set_available(id, available), known);
                }
                8 => {
                    let known = model.units.remove(&id).is_some();
                    assert_eq!(bulk.remove(id), known);
                    assert_eq!(incremental.remove(id), known);
                }
                _ => {
                    let mut unit = shape.unit(&mut rng, now);
                    if rng.chance(0.5) {
                        unit.id = id; // replace an existing unit's type, capabilities, position
                    } else {
                        ids.push(unit.id);
                    }
                    model.units.insert(unit.id, unit.clone());
                    bulk.upsert(unit.clone());
                    incremental.upsert(unit);
                }
            }
        }
        assert_eq!(bulk.len(), model.units.len());
        assert_eq!(incremental.len(), model.units.len());
        let available = model.units.values().filter(|u| u.available).count();
        assert_eq!(bulk.available_len(), available);
        assert_eq!(incremental.available_len(), available);

        // Query.
        for _ in 0..3 {
            let at = region.point(&mut rng);
            let exclude: HashSet<Uuid> = (0..rng.below(30))
                .map(|_| ids[rng.below(ids.len())])
                .collect();
            let plan = random_plan(&mut rng);
            let expected = model.recommend(at, &plan, &exclude, now);
            assert_eq!(
                bulk.recommend(at, &plan, &exclude, now),
                expected,
                "round {round} at {at:?} plan {plan:?}"
            );
            assert_eq!(incremental.recommend(at, &plan, &exclude, now), expected);

            let capability =
                (!rng.chance(0.2)).then(|| CAPABILITIES[rng.below(CAPABILITIES.len())]);
            let k = rng.below(12);
            let search = Nearest::new(at, capability, k, now).excluding(&exclude);
            let expected = model.rank(&search);
            assert_eq!(bulk.nearest(&search), expected);
            assert_eq!(incremental.nearest(&search), expected);
            assert_eq!(bulk.nearest_by_scan(&search), expected);
        }
    }
}

#[test]
fn ranking_equals_brute_force_in_mexico_city() {
    check_region(
        Region {
            latitude: 19.4,
            longitude: -99.1,
            half_degrees: 0.2,
        },
        EngineConfig::default,
        1,
    );
    check_region(
        Region {
            latitude: 19.4,
            longitude: -99.1,
            half_degrees: 0.2,
        },
        eccentric_config,
        2,
    );
}

#[test]
fn ranking_equals_brute_force_at_60_north() {
    check_region(
        Region {
            latitude: 60.0,
            longitude: 25.0,
            half_degrees: 0.4,
        },
        EngineConfig::default,
        3,
    );
    check_region(
        Region {
            latitude: 60.0,
            longitude: 25.0,
            half_degrees: 0.4,
        },
        eccentric_config,
        4,
    );
}

#[test]
fn ranking_equals_brute_force_across_the_antimeridian() {
    check_region(
        Region {
            latitude: -17.8,
            longitude: 180.0,
            half_degrees: 0.3,
        },
        EngineConfig::default,
        5,
    );
    check_region(
        Region {
            latitude: 65.0,
            longitude: -180.0,
            half_degrees: 0.5,
        },
        eccentric_config,
        6,
    );
}

#[test]
fn ranking_equals_brute_force_near_the_pole_and_across_the_globe() {
    check_region(
        Region {
            latitude: 89.8,
            longitude: 0.0,
            half_degrees: 0.3,
        },
        EngineConfig::default,
        7,
    );
    check_region(
        Region {
            latitude: 40.0,
            longitude: -3.7,
            half_degrees: 0.1,
        },
        patchy_config,
        9,
    );
    check_region(
        Region {
            latitude: 0.0,
            longitude: 0.0,
            half_degrees: 180.0,
        },
        eccentric_config,
        8,
    );
}

fn unit(id: u128, unit_type: UnitType, capabilities: &[&str], at: Option<(f64, f64)>) -> UnitState {
    UnitState {
        id: Uuid::from_u128(id),
        unit_type,
        capabilities: capabilities.iter().map(|&c| c.to_owned()).collect(),
        available: true,
        position: at.map(|(lat, lon)| Fix {
            point: point(lat, lon),
            fix_time: now() - TimeDelta::seconds(10),
        }),
        home: None,
    }
}

fn ids(candidates: &[Candidate]) -> Vec<u128> {
    candidates.iter().map(|c| c.unit.as_u128()).collect()
}

const ZOCALO: (f64, f64) = (19.4326, -99.1332);

/// Units `n` on a line going north from the Zócalo, `n` × 100 m away.
fn north(n: u32) -> Option<(f64, f64)> {
    Some((ZOCALO.0 + f64::from(n) * 0.0009, ZOCALO.1))
}

/// Units 1 and 2 of `unit_type`, 100 m and 200 m north of the Zócalo.
fn two_north(unit_type: UnitType, capabilities: &[&str]) -> Engine {
    let mut engine = Engine::default();
    engine.upsert(unit(1, unit_type, capabilities, north(1)));
    engine.upsert(unit(2, unit_type, capabilities, north(2)));
    engine
}

#[test]
fn shortfalls_are_reported_not_errors() {
    let engine = two_north(UnitType::AlsAmbulance, &["als", "bls"]);
    let at = point(ZOCALO.0, ZOCALO.1);
    let fills = engine.recommend(
        at,
        &[requirement("als", 3), requirement("hazmat", 1)],
        &HashSet::new(),
        now(),
    );
    assert_eq!(ids(&fills[0].candidates), [1, 2]);
    assert_eq!((fills[0].picked, fills[0].shortfall), (2, 1));
    assert!(fills[1].candidates.is_empty());
    assert_eq!((fills[1].picked, fills[1].shortfall), (0, 1));
    assert!(
        Engine::default().recommend(at, &[requirement("als", 1)], &HashSet::new(), now())[0]
            .candidates
            .is_empty()
    );
    assert!(engine.recommend(at, &[], &HashSet::new(), now()).is_empty());
}

#[test]
fn a_unit_is_never_used_twice_and_alternates_are_picked_nowhere() {
    let mut engine = Engine::default(); // 2 alternates
    for n in 1..=6 {
        engine.upsert(unit(
            u128::from(n),
            UnitType::AlsAmbulance,
            &["als", "bls"],
            north(n),
        ));
    }
    engine.upsert(unit(7, UnitType::BlsAmbulance, &["bls"], north(7)));
    let at = point(ZOCALO.0, ZOCALO.1);
    let fills = engine.recommend(
        at,
        &[
            requirement("als", 1),
            requirement("bls", 2),
            requirement("als", 1),
        ],
        &HashSet::new(),
        now(),
    );
    // als × 1 takes 1; its alternates skip 2 and 3 (picked by bls) and 4 (picked by the second als).
    assert_eq!(ids(&fills[0].candidates), [1, 5, 6]);
    assert_eq!(ids(&fills[1].candidates), [2, 3, 5, 6]);
    assert_eq!(ids(&fills[2].candidates), [4, 5, 6]);
    assert_eq!(
        fills.iter().map(|f| f.picked).collect::<Vec<_>>(),
        [1, 2, 1]
    );
    let picks: Vec<Uuid> = fills
        .iter()
        .flat_map(|f| f.candidates[..f.picked].iter().map(|c| c.unit))
        .collect();
    assert_eq!(picks.iter().collect::<HashSet<_>>().len(), picks.len());
}

#[test]
fn unavailable_unpositioned_and_excluded_units_are_never_recommended() {
    let mut engine = Engine::default();
    engine.upsert(unit(1, UnitType::Patrol, &["patrol"], north(1)));
    engine.upsert(UnitState {
        available: false,
        ..unit(2, UnitType::Patrol, &["patrol"], north(0))
    });
    engine.upsert(unit(3, UnitType::Patrol, &["patrol"], None));
    engine.upsert(unit(4, UnitType::Patrol, &["patrol"], north(2)));
    let at = point(ZOCALO.0, ZOCALO.1);
    let exclude: HashSet<Uuid> = [Uuid::from_u128(1)].into();
    let fills = engine.recommend(at, &[requirement("patrol", 4)], &exclude, now());
    assert_eq!(ids(&fills[0].candidates), [4]);
    assert_eq!(fills[0].shortfall, 3);
    assert_eq!(
        (
            engine.len(),
            engine.available_len(),
            engine.candidates_len()
        ),
        (4, 3, 2)
    );
    assert_eq!(
        ids(&engine.nearest(&Nearest::new(at, None, 10, now()))),
        [1, 4]
    );
}

#[test]
fn last_fix_wins() {
    let mut engine = Engine::default();
    engine.upsert(unit(1, UnitType::Patrol, &["patrol"], north(5)));
    let id = Uuid::from_u128(1);
    let at = point(ZOCALO.0, ZOCALO.1);
    let older = Fix {
        point: at,
        fix_time: now() - TimeDelta::minutes(1),
    };
    assert!(!engine.move_unit(id, older));
    let far = engine.nearest(&Nearest::new(at, None, 1, now()))[0].straight_line_m;
    assert!((450.0..550.0).contains(&far), "{far}");
    let newer = Fix {
        point: at,
        fix_time: now(),
    };
    assert!(engine.move_unit(id, newer));
    assert_eq!(
        engine.nearest(&Nearest::new(at, None, 1, now()))[0].straight_line_m,
        0.0
    );
    assert_eq!(engine.get(id).unwrap().position, Some(newer));
    assert!(!engine.move_unit(Uuid::from_u128(9), newer), "unknown unit");
    // A unit without a position takes any fix and becomes a candidate.
    engine.upsert(unit(2, UnitType::Patrol, &["patrol"], None));
    assert!(engine.move_unit(Uuid::from_u128(2), older));
    assert_eq!(engine.candidates_len(), 2);
}

#[test]
fn availability_toggles_and_removal_update_the_index_at_once() {
    let mut engine = two_north(UnitType::Engine, &["engine", "aed"]);
    let at = point(ZOCALO.0, ZOCALO.1);
    let best = |engine: &Engine, capability| {
        ids(&engine.nearest(&Nearest::new(at, Some(capability), 5, now())))
    };
    assert!(engine.set_available(Uuid::from_u128(1), false));
    assert_eq!(
        (best(&engine, "engine"), best(&engine, "aed")),
        (vec![2], vec![2])
    );
    assert_eq!(engine.available_len(), 1);
    assert!(
        engine.set_available(Uuid::from_u128(1), false),
        "idempotent"
    );
    assert!(engine.set_available(Uuid::from_u128(1), true));
    assert_eq!(best(&engine, "aed"), [1, 2]);
    assert!(engine.remove(Uuid::from_u128(1)));
    assert!(!engine.remove(Uuid::from_u128(1)));
    assert!(!engine.set_available(Uuid::from_u128(1), true));
    assert_eq!(
        (
            best(&engine, "engine"),
            engine.len(),
            engine.available_len()
        ),
        (vec![2], 1, 1)
    );
    // Replacing a unit's capabilities moves it between trees; a freed slot is reused.
    engine.upsert(unit(2, UnitType::Engine, &["water"], north(2)));
    engine.upsert(unit(
        3,
        UnitType::Ladder,
        &["ladder", "aed", "aed"],
        north(3),
    ));
    assert_eq!(
        (
            best(&engine, "engine"),
            best(&engine, "water"),
            best(&engine, "aed")
        ),
        (vec![], vec![2], vec![3])
    );
    assert_eq!(
        engine.get(Uuid::from_u128(3)).unwrap().capabilities,
        ["aed", "ladder"]
    );
}

#[test]
fn stale_units_stay_candidates_with_a_penalty_and_a_flag() {
    let mut engine = Engine::default(); // stale after 30 min, +3 min
    let mut stale = unit(1, UnitType::Patrol, &["patrol"], north(1));
    stale.position.as_mut().unwrap().fix_time = now() - TimeDelta::minutes(45);
    engine.upsert(stale);
    engine.upsert(unit(2, UnitType::Patrol, &["patrol"], north(10))); // 1 km: about 101 s
    let at = point(ZOCALO.0, ZOCALO.1);
    let ranked = engine.nearest(&Nearest::new(at, Some("patrol"), 2, now()));
    assert_eq!(ids(&ranked), [2, 1]);
    assert!(ranked[1].stale && !ranked[0].stale);
    assert_eq!(ranked[1].position_age, TimeDelta::minutes(45));
    assert!(ranked[1].eta > TimeDelta::minutes(3));
    assert_eq!(
        ranked[1].reason,
        "Patrol unit, 100 m, ETA 3 min 10 s, position 45 min old"
    );
    assert_eq!(ranked[0].reason, "Patrol unit, 1.0 km, ETA 1 min 41 s");
}

#[test]
fn faster_types_win_over_nearer_slower_ones() {
    let mut engine = Engine::default();
    engine.upsert(unit(1, UnitType::Engine, &["aed"], north(10))); // 1 km at 10 m/s × 1.4: 140 s
    engine.upsert(unit(2, UnitType::Drone, &["aed"], north(25))); // 2.5 km at 20 m/s: 125 s
    let at = point(ZOCALO.0, ZOCALO.1);
    assert_eq!(
        ids(&engine.nearest(&Nearest::new(at, Some("aed"), 1, now()))),
        [2]
    );
}

#[test]
fn cameras_within_equals_brute_force() {
    let mut rng = SplitMix64::new(42);
    for region in [
        Region {
            latitude: 19.4,
            longitude: -99.1,
            half_degrees: 0.05,
        },
        Region {
            latitude: 60.0,
            longitude: 180.0,
            half_degrees: 0.05,
        },
    ] {
        let mut engine = Engine::default();
        let mut cameras: HashMap<Uuid, GeoPoint> = HashMap::new();
        for _ in 0..2_000 {
            let id = rng.uuid();
            let p = region.point(&mut rng);
            engine.upsert_camera(id, p);
            cameras.insert(id, p);
        }
        let some: Vec<Uuid> = cameras.keys().take(300).copied().collect();
        for (i, id) in some.into_iter().enumerate() {
            if i % 2 == 0 {
                assert!(engine.remove_camera(id));
                cameras.remove(&id);
            } else {
                let p = region.point(&mut rng);
                engine.upsert_camera(id, p);
                cameras.insert(id, p);
            }
        }
        assert_eq!(engine.cameras_len(), cameras.len());
        for _ in 0..300 {
            let at = region.point(&mut rng);
            let radius = rng.next_f64() * 3_000.0;
            let limit = rng.below(40);
            let mut expected: Vec<(Uuid, f64)> = cameras
                .iter()
                .map(|(&id, p)| (id, at.distance_m(p)))
                .filter(|&(_, d)| d <= radius)
                .collect();
            expected.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            expected.truncate(limit);
            assert_eq!(engine.cameras_within(at, radius, limit), expected);
        }
        let at = region.point(&mut rng);
        assert!(engine.cameras_within(at, -1.0, 10).is_empty());
        assert!(engine.cameras_within(at, f64::NAN, 10).is_empty());
        assert_eq!(
            engine.cameras_within(at, 1e9, usize::MAX).len(),
            cameras.len()
        );
    }
}

#[test]
fn unit_types_index_in_declaration_order() {
    for (i, &t) in UnitType::ALL.iter().enumerate() {
        assert_eq!(t as usize, i);
    }
}

#[test]
fn synthetic_capabilities_cover_the_catalogue_vocabulary() {
    for capability in [
        "als",
        "bls",
        "aed",
        "engine",
        "ladder",
        "chief",
        "patrol",
        "hazmat",
        "extrication",
        "civil_protection",
    ] {
        assert!(
            UnitType::ALL
                .iter()
                .any(|&t| capabilities_of(t).contains(&capability)),
            "{capability}"
        );
    }
}

#[test]
fn the_default_travel_model_respects_the_stop_rule_contract() {
    let config = EngineConfig::default();
    let mut rng = SplitMix64::new(9);
    let max = config.travel.max_speed_mps();
    for _ in 0..1_000 {
        let d = rng.next_f64() * 50_000.0;
        for &t in UnitType::ALL {
            let eta = config.travel.eta(point(0.0, 0.0), point(0.0, 0.0), d, t);
            assert!(eta.as_seconds_f64() >= d / max - 1e-6);
            let own = config.travel.max_speed_mps_of(t);
            assert!(own <= max && eta.as_seconds_f64() >= d / own - 1e-6);
        }
    }
}

#[test]
fn the_engine_can_be_shared_between_threads() {
    fn shared<T: Send + Sync + std::fmt::Debug>() {}
    shared::<Engine>();
    let engine = Engine::from_units(
        EngineConfig::default(),
        [unit(1, UnitType::Patrol, &["patrol"], north(1))],
    );
    let text = format!("{engine:?}");
    assert!(
        text.contains("units: 1") && text.contains("indexed: 1"),
        "{text}"
    );
}

#[test]
fn units_in_quarters_pay_the_turnout_of_the_fitted_model() {
    let text = "format = 1\nnight_hours_utc = []\nmax_speed_kmh = 90\n\
                [types.engine]\na_s = 50\nb_s = 130\nc = 0.6\nturnout_day_s = 80\nturnout_night_s = 120\n";
    let travel = crate::FittedTravel::from_toml(text, GreatCircleTravel::default()).unwrap();
    let engine_config = EngineConfig {
        travel: Box::new(travel),
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(engine_config);
    // Unit 1 sits in its station 1 km north; unit 2 is on the road 1.2 km north, away from home.
    let home_1 = north(10).map(|(lat, lon)| point(lat, lon));
    engine.upsert(UnitState {
        home: home_1,
        ..unit(1, UnitType::Engine, &["engine"], north(10))
    });
    engine.upsert(UnitState {
        home: Some(point(ZOCALO.0, ZOCALO.1)),
        ..unit(2, UnitType::Engine, &["engine"], north(12))
    });
    let at = point(ZOCALO.0, ZOCALO.1);
    let found = engine.nearest(&Nearest::new(at, Some("engine"), 2, now()));
    let ids: Vec<u128> = found.iter().map(|c| c.unit.as_u128()).collect();
    assert_eq!(ids, [2, 1], "{found:?}");
    let travel = |m: f64| 50.0 + 130.0 * (m / 1_000.0).powf(0.6);
    let [on_road, in_quarters] = [&found[0], &found[1]];
    assert!((on_road.eta.as_seconds_f64() - travel(on_road.straight_line_m)).abs() < 1e-3);
    assert!(
        (in_quarters.eta.as_seconds_f64() - 80.0 - travel(in_quarters.straight_line_m)).abs()
            < 1e-3
    );
    assert_eq!(
        engine.nearest_by_scan(&Nearest::new(at, Some("engine"), 2, now())),
        found
    );
}
