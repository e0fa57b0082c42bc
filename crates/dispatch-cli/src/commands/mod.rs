//! One module per area of the command tree.

pub mod calls;
pub mod directory;
pub mod fit;
pub mod health;
pub mod incidents;
pub mod map;
pub mod open_data;
pub mod operations;
pub mod referrals;
mod reply;
pub mod report_hot_spots;
pub mod reports;
pub mod units;
pub mod watch;

use crate::Ctx;
use crate::cli::{Command, DemoCmd};
use crate::error::Result;

pub async fn dispatch(ctx: &mut Ctx<'_>, command: Command) -> Result<()> {
    match command {
        // Handled before a context exists: its exit codes are its own.
        Command::Health { .. } => Ok(()),
        Command::Whoami => directory::whoami(ctx).await,
        Command::Call(command) => calls::run(ctx, command).await,
        Command::Incident(command) => incidents::run(ctx, command).await,
        Command::IncidentType(command) => incidents::run_type(ctx, command).await,
        Command::Unit(command) => units::run(ctx, command).await,
        Command::Referral(command) => referrals::run(ctx, command).await,
        Command::Partner(command) => referrals::run_partner(ctx, command).await,
        Command::Agency(command) => directory::agency(ctx, command).await,
        Command::Station(command) => directory::station(ctx, command).await,
        Command::Camera(command) => directory::camera(ctx, command).await,
        Command::Principal(command) => directory::principal(ctx, command).await,
        Command::Credential(command) => directory::credential(ctx, command).await,
        Command::Audit(command) => directory::audit(ctx, command).await,
        Command::Report(command) => reports::run(ctx, command).await,
        Command::Operation(command) => operations::run(ctx, command).await,
        Command::Tail(args) => watch::run(ctx, args).await,
        Command::Demo(DemoCmd::Load(args)) => crate::demo::load(ctx, args).await,
        Command::Replay(args) => crate::replay::run(ctx, args).await,
        Command::Map(command) => map::run(ctx, command),
        Command::Fit(command) => fit::run(ctx, command).await,
    }
}
