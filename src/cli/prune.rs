//! `etcdbak prune`: its flags, and the run that turns them into [`crate::store::prune::Options`].

use std::time::Duration;

use super::s3::{check_cluster, S3Args};
use crate::retention::Keep;
use crate::store::prune;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub s3: S3Args,
    /// The cluster whose backups to prune.
    #[arg(long, env = "ETCDBAK_CLUSTER", value_name = "NAME")]
    pub cluster: String,
    /// Keep the newest N backups (by time and revision) and delete the rest. No env var on purpose: an
    /// ETCDBAK_KEEP meant for `store` in a pod's environment must not clash with `prune --all`.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), value_name = "N")]
    pub keep: Option<u32>,
    /// Delete every backup of the cluster and abort its unfinished uploads (the cleanup Job after a
    /// Cluster is deleted). Files that do not follow etcdbak's naming scheme are never touched.
    #[arg(long, conflicts_with = "keep")]
    pub all: bool,
    /// Print what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also abort the cluster's unfinished multipart uploads older than this (with --all: every one).
    #[arg(long, env = "ETCDBAK_STALE_UPLOAD_AGE", default_value = "2h",
          value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub stale_upload_age: Duration,
}

/// `--all` or `--keep N`; neither is a usage error that says how to choose.
fn keep(all: bool, keep: Option<u32>) -> super::Result<Keep> {
    match (all, keep) {
        (true, _) => Ok(Keep::Nothing),
        (false, Some(n)) => Ok(Keep::Newest(n as usize)),
        (false, None) => Err(super::Error::Usage(
            "say how much to keep: --keep N (the newest N stay) or --all (delete every backup of the cluster)".into(),
        )),
    }
}

pub async fn run(args: Args) -> super::Result<()> {
    check_cluster(&args.cluster)?;
    let client = args.s3.connect().await?;
    let opts = prune::Options {
        keep: keep(args.all, args.keep)?,
        cluster: args.cluster,
        dry_run: args.dry_run,
        stale_upload_age: args.stale_upload_age,
    };
    Ok(prune::run(&client, &opts).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_or_keep_must_be_said() {
        assert_eq!(keep(true, None).expect("all"), Keep::Nothing);
        assert_eq!(keep(false, Some(3)).expect("keep"), Keep::Newest(3));
        let e = keep(false, None).expect_err("neither");
        assert_eq!(e.class(), crate::exit::Class::Usage);
        assert!(e.to_string().contains("--keep N"), "{e}");
    }
}
