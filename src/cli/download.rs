//! `etcdbak download`: its flags, and the run that turns them into [`crate::store::download::Options`].

use std::path::PathBuf;

use super::s3::{check_cluster, S3Args};
use crate::store::download::{self, Which};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub destinations: super::destination::ReadArgs,
    /// The cluster whose backup to fetch (the newest one unless --key is given).
    #[arg(long, env = "ETCDBAK_CLUSTER", value_name = "NAME")]
    pub cluster: Option<String>,
    /// A specific backup: the full key as `etcdbak list` shows it, or just its file name with --cluster.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Where to write the snapshot (default: the object's file name in the current directory). It is
    /// written to PATH.part first and renamed only after its checksums match.
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// age identity file (`age-keygen` output, AGE-SECRET-KEY-1… lines) to decrypt an encrypted (`.age`)
    /// backup; one of its keys must be a recipient of the backup.
    #[arg(long, env = "ETCDBAK_IDENTITY", value_name = "FILE")]
    pub identity: Option<PathBuf>,
}

/// The `--identity` file's age identities, read before any download starts (`verify` takes the same flag).
pub(super) fn identities(
    path: Option<&std::path::Path>,
) -> super::Result<Option<std::sync::Arc<crate::pipeline::Identities>>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let ids = crate::pipeline::Identities::from_file(path).map_err(crate::store::Error::from)?;
    Ok(Some(std::sync::Arc::new(ids)))
}

/// `--key` or `--cluster` (`verify` takes the same pair).
pub(super) fn which(key: Option<String>, cluster: Option<String>) -> super::Result<Which> {
    match (key, cluster) {
        (Some(key), cluster) => Ok(Which::Key { key, cluster }),
        (None, Some(cluster)) => Ok(Which::Newest { cluster }),
        (None, None) => Err(super::Error::Usage(
            "say which backup: --cluster NAME (its newest backup) or --key KEY (as `etcdbak list` shows it)".into(),
        )),
    }
}

pub async fn run(args: Args) -> super::Result<()> {
    if let Some(c) = &args.cluster {
        check_cluster(c)?;
    }
    let identities = identities(args.identity.as_deref())?;
    let client = args.destinations.client(&args.s3).await?;
    let opts = download::Options {
        which: which(args.key, args.cluster)?,
        output: args.output,
        identities,
    };
    let output = download::run(&client, &opts).await?;
    println!("{}", output.display());
    Ok(())
}
