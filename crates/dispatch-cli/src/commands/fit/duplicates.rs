//! `dispatchctl fit duplicates`.

use clap::Args;

use crate::Ctx;
use crate::error::Result;

#[derive(Debug, Args)]
pub struct FitDuplicatesArgs {}

pub async fn run(_ctx: &mut Ctx<'_>, _args: FitDuplicatesArgs) -> Result<()> {
    Err(anyhow::anyhow!("fit duplicates is being built").into())
}
