//! `etcdbak store`, `prune`, `download`: the S3 adapter and the commands over it.
//!
//! `store` is the Job's default store container: it refuses a snapshot that does not verify, uploads it with
//! a multipart upload of bounded memory, checks the object S3 now holds, and only then applies retention and
//! cleans up multipart uploads that earlier, killed runs left behind.
//!
//! Library entry points for other modules (the restore guide uses them):
//! [`S3Client::from_args`] builds a client from [`S3Args`]; [`list_backups`] lists backups newest first;
//! [`S3Client::head`] reads an object's metadata.

pub mod s3;
pub mod upload;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use crate::backup::{self, Backup, ObjectName, SnapshotMetadata, METADATA_FILE, SNAPSHOT_FILE};
use crate::exit::Class;
use crate::retention::{self, Keep};
use crate::verify::{self, VerifyError};
use crate::Result;

pub use self::s3::{ObjectInfo, S3Args, S3Client};
pub use self::upload::UploadPlan;

/// Default part size 8 MiB and 3 parts in flight. Part buffers are reused, so the upload holds exactly
/// `part size x concurrency` (24 MiB) on top of a ~10 MiB process: measured peak RSS 35 MiB for both an
/// 81 MiB and a 317 MiB snapshot (18 MiB at 1 part, 27 at 2, 43 at 4; 76 MiB at 16 MiB x 4), against the
/// 64 MiB budget. On loopback MinIO, 2-4 parts in flight upload at the same speed within noise and 1 is
/// slower; 3 leaves room for links with real latency. 8 MiB keeps an 8 GiB database (etcd's suggested
/// maximum) at 1,024 parts, far below S3's 10,000.
pub const DEFAULT_PART_SIZE: &str = "8MiB";
pub const DEFAULT_CONCURRENCY: u16 = 3;

