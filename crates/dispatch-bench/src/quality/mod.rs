//! Section: quality of the system's learned judgments, offline from the data sets (no server, no
//! database), with the same domain code the server runs.
//!
//! - Duplicates (`duplicates.rs`): the shipped likelihood model's held-out recall and false links
//!   on C5 (fitted before 2020-08-01, measured from then on), its false links on San Francisco
//!   (every call its own emergency), the curve over thresholds and the simple rules beside it.

mod duplicates;

use std::path::PathBuf;

use crate::report::Report;

#[derive(Debug, Clone)]
pub struct Options {
    /// The directory holding the data sets (`../shared/data`, or DISPATCH_REPLAY_DATA).
    pub data_dir: PathBuf,
    /// The duplicate likelihood parameter file measured.
    pub duplicate_model: PathBuf,
}

pub fn run(options: &Options, report: &mut Report) -> anyhow::Result<()> {
    println!(
        "\n## Quality: learned judgments on held-out data (offline, same code as the server)\n"
    );
    duplicates::run(options, report)?;
    Ok(())
}
