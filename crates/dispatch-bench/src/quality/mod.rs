//! Section: quality of the system's learned judgments, offline from the data sets (no server, no
//! database), with the same domain code the server runs.
//!
//! - Duplicates (`duplicates.rs`): the shipped likelihood model's held-out recall and false links
//!   on C5 (fitted before 2020-08-01, measured from then on), its false links on San Francisco
//!   (every call its own emergency), the curve over thresholds and the simple rules beside it.
//! - Travel times (`travel.rs`): the shipped travel model's held-out ETA error on San Francisco's
//!   runs from quarters (fitted 7–13 April, measured 14–20 April) against the great-circle model,
//!   and how often our top engine is the one SF sent first.

mod duplicates;
mod travel;

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
    travel_section(options, report)?;
    Ok(())
}

fn travel_section(options: &Options, report: &mut Report) -> anyhow::Result<()> {
    let figures = travel::figures(&options.data_dir)?;
    println!(
        "\nSF travel times, held out 14-20 Apr 2020 ({} runs from quarters): en route -> on scene\n",
        figures.heldout_runs
    );
    println!("| model | median abs error | p90 abs error |");
    println!("|---|---:|---:|");
    println!(
        "| shipped travel_model.toml | {:.1} s | {:.1} s |",
        figures.eta_median_abs_err_s_heldout, figures.eta_p90_abs_err_s_heldout
    );
    println!(
        "| great-circle (before) | {:.1} s | {:.1} s |",
        figures.great_circle_median_abs_err_s_heldout, figures.great_circle_p90_abs_err_s_heldout
    );
    println!(
        "\nTop-ranked engine is the engine SF sent first: {:.1} % of {} calls\n",
        figures.top_engine_is_sf_first_share * 100.0,
        figures.calls_with_engine
    );
    report.set(
        "eta_median_abs_err_s_heldout",
        figures.eta_median_abs_err_s_heldout,
    );
    report.set(
        "eta_p90_abs_err_s_heldout",
        figures.eta_p90_abs_err_s_heldout,
    );
    report.set(
        "eta_great_circle_median_abs_err_s_heldout",
        figures.great_circle_median_abs_err_s_heldout,
    );
    report.set(
        "eta_great_circle_p90_abs_err_s_heldout",
        figures.great_circle_p90_abs_err_s_heldout,
    );
    report.set(
        "top_engine_is_sf_first_share",
        figures.top_engine_is_sf_first_share,
    );
    Ok(())
}