/// User metadata (x-amz-meta-*) names written on every backup object.
///
/// No name may be a prefix of another followed by '-' (as `member` and `member-id` would be): rust-s3 0.38
/// sorts `name:value` strings when it builds the canonical headers for SigV4, which orders such a pair
/// differently from S3 and makes it answer SignatureDoesNotMatch.
pub mod meta {
    pub const SHA256: &str = "sha256";
    pub const REVISION: &str = "revision";
    pub const MEMBER: &str = "member-name";
    pub const MEMBER_ID: &str = "member-id";
    pub const TAKEN_AT: &str = "taken-at";
    pub const ETCD_VERSION: &str = "etcd-version";
    pub const ETCDBAK_VERSION: &str = "etcdbak-version";
    pub const CLUSTER: &str = "cluster";
    pub const FILE_SIZE: &str = "file-size";
    pub const DB_SIZE: &str = "db-size";
}

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    #[command(flatten)]
    pub s3: S3Args,
    /// Directory holding snapshot.db and snapshot.json, as `etcdbak snapshot` leaves them.
    #[arg(
        long,
        env = "ETCDBAK_DIR",
        default_value = "/backup",
        value_name = "DIR"
    )]
    pub dir: PathBuf,
    /// Cluster name (a DNS-1123 label) that names the backup prefix `<prefix>/<cluster>/`. Defaults to the
    /// cluster recorded in snapshot.json; if both are set they must agree.
    #[arg(long, env = "ETCDBAK_CLUSTER", value_name = "NAME")]
    pub cluster: Option<String>,
    /// How many of this cluster's backups to keep after a verified upload (newest by time and revision).
    #[arg(long, env = "ETCDBAK_KEEP", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..), value_name = "N")]
    pub keep: u32,
    /// Size of each uploaded part (e.g. 8MiB, 16MiB; at least 5MiB). Memory use is about part size times
    /// --upload-concurrency, whatever the snapshot's size.
    #[arg(long, env = "ETCDBAK_PART_SIZE", default_value = DEFAULT_PART_SIZE,
          value_parser = parse_part_size, value_name = "BYTES")]
    pub part_size: u64,
    /// How many parts are uploaded at once.
    #[arg(long, env = "ETCDBAK_UPLOAD_CONCURRENCY", default_value_t = DEFAULT_CONCURRENCY,
          value_parser = clap::value_parser!(u16).range(1..=64), value_name = "N")]
    pub upload_concurrency: u16,
    /// Abort this cluster's unfinished multipart uploads older than this (left by killed runs). Keep it
    /// well above the longest upload so a concurrent run's live upload is never aborted.
    #[arg(long, env = "ETCDBAK_STALE_UPLOAD_AGE", default_value = "2h",
          value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub stale_upload_age: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct PruneArgs {
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

#[derive(Debug, Clone, Args)]
pub struct DownloadArgs {
    #[command(flatten)]
    pub s3: S3Args,
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
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials) in the environment")]
    MissingCredentials,
    #[error("cannot reach the S3 endpoint {endpoint} ({reason}): check --s3-endpoint and that the store is up")]
    Unreachable { endpoint: String, reason: String },
    #[error("the bucket \"{bucket}\" does not exist at {endpoint}: create it or fix --bucket")]
    BucketMissing { bucket: String, endpoint: String },
    #[error("S3 refused to {op} in bucket \"{bucket}\" ({code}): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) and the bucket's policy")]
    AccessDenied {
        op: String,
        bucket: String,
        code: String,
    },
    #[error("cannot {op}: {reason}")]
    Request { op: String, reason: String },
    #[error("there is no object {key} in bucket \"{bucket}\": check the key with `etcdbak list`")]
    NotFound { key: String, bucket: String },
    #[error("there are no backups of cluster \"{cluster}\" under {location}: check --cluster and --prefix with `etcdbak list`")]
    NoBackups { cluster: String, location: String },
    #[error("the uploaded object {key} failed verification ({what}); it was not kept and retention did not run")]
    Verification { key: String, what: String },
    #[error("{path} is not a usable etcd snapshot: {source}; nothing was uploaded")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: VerifyError,
    },
    #[error("the downloaded backup {key} is corrupt ({what}); the partial file was deleted")]
    DownloadCorrupt { key: String, what: String },
    #[error("{path} is not valid snapshot metadata ({reason}): re-run `etcdbak snapshot`")]
    BadMetadata { path: PathBuf, reason: String },
    #[error("cannot read {path} ({source}): check --dir (`etcdbak snapshot` writes {SNAPSHOT_FILE} and {METADATA_FILE} there)")]
    Input {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{METADATA_FILE} says the snapshot is of cluster \"{recorded}\" but --cluster is \"{given}\": store it under its own cluster or fix ETCDBAK_CLUSTER")]
    ClusterMismatch { recorded: String, given: String },
    #[error("invalid cluster name: {0}")]
    InvalidCluster(String),
    #[error(
        "interrupted by {signal}; the unfinished upload was aborted and retention did not run"
    )]
    Interrupted { signal: &'static str },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn class(&self) -> Class {
        match self {
            Error::Usage(_) | Error::InvalidCluster(_) => Class::Usage,
            Error::MissingCredentials | Error::AccessDenied { .. } => Class::Auth,
            Error::Corrupt { .. } | Error::DownloadCorrupt { .. } | Error::BadMetadata { .. } => {
                Class::CorruptSnapshot
            }
            Error::ClusterMismatch { .. } => Class::Config,
            Error::Unreachable { .. }
            | Error::BucketMissing { .. }
            | Error::Request { .. }
            | Error::NotFound { .. }
            | Error::NoBackups { .. }
            | Error::Verification { .. } => Class::Storage,
            Error::Input { .. } | Error::Interrupted { .. } | Error::Io { .. } => Class::Failure,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Every backup under the client's prefix (of one cluster, or of all clusters), newest first by the time and
/// revision in their names. Foreign files in the prefix are never returned.
pub async fn list_backups(
    client: &S3Client,
    cluster: Option<&str>,
) -> std::result::Result<Vec<Backup>, Error> {
    client.list_backups(cluster).await
}

fn check_cluster(name: &str) -> std::result::Result<(), Error> {
    backup::validate_cluster_name(name).map_err(Error::InvalidCluster)
}

/// Parses sizes such as `8MiB`, `16M`, `5242880`: binary units, since part sizes are about memory.
pub fn parse_part_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 8MiB or 16MiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?} (use KiB, MiB or GiB)")),
    };
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))?;
    if !(upload::MIN_PART_SIZE..=upload::MAX_PART_SIZE).contains(&bytes) {
        return Err(format!(
            "{s:?} is outside S3's part size limits of 5MiB to 5GiB"
        ));
    }
    Ok(bytes)
}

