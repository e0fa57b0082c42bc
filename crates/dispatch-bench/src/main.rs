//! `dispatch-bench`: the benchmark suite of issue 10. Every figure is measured in one run next to
//! what a centre would otherwise use (a brute-force scan and PostGIS for recommendations, raw
//! INSERT commits of the same PostgreSQL for call intake), and reported as ratios, because the
//! machines it runs on are shared and noisy.
//!
//! ```sh
//! cargo run --release -p dispatch-bench -- [--quick] [--json PATH] [--only SECTION]...
//! ```
//!
//! Everything runs on this machine: a private durable PostgreSQL cluster from the installed
//! binaries (as `dispatchd` runs without DATABASE_URL), `dispatchd` in process on port 0, and the
//! real `dispatchd` binary for the start-up section. docs/BENCHMARKS.md records the figures.

mod cpu;
mod fanout;
mod fleet;
mod intake;
mod pg;
mod positions;
mod quality;
mod recommend;
mod recommend_rpc;
mod report;
mod reports;
mod roads;
mod server;
mod startup;
mod surge;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser as _;

use crate::report::{Bench, Report};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Section {
    Recommend,
    RecommendRpc,
    Positions,
    Intake,
    Fanout,
    Startup,
    /// Reports (ReportingService) over the start-up section's million-call history.
    Reports,
    /// Offline: held-out quality of the learned judgments, from the data sets.
    Quality,
    /// Offline: road graph preparation and recommend by drive time, against the straight line.
    Roads,
    /// A surge of calls (issue 23): CreateCall latency under an open-loop arrival schedule, and
    /// every call's top duplicate suggestion against a quiet replay of the same calls.
    Surge,
}

/// The benchmark suite: recommendation, position updates, call intake, fan-out and start-up,
/// each beside its alternative, in one run.
#[derive(Debug, clap::Parser)]
#[command(name = "dispatch-bench")]
struct Args {
    /// Smaller sizes and shorter runs (about three minutes on 2 cores); the JSON says
    /// `"mode": "quick"`.
    #[arg(long)]
    quick: bool,

    /// Also write the figures as one flat JSON object to this file.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,

    /// Run only these sections (repeatable, or comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Section>,

    /// Seed of the synthetic fleets and calls.
    #[arg(long, default_value_t = 5)]
    seed: u64,

    /// Fleet sizes of the recommendation section [full: 10000,100000,1000000; quick: 10000,100000].
    #[arg(long, value_delimiter = ',')]
    recommend_sizes: Option<Vec<usize>>,

    /// Timed engine queries per size [full: 5000; quick: 2000].
    #[arg(long)]
    recommend_queries: Option<usize>,

    /// Units in the database of the RecommendUnits-over-gRPC section [full: 100000; quick: 10000].
    #[arg(long)]
    recommend_rpc_units: Option<usize>,

    /// Timed RecommendUnits calls [full: 2000; quick: 500].
    #[arg(long)]
    recommend_rpc_queries: Option<usize>,

    /// Timed brute-force scans per size [full: 100; quick: 50].
    #[arg(long)]
    scan_queries: Option<usize>,

    /// Timed PostGIS queries per size [2000].
    #[arg(long)]
    postgis_queries: Option<usize>,

    /// Fleet sizes of the position section [10000,100000].
    #[arg(long, value_delimiter = ',')]
    position_sizes: Option<Vec<usize>>,

    /// Timed `move_unit` calls per size [full: 500000; quick: 200000].
    #[arg(long)]
    position_moves: Option<usize>,

    /// Concurrent ReportPositions streams [16].
    #[arg(long)]
    position_clients: Option<usize>,

    /// Reports per unit in the end-to-end position run [full: 3; quick: 1].
    #[arg(long)]
    position_rounds: Option<usize>,

    /// Reports per ReportPositions stream; a client then opens another (the server's request
    /// timeout, 10 s by default, ends longer streams) [2000].
    #[arg(long)]
    position_stream_reports: Option<usize>,

    /// Concurrent call takers, one level after another [1,16,64].
    #[arg(long, value_delimiter = ',')]
    intake_clients: Option<Vec<usize>>,

    /// Measured seconds per intake level, kind and round [full: 10; quick: 4].
    #[arg(long)]
    intake_seconds: Option<f64>,

