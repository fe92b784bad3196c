//! `etcdbak download`: its flags, and the run that turns them into [`crate::store::download::Options`].

use std::path::PathBuf;

use super::s3::S3Args;
use crate::store::download;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub destinations: super::destination::ReadArgs,
    #[command(flatten)]
    pub which: super::which::WhichArgs,
    /// Where to write the snapshot (default: the object's file name in the current directory). It is
    /// written to PATH.part first and renamed only after its checksums match.
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub identity: super::identity::IdentityArgs,
}

pub async fn run(args: Args) -> super::Result<()> {
    let identities = args.identity.identities()?;
    let client = args.destinations.client(&args.s3).await?;
    let opts = download::Options {
        which: args.which.which()?,
        output: args.output,
        identities,
    };
    let output = download::run(&client, &opts).await?;
    println!("{}", output.display());
    Ok(())
}