/// The x-amz-meta-* pairs for a snapshot (names from [`meta`]).
pub fn metadata_pairs(m: &SnapshotMetadata, cluster: &str) -> Vec<(String, String)> {
    [
        (meta::SHA256, m.sha256.to_ascii_lowercase()),
        (meta::REVISION, m.revision.to_string()),
        (meta::MEMBER, m.member.clone()),
        (meta::MEMBER_ID, m.member_id.clone()),
        (
            meta::TAKEN_AT,
            m.taken_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ),
        (meta::ETCD_VERSION, m.etcd_version.clone()),
        (meta::ETCDBAK_VERSION, m.etcdbak_version.clone()),
        (meta::CLUSTER, cluster.to_string()),
        (meta::FILE_SIZE, m.file_size.to_string()),
        (meta::DB_SIZE, m.db_size.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Listens for SIGTERM/SIGINT for the rest of the run; the receiver turns `Some(signal)` when one arrives.
fn watch_signals() -> watch::Receiver<Option<&'static str>> {
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        let signal = crate::shutdown::signal().await;
        let _ = tx.send(Some(signal));
        // Keep the sender alive so the value stays observable.
        std::future::pending::<()>().await;
    });
    rx
}

fn read_metadata(dir: &Path) -> std::result::Result<SnapshotMetadata, Error> {
    let path = dir.join(METADATA_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Input {
        path: path.clone(),
        source,
    })?;
    parse_metadata(&text).map_err(|reason| Error::BadMetadata { path, reason })
}

/// Parses and checks `snapshot.json`'s text; the error says what is wrong with it. Pure, so the fuzz target
/// (fuzz/fuzz_targets/metadata.rs) drives exactly what `store` runs.
pub fn parse_metadata(text: &str) -> std::result::Result<SnapshotMetadata, String> {
    let meta: SnapshotMetadata = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if meta.sha256.len() != 64 || !meta.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("sha256 is not 64 hex digits".into());
    }
    if meta.revision < 0 {
        return Err("revision is negative".into());
    }
    // The object name carries the time with a four-digit year; a time it cannot hold would upload a backup
    // that `list` and retention never see (found by fuzz/fuzz_targets/metadata.rs).
    let name = ObjectName::for_snapshot(&meta);
    if ObjectName::parse(&name.to_string()).is_none() {
        return Err(format!(
            "takenAt {} is outside the years an object name can hold (0000 to 9999)",
            meta.taken_at
        ));
    }
    Ok(meta)
}

pub async fn run_store(args: StoreArgs) -> Result<()> {
    store(args).await.map_err(Into::into)
}

