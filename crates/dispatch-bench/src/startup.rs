//! Section 5: start-up. A database holding 100k units and 1M calls (with their incidents and
//! event log), loaded with SQL; then the real `dispatchd` binary is spawned with DATABASE_URL
//! pointing at it and timed from spawn to its health check answering SERVING.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use chrono::Utc;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use dispatch_domain::event::CallEvent;

use crate::fleet;
use crate::pg;
use crate::report::{Bench, Line, Samples, show};

#[derive(Debug, Clone)]
pub struct Options {
    pub units: usize,
    pub calls: usize,
    pub runs: usize,
    /// The binary to time; found beside this one (and built) when unset.
    pub dispatchd: Option<PathBuf>,
    pub seed: u64,
}

pub async fn run(options: &Options, bench: Bench<'_>) -> anyhow::Result<()> {
    let Bench { cluster, report } = bench;
    println!(
        "\n## 5. Start-up: `dispatchd` from spawn to health SERVING, {} units and {} calls stored\n",
        options.units, options.calls
    );
    let dispatchd = match &options.dispatchd {
        Some(path) => path.clone(),
        None => build_dispatchd().context("finding or building dispatchd")?,
    };
    println!("binary: {}", dispatchd.display());
    let url = cluster.dispatch_database("bench_startup").await?;
    let loading = Instant::now();
    let counts = load(&url, options).await?;
    println!(
        "loaded {} units, {} incidents, {} calls and {} events in {:.1} s (database {} MB)\n",
        counts.units,
        counts.incidents,
        counts.calls,
        counts.events,
        loading.elapsed().as_secs_f64(),
        counts.megabytes
    );
    println!("| run | spawn to SERVING s | migrated s | port bound s | engine built s |");
    println!("|----:|-------------------:|-----------:|-------------:|---------------:|");
    let mut times = Samples::default();
    for run in 1..=options.runs.max(1) {
        let timed = time_start(&dispatchd, &url, cluster.root()).await?;
        let phase =
            |d: Option<Duration>| d.map_or("n/a".into(), |d| format!("{:.2}", d.as_secs_f64()));
        println!(
            "| {run:>3} | {:>18.2} | {:>10} | {:>12} | {:>14} |",
            timed.serving.as_secs_f64(),
            phase(timed.migrated),
            phase(timed.listening),
            phase(timed.engine_built),
        );
        times.push(timed.serving);
    }
    let summary = times.summary();
    let startup = summary.p50.as_secs_f64();
    report.set("startup_s", startup);
    report.set("startup_max_s", summary.max.as_secs_f64());
    report.set("startup_units", counts.units as f64);
    report.set("startup_calls", counts.calls as f64);
    report.line(Line {
        what: format!(
            "start-up to SERVING (median of {}), {} units, {} calls",
            summary.count, counts.units, counts.calls
        ),
        ours: show(Some(startup), "s"),
        against: "-".into(),
        target: "< 5 s".into(),
        met: (counts.units >= 100_000 && counts.calls >= 1_000_000).then_some(startup < 5.0),
    });
    cluster.drop_database("bench_startup").await?;
    Ok(())
}

/// `dispatchd` beside this binary, built first with the same profile when cargo is at hand (a
/// no-op when it is up to date).
fn build_dispatchd() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .context("the benchmark binary has no directory")?;
    let candidate = dir.join("dispatchd");
    let release = dir.file_name().and_then(|n| n.to_str()) == Some("release");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command.args([
        "build",
        "--quiet",
        "-p",
        "dispatch-server",
        "--bin",
        "dispatchd",
    ]);
    if release {
        command.arg("--release");
    }
    println!(
        "building dispatchd ({}) ...",
        if release { "release" } else { "debug" }
    );
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) if candidate.exists() => {
            eprintln!("cargo build of dispatchd failed ({status}); timing the existing binary");
        }
        Ok(status) => anyhow::bail!("cargo build of dispatchd failed ({status})"),
        Err(error) if candidate.exists() => {
            eprintln!("cannot run cargo ({error}); timing the existing binary");
        }
        Err(error) => {
            return Err(error)
                .context("running cargo to build dispatchd (or pass --dispatchd PATH)");
        }
    }
    anyhow::ensure!(
        candidate.exists(),
        "{} not found (pass --dispatchd PATH)",
        candidate.display()
    );
    Ok(candidate)
}

