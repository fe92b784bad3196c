//! `etcdbak restore-guide`: a filled-in, numbered restore runbook. The runbook itself is a pure function
//! ([`runbook::runbook`]); around it, [`plan`] gathers its values (flags, defaults derived the way an etcd
//! StatefulSet names things, what [`apiserver`] read from the Cluster resource and StatefulSet), and [`pick`]
//! chooses the snapshot from the backup list. A restore to a point (`--to`) takes the snapshot [`point`]
//! plans with the chain of segments after it, and [`to_point`] adds the steps that replay them.

pub mod apiserver;
mod copies;
mod download;
mod error;
pub mod facts;
pub mod pick;
pub mod plan;
mod point;
pub mod render;
pub mod runbook;
pub mod shell;
mod steps;
mod to_point;

use chrono::{DateTime, Utc};

use crate::continuous::chain::Target;
use crate::s3::Client as S3Client;
pub use copies::Elsewhere;
pub use error::Error;
pub use facts::{Member, Point, Reached, Replica, RestorePlan, S3Location, Snapshot};
pub use pick::Candidate;
pub use plan::{KubeFacts, Layout};

/// How the runbook is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Numbered steps for a terminal.
    Text,
    /// The same steps as Markdown, to paste into an incident document.
    Markdown,
}

/// What a restore guide is made from, as the command line gathered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The Cluster (its backups are `<prefix>/<cluster>/` in the bucket).
    pub cluster: String,
    /// The backup asked for: a key as `etcdbak list` shows it, or its file name.
    pub snapshot: Option<String>,
    /// Restore to this point: the newest full backup at or before it, then its segments replayed.
    pub point: Option<Target>,
    /// Ask on the terminal which backup to restore when none was asked for.
    pub prompt: bool,
    pub format: Format,
    /// Where the backups are, as the runbook's download step spells it.
    pub s3: S3Location,
    /// The name of that destination, when several are configured: the runbook names it.
    pub destination: Option<String>,
    pub layout: Layout,
    /// Read the Cluster and its StatefulSet from the apiserver (asked for, and the command line found a
    /// kubeconfig or an in-cluster service account to try).
    pub read_kube: bool,
}

/// The runbook for `opts`, rendered. Reads the apiserver (when asked to), lists and HEADs backups in
/// `client`'s bucket, and with `opts.prompt` calls `ask` with the candidates (newest first) and the one it
/// would take, for the index of the one to restore; HEADs the chosen backup in each of `others` to name
/// the copies; everything else is pure.
pub async fn guide(
    client: &S3Client,
    others: &[Elsewhere],
    opts: &Options,
    now: DateTime<Utc>,
    ask: impl FnOnce(&[Candidate], usize) -> Result<usize, Error>,
) -> Result<String, Error> {
    crate::naming::validate_cluster_name(&opts.cluster).map_err(crate::exit::Usage)?;
    let kube = if opts.read_kube {
        apiserver::facts(&opts.cluster, &opts.layout).await
    } else {
        KubeFacts::default()
    };
    let point = match opts.point {
        Some(target) => Some(point::point(client, &opts.cluster, target).await?),
        None => None,
    };
    // A point decides the snapshot: the full backup its chain starts from.
    let wanted = point
        .as_ref()
        .map(|(key, _)| key.as_str())
        .or(opts.snapshot.as_deref());
    let cands = pick::candidates(client, &opts.cluster, wanted).await?;
    let index = if opts.prompt && wanted.is_none() {
        let default = pick::choose(&opts.cluster, &cands, None).unwrap_or(0);
        let index = ask(&cands, default)?;
        if index >= cands.len() {
            return Err(Error::Prompt(format!("no snapshot number {index}")));
        }
        index
    } else {
        pick::choose(&opts.cluster, &cands, wanted)?
    };
    let c = &cands[index];
    if !c.verified {
        tracing::warn!(key = %c.backup.key, "this backup's metadata does not match its name: `etcdbak download` will tell whether it is intact");
    }
    let mut plan = plan::resolve(
        &opts.cluster,
        &opts.layout,
        &opts.s3,
        &kube,
        snapshot(c),
        now,
    )?;
    plan.point = point.map(|(_, p)| p);
    plan.destination = opts.destination.clone();
    plan.copies = copies::copies(others, &opts.cluster, &c.backup.key).await;
    let book = runbook::runbook(&plan);
    Ok(match opts.format {
        Format::Text => render::render_text(&book),
        Format::Markdown => render::render_markdown(&book),
    })
}

/// The runbook's view of the chosen backup; a SHA-256 the metadata does not give is the name's prefix.
fn snapshot(c: &Candidate) -> Snapshot {
    Snapshot {
        key: c.backup.key.clone(),
        taken_at: c.backup.taken_at,
        revision: c.backup.revision,
        size_bytes: c.backup.size_bytes,
        sha256: c
            .sha256
            .clone()
            .unwrap_or_else(|| format!("{}… (from the name)", c.backup.sha256_prefix)),
        // Every listed backup parsed as a backup name, so one of the suffixes is there.
        format: crate::pipeline::Format::split_name(&c.backup.key)
            .map_or(crate::pipeline::Format::PLAIN, |(_, f)| f),
    }
}
