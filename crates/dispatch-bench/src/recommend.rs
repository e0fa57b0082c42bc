//! Section 1: the 5 best available units with a capability, 90 % of units busy. Our engine
//! (`recommend` of a one-requirement plan, as RecommendUnits calls it, and the bare `nearest`),
//! a brute-force scan of every unit, and PostgreSQL + PostGIS (a GiST index, `ORDER BY geom <->
//! point LIMIT 5` filtered to available units with the capability) over the same units and the
//! same query points, in one run.

use std::collections::HashSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use dispatch_domain::location::GeoPoint;
use dispatch_domain::triage::Requirement;
use dispatch_geo::synthetic::SplitMix64;
use dispatch_geo::{Engine, EngineConfig, Nearest, UnitState};

use crate::fleet;
use crate::pg;
use crate::report::{Bench, Line, Samples, Summary, ratio, show, us};

const CAPABILITY: &str = "aed";

#[derive(Debug, Clone)]
pub struct Options {
    pub sizes: Vec<usize>,
    pub queries: usize,
    pub scan_queries: usize,
    pub postgis_queries: usize,
    pub seed: u64,
}

#[derive(Debug, Clone, Copy)]
struct Row {
    units: usize,
    candidates: usize,
    build: Duration,
    recommend: Summary,
    nearest: Summary,
    scan: Summary,
    postgis: Option<Summary>,
    postgis_load: Option<Duration>,
}

pub async fn run(options: &Options, bench: Bench<'_>) -> anyhow::Result<()> {
    let Bench { cluster, report } = bench;
    println!(
        "\n## 1. Recommendation: 5 best available units with capability `{CAPABILITY}`, 90 % busy\n"
    );
    let postgis = match pg::postgis_control_file() {
        Some(_) => {
            let url = cluster.plain_database("bench_postgis").await?;
            let client = pg::connect(&url).await?;
            client
                .batch_execute("CREATE EXTENSION IF NOT EXISTS postgis")
                .await
                .context("CREATE EXTENSION postgis")?;
            let version: String = client
                .query_one("SELECT postgis_lib_version()", &[])
                .await?
                .get(0);
            println!(
                "PostGIS {version} on the same private cluster: one connection, a prepared statement, sequential queries."
            );
            Some(client)
        }
        None => {
            let major = pg::server_major();
            let message = format!(
                "PostGIS is not installed (no /usr/share/postgresql/{major}/extension/postgis.control): \
                 the PostGIS comparison is skipped. Install it with \
                 `apt-get install -y postgresql-{major}-postgis-3` and run again."
            );
            println!("{message}");
            report.note(message);
            None
        }
    };
    println!(
        "{} engine queries, {} scans and {} PostGIS queries per size.\n",
        options.queries, options.scan_queries, options.postgis_queries
    );
    println!(
        "|     units | avail+pos w/ cap | engine build ms | recommend p50 µs | p99 µs | nearest p50 µs | p99 µs | scan p50 µs | p99 µs | PostGIS p50 µs | p99 µs | PostGIS load s | scan/engine | PostGIS/engine p50 | p99 |"
    );
    println!(
        "|----------:|-----------------:|----------------:|-----------------:|-------:|---------------:|-------:|------------:|-------:|---------------:|-------:|---------------:|------------:|-------------------:|----:|"
    );
    let now = Utc::now();
    let mut rows = Vec::new();
    for &size in &options.sizes {
        let row = measure(options, size, now, postgis.as_ref()).await?;
        let pg = row.postgis;
        println!(
            "| {:>9} | {:>16} | {:>15.1} | {:>16.1} | {:>6.1} | {:>14.1} | {:>6.1} | {:>11.0} | {:>6.0} | {:>14} | {:>6} | {:>14} | {:>10.0}x | {:>18} | {:>3} |",
            row.units,
            row.candidates,
            row.build.as_secs_f64() * 1e3,
            us(row.recommend.p50),
            us(row.recommend.p99),
            us(row.nearest.p50),
            us(row.nearest.p99),
            us(row.scan.p50),
            us(row.scan.p99),
            pg.map_or("n/a".into(), |s| format!("{:.0}", us(s.p50))),
            pg.map_or("n/a".into(), |s| format!("{:.0}", us(s.p99))),
            row.postgis_load
                .map_or("n/a".into(), |d| format!("{:.1}", d.as_secs_f64())),
            us(row.scan.p50) / us(row.recommend.p50).max(1e-9),
            pg.map_or("n/a".into(), |s| format!(
                "{:.0}x",
                us(s.p50) / us(row.recommend.p50).max(1e-9)
            )),
            pg.map_or("n/a".into(), |s| format!(
                "{:.0}x",
                us(s.p99) / us(row.recommend.p99).max(1e-9)
            )),
        );
        let key = |name: &str| format!("{name}_{}", row.units);
        report.set(&key("recommend_p50_us"), us(row.recommend.p50));
        report.set(&key("recommend_p99_us"), us(row.recommend.p99));
        report.set(&key("nearest_p99_us"), us(row.nearest.p99));
        report.set(&key("bruteforce_p50_us"), us(row.scan.p50));
        report.set(&key("postgis_p50_us"), pg.map(|s| us(s.p50)));
        report.set(&key("postgis_p99_us"), pg.map(|s| us(s.p99)));
        rows.push(row);
    }
    // The headline is 100k units, the size the targets name; else the largest measured.
    let headline = rows
        .iter()
        .find(|r| r.units == 100_000)
        .or_else(|| rows.iter().max_by_key(|r| r.units));
    let Some(row) = headline else {
        return Ok(());
    };
    let p50 = us(row.recommend.p50);
    let p99 = us(row.recommend.p99);
    let pg50 = row.postgis.map(|s| us(s.p50));
    let pg99 = row.postgis.map(|s| us(s.p99));
    let vs_pg = ratio(pg50, Some(p50));
    let vs_pg99 = ratio(pg99, Some(p99));
    report.set("recommend_units", row.units as f64);
    report.set("recommend_p50_us", p50);
    report.set("recommend_p99_us", p99);
    report.set(
        "recommend_vs_bruteforce_ratio",
        ratio(Some(us(row.scan.p50)), Some(p50)),
    );
    report.set("recommend_vs_postgis_ratio", vs_pg);
    report.set("recommend_vs_postgis_ratio_p99", vs_pg99);
    report.set("postgis_p50_us", pg50);
    report.set("postgis_p99_us", pg99);
    let units = row.units;
    report.line(Line {
        what: format!("recommend p99, {units} units"),
        ours: show(Some(p99), "µs"),
        against: format!("PostGIS {}", show(pg99, "µs")),
        target: "< 50 µs".into(),
        met: (units == 100_000).then_some(p99 < 50.0),
    });
    report.line(Line {
        what: format!("recommend vs PostGIS KNN, {units} units (p50 ratio; p99 ratio)"),
        ours: format!("{}; {}", show(vs_pg, "x"), show(vs_pg99, "x")),
        against: format!("PostGIS p50 {}", show(pg50, "µs")),
        target: ">= 20x".into(),
        met: vs_pg.map(|r| r >= 20.0 && vs_pg99.is_none_or(|r99| r99 >= 20.0)),
    });
    report.line(Line {
        what: format!("recommend vs brute-force scan, {units} units (p50)"),
        ours: show(ratio(Some(us(row.scan.p50)), Some(p50)), "x"),
        against: format!("scan p50 {}", show(Some(us(row.scan.p50)), "µs")),
        target: "-".into(),
        met: None,
    });
    Ok(())
}