async fn store(args: StoreArgs) -> std::result::Result<(), Error> {
    let cancel = watch_signals();
    let client = S3Client::from_args(&args.s3)?;
    let meta = read_metadata(&args.dir)?;
    let cluster = match &args.cluster {
        Some(given) if given != &meta.cluster => {
            return Err(Error::ClusterMismatch {
                recorded: meta.cluster.clone(),
                given: given.clone(),
            })
        }
        Some(given) => given.clone(),
        None => meta.cluster.clone(),
    };
    check_cluster(&cluster)?;
    client.check_access(&cluster).await?;

    let snapshot = args.dir.join(SNAPSHOT_FILE);
    let started = Instant::now();
    let path = snapshot.clone();
    let mut cancel_verify = cancel.clone();
    let verifying = tokio::task::spawn_blocking(move || verify::verify_file(&path));
    let verified = tokio::select! {
        done = verifying => done,
        signal = upload::wait_cancel(&mut cancel_verify) => return Err(Error::Interrupted { signal }),
    };
    let verified = verified
        .map_err(|e| Error::Request {
            op: "verify the snapshot".into(),
            reason: e.to_string(),
        })?
        .map_err(|source| Error::Input {
            path: snapshot.clone(),
            source,
        })?
        .and_then(|v| verify::check_against(&v, &meta.sha256, meta.file_size).map(|()| v))
        .map_err(|source| Error::Corrupt {
            path: snapshot.clone(),
            source,
        })?;
    tracing::info!(
        file = %snapshot.display(), bytes = verified.file_size, sha256 = %verified.sha256,
        revision = meta.revision, secs = started.elapsed().as_secs_f64(),
        "snapshot verified (etcd hash trailer, bbolt header, metadata)"
    );

    let name = ObjectName::for_snapshot(&meta);
    let key = backup::object_key(&client.prefix, &cluster, &name);
    let plan = UploadPlan {
        part_size: args.part_size,
        concurrency: usize::from(args.upload_concurrency),
    };
    let part_size = plan.effective_part_size(verified.file_size);
    tracing::info!(
        bucket = %client.bucket_name, %key, bytes = verified.file_size, part_size,
        concurrency = plan.concurrency, "uploading"
    );
    let started = Instant::now();
    let uploaded = upload::upload_file(
        &client,
        &snapshot,
        verified.file_size,
        &key,
        &metadata_pairs(&meta, &cluster),
        plan,
        cancel.clone(),
    )
    .await?;
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(
        %key, bytes = uploaded.size, parts = uploaded.parts, secs,
        mib_per_sec = uploaded.size as f64 / 1048576.0 / secs.max(1e-9),
        "uploaded"
    );

    if let Err(what) = check_uploaded(&client, &key, &meta, &uploaded).await? {
        // A wrong object must not count as a backup: delete it (best effort) and stop before retention.
        if let Err(e) = client.delete(&key).await {
            tracing::warn!(%key, error = %e, "could not delete the object that failed verification");
        }
        return Err(Error::Verification { key, what });
    }
    tracing::info!(%key, sha256 = %meta.sha256, "upload verified (size, sha256 metadata, ETag)");

    if let Some(signal) = *cancel.borrow() {
        return Err(Error::Interrupted { signal });
    }
    let keys: Vec<String> = client
        .list_keys(Some(&cluster))
        .await?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let decision = retention::plan(
        &client.prefix,
        &cluster,
        &keys,
        Keep::Newest(args.keep as usize),
        Some(&key),
    );
    for old in &decision.delete {
        client.delete(old).await?;
        tracing::info!(key = %old, "deleted by retention");
    }
    tracing::info!(
        %cluster, keep = args.keep, kept = decision.keep.len(), deleted = decision.delete.len(),
        "retention applied"
    );

    let aborted = client
        .abort_stale_uploads(&cluster, args.stale_upload_age)
        .await?;
    tracing::info!(
        %cluster, aborted, older_than = %humantime::format_duration(args.stale_upload_age),
        "stale multipart uploads cleaned up"
    );
    tracing::info!(%key, "backup stored");
    Ok(())
}

/// Reads the object back (HEAD) and compares it with what was sent. `Ok(Err(what))` names the mismatch.
async fn check_uploaded(
    client: &S3Client,
    key: &str,
    meta: &SnapshotMetadata,
    uploaded: &upload::Uploaded,
) -> std::result::Result<std::result::Result<(), String>, Error> {
    if !uploaded.sha256.eq_ignore_ascii_case(&meta.sha256) {
        return Ok(Err(format!(
            "the bytes sent hash to {}, not the verified {} (the file changed during the upload)",
            uploaded.sha256, meta.sha256
        )));
    }
    let info = client.head(key).await?;
    Ok(compare_object(&info, meta, uploaded))
}

