//! Section: travel by road (offline, no database). The road graph of the Aguascalientes extract
//! and of a synthetic road-like city of about a million nodes: graph build and preparation
//! (contraction hierarchies), the process memory it takes, and `recommend` latency with 50
//! candidates ranked by drive time, beside the straight-line engine over the same units and
//! query points in the same run.

use std::collections::HashSet;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use dispatch_domain::directory::UnitType;
use dispatch_domain::location::GeoPoint;
use dispatch_domain::triage::Requirement;
use dispatch_geo::road::{RoadNetwork, RoadSpeeds, RoadTravel};
use dispatch_geo::synthetic::SplitMix64;
use dispatch_geo::{Engine, EngineConfig, Fix, GreatCircleTravel, TravelSource, UnitState};

use crate::report::{Line, Report, Samples, Summary, show, us};

/// Candidates every query ranks: the engine is asked for all of them.
const CANDIDATES: usize = 50;

#[derive(Debug, Clone)]
pub struct Options {
    /// The Aguascalientes extract (`osm/aguascalientes.osm.pbf` under the data directory).
    pub extract: PathBuf,
    /// Intersections per side of the synthetic grid (side² nodes).
    pub synthetic_side: usize,
    pub queries: usize,
    pub seed: u64,
}

struct Row {
    name: String,
    nodes: usize,
    arcs: usize,
    build: Duration,
    cached_load: Option<Duration>,
    rss_mib: f64,
    road: Summary,
    straight: Summary,
    by_road_share: f64,
}

pub fn run(options: &Options, report: &mut Report) -> anyhow::Result<()> {
    println!(
        "\n## Travel by road: graph preparation and recommend with {CANDIDATES} candidates by drive time\n"
    );
    println!(
        "{} queries per graph; every query ranks all {CANDIDATES} units (a one-requirement plan asking for {CANDIDATES}); \
         the straight-line engine (the default travel model) over the same units and points.\n",
        options.queries
    );
    println!(
        "| graph | nodes | arcs | build + prepare s | cached load s | RSS growth MiB | road p50 µs | p99 µs | straight p50 µs | p99 µs | ETAs by road |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    if options.extract.is_file() {
        rows.push(aguascalientes(options)?);
    } else {
        let message = format!(
            "{} not found: the Aguascalientes road figures are skipped.",
            options.extract.display()
        );
        println!("{message}");
        report.note(message);
    }
    rows.push(synthetic(options)?);
    for row in &rows {
        println!(
            "| {} | {} | {} | {:.2} | {} | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} | {:.0} % |",
            row.name,
            row.nodes,
            row.arcs,
            row.build.as_secs_f64(),
            row.cached_load
                .map_or("n/a".into(), |d| format!("{:.2}", d.as_secs_f64())),
            row.rss_mib,
            us(row.road.p50),
            us(row.road.p99),
            us(row.straight.p50),
            us(row.straight.p99),
            row.by_road_share * 100.0,
        );
        let key = |what: &str| format!("roads_{what}_{}", row.name);
        report.set(&key("nodes"), row.nodes as f64);
        report.set(&key("build_s"), row.build.as_secs_f64());
        report.set(
            &key("cached_load_s"),
            row.cached_load.map(|d| d.as_secs_f64()),
        );
        report.set(&key("rss_mib"), row.rss_mib);
        report.set(&key("arcs"), row.arcs as f64);
        report.set(&key("recommend_p50_us"), us(row.road.p50));
        report.set(&key("recommend_p99_us"), us(row.road.p99));
        report.set(&key("straight_p50_us"), us(row.straight.p50));
        report.set(&key("straight_p99_us"), us(row.straight.p99));
        let p99_ms = us(row.road.p99) / 1e3;
        let big = row.name == "synthetic";
        report.line(Line {
            what: format!(
                "recommend by road p99, {CANDIDATES} candidates, {} ({} nodes)",
                row.name, row.nodes
            ),
            ours: show(Some(p99_ms), "ms"),
            against: format!("straight line {}", show(Some(us(row.straight.p99)), "µs")),
            target: if big {
                "< 10 ms at 1M nodes".into()
            } else {
                "-".into()
            },
            // The full-size city (1000 × 1000 intersections; the cut to the strongly connected
            // part leaves a little under a million nodes).
            met: (big && options.synthetic_side >= 1_000).then_some(p99_ms < 10.0),
        });
    }
    Ok(())
}

