//! `cargo bench -p dispatch-geo`: recommend latency, build time and position-update rate at
//! 10k, 100k and 1M units (90 % busy). Sizes: `DISPATCH_GEO_BENCH_SIZES=10000,100000`; timed
//! queries: `DISPATCH_GEO_BENCH_QUERIES`; scans: `DISPATCH_GEO_BENCH_SCANS`; moves:
//! `DISPATCH_GEO_BENCH_MOVES`.

use std::time::Instant;

use dispatch_geo::bench::{self, BenchOptions, HEADER};

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name)
        .ok()?
        .trim()
        .replace('_', "")
        .parse()
        .ok()
}

fn main() {
    let mut options = BenchOptions::default();
    if let Ok(sizes) = std::env::var("DISPATCH_GEO_BENCH_SIZES") {
        options.sizes = sizes
            .split(',')
            .filter_map(|s| s.trim().replace('_', "").parse().ok())
            .collect();
    }
    if let Some(queries) = env_usize("DISPATCH_GEO_BENCH_QUERIES") {
        options.queries = queries;
    }
    if let Some(scans) = env_usize("DISPATCH_GEO_BENCH_SCANS") {
        options.scan_queries = scans;
    }
    if let Some(moves) = env_usize("DISPATCH_GEO_BENCH_MOVES") {
        options.moves = moves;
    }
    let started = Instant::now();
    println!(
        "dispatch-geo engine: 90 % busy, {} recommends, {} scans and 2 x {} moves per size\n",
        options.queries, options.scan_queries, options.moves
    );
    println!("{HEADER}");
    bench::run(&options, chrono::Utc::now(), |row| println!("{row}"));
    println!("\ntotal {:.1} s", started.elapsed().as_secs_f64());
}