/// The pure part of post-upload verification.
fn compare_object(
    info: &ObjectInfo,
    meta: &SnapshotMetadata,
    uploaded: &upload::Uploaded,
) -> std::result::Result<(), String> {
    match info.size {
        Some(size) if size == meta.file_size => {}
        Some(size) => {
            return Err(format!(
                "it is {size} bytes, the snapshot is {}",
                meta.file_size
            ))
        }
        None => return Err("the store reported no size for it".into()),
    }
    match info.metadata.get(meta::SHA256) {
        Some(sha) if sha.eq_ignore_ascii_case(&meta.sha256) => {}
        Some(sha) => return Err(format!("its sha256 metadata is {sha}, not {}", meta.sha256)),
        None => return Err("it carries no sha256 metadata".into()),
    }
    // Only an ETag of the multipart form is comparable; encrypted stores return other shapes.
    if let Some(etag) = &info.etag {
        if is_multipart_etag(etag) && !etag.eq_ignore_ascii_case(&uploaded.multipart_etag) {
            return Err(format!(
                "its ETag is {etag}, the parts sent make {}",
                uploaded.multipart_etag
            ));
        }
    }
    Ok(())
}

fn is_multipart_etag(etag: &str) -> bool {
    match etag.split_once('-') {
        Some((hash, n)) => {
            hash.len() == 32
                && hash.bytes().all(|b| b.is_ascii_hexdigit())
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

pub async fn run_prune(args: PruneArgs) -> Result<()> {
    prune(args).await.map_err(Into::into)
}

async fn prune(args: PruneArgs) -> std::result::Result<(), Error> {
    check_cluster(&args.cluster)?;
    let client = S3Client::from_args(&args.s3)?;
    let keep = match (args.all, args.keep) {
        (true, _) => Keep::Nothing,
        (false, Some(n)) => Keep::Newest(n as usize),
        (false, None) => {
            return Err(Error::Usage(
                "say how much to keep: --keep N (the newest N stay) or --all (delete every backup of the cluster)".into(),
            ))
        }
    };
    let keys: Vec<String> = client
        .list_keys(Some(&args.cluster))
        .await?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let decision = retention::plan(&client.prefix, &args.cluster, &keys, keep, None);
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    for key in &decision.delete {
        if !args.dry_run {
            client.delete(key).await?;
        }
        println!("{verb} {key}");
    }
    tracing::info!(
        cluster = %args.cluster, kept = decision.keep.len(), deleted = decision.delete.len(),
        dry_run = args.dry_run, "retention applied"
    );
    // With --all the cluster is gone, so even a young upload is abandoned.
    let age = if args.all {
        Duration::ZERO
    } else {
        args.stale_upload_age
    };
    if args.dry_run {
        let now = chrono::Utc::now();
        for u in client.multipart_uploads(&args.cluster).await? {
            let old = u
                .initiated
                .is_some_and(|t| now.signed_duration_since(t).to_std().unwrap_or_default() >= age);
            if old && backup::parse_key(&client.prefix, &u.key).is_some() {
                println!("would abort the unfinished upload of {}", u.key);
            }
        }
    } else {
        let aborted = client.abort_stale_uploads(&args.cluster, age).await?;
        tracing::info!(cluster = %args.cluster, aborted, "stale multipart uploads cleaned up");
    }
    Ok(())
}

pub async fn run_download(args: DownloadArgs) -> Result<()> {
    download(args).await.map_err(Into::into)
}

async fn download(args: DownloadArgs) -> std::result::Result<(), Error> {
    if let Some(c) = &args.cluster {
        check_cluster(c)?;
    }
    let client = S3Client::from_args(&args.s3)?;
    let key = match (&args.key, &args.cluster) {
        (Some(k), Some(c)) if !k.contains('/') => {
            let name = ObjectName::parse(k)
                .ok_or_else(|| Error::Usage(format!("{k:?} is not an etcdbak backup name")))?;
            backup::object_key(&client.prefix, c, &name)
        }
        (Some(k), cluster) => {
            let (c, _) = backup::parse_key(&client.prefix, k).ok_or_else(|| {
                Error::Usage(format!(
                    "{k:?} is not an etcdbak backup key under prefix {:?}: copy it from `etcdbak list`",
                    client.prefix
                ))
            })?;
            if let Some(given) = cluster {
                if *given != c {
                    return Err(Error::Usage(format!(
                        "the key {k:?} belongs to cluster {c:?}, not {given:?}"
                    )));
                }
            }
            k.clone()
        }
        (None, Some(c)) => client
            .list_backups(Some(c))
            .await?
            .into_iter()
            .next()
            .map(|b| b.key)
            .ok_or_else(|| Error::NoBackups {
                cluster: c.clone(),
                location: format!(
                    "s3://{}/{}",
                    client.bucket_name,
                    backup::cluster_prefix(&client.prefix, c)
                ),
            })?,
        (None, None) => {
            return Err(Error::Usage(
                "say which backup: --cluster NAME (its newest backup) or --key KEY (as `etcdbak list` shows it)".into(),
            ))
        }
    };
    let info = client.head(&key).await?;
    let expected_sha =
        info.metadata
            .get(meta::SHA256)
            .cloned()
            .ok_or_else(|| Error::Verification {
                key: key.clone(),
                what: "it carries no sha256 metadata, so it cannot be checked".into(),
            })?;
    let output = match &args.output {
        Some(p) => p.clone(),
        None => PathBuf::from(key.rsplit('/').next().unwrap_or(SNAPSHOT_FILE)),
    };
    if output.exists() {
        return Err(Error::Usage(format!(
            "{} already exists: remove it or choose another --output",
            output.display()
        )));
    }
    let mut part = output.clone().into_os_string();
    part.push(".part");
    let part = PathBuf::from(part);
    tracing::info!(%key, output = %output.display(), bytes = ?info.size, "downloading");
    let started = Instant::now();
    let result = fetch(&client, &key, &part, info.size).await;
    let checked = match result {
        Ok(verifier) => match verifier.finish() {
            Ok(v) if !v.sha256.eq_ignore_ascii_case(&expected_sha) => Err(Error::DownloadCorrupt {
                key: key.clone(),
                what: format!(
                    "its SHA-256 is {}, its metadata says {expected_sha}",
                    v.sha256
                ),
            }),
            Ok(v) if info.size.is_some_and(|s| s != v.file_size) => Err(Error::DownloadCorrupt {
                key: key.clone(),
                what: format!("got {} bytes, the object is {:?}", v.file_size, info.size),
            }),
            Ok(v) => Ok(v),
            Err(e) => Err(Error::DownloadCorrupt {
                key: key.clone(),
                what: e.to_string(),
            }),
        },
        Err(e) => Err(e),
    };
    let verified = match checked {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    std::fs::rename(&part, &output).map_err(|e| {
        let _ = std::fs::remove_file(&part);
        Error::io(format!("renaming {} into place", part.display()), e)
    })?;
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    tracing::info!(
        %key, output = %output.display(), bytes = verified.file_size, sha256 = %verified.sha256,
        secs = started.elapsed().as_secs_f64(),
        "downloaded and verified (sha256 metadata, etcd hash trailer)"
    );
    println!("{}", output.display());
    Ok(())
}

/// Streams the object into `part`, hashing as it goes, and fsyncs it.
pub async fn fetch(
    client: &S3Client,
    key: &str,
    part: &Path,
    size: Option<u64>,
) -> std::result::Result<verify::Verifier, Error> {
    use futures::StreamExt;
    let mut stream = client
        .bucket
        .get_object_stream(key)
        .await
        .map_err(|e| client.classify(&format!("download {key}"), e))?;
    let file = tokio::fs::File::create(part)
        .await
        .map_err(|e| Error::io(format!("creating {}", part.display()), e))?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut verifier = verify::Verifier::new();
    let bar = crate::logging::bytes_bar(size, "downloading");
    while let Some(chunk) = stream.bytes.next().await {
        let chunk = chunk.map_err(|e| client.classify(&format!("download {key}"), e))?;
        verifier.update(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(|e| Error::io(format!("writing {}", part.display()), e))?;
        if let Some(bar) = &bar {
            bar.set_position(verifier.len());
        }
    }
    out.flush()
        .await
        .map_err(|e| Error::io(format!("writing {}", part.display()), e))?;
    out.get_ref()
        .sync_all()
        .await
        .map_err(|e| Error::io(format!("syncing {}", part.display()), e))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(verifier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_parse_in_binary_units_within_s3_limits() {
        assert_eq!(parse_part_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_part_size("16M"), Ok(16 << 20));
        assert_eq!(parse_part_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_part_size("5242880"), Ok(5 << 20));
        for bad in [
            "",
            "4MiB",
            "6GiB",
            "8XB",
            "-8MiB",
            "MiB",
            "99999999999999999999GiB",
        ] {
            assert!(parse_part_size(bad).is_err(), "{bad:?} accepted");
        }
    }

    fn meta() -> SnapshotMetadata {
        SnapshotMetadata {
            cluster: "prod".into(),
            member: "m1".into(),
            member_id: "1".into(),
            endpoint: "e".into(),
            revision: 5,
            db_size: 10,
            file_size: 100,
            sha256: "ab".repeat(32),
            taken_at: chrono::Utc::now(),
            etcd_version: "3.6".into(),
            etcdbak_version: "0.1".into(),
        }
    }

    #[test]
    fn metadata_whose_time_no_object_name_can_hold_is_refused() {
        let json = |taken_at: &str| {
            let mut v = serde_json::to_value(meta()).expect("json");
            v["takenAt"] = taken_at.into();
            v.to_string()
        };
        for (taken_at, ok) in [
            ("2026-11-25T10:30:00.123Z", true),
            ("0000-01-01T00:00:00Z", true),
            ("9999-12-31T23:59:59.999Z", true),
            // From the fuzzer: accepted before, and the object it named was invisible to list and prune.
            ("-026-12-25T10:30:00.123456Z", false),
            ("+10000-01-01T00:00:00Z", false),
        ] {
            assert_eq!(parse_metadata(&json(taken_at)).is_ok(), ok, "{taken_at}");
        }
    }

    #[test]
    fn uploaded_objects_must_match_size_sha_and_etag() {
        let m = meta();
        let up = upload::Uploaded {
            size: 100,
            parts: 1,
            sha256: m.sha256.clone(),
            multipart_etag: format!("{}-1", "0".repeat(32)),
        };
        let good = ObjectInfo {
            size: Some(100),
            etag: Some(up.multipart_etag.clone()),
            metadata: [(meta::SHA256.to_string(), m.sha256.clone())].into(),
        };
        assert_eq!(compare_object(&good, &m, &up), Ok(()));
        let cases: Vec<(&str, ObjectInfo)> = vec![
            (
                "size",
                ObjectInfo {
                    size: Some(99),
                    ..good.clone()
                },
            ),
            (
                "no size",
                ObjectInfo {
                    size: None,
                    ..good.clone()
                },
            ),
            (
                "sha",
                ObjectInfo {
                    metadata: [(meta::SHA256.to_string(), "cd".repeat(32))].into(),
                    ..good.clone()
                },
            ),
            (
                "no sha",
                ObjectInfo {
                    metadata: Default::default(),
                    ..good.clone()
                },
            ),
            (
                "etag",
                ObjectInfo {
                    etag: Some(format!("{}-1", "1".repeat(32))),
                    ..good.clone()
                },
            ),
        ];
        for (what, info) in cases {
            assert!(compare_object(&info, &m, &up).is_err(), "{what} accepted");
        }
        // An ETag that is not of the multipart form (SSE-KMS, other stores) is not compared.
        let other = ObjectInfo {
            etag: Some("opaque".into()),
            ..good
        };
        assert_eq!(compare_object(&other, &m, &up), Ok(()));
    }

    #[test]
    fn no_metadata_name_is_a_dash_prefix_of_another() {
        let names: Vec<String> = metadata_pairs(&meta(), "prod")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        for a in &names {
            for b in &names {
                assert!(
                    !b.starts_with(&format!("{a}-")),
                    "{a} and {b} break rust-s3's signing"
                );
            }
        }
    }

    #[test]
    fn metadata_names_are_stable() {
        let names: Vec<String> = metadata_pairs(&meta(), "prod")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        insta::assert_yaml_snapshot!(names);
    }
}
