//! What a runbook is made of, apart from how it is made: the facts of one restore (the cluster, its
//! members, the chosen snapshot, where the backups live) and the steps they turn into. `runbook` assembles
//! the steps, `steps` and `download` build them, `render` prints them; all of them read these types, so
//! they live here rather than in any one of those files.

use chrono::{DateTime, Utc};

use crate::continuous::chain::Target;
use crate::naming::segment::SegmentName;
use crate::pipeline::Format;

/// One etcd member as the restored cluster will know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub peer_url: String,
}

impl Member {
    /// `NAME=PEER_URL`, as `--member` takes it: a name and an http(s) peer URL.
    pub fn parse(s: &str) -> Result<Member, String> {
        let (name, url) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?} is not NAME=PEER_URL"))?;
        if name.is_empty() || !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "{s:?} is not NAME=PEER_URL with an http(s) peer URL"
            ));
        }
        Ok(Member {
            name: name.to_string(),
            peer_url: url.to_string(),
        })
    }
}

/// Client TLS files, as paths where the operator runs `etcdctl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    pub cacert: String,
    pub cert: String,
    pub key: String,
}

/// The snapshot chosen for the restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub key: String,
    pub taken_at: DateTime<Utc>,
    pub revision: i64,
    pub size_bytes: u64,
    /// The full SHA-256 from the object's metadata when known, else the prefix from its name.
    pub sha256: String,
    /// What the object is (compressed, encrypted), from its name.
    pub format: Format,
}

/// A restore to a point: the segments replayed on top of the snapshot, and what reading them showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// As the operator asked for it (`--to TIME` or `--to-revision R`).
    pub target: Target,
    /// In revision order; empty when the snapshot itself is the point.
    pub segments: Vec<SegmentName>,
    /// What the guide found reading every segment; `None` when they are encrypted (the guide never reads
    /// an identity), and the runbook's check step reads them instead.
    pub reached: Option<Reached>,
}

/// Where the replay ends, from the segments themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    /// Changes (etcd events) the replay applies.
    pub events: usize,
    /// The source revision the restored cluster ends at.
    pub revision: i64,
    /// When the follower saw that revision.
    pub seen_at: Option<DateTime<Utc>>,
}

/// Where the backups live (credentials are never part of a runbook: they come from AWS_* variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub prefix: String,
}

/// Another destination that holds the chosen backup, as the runbook names it: where to fetch the same
/// object when the first store is down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    pub destination: String,
    pub s3: S3Location,
    /// The backup's key there (its prefix may differ).
    pub key: String,
}

/// Everything the runbook needs. Built from flags, defaults derived from etcd StatefulSet naming, and
/// optionally the Cluster resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorePlan {
    /// The Cluster resource's name.
    pub cluster: String,
    /// Namespace of the etcd StatefulSet.
    pub namespace: String,
    pub statefulset: String,
    pub members: Vec<Member>,
    /// Client URLs for the health checks.
    pub endpoints: Vec<String>,
    pub tls: Option<TlsPaths>,
    /// The age identity file for an encrypted backup, as a path where the operator runs `etcdbak download`.
    pub identity: Option<String>,
    /// etcd's --data-dir inside the etcd container.
    pub data_dir: String,
    /// Where the member's PVC is mounted in the etcd container (the data dir is at or under it).
    pub volume_mount_path: String,
    /// The StatefulSet's volumeClaimTemplate name: member i's PVC is `<claim>-<statefulset>-<i>`.
    pub volume_claim: String,
    /// The image of the throwaway pod that writes into the PVCs (needs `sh` and `tar` for `kubectl cp`).
    pub helper_image: String,
    /// `uid:gid` to give the restored files, when etcd does not run as root.
    pub owner: Option<String>,
    pub snapshot: Snapshot,
    pub s3: S3Location,
    /// The destination `s3` is, when several are configured (`--add-destination`); `None` with one.
    pub destination: Option<String>,
    /// The other destinations that hold the same backup.
    pub copies: Vec<Replica>,
    /// The backup CronJob: (namespace, name).
    pub cronjob: (String, String),
    /// The new cluster token.
    pub token: String,
    /// Local working directory for the download and the restored data dirs.
    pub workdir: String,
    /// 0 disables `--bump-revision`/`--mark-compacted`.
    pub bump_revision: u64,
    /// Set for a restore to a point (`--to`, `--to-revision`).
    pub point: Option<Point>,
    /// The kube-apiserver Deployment that uses this etcd, (namespace, name), when it was given: a restore
    /// to a point keeps it stopped until the replay is done.
    pub apiserver: Option<(String, String)>,
    /// When the guide was made: names the helper objects of this restore.
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub title: String,
    pub why: String,
    pub commands: Vec<String>,
    /// What to look for in the output, or a caveat.
    pub check: Option<String>,
    /// Another way to the same result, without etcdbak: shown apart, never run with `commands`.
    pub manual: Option<Manual>,
}

/// A step's way with standard tools only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manual {
    /// Completes "Without etcdbak: ...".
    pub intro: String,
    pub commands: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runbook {
    pub title: String,
    pub facts: Vec<(String, String)>,
    pub steps: Vec<Step>,
}
