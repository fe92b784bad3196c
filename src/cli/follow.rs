//! `etcdbak follow`: its flags, and the run that turns them into [`crate::continuous::follow::Options`].

use std::sync::Arc;
use std::time::Duration;

use super::s3::S3Args;
use crate::continuous::buffer::Bounds;
use crate::continuous::follow::{self, Report};
use crate::continuous::lease::{self, LeaseReport};
use crate::continuous::SegmentName;
use crate::pipeline::{Compression, Encoding};
use crate::retention::Policy;
use crate::s3::UploadPlan;
use crate::store::{DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE};

pub const LONG_ABOUT: &str = "\
Follow one etcd cluster's changes into segments beside its full backups (continuous backup).

Every change (puts and deletes of every key) from the revision after the newest full backup, or after the \
newest stored segment, is written to <prefix>/<cluster>/segments/ through the same compression and age \
encryption as full backups. A segment closes every --interval or at --max-segment-size, whichever comes \
first; an idle cluster writes nothing. A segment counts as durable once the store has answered its PUT.

A restart loses nothing: the follower resumes from the newest durable revision. If etcd has compacted \
that revision away (the follower was down too long), that is a gap: it is logged as an error line, and a \
full backup is taken at once (snapshot into --dir, then stored) so that a new chain begins. With no full \
backup of the cluster yet, one is taken first.

`etcdbak replay` and `etcdbak restore-guide --to` restore to any revision or time the chain covers.";

#[derive(Debug, Clone, clap::Args)]
// Its own group id: it flattens snapshot's `Args`, and two groups named `Args` clash.
#[group(id = "follow_args")]
pub struct Args {
    /// etcd endpoints, TLS, timeouts, and --dir for the full backups the follower takes itself.
    #[command(flatten)]
    pub etcd: super::snapshot::Args,
    #[command(flatten)]
    pub s3: S3Args,
    /// S3 Object Lock on each segment and full backup the follower writes (docs/OBJECT-LOCK.md).
    #[command(flatten)]
    pub lock: super::lock::LockArgs,
    /// Close the open segment this long after its first change (e.g. 20s, 1m): the most a lost follower
    /// loses.
    #[arg(long, env = "ETCDBAK_SEGMENT_INTERVAL", default_value = "20s",
          value_parser = parse_interval, value_name = "DURATION")]
    pub interval: Duration,
    /// Close the open segment once its changes reach this size (e.g. 4MiB), whatever the interval.
    #[arg(long, env = "ETCDBAK_MAX_SEGMENT_SIZE", default_value = "8MiB",
          value_parser = parse_segment_size, value_name = "BYTES")]
    pub max_segment_size: u64,
    /// How segments (and the full backups the follower takes) are compressed: none, zstd or zstd:LEVEL.
    #[arg(
        long,
        env = "ETCDBAK_COMPRESS",
        default_value = "zstd:1",
        value_name = "none|zstd[:LEVEL]"
    )]
    pub compress: Compression,
    /// Encrypt segments with age to this X25519 recipient (`age1…`); repeat or comma-separate.
    #[arg(
        long,
        env = "ETCDBAK_ENCRYPT_TO",
        value_delimiter = ',',
        value_name = "RECIPIENT"
    )]
    pub encrypt_to: Vec<String>,
    /// Encrypt to the recipients in this file (`age -R` format).
    #[arg(long, env = "ETCDBAK_ENCRYPT_TO_FILE", value_name = "FILE")]
    pub encrypt_to_file: Option<std::path::PathBuf>,
    /// Renew this Lease (coordination.k8s.io) with how far the stored chain reaches, for the controller's
    /// ContinuousBackup condition. Uses the in-cluster service account, or KUBECONFIG.
    #[arg(long, env = "ETCDBAK_LEASE", value_name = "NAME", value_parser = super::bounds::lease_name)]
    pub lease: Option<String>,
    /// The Lease's namespace.
    #[arg(
        long,
        env = "ETCDBAK_LEASE_NAMESPACE",
        value_name = "NAMESPACE",
        value_parser = super::bounds::namespace,
        requires = "lease"
    )]
    pub lease_namespace: Option<String>,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    crate::config::parse_segment_interval(s)
}

