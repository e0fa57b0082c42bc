//! The engine benchmark's core, shared by `benches/engine.rs` and any later load-test crate:
//! recommend latency against a brute-force scan, index build time and position-update rate on
//! synthetic fleets with 90 % of units busy.

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use dispatch_domain::location::GeoPoint;
use dispatch_domain::triage::Requirement;
use uuid::Uuid;

use crate::engine::{Engine, EngineConfig, Fix, Nearest, UnitState};
use crate::synthetic::{FleetShape, Region, SplitMix64};

#[derive(Debug, Clone, PartialEq)]
pub struct BenchOptions {
    pub sizes: Vec<usize>,
    /// Timed recommend calls per size.
    pub queries: usize,
    /// Timed brute-force scans per size (they are slow at 1M).
    pub scan_queries: usize,
    /// Timed position updates per size and kind.
    pub moves: usize,
    pub seed: u64,
    /// Where the units are: by default a 220 km square around Mexico City.
    pub region: Region,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            sizes: vec![10_000, 100_000, 1_000_000],
            queries: 2_000,
            scan_queries: 100,
            moves: 200_000,
            seed: 5,
            region: Region {
                latitude: 19.4,
                longitude: -99.1,
                half_degrees: 1.0,
            },
        }
    }
}

/// Median and 99th percentile of a set of timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Percentiles {
    pub p50: Duration,
    pub p99: Duration,
}

impl Percentiles {
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let at = |q: f64| {
            let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples.get(index).copied().unwrap_or_default()
        };
        Self {
            p50: at(0.5),
            p99: at(0.99),
        }
    }
}

/// One fleet size.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub units: usize,
    pub candidates: usize,
    /// `Engine::from_units` (bulk load).
    pub build: Duration,
    /// `recommend` of one requirement, `aed` × 3 plus 2 alternates: the 5 best by ETA.
    pub recommend5: Percentiles,
    /// `recommend` of a structure fire plan: engine × 3, ladder, als, chief (each + 2 alternates).
    pub recommend_plan: Percentiles,
    /// The same 5-best query by scanning every unit.
    pub scan5: Percentiles,
    /// `move_unit` on random units of the fleet (90 % busy: table only), per second.
    pub moves_fleet_per_s: f64,
    /// `move_unit` on available units (every capability tree they are in), per second.
    pub moves_available_per_s: f64,
}

fn plan(items: &[(&str, u32)]) -> Vec<Requirement> {
    items
        .iter()
        .map(|&(capability, count)| Requirement {
            capability: capability.to_owned(),
            count,
            description: String::new(),
        })
        .collect()
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = black_box(f());
    (value, start.elapsed())
}

