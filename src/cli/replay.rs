//! `etcdbak replay`: its flags, and the run that turns them into [`crate::continuous::replay::Options`].

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::point::PointArgs;
use super::s3::{check_cluster, S3Args};
use crate::continuous::chain::Target;
use crate::continuous::replay::{self, Checked};

pub const LONG_ABOUT: &str = "\
Bring a cluster restored from a full backup forward to a revision or a moment, from its continuous-backup \
segments (`etcdbak follow`).

It picks the newest full backup at or before the point (the one the cluster must have been restored from: \
`etcdbak restore-guide --to` prints the whole runbook), reads every segment up to the point, checks each \
one (digest, event count, no revision missing) and applies the changes in commit order, one transaction \
per original revision. Run it against the restored members before the apiserver starts. With --check \
it reads and checks the chain and applies nothing.

Leases are not carried over: keys written under a lease come back without one.";

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub s3: S3Args,
    /// The cluster whose backups and segments to read.
    #[arg(long, env = "ETCDBAK_CLUSTER", value_name = "NAME")]
    pub cluster: String,
    #[command(flatten)]
    pub point: PointArgs,
    /// etcd client URLs of the restored members, comma-separated.
    #[arg(
        long,
        env = "ETCDBAK_ENDPOINTS",
        value_delimiter = ',',
        value_name = "URL",
        required_unless_present = "check"
    )]
    pub endpoints: Vec<String>,
    #[command(flatten)]
    pub tls: super::etcd_tls::EtcdTlsArgs,
    #[command(flatten)]
    pub identity: super::identity::IdentityArgs,
    /// Read and check the chain up to the point, apply nothing.
    #[arg(long)]
    pub check: bool,
}

fn target(args: &Args) -> super::Result<Target> {
    args.point.target().ok_or_else(|| {
        super::Error::Usage(crate::exit::Usage(
            "give the point to replay to: --to TIME or --to-revision REVISION".into(),
        ))
    })
}

fn summary(checked: &Checked, applied: bool) -> String {
    let when = checked
        .reached_at_ms
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .map(|t| format!(" (seen {})", t.to_rfc3339()))
        .unwrap_or_default();
    format!(
        "{} {} changes from {} segments on top of {} (revision {}): the cluster is at source revision {}{when}",
        if applied { "replayed" } else { "checked" },
        checked.events,
        checked.chain.segments.len(),
        checked.chain.base.key,
        checked.chain.base.revision,
        checked.reached,
    )
}

pub async fn run(args: Args) -> super::Result<()> {
    check_cluster(&args.cluster)?;
    let target = target(&args)?;
    let identities = args.identity.identities()?;
    let client = args.s3.connect().await?;
    let opts = replay::Options {
        cluster: args.cluster.clone(),
        target,
        identities,
    };
    let checked = if args.check {
        replay::read_chain(&client, &opts, async |_| Ok(())).await?
    } else {
        let etcd = crate::snapshot::Options {
            endpoints: args.endpoints,
            cacert: args.tls.cacert,
            cert: args.tls.cert,
            key: args.tls.key,
            dial_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(3600),
            dir: PathBuf::from("."),
            cluster: Some(args.cluster),
            cluster_env: None,
            progress: super::progress::reporter(),
        };
        let (mut etcd, _) = crate::snapshot::connect(&etcd).await?;
        replay::run(&client, &mut etcd, &opts).await?
    };
    println!("{}", summary(&checked, !args.check));
    Ok(())
}