fn parse_segment_size(s: &str) -> Result<u64, String> {
    let bytes = super::store::parse_bytes(s)?;
    if !(64 << 10..=64 << 20).contains(&bytes) {
        return Err(format!("{s:?} is outside 64KiB to 64MiB"));
    }
    Ok(bytes)
}

/// The follower's progress goes to the log, and to its Lease when it has one.
struct Log {
    lease: Option<Arc<LeaseReport>>,
}

impl Report for Log {
    fn durable(&self, segment: &SegmentName, events: usize) {
        if let Some(l) = &self.lease {
            l.durable(segment, events);
        }
    }
    fn caught_up(&self, revision: i64) {
        if let Some(l) = &self.lease {
            l.caught_up(revision);
        }
    }
    fn gap(&self, resume: i64, compacted: i64) {
        tracing::error!(
            resume, compacted,
            "continuous backup gap: revisions {resume}..{} are lost; a new chain starts from a fresh full backup",
            compacted - 1
        );
        if let Some(l) = &self.lease {
            l.gap(resume, compacted);
        }
    }
}

/// Starts renewing the Lease `--lease` names, in `--lease-namespace` (else the pod's own namespace).
async fn lease(args: &Args) -> super::Result<Option<Arc<LeaseReport>>> {
    let Some(name) = args.lease.clone() else {
        return Ok(None);
    };
    let client = kube::Client::try_default().await.map_err(|e| {
        super::Error::Usage(crate::exit::Usage(format!(
            "--lease {name}: no Kubernetes API to renew it in: {e}"
        )))
    })?;
    let namespace = args
        .lease_namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    // The pod's name says which follower holds it; outside a pod, the host's.
    let holder = ["POD_NAME", "HOSTNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "etcdbak-follow".to_string());
    let target = lease::Target {
        namespace: namespace.clone(),
        name: name.clone(),
        holder,
        cluster: args.etcd.cluster.clone(),
    };
    let report = lease::start(client, target, args.interval)
        .await
        .map_err(|e| {
            super::Error::Usage(crate::exit::Usage(format!(
                "cannot read the Lease {namespace}/{name}: {e}"
            )))
        })?;
    Ok(Some(report))
}

pub async fn run(args: Args) -> super::Result<()> {
    let recipients = super::store::recipients(&args.encrypt_to, args.encrypt_to_file.as_deref())
        .map_err(crate::store::Error::from)?;
    let encoding = Encoding {
        compression: args.compress,
        recipients,
        threads: 0,
    };
    let report = Log {
        lease: lease(&args).await?,
    };
    let mut settings = args.s3.resolved().await?;
    settings.object_lock = args.lock.lock();
    let client = crate::s3::Client::connect(&settings)?;
    if client.lock.is_some() {
        // As `store` does: a lock the bucket cannot keep is an error naming it, not unlocked segments.
        client.require_object_lock().await?;
    }
    let etcd = super::snapshot::options(args.etcd);
    let opts = follow::Options {
        rebase: crate::store::Options {
            dir: etcd.dir.clone(),
            cluster: None,
            retention: Policy::newest(u32::MAX),
            plan: UploadPlan {
                part_size: super::store::parse_part_size(DEFAULT_PART_SIZE)
                    .map_err(crate::exit::Usage)?,
                concurrency: usize::from(DEFAULT_CONCURRENCY),
            },
            stale_upload_age: Duration::from_secs(2 * 3600),
            encoding: encoding.clone(),
        },
        etcd,
        bounds: Bounds {
            interval: args.interval,
            max_bytes: usize::try_from(args.max_segment_size).unwrap_or(usize::MAX),
        },
        encoding,
        retry: Duration::from_secs(2),
    };
    Ok(follow::run(&client, &opts, &report).await?)
}
