//! Section 2: position updates. Index only: `Engine::move_unit` per second. End to end:
//! `ReportPositions` client streams from concurrent AVL clients to an in-process `dispatchd`,
//! each report validated, stored in PostgreSQL (last fix wins) and applied to the engine.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use dispatch_domain::location::GeoPoint;
use dispatch_geo::synthetic::SplitMix64;
use dispatch_geo::{Engine, EngineConfig, Fix};
use dispatch_proto::v1 as pb;

use crate::cpu::{Cpu, CpuClock};
use crate::fleet;
use crate::pg::{self, PgCluster};
use crate::report::{Bench, Line, show};
use crate::server::{self, Server};

#[derive(Debug, Clone)]
pub struct Options {
    pub sizes: Vec<usize>,
    /// Timed `move_unit` calls per size.
    pub moves: usize,
    /// Concurrent ReportPositions streams.
    pub clients: usize,
    /// Reports per unit in the end-to-end run.
    pub rounds: usize,
    /// Reports per ReportPositions stream before the client opens a new one.
    pub stream_reports: usize,
    pub seed: u64,
}

pub async fn run(options: &Options, bench: Bench<'_>) -> anyhow::Result<()> {
    let Bench { cluster, report } = bench;
    println!(
        "\n## 2. Position updates\n\n{} timed `move_unit` calls per size; end to end: {} concurrent ReportPositions streams \
         (AVL gateway principals) of at most {} reports each, {} report(s) per unit, every report a new fix.\n",
        options.moves, options.clients, options.stream_reports, options.rounds
    );
    println!(
        "|     units | index moves/s (all units) | index moves/s (available units) | e2e reports | e2e s | e2e reports/s | CPU µs/report ours+PG | server start s |"
    );
    println!(
        "|----------:|--------------------------:|--------------------------------:|------------:|------:|--------------:|----------------------:|---------------:|"
    );
    let mut last = None;
    for &size in &options.sizes {
        let now = Utc::now();
        let fleet = fleet::fleet(options.seed, size, now);
        let engine_fleet = fleet.clone();
        let engine_options = options.clone();
        let (all_rate, available_rate) =
            tokio::task::spawn_blocking(move || index_rates(&engine_options, engine_fleet, now))
                .await?;
        let e2e = end_to_end(options, cluster, &fleet, size)
            .await
            .with_context(|| format!("end-to-end position reports at {size} units"))?;
        let (cpu_ours, cpu_pg) = e2e.cpu_us();
        println!(
            "| {:>9} | {:>25.0} | {:>31.0} | {:>11} | {:>5.1} | {:>13.0} | {:>21} | {:>14.2} |",
            size,
            all_rate,
            available_rate,
            e2e.accepted,
            e2e.elapsed.as_secs_f64(),
            e2e.rate(),
            format!("{cpu_ours:.1}+{cpu_pg:.1}"),
            e2e.server_start.as_secs_f64(),
        );
        report.set(&format!("position_e2e_cpu_us_ours_{size}"), cpu_ours);
        report.set(&format!("position_e2e_cpu_us_postgres_{size}"), cpu_pg);
        report.set(&format!("position_updates_per_s_index_{size}"), all_rate);
        report.set(
            &format!("position_updates_per_s_index_available_{size}"),
            available_rate,
        );
        report.set(&format!("position_updates_per_s_e2e_{size}"), e2e.rate());
        last = Some((size, all_rate, e2e.rate()));
    }
    let Some((size, index_rate, e2e_rate)) = last else {
        return Ok(());
    };
    report.set("position_units", size as f64);
    report.set("position_updates_per_s_index", index_rate);
    report.set("position_updates_per_s_e2e", e2e_rate);
    report.line(Line {
        what: format!("position updates end to end (gRPC + PostgreSQL), {size} units"),
        ours: show(Some(e2e_rate), "/s"),
        against: format!("index only {}", show(Some(index_rate), "/s")),
        target: ">= 20,000/s".into(),
        met: Some(e2e_rate >= 20_000.0),
    });
    Ok(())
}

fn jitter(rng: &mut SplitMix64, p: GeoPoint) -> GeoPoint {
    let lat = (p.latitude() + (rng.next_f64() - 0.5) * 0.002).clamp(-90.0, 90.0);
    let lon = (p.longitude() + (rng.next_f64() - 0.5) * 0.002).clamp(-180.0, 180.0);
    GeoPoint::new(lat, lon).unwrap_or(p)
}

/// Moves per second over random units of the whole fleet (90 % busy: the unit table only) and
/// over available units only (every capability tree they are in as well).
fn index_rates(
    options: &Options,
    fleet: Vec<dispatch_geo::UnitState>,
    now: DateTime<Utc>,
) -> (f64, f64) {
    let mut rng = SplitMix64::new(options.seed ^ 0x5eed);
    let all: Vec<(uuid::Uuid, GeoPoint)> = fleet
        .iter()
        .filter_map(|u| u.position.map(|f| (u.id, f.point)))
        .collect();
    let available: Vec<(uuid::Uuid, GeoPoint)> = fleet
        .iter()
        .filter(|u| u.available)
        .filter_map(|u| u.position.map(|f| (u.id, f.point)))
        .collect();
    let mut engine = Engine::from_units(EngineConfig::default(), fleet);
    let mut clock = 0_i64;
    let mut draw =
        |pool: &[(uuid::Uuid, GeoPoint)], rng: &mut SplitMix64| -> Vec<(uuid::Uuid, Fix)> {
            (0..options.moves)
                .filter_map(|_| {
                    let &(id, p) = pool.get(rng.below(pool.len()))?;
                    clock += 1;
                    Some((
                        id,
                        Fix {
                            point: jitter(rng, p),
                            fix_time: now + TimeDelta::microseconds(clock),
                        },
                    ))
                })
                .collect()
        };
    let all_moves = draw(&all, &mut rng);
    let available_moves = draw(&available, &mut rng);
    let mut rate = |moves: Vec<(uuid::Uuid, Fix)>| {
        let count = moves.len();
        let started = Instant::now();
        let applied = moves
            .into_iter()
            .filter(|&(id, fix)| engine.move_unit(id, fix))
            .count();
        let elapsed = started.elapsed();
        debug_assert_eq!(applied, count);
        count as f64 / elapsed.as_secs_f64().max(1e-9)
    };
    let all_rate = rate(all_moves);
    let available_rate = rate(available_moves);
    (all_rate, available_rate)
}

