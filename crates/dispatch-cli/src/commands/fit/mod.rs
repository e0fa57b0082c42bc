//! `dispatchctl fit`: refits the parameter files of the system's judgments (duplicate likelihood,
//! travel times) from real data, so each centre can fit them on its own practice.

pub mod duplicates;
pub mod travel;

use clap::Subcommand;

use crate::Ctx;
use crate::error::Result;

#[derive(Debug, Subcommand)]
pub enum FitCmd {
    /// The duplicate likelihood model (catalogue/duplicate_model.toml).
    Duplicates(duplicates::FitDuplicatesArgs),
    /// The travel-time model (catalogue/travel_model.toml).
    Travel(travel::FitTravelArgs),
}

pub async fn run(ctx: &mut Ctx<'_>, command: FitCmd) -> Result<()> {
    match command {
        FitCmd::Duplicates(args) => duplicates::run(ctx, args).await,
        FitCmd::Travel(args) => travel::run(ctx, args).await,
    }
}
