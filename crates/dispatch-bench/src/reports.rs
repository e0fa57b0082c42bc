//! Section 6: reports over a centre's history. The start-up section's database (100k units, 1M
//! calls, 200k incidents) with every incident's units and their recorded times added (one unit
//! per incident, a second for every third, each with dispatch, en route, on scene and clear
//! times, and the units' status history), then each ReportingService report (intervals, hot
//! spots, utilization, duplicates) over the whole period, timed over gRPC against an in-process
//! `dispatchd`.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::reporting_service_client::ReportingServiceClient;

use crate::pg;
use crate::report::{Bench, Line, Samples, show};
use crate::server::{self, Server};
use crate::startup;

#[derive(Debug, Clone)]
pub struct Options {
    pub units: usize,
    pub calls: usize,
    pub runs: usize,
    pub seed: u64,
}

pub async fn run(options: &Options, bench: Bench<'_>) -> anyhow::Result<()> {
    let Bench { cluster, report } = bench;
    println!(
        "\n## 6. Reports over {} calls: each ReportingService report over the whole history\n",
        options.calls
    );
    let url = cluster.dispatch_database("bench_reports").await?;
    let loading = Instant::now();
    let counts = startup::load(
        &url,
        &startup::Options {
            units: options.units,
            calls: options.calls,
            runs: 0,
            dispatchd: None,
            seed: options.seed,
        },
    )
    .await?;
    let assignments = load_assignments(&url).await?;
    println!(
        "loaded {} units, {} incidents, {} calls, {assignments} assignments in {:.1} s\n",
        counts.units,
        counts.incidents,
        counts.calls,
        loading.elapsed().as_secs_f64()
    );
    let server = Server::start(&url).await?;
    let stamping = Instant::now();
    wait_for_geography(&url).await?;
    println!(
        "the server stamped every incident's area, station area and H3 cell in {:.1} s \
         (once, after an upgrade; reports are timed after)\n",
        stamping.elapsed().as_secs_f64()
    );
    let token = server.token(pb::Role::Supervisor, "bench-reports").await?;
    let mut client = ReportingServiceClient::new(server::authed(server.connection()?, &token)?);
    let now = Utc::now();
    let period = Some(pb::ReportPeriod {
        start_time: Some(server::timestamp(now - chrono::Duration::days(120))),
        end_time: Some(server::timestamp(now)),
        time_zone: "America/Mexico_City".into(),
    });
    println!("| report | runs | p50 ms | max ms | what it covered |");
    println!("|--------|-----:|-------:|-------:|-----------------|");
    let runs = options.runs.max(1);
    let mut worst_p50 = Duration::ZERO;
    macro_rules! time_report {
        ($name:literal, $key:literal, $call:expr, $covered:expr) => {{
            let mut samples = Samples::default();
            let mut covered = String::new();
            for _ in 0..runs {
                let started = Instant::now();
                let answer = $call.await.context($name)?.into_inner();
                samples.push(started.elapsed());
                covered = $covered(&answer);
            }
            let summary = samples.summary();
            println!(
                "| {} | {runs} | {:.0} | {:.0} | {covered} |",
                $name,
                summary.p50.as_secs_f64() * 1e3,
                summary.max.as_secs_f64() * 1e3
            );
            report.set($key, summary.p50.as_secs_f64() * 1e3);
            worst_p50 = worst_p50.max(summary.p50);
        }};
    }
    time_report!(
        "GetIntervalReport",
        "report_intervals_p50_ms",
        client.get_interval_report(pb::GetIntervalReportRequest {
            period: period.clone(),
            group_by: Vec::new(),
            targets: Vec::new(),
        }),
        |a: &pb::GetIntervalReportResponse| format!(
            "{} incidents, {} assignments",
            a.incidents, a.assignments
        )
    );
    time_report!(
        "GetIntervalReport by unit type and hour",
        "report_intervals_grouped_p50_ms",
        client.get_interval_report(pb::GetIntervalReportRequest {
            period: period.clone(),
            group_by: vec![
                pb::ReportDimension::UnitType.into(),
                pb::ReportDimension::HourOfDay.into()
            ],
            targets: Vec::new(),
        }),
        |a: &pb::GetIntervalReportResponse| format!("{} groups", a.groups.len())
    );
    time_report!(
        "GetHotSpotReport",
        "report_hot_spots_p50_ms",
        client.get_hot_spot_report(pb::GetHotSpotReportRequest {
            period: period.clone(),
            resolution: 9,
            ..Default::default()
        }),
        |a: &pb::GetHotSpotReportResponse| format!(
            "{} incidents, {} cells listed",
            a.total,
            a.cells.len()
        )
    );
    time_report!(
        "GetUtilizationReport",
        "report_utilization_p50_ms",
        client.get_utilization_report(pb::GetUtilizationReportRequest {
            period: period.clone(),
            ..Default::default()
        }),
        |a: &pb::GetUtilizationReportResponse| format!("{} units on its first page", a.units.len())
    );
    time_report!(
        "GetDuplicateReport",
        "report_duplicates_p50_ms",
        client.get_duplicate_report(pb::GetDuplicateReportRequest {
            period: period.clone()
        }),
        |a: &pb::GetDuplicateReportResponse| format!(
            "{} calls",
            a.total.as_ref().map_or(0, |t| t.calls)
        )
    );
    let worst = worst_p50.as_secs_f64();
    report.set("report_worst_p50_s", worst);
    report.line(Line {
        what: format!(
            "slowest report (median of {runs}) over {} calls",
            counts.calls
        ),
        ours: show(Some(worst), "s"),
        against: "-".into(),
        target: "< 1 s".into(),
        met: (counts.calls >= 1_000_000).then_some(worst < 1.0),
    });
    server.stop().await?;
    cluster.drop_database("bench_reports").await?;
    Ok(())
}