fn aguascalientes(options: &Options) -> anyhow::Result<Row> {
    // A copy in a directory of our own: the cache is written beside the extract.
    let dir = std::env::temp_dir().join(format!("dispatch-bench-roads-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let copy = dir.join("aguascalientes.osm.pbf");
    std::fs::copy(&options.extract, &copy)
        .with_context(|| format!("copying {}", options.extract.display()))?;
    let speeds = RoadSpeeds::default();
    let rss = rss_mib();
    let started = Instant::now();
    let (network, loaded) =
        dispatch_server::road_network::load(&copy, &speeds).map_err(anyhow::Error::msg)?;
    let build = started.elapsed();
    let rss_mib = rss_mib() - rss;
    anyhow::ensure!(!loaded.from_cache, "a fresh directory has no cache");
    let started = Instant::now();
    let (again, cached) =
        dispatch_server::road_network::load(&copy, &speeds).map_err(anyhow::Error::msg)?;
    let cached_load = started.elapsed();
    anyhow::ensure!(cached.from_cache, "the second load reads the cache");
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
    measure(
        options,
        "aguascalientes",
        network,
        build,
        Some(cached_load),
        rss_mib,
    )
}

fn synthetic(options: &Options) -> anyhow::Result<Row> {
    let side = options.synthetic_side;
    let rss = rss_mib();
    let started = Instant::now();
    let network =
        dispatch_geo::road::synthetic::street_grid(side, 100.0, 21.88, -102.29, options.seed)
            .build(&RoadSpeeds::default())
            .map_err(anyhow::Error::msg)?;
    let build = started.elapsed();
    let rss_mib = rss_mib() - rss;
    measure(options, "synthetic", network, build, None, rss_mib)
}

fn measure(
    options: &Options,
    name: &str,
    network: RoadNetwork,
    build: Duration,
    cached_load: Option<Duration>,
    rss_mib: f64,
) -> anyhow::Result<Row> {
    let (nodes, arcs) = (network.nodes(), network.arcs().len());
    let network = Arc::new(network);
    let mut rng = SplitMix64::new(options.seed ^ nodes as u64);
    // Units and incidents on (or a few metres off) random graph nodes.
    let near_a_node = |rng: &mut SplitMix64| -> GeoPoint {
        let node = network
            .point(rng.below(nodes) as u32)
            .expect("a node of the graph");
        GeoPoint::new(
            node.latitude() + (rng.next_f64() - 0.5) * 1e-4,
            node.longitude() + (rng.next_f64() - 0.5) * 1e-4,
        )
        .expect("a point")
    };
    let now = Utc::now();
    let units: Vec<UnitState> = (0..CANDIDATES)
        .map(|_| UnitState {
            id: rng.uuid(),
            unit_type: UnitType::Engine,
            capabilities: vec!["engine".to_owned()],
            available: true,
            position: Some(Fix {
                point: near_a_node(&mut rng),
                fix_time: now,
            }),
            home: None,
        })
        .collect();
    let points: Vec<GeoPoint> = (0..options.queries)
        .map(|_| near_a_node(&mut rng))
        .collect();
    let straight = Engine::from_units(EngineConfig::default(), units.clone());
    let road = Engine::from_units(
        EngineConfig {
            travel: Box::new(RoadTravel::new(
                Arc::clone(&network),
                Box::new(GreatCircleTravel::default()),
                GreatCircleTravel::default(),
            )),
            ..EngineConfig::default()
        },
        units,
    );
    let plan = vec![Requirement {
        capability: "engine".to_owned(),
        count: u32::try_from(CANDIDATES - 2).unwrap_or(0),
        description: String::new(),
    }];
    let none = HashSet::new();
    let mut by_road = 0usize;
    let mut total = 0usize;
    let time = |engine: &Engine, count: &mut dyn FnMut(&[dispatch_geo::Fill])| {
        for &at in points.iter().take(20) {
            black_box(engine.recommend(at, &plan, &none, now));
        }
        let mut samples = Samples::with_capacity(points.len());
        for &at in &points {
            let t = Instant::now();
            let fills = engine.recommend(at, &plan, &none, now);
            samples.push(t.elapsed());
            count(&fills);
        }
        samples.summary()
    };
    let straight = time(&straight, &mut |_| {});
    let road = time(&road, &mut |fills| {
        for candidate in fills.iter().flat_map(|f| &f.candidates) {
            total += 1;
            by_road += usize::from(candidate.travel == TravelSource::Road);
        }
    });
    Ok(Row {
        name: name.to_owned(),
        nodes,
        arcs,
        build,
        cached_load,
        rss_mib,
        road,
        straight,
        by_road_share: by_road as f64 / total.max(1) as f64,
    })
}

/// The resident set of this process, MiB (Linux; 0 elsewhere).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Where the extract is under the data directory.
pub fn extract_in(data_dir: &Path) -> PathBuf {
    data_dir.join("osm/aguascalientes.osm.pbf")
}
