//! `etcdbak store`, `prune`, `download`, `verify`: the commands over the bucket.
//!
//! `store` is the Job's default store container: it checks the snapshot's bbolt header and size, uploads it
//! in one pass that also verifies it (etcd's hash trailer, the SHA-256 in snapshot.json) before the upload
//! is completed, checks the object S3 now holds, and only then applies retention and cleans up multipart
//! uploads that earlier, killed runs left behind.

mod check;
pub mod cleanup;
pub mod destinations;
pub mod download;
mod encode;
mod error;
pub(crate) mod fetch;
pub mod input;
pub mod locks;
pub mod prune;
pub mod verify_backup;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio::sync::watch;

use crate::backup::{self, SnapshotMetadata, SNAPSHOT_FILE};
use crate::naming;
use crate::pipeline::{Encoding, Format, ObjectFacts};
use crate::retention::{self, Keep, Policy};
use crate::s3::{self, fanout, Client, UploadPlan};
use crate::verify::{self, VerifyError};

pub use destinations::Destination;
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
    /// What retention keeps after a verified upload (its rules keep something: checked by the caller).
    pub retention: Policy,
    pub plan: UploadPlan,
    /// Unfinished uploads older than this are aborted.
    pub stale_upload_age: Duration,
    /// How the snapshot is compressed and encrypted on its way to the bucket.
    pub encoding: Encoding,
}

/// Every backup under the client's prefix (of one cluster, or of all clusters), newest first by the time and
/// revision in their names. Foreign files in the prefix are never returned.
pub async fn list_backups(
    client: &Client,
    cluster: Option<&str>,
) -> Result<Vec<backup::Backup>, Error> {
    Ok(client.list_backups(cluster).await?)
}

/// Fills in each backup's plaintext size from its metadata (one HEAD per compressed or encrypted backup);
/// a backup whose metadata cannot be read keeps `None`.
pub async fn fill_plaintext_sizes(client: &Client, backups: &mut [backup::Backup]) {
    for b in backups.iter_mut().filter(|b| b.plaintext_bytes.is_none()) {
        let Ok(head) = client.head(&b.key).await else {
            continue;
        };
        if let Ok(Some(r)) = ObjectFacts::from_metadata(&head.metadata) {
            b.plaintext_bytes = Some(r.plaintext_size);
        }
    }
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
/// after the one before succeeded. One destination: [`run_all`] with the client as `primary`.
pub async fn run(client: &Client, opts: &Options) -> Result<(), Error> {
    let dest = Destination {
        name: s3::destination::FIRST_NAME.into(),
        client: client.clone(),
    };
    run_all(std::slice::from_ref(&dest), Vec::new(), opts).await
}

/// [`run`] to every destination from one read of the snapshot: each checked before the read, sent the same
/// parts, its object checked on its own, its retention applied on its own. A destination that fails drops
/// out and the others finish; the error then names it ([`destinations::Partial`]). With one destination
/// its error is the run's, as it always was. `unready` are further destinations that could not take part
/// (their credentials did not resolve): the run goes on without them and fails naming them.
pub async fn run_all(
    dests: &[Destination],
    unready: Vec<destinations::Failed>,
    opts: &Options,
) -> Result<(), Error> {
    let cancel = watch_signals();
    let meta = input::read_metadata(&opts.dir)?;
    let cluster = input::resolve_cluster(opts.cluster.as_deref(), &meta)?;
    let many = dests.len() + unready.len() > 1;
    let mut results = join_all(dests.iter().map(|d| ready(d, &cluster, many))).await;
    if results.iter().all(Result::is_err) {
        return destinations::outcome(dests, results, unready);
    }
    let snapshot = opts.dir.join(SNAPSHOT_FILE);
    check_before_upload(&snapshot, &meta).await?;

    let format = opts.encoding.pipeline().format();
    let name = meta.object_name().with_format(format);
    let keys: Vec<String> = dests
        .iter()
        .map(|d| naming::object_key(&d.client.prefix, &cluster, &name))
        .collect();
    let recorded = encode::pipeline_record(&meta, opts.encoding.pipeline())?;
    let payload = if format == Format::PLAIN {
        s3::Payload::Plain
    } else {
        s3::Payload::Encoded {
            encoding: opts.encoding.clone(),
        }
    };
    let sent = Sent {
        meta: &meta,
        cluster: &cluster,
        payload,
        recorded: &recorded,
    };
    let started = chrono::Utc::now();
    let live: Vec<usize> = (0..dests.len()).filter(|i| results[*i].is_ok()).collect();
    let targets: Vec<fanout::Dest<'_>> = live
        .iter()
        .map(|&i| fanout::Dest {
            client: &dests[i].client,
            key: &keys[i],
        })
        .collect();
    let uploaded = upload(&targets, opts, &snapshot, &sent, &cancel).await?;
    let cancel = &cancel;
    let after = live.iter().zip(uploaded).map(|(&i, up)| {
        let step = After {
            key: &keys[i],
            sent: &sent,
            started,
        };
        let dest = &dests[i];
        async move { finish(dest, step, up, opts, cancel).await }
    });
    for (&i, r) in live.iter().zip(join_all(after).await) {
        results[i] = r;
    }
    destinations::outcome(dests, results, unready)
}

/// What is asked of a destination before the snapshot is read: that its bucket answers, and holds Object
/// Lock when its backups are to be locked.
async fn ready(dest: &Destination, cluster: &str, many: bool) -> Result<(), Error> {
    let client = &dest.client;
    let checked = async {
        client.check_access(cluster).await?;
        if client.lock.is_some() {
            client.require_object_lock().await?;
        }
        Ok::<(), s3::Error>(())
    };
    checked.await.map_err(|e| {
        if many {
            tracing::warn!(destination = %dest.name, bucket = %client.bucket_name, error = %e, "destination not ready; the others go on");
        }
        e.into()
    })
}

/// One destination's upload, as the later steps need it.
struct After<'a> {
    key: &'a str,
    sent: &'a Sent<'a>,
    /// When the upload started: a lock asked for counts from here.
    started: chrono::DateTime<chrono::Utc>,
}