#[derive(Debug)]
struct EndToEnd {
    accepted: usize,
    elapsed: Duration,
    server_start: Duration,
    cpu: Cpu,
}

impl EndToEnd {
    fn rate(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// CPU microseconds per report: (this process, PostgreSQL).
    fn cpu_us(&self) -> (f64, f64) {
        let n = self.accepted.max(1) as f64;
        (self.cpu.ours * 1e6 / n, self.cpu.postgres * 1e6 / n)
    }
}

async fn end_to_end(
    options: &Options,
    cluster: &PgCluster,
    fleet: &[dispatch_geo::UnitState],
    size: usize,
) -> anyhow::Result<EndToEnd> {
    let database = format!("bench_positions_{size}");
    let url = cluster.dispatch_database(&database).await?;
    let db = pg::connect(&url).await?;
    fleet::load_units(&db, fleet).await?;
    db.batch_execute("VACUUM ANALYZE units").await?;

    let started = Instant::now();
    let server = Server::start(&url).await?;
    let clients = options.clients.max(1);
    let tokens = server
        .tokens(pb::Role::Gateway, "bench-avl", clients)
        .await?;
    let server_start = started.elapsed();

    // Every report is built before the clock starts; fix times increase per unit round by
    // round, and are newer than any stored fix, so every report is applied.
    let mut rng = SplitMix64::new(options.seed ^ 0xa11);
    let base = Utc::now();
    let mut per_client: Vec<Vec<pb::ReportPositionsRequest>> = vec![Vec::new(); clients];
    let positioned: Vec<(&dispatch_geo::UnitState, GeoPoint)> = fleet
        .iter()
        .filter_map(|u| u.position.map(|f| (u, f.point)))
        .collect();
    for round in 0..options.rounds {
        let fix_time = server::timestamp(base + TimeDelta::milliseconds(round as i64 + 1));
        for (i, (unit, point)) in positioned.iter().enumerate() {
            let point = jitter(&mut rng, *point);
            per_client[i % clients].push(pb::ReportPositionsRequest {
                request_id: server::request_id(),
                report: Some(pb::PositionReport {
                    unit: format!("units/{}", unit.id),
                    point: Some(pb::GeoPoint {
                        latitude: point.latitude(),
                        longitude: point.longitude(),
                    }),
                    accuracy_m: 8.0,
                    heading_deg: Some(rng.next_f64() * 359.0),
                    speed_mps: Some(rng.next_f64() * 20.0),
                    fix_time: Some(fix_time),
                }),
            });
        }
    }
    let sent: usize = per_client.iter().map(Vec::len).sum();

    let clock = CpuClock::new(cluster.root());
    let mut tasks = Vec::with_capacity(clients);
    let cpu_before = clock.now();
    let started = Instant::now();
    let per_stream = options.stream_reports.max(1);
    for (reports, token) in per_client.into_iter().zip(&tokens) {
        let mut client = server::units(server.connection()?, token)?;
        tasks.push(tokio::spawn(async move {
            // A stream lasts no longer than the server's request timeout allows (it applies to
            // the whole client stream): the client reopens one every `per_stream` reports.
            let mut summaries = Vec::new();
            let mut reports = reports.into_iter().peekable();
            while reports.peek().is_some() {
                let chunk: Vec<_> = reports.by_ref().take(per_stream).collect();
                summaries.push(
                    client
                        .report_positions(tokio_stream::iter(chunk))
                        .await?
                        .into_inner(),
                );
            }
            Ok::<_, tonic::Status>(summaries)
        }));
    }
    let mut accepted = 0;
    let mut superseded = 0;
    let mut rejected = 0;
    for task in tasks {
        for summary in task.await?.context("ReportPositions")? {
            accepted += usize::try_from(summary.accepted_count).unwrap_or(0);
            superseded += usize::try_from(summary.superseded_count).unwrap_or(0);
            rejected += summary.rejected.len();
        }
    }
    let elapsed = started.elapsed();
    let cpu = clock.now() - cpu_before;
    anyhow::ensure!(
        accepted == sent && superseded == 0 && rejected == 0,
        "{sent} reports sent: {accepted} applied, {superseded} superseded, {rejected} rejected"
    );
    // What the server said it stored is in the database.
    let stored: i64 = db
        .query_one(
            "SELECT count(*) FROM units WHERE fix_time > $1",
            &[&std::time::SystemTime::from(base)],
        )
        .await?
        .get(0);
    anyhow::ensure!(
        usize::try_from(stored).unwrap_or(0) == positioned.len(),
        "{stored} units have a new fix in the database, {} expected",
        positioned.len()
    );
    server.stop().await?;
    drop(db);
    cluster.drop_database(&database).await?;
    Ok(EndToEnd {
        accepted,
        elapsed,
        server_start,
        cpu,
    })
}