/// Measures one fleet size. Panics if the index ever disagrees with the scan.
pub fn run_size(options: &BenchOptions, units: usize, now: DateTime<Utc>) -> Row {
    let mut rng = SplitMix64::new(options.seed ^ units as u64);
    let shape = FleetShape::busy_city(options.region);
    let fleet: Vec<UnitState> = shape.units(&mut rng, units, now).collect();
    let positions: Vec<(Uuid, bool, Option<GeoPoint>)> = fleet
        .iter()
        .map(|u| (u.id, u.available, u.position.map(|f| f.point)))
        .collect();
    let (mut engine, build) = time(|| Engine::from_units(EngineConfig::default(), fleet));
    let none = HashSet::new();

    let points: Vec<GeoPoint> = (0..options.queries.max(options.scan_queries))
        .map(|_| options.region.point(&mut rng))
        .collect();
    let five = plan(&[("aed", 3)]);
    let fire = plan(&[("engine", 3), ("ladder", 1), ("als", 1), ("chief", 1)]);
    let mut samples5 = Vec::with_capacity(options.queries);
    let mut samples_plan = Vec::with_capacity(options.queries);
    for &at in points.iter().take(options.queries) {
        samples5.push(time(|| engine.recommend(at, &five, &none, now)).1);
        samples_plan.push(time(|| engine.recommend(at, &fire, &none, now)).1);
    }
    let mut scans = Vec::with_capacity(options.scan_queries);
    for &at in points.iter().take(options.scan_queries) {
        let (scan, elapsed) =
            time(|| engine.nearest_by_scan(&Nearest::new(at, Some("aed"), 5, now)));
        scans.push(elapsed);
        let fill = engine.recommend(at, &five, &none, now);
        let indexed = fill
            .first()
            .map(|f| f.candidates.clone())
            .unwrap_or_default();
        assert_eq!(indexed, scan, "index and scan disagree at {at:?}");
    }

    let jitter = |rng: &mut SplitMix64, p: GeoPoint| {
        let lat = (p.latitude() + (rng.next_f64() - 0.5) * 0.002).clamp(-90.0, 90.0);
        let lon = (p.longitude() + (rng.next_f64() - 0.5) * 0.002).clamp(-180.0, 180.0);
        GeoPoint::new(lat, lon).unwrap_or(p)
    };
    // Fix times keep increasing across both runs, so last-fix-wins accepts every move.
    let mut clock = 0_i64;
    let mut draw_moves = |available_only: bool| -> Vec<(Uuid, Fix)> {
        let pool: Vec<(Uuid, GeoPoint)> = positions
            .iter()
            .filter(|(_, available, _)| *available || !available_only)
            .filter_map(|&(id, _, point)| point.map(|p| (id, p)))
            .collect();
        (0..options.moves)
            .filter_map(|_| {
                let &(id, p) = pool.get(rng.below(pool.len()))?;
                clock += 1;
                let fix_time = now + TimeDelta::microseconds(clock);
                Some((
                    id,
                    Fix {
                        point: jitter(&mut rng, p),
                        fix_time,
                    },
                ))
            })
            .collect()
    };
    let fleet_moves = draw_moves(false);
    let available_moves = draw_moves(true);
    let mut rate = |moves: Vec<(Uuid, Fix)>| {
        let count = moves.len();
        let (accepted, elapsed) = time(|| {
            moves
                .into_iter()
                .filter(|&(id, fix)| engine.move_unit(id, fix))
                .count()
        });
        assert_eq!(accepted, count, "every move is newer than the last");
        count as f64 / elapsed.as_secs_f64().max(1e-9)
    };
    let moves_fleet_per_s = rate(fleet_moves);
    let moves_available_per_s = rate(available_moves);

    Row {
        units,
        candidates: engine.candidates_len(),
        build,
        recommend5: Percentiles::of(samples5),
        recommend_plan: Percentiles::of(samples_plan),
        scan5: Percentiles::of(scans),
        moves_fleet_per_s,
        moves_available_per_s,
    }
}

/// Every size in turn, handing each row over as soon as it is measured.
pub fn run(options: &BenchOptions, now: DateTime<Utc>, mut each: impl FnMut(&Row)) -> Vec<Row> {
    options
        .sizes
        .iter()
        .map(|&units| {
            let row = run_size(options, units, now);
            each(&row);
            row
        })
        .collect()
}

/// The table header, matching [`Row`]'s `Display`.
pub const HEADER: &str = "|     units | avail+pos | build ms | rec5 p50 µs | rec5 p99 µs | plan p50 µs | plan p99 µs | scan5 p50 µs | scan/index | moves/s fleet | moves/s avail |\n|----------:|----------:|---------:|------------:|------------:|------------:|------------:|-------------:|-----------:|--------------:|--------------:|";

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let ratio = us(self.scan5.p50) / us(self.recommend5.p50).max(1e-9);
        let mut line = String::new();
        write!(
            line,
            "| {:>9} | {:>9} | {:>8.1} | {:>11.1} | {:>11.1} | {:>11.1} | {:>11.1} | {:>12.0} | {:>9.0}x | {:>13.0} | {:>13.0} |",
            self.units,
            self.candidates,
            self.build.as_secs_f64() * 1e3,
            us(self.recommend5.p50),
            us(self.recommend5.p99),
            us(self.recommend_plan.p50),
            us(self.recommend_plan.p99),
            us(self.scan5.p50),
            ratio,
            self.moves_fleet_per_s,
            self.moves_available_per_s,
        )?;
        f.write_str(&line)
    }
}