/// After the upload, on one destination: check the object it holds (deleting a wrong one), then apply its
/// retention and sweep its stale uploads.
async fn finish(
    dest: &Destination,
    step: After<'_>,
    uploaded: Result<s3::Uploaded, s3::Error>,
    opts: &Options,
    cancel: &watch::Receiver<Option<&'static str>>,
) -> Result<(), Error> {
    let (client, key, name) = (&dest.client, step.key, &dest.name);
    let uploaded = uploaded?;
    let (meta, recorded) = (step.sent.meta, step.sent.recorded);
    let mut verdict = check::check_uploaded(client, key, meta, recorded, &uploaded).await?;
    if let (true, Some(lock)) = (verdict.is_ok(), client.lock) {
        verdict = check::check_locked(client, key, &lock, step.started).await?;
    }
    if let Err(what) = verdict {
        // A wrong object must not count as a backup: delete it (best effort) and stop before retention.
        match client.remove(key).await {
            Ok(s3::Removal::Gone) => {}
            Ok(s3::Removal::Locked(locked)) => {
                tracing::warn!(%key, %locked, "the object that failed verification is locked and stays");
            }
            Err(e) => {
                tracing::warn!(%key, error = %e, "could not delete the object that failed verification");
            }
        }
        let key = key.to_string();
        return Err(s3::Error::Verification { key, what }.into());
    }
    tracing::info!(destination = %name, %key, sha256 = %meta.sha256, "upload verified (size, sha256 metadata, ETag)");
    if let Some(lock) = &client.lock {
        tracing::info!(%key, mode = %lock.mode, retain = %humantime::format_duration(lock.retain), "the backup is locked (S3 Object Lock)");
    }

    if let Some(signal) = *cancel.borrow() {
        return Err(s3::Error::Interrupted { signal }.into());
    }
    let cluster = step.sent.cluster;
    apply_retention(client, cluster, &opts.retention, key).await?;
    let aborted = client
        .abort_stale_uploads(cluster, opts.stale_upload_age)
        .await?;
    tracing::info!(
        destination = %name, %cluster, aborted, older_than = %humantime::format_duration(opts.stale_upload_age),
        "stale multipart uploads cleaned up"
    );
    tracing::info!(destination = %name, %key, "backup stored");
    Ok(())
}

/// What can be checked without reading the whole file, before anything is sent: the size snapshot.json
/// records, and the bbolt header (the first pages). The rest is checked during the upload's one pass.
async fn check_before_upload(snapshot: &Path, meta: &SnapshotMetadata) -> Result<(), Error> {
    let path = snapshot.to_path_buf();
    let size = meta.file_size;
    let checked = tokio::task::spawn_blocking(move || read_head(&path))
        .await
        .map_err(|e| s3::Error::Request {
            op: "check the snapshot".into(),
            reason: e.to_string(),
        })?;
    let (len, head) = checked.map_err(|source| Error::Input {
        path: snapshot.to_path_buf(),
        source,
    })?;
    verdict_before_upload(len, size, &head).map_err(|source| s3::Error::Corrupt {
        path: snapshot.to_path_buf(),
        source,
    })?;
    tracing::info!(
        file = %snapshot.display(), bytes = size, revision = meta.revision,
        "snapshot checked before upload (size, bbolt header)"
    );
    Ok(())
}