/// Waits until `dispatchd` has stamped every loaded incident with its geography (it does so
/// in the background once it serves, as after an upgrade): timing reports meanwhile would
/// time that work too.
async fn wait_for_geography(url: &str) -> anyhow::Result<()> {
    let db = pg::connect(url).await?;
    let patience = Instant::now();
    loop {
        let row = db
            .query_one("SELECT count(*) FROM incidents WHERE h3_cell IS NULL", &[])
            .await?;
        if row.get::<_, i64>(0) == 0 {
            return Ok(());
        }
        anyhow::ensure!(
            patience.elapsed() < Duration::from_secs(600),
            "the server has not stamped the incidents' geography in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every incident's units with their times, and the units' status history to match: the first
/// unit dispatched 30–90 s after the first call, en route 40–100 s later, on scene 3–9 min later,
/// clear after half an hour; every third incident also an ambulance that transports.
async fn load_assignments(url: &str) -> anyhow::Result<u64> {
    let db = pg::connect(url).await?;
    let inserted = db
        .execute(
            "WITH fleet AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM units), \
                  size AS (SELECT count(*) AS n FROM units), \
                  numbered AS (SELECT id, first_call_at AS t, row_number() OVER (ORDER BY id) AS g \
                               FROM incidents), \
                  sent AS ( \
                    SELECT i.id AS incident_id, i.t, i.g, k, f.id AS unit_id \
                    FROM numbered i CROSS JOIN generate_series(0, 1) AS k CROSS JOIN size \
                    JOIN fleet f ON f.n = (i.g * 7 + k * 13) % size.n \
                    WHERE k = 0 OR i.g % 3 = 0 \
                  ) \
             INSERT INTO assignments (incident_id, unit_id, override_reason, assigned_by, \
                                      dispatched_at, en_route_at, on_scene_at, transporting_at, \
                                      at_hospital_at, cleared_at, created_at) \
             SELECT incident_id, unit_id, 'bench', 'bench', \
                    t + (30 + g % 60) * interval '1 second', \
                    t + (70 + g % 60 + (g * 7) % 60) * interval '1 second', \
                    t + (250 + g % 60 + (g * 7) % 60 + (g * 13) % 360) * interval '1 second', \
                    CASE WHEN k = 1 THEN t + interval '25 minutes' END, \
                    CASE WHEN k = 1 THEN t + interval '40 minutes' END, \
                    t + interval '60 minutes', t \
             FROM sent",
            &[],
        )
        .await
        .context("loading assignments")?;
    db.execute(
        "INSERT INTO unit_status_history (unit_id, status, status_at) \
         SELECT unit_id, s.status, s.at FROM assignments a, LATERAL (VALUES \
             ('dispatched', a.dispatched_at), ('en_route', a.en_route_at), \
             ('on_scene', a.on_scene_at), ('available', a.cleared_at)) AS s(status, at)",
        &[],
    )
    .await
    .context("loading the units' status history")?;
    // The load's bulk statements update every incident once (its opening call) and every
    // status span once (its end) right after inserting it, leaving each table half dead rows;
    // a live centre's autovacuum reuses that space as it goes. Compact them, so that reports
    // read tables as dense as a centre's.
    db.batch_execute("VACUUM FULL incidents, unit_status_spans")
        .await?;
    db.batch_execute("VACUUM ANALYZE").await?;
    Ok(inserted)
}