    /// Rounds per intake level, each the baseline then CreateCall [full: 2; quick: 1].
    #[arg(long)]
    intake_rounds: Option<usize>,

    /// Open incidents the duplicate search looks through [1000].
    #[arg(long)]
    open_incidents: Option<usize>,

    /// Watching consoles [1000].
    #[arg(long)]
    fanout_watchers: Option<usize>,

    /// Assignments whose delivery is timed, per round [full: 100; quick: 30].
    #[arg(long)]
    fanout_assignments: Option<usize>,

    /// HTTP/2 connections the watchers' streams are multiplexed over [8].
    #[arg(long)]
    fanout_channels: Option<usize>,

    /// Milliseconds between two assignments [20].
    #[arg(long)]
    fanout_interval_ms: Option<u64>,

    /// Which feed the consoles watch.
    #[arg(long, value_enum, default_value = "incidents")]
    fanout_feed: fanout::Feed,

    /// Watchers on the assigning server, on a second server sharing the database, or both.
    #[arg(long, value_enum, default_value = "both")]
    fanout_mode: fanout::Mode,

    /// Seconds the surge's calls arrive over [full: 300; quick: 60].
    #[arg(long)]
    surge_seconds: Option<f64>,

    /// Calls in the surge [10000 per 300 s of --surge-seconds].
    #[arg(long)]
    surge_calls: Option<usize>,

    /// Open incidents the surge's calls are about [300].
    #[arg(long)]
    surge_incidents: Option<usize>,

    /// Concurrent call takers in the surge [64].
    #[arg(long)]
    surge_call_takers: Option<usize>,

    /// Units stored for the start-up section [100000].
    #[arg(long)]
    startup_units: Option<usize>,

    /// Calls stored for the start-up section [full: 1000000; quick: 200000].
    #[arg(long)]
    startup_calls: Option<usize>,

    /// Timed starts [full: 3; quick: 1].
    #[arg(long)]
    startup_runs: Option<usize>,

    /// Give the in-process servers' connections TCP_NODELAY, which `serve()` does not set:
    /// previews that fix (the default measures the server as shipped).
    #[arg(long)]
    tcp_nodelay: bool,

    /// Log every statement PostgreSQL runs, with its duration, and copy the log here at the
    /// end (profiling: round trips per request, slow statements).
    #[arg(long, value_name = "PATH")]
    pg_log: Option<PathBuf>,

    /// The directory with the data sets of the quality section.
    #[arg(long, env = "DISPATCH_REPLAY_DATA", default_value = "../shared/data")]
    data_dir: PathBuf,

    /// The duplicate likelihood parameter file the quality section measures.
    #[arg(long, default_value = "catalogue/duplicate_model.toml")]
    duplicate_model: PathBuf,

    /// Intersections per side of the roads section's synthetic city [full: 1000 (1M nodes);
    /// quick: 300].
    #[arg(long)]
    roads_side: Option<usize>,

    /// Timed recommend calls per graph in the roads section [full: 2000; quick: 500].
    #[arg(long)]
    roads_queries: Option<usize>,

    /// The dispatchd binary to time [beside this one, built first].
    #[arg(long, value_name = "PATH")]
    dispatchd: Option<PathBuf>,
}

impl Args {
    fn runs(&self, section: Section) -> bool {
        self.only.is_empty() || self.only.contains(&section)
    }