/// The file's length and its first pages (enough for both bbolt meta pages).
fn read_head(path: &Path) -> std::io::Result<(u64, Vec<u8>)> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut head = Vec::with_capacity(HEAD_LEN);
    (&mut file).take(HEAD_LEN as u64).read_to_end(&mut head)?;
    Ok((len, head))
}

/// Bytes read before upload for the bbolt check: both meta pages at etcd's 4 KiB page size, with room.
const HEAD_LEN: usize = 64 * 1024;

/// The pre-upload verdict: the size must be snapshot.json's, at least two meta pages plus etcd's trailer,
/// and the bbolt header must be sound. Pure.
fn verdict_before_upload(len: u64, expected: u64, head: &[u8]) -> Result<(), VerifyError> {
    if len != expected {
        return Err(VerifyError::SizeMismatch {
            expected,
            actual: len,
        });
    }
    if len < 2 * 512 + verify::TRAILER_LEN {
        return Err(VerifyError::TooShort(len));
    }
    crate::bolt::meta::check_header(head)
        .map(|_| ())
        .map_err(VerifyError::from)
}

/// What one upload sends: the snapshot's metadata, how its bytes are made, and what that records.
struct Sent<'a> {
    meta: &'a SnapshotMetadata,
    cluster: &'a str,
    payload: s3::Payload,
    recorded: &'a ObjectFacts,
}

/// Sends the snapshot to every target from one read; each target's outcome, in their order.
async fn upload(
    targets: &[fanout::Dest<'_>],
    opts: &Options,
    snapshot: &std::path::Path,
    sent: &Sent<'_>,
    cancel: &watch::Receiver<Option<&'static str>>,
) -> Result<fanout::Outcomes, Error> {
    let meta = sent.meta;
    for t in targets {
        tracing::info!(
            bucket = %t.client.bucket_name, key = %t.key, snapshot_bytes = meta.file_size,
            pipeline = %sent.recorded.pipeline, part_size = opts.plan.part_size,
            concurrency = opts.plan.concurrency, "uploading"
        );
    }
    let started = Instant::now();
    let expected = s3::Expected {
        sha256: meta.sha256.clone(),
        size: meta.file_size,
        payload: sent.payload.clone(),
    };
    let mut metadata = s3::meta::encode(meta, sent.cluster);
    metadata.extend(sent.recorded.to_metadata());
    let outcomes = fanout::upload_to_all(
        targets,
        snapshot,
        &metadata,
        opts.plan,
        &expected,
        cancel.clone(),
    )
    .await?;
    let secs = started.elapsed().as_secs_f64();
    for (t, uploaded) in targets.iter().zip(&outcomes) {
        let Ok(uploaded) = uploaded else { continue };
        tracing::info!(
            key = %t.key, bytes = uploaded.size, parts = uploaded.parts, secs,
            mib_per_sec = uploaded.size as f64 / 1048576.0 / secs.max(1e-9), single_put = uploaded.single,
            sha256 = %uploaded.sha256,
            "uploaded; snapshot verified in the same pass (etcd hash trailer, bbolt header, metadata)"
        );
    }
    Ok(outcomes)
}

/// Applies the tiered policy to the cluster's backups, never deleting the one just uploaded or the newest
/// one `etcdbak verify` recorded as sound.
async fn apply_retention(
    client: &Client,
    cluster: &str,
    policy: &Policy,
    just_uploaded: &str,
) -> Result<(), Error> {
    let keys: Vec<String> = client
        .list_keys(Some(cluster))
        .await?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let keep = Keep::Tiered(*policy);
    let mut decision =
        retention::plan_deletions(&client.prefix, cluster, &keys, keep, Some(just_uploaded));
    let mut report = prune::Report::default();
    let heads = prune::hold_locked(client, &mut decision, &mut report, false).await?;
    prune::delete_planned(client, &decision, &keep, &heads, &mut report).await?;
    tracing::info!(
        %cluster, policy = %policy, kept = decision.keep.len(), deleted = report.deleted.len(),
        locked = report.locked.len(), "retention applied"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_upload_only_the_size_and_the_header_are_judged() {
        let short = vec![0u8; 100];
        assert!(matches!(
            verdict_before_upload(100, 200, &short),
            Err(VerifyError::SizeMismatch {
                expected: 200,
                actual: 100
            })
        ));
        assert!(matches!(
            verdict_before_upload(100, 100, &short),
            Err(VerifyError::TooShort(100))
        ));
        // Long enough, but no bbolt meta page: refused before a byte is sent.
        let junk = vec![0x5au8; 100_000];
        assert!(verdict_before_upload(100_000, 100_000, &junk[..HEAD_LEN]).is_err());
    }
}