#[derive(Debug)]
pub struct Counts {
    pub units: usize,
    pub incidents: i64,
    pub calls: i64,
    events: i64,
    megabytes: i64,
}

/// Units from the synthetic fleet; incidents and calls as a busy centre's archive: a fifth of
/// the calls opened an incident and another fifth was linked to it as a repeat call, the rest were
/// disposed (hang-ups, pranks...); every call has its `call_received` event.
pub async fn load(url: &str, options: &Options) -> anyhow::Result<Counts> {
    let db = pg::connect(url).await?;
    let fleet = fleet::fleet(options.seed, options.units, Utc::now());
    fleet::load_units(&db, &fleet).await?;
    let calls = i64::try_from(options.calls).unwrap_or(i64::MAX);
    let incidents = calls / 5;
    db.execute(
        "INSERT INTO incidents (id, folio, status, incident_type, priority, latitude, longitude, \
                                uncertainty_m, location_source, summary, linked_call_count, \
                                first_call_at, last_call_at, closing_code, created_by, created_at, \
                                updated_at, closed_at, status_at) \
         SELECT md5('incident' || g)::uuid, 'INC/BENCH/' || g, 'closed', 'TRAFFIC-COLLISION', 5, \
                19.25 + (g % 997) * 0.0003, -99.25 + (g % 991) * 0.0003, 50, 'device', \
                'archived incident', 2, t, t + interval '3 minutes', 'confirmed', 'bench', t, \
                t + interval '1 hour', t + interval '1 hour', t + interval '1 hour' \
         FROM generate_series(1, $1::bigint) AS g, \
              LATERAL (SELECT now() - interval '1 day' - g * interval '30 seconds' AS t) AS x",
        &[&incidents],
    )
    .await
    .context("loading incidents")?;
    // Call g (0-based): g % 5 in {0, 1} is linked to incident g / 5 + 1, the rest disposed.
    db.execute(
        "INSERT INTO calls (id, folio, channel, state, received_at, answered_at, call_taker, \
                            callback_number, latitude, longitude, uncertainty_m, location_source, \
                            account, incident_id, disposition) \
         SELECT md5('call' || g)::uuid, 'C5/BENCH/' || g, \
                (ARRAY['voice_911', 'voice_911', 'voice_911', 'app_911', 'camera'])[1 + (g % 5)::int], \
                CASE WHEN g % 5 < 2 THEN 'linked' ELSE 'disposed' END, t, t + interval '4 seconds', \
                'bench', '+5255' || lpad((g % 99999989)::text, 8, '0'), \
                19.25 + (g % 997) * 0.0003, -99.25 + (g % 991) * 0.0003, 50, 'device', \
                'archived call', \
                CASE WHEN g % 5 < 2 THEN md5('incident' || (g / 5 + 1))::uuid END, \
                CASE WHEN g % 5 >= 2 THEN (ARRAY['hang_up', 'prank', 'misdial'])[1 + (g % 3)::int] END \
         FROM generate_series(0, $1::bigint - 1) AS g, \
              LATERAL (SELECT now() - interval '1 day' - (g / 5) * interval '30 seconds' AS t) AS x",
        &[&calls],
    )
    .await
    .context("loading calls")?;
    // Details as `CallEvent::Received` stores them: the server reads them from the feed.
    db.execute(
        "INSERT INTO events (occurred_at, actor, kind, call_id, details) \
         SELECT received_at, 'bench', $1::text, id, \
                jsonb_build_object('folio', folio, 'channel', channel, \
                                   'received_at', received_at, 'answered_at', answered_at, \
                                   'back_entered', back_entered) \
         FROM calls ORDER BY received_at",
        &[&CallEvent::RECEIVED],
    )
    .await
    .context("loading the event log")?;
    // What autovacuum would have done by the time a real centre restarts.
    db.batch_execute("VACUUM ANALYZE").await?;
    db.batch_execute("CHECKPOINT").await?;
    let count = |table: &'static str| {
        let db = &db;
        async move {
            let n: i64 = db
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await?
                .get(0);
            anyhow::Ok(n)
        }
    };
    let megabytes: i64 = db
        .query_one("SELECT pg_database_size(current_database()) / 1048576", &[])
        .await?
        .get(0);
    Ok(Counts {
        units: fleet.len(),
        incidents: count("incidents").await?,
        calls: count("calls").await?,
        events: count("events").await?,
        megabytes,
    })
}