fn plan() -> Vec<Requirement> {
    // Three picks plus the engine's two alternates: the 5 best.
    vec![Requirement {
        capability: CAPABILITY.to_owned(),
        count: 3,
        description: String::new(),
    }]
}

async fn measure(
    options: &Options,
    size: usize,
    now: DateTime<Utc>,
    postgis: Option<&tokio_postgres::Client>,
) -> anyhow::Result<Row> {
    let fleet = fleet::fleet(options.seed, size, now);
    let candidates = fleet
        .iter()
        .filter(|u| u.available && u.position.is_some())
        .filter(|u| u.capabilities.iter().any(|c| c == CAPABILITY))
        .count();
    let mut rng = SplitMix64::new(options.seed.wrapping_mul(31) ^ size as u64);
    let count = options
        .queries
        .max(options.scan_queries)
        .max(options.postgis_queries);
    let points: Vec<GeoPoint> = (0..count).map(|_| fleet::REGION.point(&mut rng)).collect();

    // The engine is pure CPU: run it off the async workers, alone.
    let engine_fleet = fleet.clone();
    let engine_points = points.clone();
    let engine_options = options.clone();
    let (build, recommend, nearest, scan) = tokio::task::spawn_blocking(move || {
        time_engine(&engine_options, engine_fleet, &engine_points, now)
    })
    .await??;

    let (postgis_summary, postgis_load) = match postgis {
        Some(client) => {
            let (summary, load) = time_postgis(client, &fleet, &points, options.postgis_queries)
                .await
                .with_context(|| format!("PostGIS at {size} units"))?;
            (Some(summary), Some(load))
        }
        None => (None, None),
    };
    Ok(Row {
        units: size,
        candidates,
        build,
        recommend,
        nearest,
        scan,
        postgis: postgis_summary,
        postgis_load,
    })
}

type EngineTimes = (Duration, Summary, Summary, Summary);

