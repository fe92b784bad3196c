//! `etcdbak store`, `prune`, `download`: the commands over the bucket.
//!
//! `store` is the Job's default store container: it refuses a snapshot that does not verify, uploads it with
//! a multipart upload of bounded memory, checks the object S3 now holds, and only then applies retention and
//! cleans up multipart uploads that earlier, killed runs left behind.

mod check;
pub mod download;
mod error;
pub mod input;
pub mod prune;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::backup::{self, ObjectName, SnapshotMetadata, SNAPSHOT_FILE};
use crate::retention::{self, Keep};
use crate::s3::{self, upload, Client, UploadPlan};
use crate::verify;

pub use error::Error;
pub use input::parse_metadata;

/// Default part size 8 MiB and 3 parts in flight. Part buffers are reused, so the upload holds exactly
/// `part size x concurrency` (24 MiB) on top of a ~10 MiB process: measured peak RSS 35 MiB for both an
/// 81 MiB and a 317 MiB snapshot (18 MiB at 1 part, 27 at 2, 43 at 4; 76 MiB at 16 MiB x 4), against the
/// 64 MiB budget. On loopback MinIO, 2-4 parts in flight upload at the same speed within noise and 1 is
/// slower; 3 leaves room for links with real latency. 8 MiB keeps an 8 GiB database (etcd's suggested
/// maximum) at 1,024 parts, far below S3's 10,000.
pub const DEFAULT_PART_SIZE: &str = "8MiB";
pub const DEFAULT_CONCURRENCY: u16 = 3;

/// What `store` is asked to do, checked by the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// Holds snapshot.db and snapshot.json.
    pub dir: PathBuf,
    /// `None`: the cluster recorded in snapshot.json.
    pub cluster: Option<String>,
    /// How many backups retention keeps (at least 1).
    pub keep: u32,
    pub plan: UploadPlan,
    /// Unfinished uploads older than this are aborted.
    pub stale_upload_age: Duration,
}

/// Every backup under the client's prefix (of one cluster, or of all clusters), newest first by the time and
/// revision in their names. Foreign files in the prefix are never returned.
pub async fn list_backups(
    client: &Client,
    cluster: Option<&str>,
) -> Result<Vec<backup::Backup>, Error> {
    Ok(client.list_backups(cluster).await?)
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

/// Verify, upload, check the object, apply retention, sweep stale uploads: in that order, each step only
/// after the one before succeeded.
pub async fn run(client: &Client, opts: &Options) -> Result<(), Error> {
    let cancel = watch_signals();
    let meta = input::read_metadata(&opts.dir)?;
    let cluster = input::resolve_cluster(opts.cluster.as_deref(), &meta)?;
    client.check_access(&cluster).await?;
    let snapshot = opts.dir.join(SNAPSHOT_FILE);
    let verified = verify_snapshot(&snapshot, &meta, cancel.clone()).await?;

    let key = backup::object_key(&client.prefix, &cluster, &ObjectName::for_snapshot(&meta));
    let uploaded = upload(
        client, opts, &snapshot, &key, &meta, &cluster, verified, &cancel,
    )
    .await?;
    if let Err(what) = check::check_uploaded(client, &key, &meta, &uploaded).await? {
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
    apply_retention(client, &cluster, opts.keep, &key).await?;
    let aborted = client
        .abort_stale_uploads(&cluster, opts.stale_upload_age)
        .await?;
    tracing::info!(
        %cluster, aborted, older_than = %humantime::format_duration(opts.stale_upload_age),
        "stale multipart uploads cleaned up"
    );
    tracing::info!(%key, "backup stored");
    Ok(())
}

/// Checks the trailer, the bbolt header and the metadata's size and SHA-256 before anything is sent.
async fn verify_snapshot(
    snapshot: &std::path::Path,
    meta: &SnapshotMetadata,
    mut cancel: watch::Receiver<Option<&'static str>>,
) -> Result<verify::Verified, Error> {
    let started = Instant::now();
    let path = snapshot.to_path_buf();
    let verifying = tokio::task::spawn_blocking(move || verify::verify_file(&path));
    let verified = tokio::select! {
        done = verifying => done,
        signal = upload::wait_cancel(&mut cancel) => return Err(Error::Interrupted { signal }),
    };
    let verified = verified
        .map_err(|e| s3::Error::Request {
            op: "verify the snapshot".into(),
            reason: e.to_string(),
        })?
        .map_err(|source| Error::Input {
            path: snapshot.to_path_buf(),
            source,
        })?
        .and_then(|v| verify::check_against(&v, &meta.sha256, meta.file_size).map(|()| v))
        .map_err(|source| Error::Corrupt {
            path: snapshot.to_path_buf(),
            source,
        })?;
    tracing::info!(
        file = %snapshot.display(), bytes = verified.file_size, sha256 = %verified.sha256,
        revision = meta.revision, secs = started.elapsed().as_secs_f64(),
        "snapshot verified (etcd hash trailer, bbolt header, metadata)"
    );
    Ok(verified)
}

#[allow(clippy::too_many_arguments)]
async fn upload(
    client: &Client,
    opts: &Options,
    snapshot: &std::path::Path,
    key: &str,
    meta: &SnapshotMetadata,
    cluster: &str,
    verified: verify::Verified,
    cancel: &watch::Receiver<Option<&'static str>>,
) -> Result<s3::Uploaded, Error> {
    let part_size = opts.plan.effective_part_size(verified.file_size);
    tracing::info!(
        bucket = %client.bucket_name, %key, bytes = verified.file_size, part_size,
        concurrency = opts.plan.concurrency, "uploading"
    );
    let started = Instant::now();
    let uploaded = upload::upload_file(
        client,
        snapshot,
        verified.file_size,
        key,
        &s3::meta::encode(meta, cluster),
        opts.plan,
        cancel.clone(),
    )
    .await
    .map_err(|e| match e {
        s3::Error::Interrupted { signal } => Error::Interrupted { signal },
        e => e.into(),
    })?;
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(
        %key, bytes = uploaded.size, parts = uploaded.parts, secs,
        mib_per_sec = uploaded.size as f64 / 1048576.0 / secs.max(1e-9),
        "uploaded"
    );
    Ok(uploaded)
}

/// Keeps the newest `keep` backups of the cluster, never the one just uploaded among the deleted.
async fn apply_retention(
    client: &Client,
    cluster: &str,
    keep: u32,
    just_uploaded: &str,
) -> Result<(), Error> {
    let keys: Vec<String> = client
        .list_keys(Some(cluster))
        .await?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let decision = retention::plan(
        &client.prefix,
        cluster,
        &keys,
        Keep::Newest(keep as usize),
        Some(just_uploaded),
    );
    for old in &decision.delete {
        client.delete(old).await?;
        tracing::info!(key = %old, "deleted by retention");
    }
    tracing::info!(
        %cluster, keep, kept = decision.keep.len(), deleted = decision.delete.len(),
        "retention applied"
    );
    Ok(())
}