#[derive(Debug)]
struct Timed {
    serving: Duration,
    migrated: Option<Duration>,
    engine_built: Option<Duration>,
    listening: Option<Duration>,
}

async fn time_start(dispatchd: &Path, url: &str, log_dir: &Path) -> anyhow::Result<Timed> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let log_path = log_dir.join("dispatchd-startup.log");
    let log = std::fs::File::create(&log_path)?;
    let mut command = tokio::process::Command::new(dispatchd);
    command
        .env("DATABASE_URL", url)
        .env("DISPATCH_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "DISPATCH_ADMIN_TOKEN",
            format!("bench-{}", uuid::Uuid::new_v4().simple()),
        )
        .env("DISPATCH_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true);
    let spawned_at = SystemTime::now();
    let started = Instant::now();
    let mut child = command.spawn().context("spawning dispatchd")?;
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_millis(500));
    let serving = loop {
        if let Some(status) = child.try_wait()? {
            anyhow::bail!(
                "dispatchd exited with {status} before serving; see {}",
                log_path.display()
            );
        }
        if started.elapsed() > Duration::from_secs(120) {
            anyhow::bail!(
                "dispatchd not SERVING after 120 s; see {}",
                log_path.display()
            );
        }
        if let Ok(channel) = endpoint.connect().await {
            let mut health = HealthClient::new(channel);
            if let Ok(response) = health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                && response.into_inner().status() == ServingStatus::Serving
            {
                break started.elapsed();
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    if let Some(pid) = child.id() {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pid)?);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    }
    match tokio::time::timeout(Duration::from_secs(20), child.wait()).await {
        Ok(status) => {
            status?;
        }
        Err(_) => {
            child.kill().await?;
        }
    }
    let phases = phases(&log_path, spawned_at);
    Ok(Timed {
        serving,
        migrated: phases.migrated,
        engine_built: phases.engine_built,
        listening: phases.listening,
    })
}

#[derive(Debug, Default)]
struct Phases {
    migrated: Option<Duration>,
    engine_built: Option<Duration>,
    listening: Option<Duration>,
}

/// When dispatchd logged each step, from its JSON log, relative to the spawn.
fn phases(log: &Path, spawned_at: SystemTime) -> Phases {
    let mut phases = Phases::default();
    let Ok(text) = std::fs::read_to_string(log) else {
        return phases;
    };
    let spawned: chrono::DateTime<Utc> = spawned_at.into();
    for line in text.lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(at) = value
            .get("timestamp")
            .and_then(|t| t.as_str())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        else {
            continue;
        };
        let since = (at.with_timezone(&Utc) - spawned).to_std().ok();
        let message = value
            .pointer("/fields/message")
            .and_then(|m| m.as_str())
            .unwrap_or_default();
        match message {
            "migrations up to date" => phases.migrated = since,
            "engine built" => phases.engine_built = since,
            "serving gRPC" => phases.listening = since,
            _ => {}
        }
    }
    phases
}