fn time_engine(
    options: &Options,
    fleet: Vec<UnitState>,
    points: &[GeoPoint],
    now: DateTime<Utc>,
) -> anyhow::Result<EngineTimes> {
    let started = Instant::now();
    let engine = Engine::from_units(EngineConfig::default(), fleet);
    let build = started.elapsed();
    let none = HashSet::new();
    let plan = plan();
    // Warm the caches and the branch predictors like a running server's would be.
    for &at in points.iter().take(200) {
        black_box(engine.recommend(at, &plan, &none, now));
    }
    let mut recommend = Samples::with_capacity(options.queries);
    let mut nearest = Samples::with_capacity(options.queries);
    for &at in points.iter().take(options.queries) {
        let t = Instant::now();
        black_box(engine.recommend(at, &plan, &none, now));
        recommend.push(t.elapsed());
        let t = Instant::now();
        black_box(engine.nearest(&Nearest::new(at, Some(CAPABILITY), 5, now)));
        nearest.push(t.elapsed());
    }
    let mut scan = Samples::with_capacity(options.scan_queries);
    for &at in points.iter().take(options.scan_queries) {
        let t = Instant::now();
        let scanned =
            black_box(engine.nearest_by_scan(&Nearest::new(at, Some(CAPABILITY), 5, now)));
        scan.push(t.elapsed());
        let indexed = engine.nearest(&Nearest::new(at, Some(CAPABILITY), 5, now));
        anyhow::ensure!(
            indexed == scanned,
            "the engine and the scan disagree at {at:?}"
        );
    }
    Ok((
        build,
        recommend.summary(),
        nearest.summary(),
        scan.summary(),
    ))
}

async fn time_postgis(
    client: &tokio_postgres::Client,
    fleet: &[UnitState],
    points: &[GeoPoint],
    queries: usize,
) -> anyhow::Result<(Summary, Duration)> {
    let started = Instant::now();
    client
        .batch_execute(
            "DROP TABLE IF EXISTS bench_units; \
             CREATE TABLE bench_units (id uuid PRIMARY KEY, available boolean NOT NULL, \
                                       capabilities text[] NOT NULL, \
                                       geom geometry(Point, 4326) NOT NULL)",
        )
        .await?;
    let insert = client
        .prepare(
            "INSERT INTO bench_units (id, available, capabilities, geom) \
             SELECT id::uuid, available, string_to_array(capabilities, ','), \
                    ST_SetSRID(ST_MakePoint(longitude, latitude), 4326) \
             FROM unnest($1::text[], $2::bool[], $3::text[], $4::float8[], $5::float8[]) \
                  AS t(id, available, capabilities, longitude, latitude)",
        )
        .await?;
    let positioned: Vec<&UnitState> = fleet.iter().filter(|u| u.position.is_some()).collect();
    for chunk in positioned.chunks(20_000) {
        let ids: Vec<String> = chunk.iter().map(|u| u.id.to_string()).collect();
        let available: Vec<bool> = chunk.iter().map(|u| u.available).collect();
        let capabilities: Vec<String> = chunk.iter().map(|u| u.capabilities.join(",")).collect();
        let longitudes: Vec<f64> = chunk
            .iter()
            .filter_map(|u| u.position.map(|f| f.point.longitude()))
            .collect();
        let latitudes: Vec<f64> = chunk
            .iter()
            .filter_map(|u| u.position.map(|f| f.point.latitude()))
            .collect();
        client
            .execute(
                &insert,
                &[&ids, &available, &capabilities, &longitudes, &latitudes],
            )
            .await?;
    }
    client
        .batch_execute("CREATE INDEX bench_units_geom ON bench_units USING gist (geom)")
        .await?;
    client.batch_execute("VACUUM ANALYZE bench_units").await?;
    let load = started.elapsed();
    let query = client
        .prepare_typed(
            "SELECT id FROM bench_units \
             WHERE available AND $3 = ANY (capabilities) \
             ORDER BY geom <-> ST_SetSRID(ST_MakePoint($1, $2), 4326) \
             LIMIT 5",
            &[
                tokio_postgres::types::Type::FLOAT8,
                tokio_postgres::types::Type::FLOAT8,
                tokio_postgres::types::Type::TEXT,
            ],
        )
        .await?;
    let plan: Vec<String> = client
        .query(
            "EXPLAIN SELECT id FROM bench_units WHERE available AND 'aed' = ANY (capabilities) \
             ORDER BY geom <-> ST_SetSRID(ST_MakePoint(-99.1, 19.4), 4326) LIMIT 5",
            &[],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    anyhow::ensure!(
        plan.iter().any(|line| line.contains("bench_units_geom")),
        "PostGIS does not use the GiST index: {plan:?}"
    );
    let capability = CAPABILITY;
    // Warm-up: the plan cache (a generic plan after five runs) and the buffer cache.
    for at in points.iter().take(200) {
        client
            .query(&query, &[&at.longitude(), &at.latitude(), &capability])
            .await?;
    }
    let mut samples = Samples::with_capacity(queries);
    for at in points.iter().take(queries) {
        let t = Instant::now();
        let rows = client
            .query(&query, &[&at.longitude(), &at.latitude(), &capability])
            .await?;
        samples.push(t.elapsed());
        anyhow::ensure!(rows.len() == 5, "PostGIS found {} units", rows.len());
    }
    Ok((samples.summary(), load))
}
