//! `dispatchctl fit travel`.

use clap::Args;

use crate::Ctx;
use crate::error::Result;

#[derive(Debug, Args)]
pub struct FitTravelArgs {}

pub async fn run(_ctx: &mut Ctx<'_>, _args: FitTravelArgs) -> Result<()> {
    Err(anyhow::anyhow!("fit travel is being built").into())
}