    fn pick<T: Clone>(&self, given: &Option<T>, full: T, quick: T) -> T {
        given
            .clone()
            .unwrap_or(if self.quick { quick } else { full })
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("dispatch-bench: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dispatch-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Keys every JSON object has, null when not measured.
const KEYS: &[&str] = &[
    "recommend_p50_us",
    "recommend_p99_us",
    "recommend_units",
    "recommend_vs_bruteforce_ratio",
    "recommend_vs_postgis_ratio",
    "position_updates_per_s_index",
    "position_updates_per_s_e2e",
    "create_call_per_s_16",
    "create_call_p99_ms_16",
    "insert_commit_per_s_16",
    "create_call_vs_insert_ratio_16",
    "fanout_p99_ms",
    "surge_p99_ms",
    "surge_worst_slice_p99_ms",
    "surge_calls_per_s",
    "surge_same_top_share",
    "surge_errors",
    "fanout_cross_process_p99_ms",
    "fanout_watchers",
    "startup_s",
    "report_worst_p50_s",
    "dup_recall_heldout",
    "dup_false_rate_heldout",
    "dup_false_rate_sf",
    "eta_median_abs_err_s_heldout",
    "eta_p90_abs_err_s_heldout",
];

async fn run(args: &Args) -> anyhow::Result<()> {
    let began = Instant::now();
    let mut report = Report::default();
    let mode = if args.quick { "quick" } else { "full" };
    report.set_text("mode", mode);
    report.set_text("started_at", chrono::Utc::now().to_rfc3339());
    let machine = machine();
    report.set("machine_cpus", machine.cpus as f64);
    report.set_text("machine_cpu_model", machine.cpu_model.clone());
    report.set("machine_ram_gib", machine.ram_gib);
    if let Some(commit) = git_commit() {
        report.set_text("git_commit", commit);
    }
    println!("# dispatch-bench ({mode})\n");
    println!(
        "machine: {} CPUs ({}), {:.0} GiB RAM; PostgreSQL {} (private durable cluster)",
        machine.cpus,
        machine.cpu_model,
        machine.ram_gib,
        pg::server_major()
    );

    server::set_nodelay(args.tcp_nodelay);
    report.set_text(
        "server_tcp_nodelay",
        if args.tcp_nodelay {
            "set by the benchmark"
        } else {
            "as shipped (unset)"
        },
    );
    if args.tcp_nodelay {
        println!("in-process servers: TCP_NODELAY set on their listening sockets (--tcp-nodelay)");
    }
    if args.runs(Section::Quality) {
        let options = quality::Options {
            data_dir: args.data_dir.clone(),
            duplicate_model: args.duplicate_model.clone(),
        };
        quality::run(&options, &mut report).context("quality section")?;
    }
    if args.runs(Section::Roads) {
        let options = roads::Options {
            extract: roads::extract_in(&args.data_dir),
            synthetic_side: args.pick(&args.roads_side, 1_000, 300),
            queries: args.pick(&args.roads_queries, 2_000, 500),
            seed: args.seed,
        };
        roads::run(&options, &mut report).context("roads section")?;
    }
    let needs_database = args.only.is_empty()
        || args
            .only
            .iter()
            .any(|s| !matches!(s, Section::Quality | Section::Roads));
    if needs_database {
        run_on_database(args, &mut report).await?;
    }

    for key in KEYS {
        report.default_null(key);
    }
    let total = began.elapsed().as_secs_f64();
    report.set("total_s", total);
    println!("\n## Summary ({mode}, {total:.0} s)\n");
    print!("{}", report.summary_table());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(report.json())?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        println!("\nJSON written to {}", path.display());
    }
    Ok(())
}

/// The sections that run against PostgreSQL and the server.
async fn run_on_database(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let cluster = tokio::task::spawn_blocking(pg::PgCluster::start).await??;
    if args.pg_log.is_some() {
        cluster.log_statements().await?;
    }
    let seed = args.seed;

    if args.runs(Section::Recommend) {
        let options = recommend::Options {
            sizes: args.pick(
                &args.recommend_sizes,
                vec![10_000, 100_000, 1_000_000],
                vec![10_000, 100_000],
            ),
            queries: args.pick(&args.recommend_queries, 5_000, 2_000),
            scan_queries: args.pick(&args.scan_queries, 100, 50),
            postgis_queries: args.pick(&args.postgis_queries, 2_000, 2_000),
            seed,
        };
        recommend::run(&options, Bench::new(&cluster, &mut *report))
            .await
            .context("recommendation section")?;
    }
    if args.runs(Section::RecommendRpc) {
        let options = recommend_rpc::Options {
            units: args.pick(&args.recommend_rpc_units, 100_000, 10_000),
            incidents: 50,
            queries: args.pick(&args.recommend_rpc_queries, 2_000, 500),
            seed,
        };
        recommend_rpc::run(&options, Bench::new(&cluster, &mut *report))
            .await
            .context("RecommendUnits section")?;
    }
    if args.runs(Section::Positions) {
        let options = positions::Options {
            sizes: args.pick(
                &args.position_sizes,
                vec![10_000, 100_000],
                vec![10_000, 100_000],
            ),
            moves: args.pick(&args.position_moves, 500_000, 200_000),
            clients: args.pick(&args.position_clients, 16, 16),
            rounds: args.pick(&args.position_rounds, 3, 1),
            stream_reports: args.pick(&args.position_stream_reports, 2_000, 2_000),
            seed,
        };
        positions::run(&options, Bench::new(&cluster, &mut *report))
            .await
            .context("position section")?;
    }
    if args.runs(Section::Intake) {
        let seconds = args.pick(&args.intake_seconds, 10.0, 4.0);
        let options = intake::Options {
            clients: args.pick(&args.intake_clients, vec![1, 16, 64], vec![1, 16, 64]),
            warmup: Duration::from_secs_f64((seconds / 4.0).clamp(0.5, 2.0)),
            duration: Duration::from_secs_f64(seconds.max(0.5)),
            open_incidents: args.pick(&args.open_incidents, 1_000, 1_000),
            rounds: args.pick(&args.intake_rounds, 2, 1),
            seed,
        };
        intake::run(&options, Bench::new(&cluster, &mut *report))
            .await
            .context("call intake section")?;
    }
    if args.runs(Section::Surge) {
        let seconds = args.pick(&args.surge_seconds, 300.0, 60.0).max(1.0);
        let options = surge::Options {
            calls: args
                .surge_calls
                .unwrap_or((10_000.0 * seconds / 300.0).round() as usize),
            seconds,
            incidents: args.surge_incidents.unwrap_or(300),
            call_takers: args.surge_call_takers.unwrap_or(64),
            seed,
        };
        surge::run(&options, Bench::new(&cluster, &mut *report))
            .await
            .context("surge section")?;
    }
    if args.runs(Section::Fanout) {
        let options = fanout::Options {
            watchers: args.pick(&args.fanout_watchers, 1_000, 1_000),
            assignments: args.pick(&args.fanout_assignments, 100, 30),
            channels: args.pick(&args.fanout_channels, 8, 8),
            feed: args.fanout_feed,
            mode: args.fanout_mode,
            interval: Duration::from_millis(args.pick(&args.fanout_interval_ms, 20, 20)),
            seed,
        };
        fanout::run(&options, Bench::new(&cluster, &mut *report))
            .await
            .context("fan-out section")?;
    }
    if args.runs(Section::Startup) {
        let options = startup::Options {
            units: args.pick(&args.startup_units, 100_000, 100_000),
            calls: args.pick(&args.startup_calls, 1_000_000, 200_000),
            runs: args.pick(&args.startup_runs, 3, 1),
            dispatchd: args.dispatchd.clone(),
            seed,
        };
        startup::run(&options, Bench::new(&cluster, &mut *report))
            .await
            .context("start-up section")?;
    }
    if args.runs(Section::Reports) {
        let options = reports::Options {
            units: args.pick(&args.startup_units, 100_000, 100_000),
            calls: args.pick(&args.startup_calls, 1_000_000, 200_000),
            runs: args.pick(&args.startup_runs, 3, 1).max(3),
            seed,
        };
        reports::run(&options, Bench::new(&cluster, &mut *report))
            .await
            .context("reports section")?;
    }
    if let Some(path) = &args.pg_log {
        std::fs::copy(cluster.root().join("postgres.log"), path)
            .with_context(|| format!("copying the PostgreSQL log to {}", path.display()))?;
    }
    drop(cluster);
    let retries = server::retries();
    if retries.retries > 0 || retries.gave_up > 0 {
        println!(
            "\nclient retries (requests the servers asked to be sent again): {}; given up: {}",
            retries.summary(),
            retries.gave_up
        );
    }

    Ok(())
}

#[derive(Debug)]
struct Machine {
    cpus: usize,
    cpu_model: String,
    ram_gib: f64,
}

fn machine() -> Machine {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or_else(
            || "unknown".to_owned(),
            |(_, model)| model.trim().to_owned(),
        );
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0.0);
    Machine {
        cpus,
        cpu_model,
        ram_gib: ram_kib / 1024.0 / 1024.0,
    }
}

fn git_commit() -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
