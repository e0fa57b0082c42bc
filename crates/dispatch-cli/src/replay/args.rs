//! What a replay is asked to do: the command's arguments.

use std::path::PathBuf;

use clap::Args;

use super::data::Dataset;

/// How fast simulated time runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as the server allows.
    Max,
    /// Simulated seconds per wall-clock second (1 = real time).
    Factor(f64),
}

fn parse_speed(text: &str) -> Result<Speed, String> {
    if text.eq_ignore_ascii_case("max") {
        return Ok(Speed::Max);
    }
    text.trim_end_matches('x')
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && *f > 0.0)
        .map(Speed::Factor)
        .ok_or_else(|| {
            format!("{text:?}: say max, or a factor like 1 (real time) or 60 (an hour a minute)")
        })
}

/// What the units do after assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lifecycle {
    /// En route, on scene (with a position report there), clear; then resolve and close.
    Full,
    /// Clear and close only: fewer calls per incident.
    Short,
}

/// The received_time the calls carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Clock {
    /// The data's own times, so duplicate windows follow the data's clock at any speed.
    Data,
    /// The wall clock: for watching a replay live at a speed near real time.
    Now,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Which data set: c5 (on the demo city), sf or montgomery (each with its own fleet).
    #[arg(long, value_enum, default_value = "c5")]
    pub dataset: Dataset,
    /// The CSV file; default DATA_DIR/<the data set's file>.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Where the data sets are.
    #[arg(long, env = "DISPATCH_REPLAY_DATA", default_value = "../shared/data")]
    pub data_dir: PathBuf,
    /// "max" (as fast as possible) or a factor: 1 is real time, 60 an hour a minute.
    #[arg(long, default_value = "max", value_parser = parse_speed)]
    pub speed: Speed,
    /// Replay only the first N calls (in time order).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Simulated staff working at once (each a call taker and a dispatcher).
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// What units do after assignment.
    #[arg(long, value_enum, default_value = "full")]
    pub lifecycle: Lifecycle,
    /// The received_time of the calls: the data's, or now.
    #[arg(long, value_enum, default_value = "data")]
    pub clock: Clock,
    /// Seed of the demo city (whose units' home positions a C5 replay refreshes).
    #[arg(long, default_value_t = 2020)]
    pub seed: u64,
    /// Count duplicate and travel figures only for calls received from then on (every call is
    /// still replayed): a date (midnight on the data's clock) or an RFC 3339 time.
    #[arg(long)]
    pub from: Option<String>,
    /// ... and received before then (exclusive).
    #[arg(long)]
    pub to: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}
