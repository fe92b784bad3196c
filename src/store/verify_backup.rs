//! `etcdbak verify`: download one backup and prove it restorable: its SHA-256 and etcd's trailer, then the
//! whole bbolt database walked in Rust, and its revision against the metadata recorded at backup time. The
//! verdict is recorded beside the backup (retention keeps the newest sound one) and returned as a report.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::download::{self, Which};
use super::Error;
use crate::bolt;
use crate::exit::Class;
use crate::pipeline::{self, Identities};
use crate::s3::{Client, ObjectHead};
use crate::verify::backup::{judge, Expected, Report};
use crate::verify::etcdutl;
use crate::verify::Verified;

/// Which backup to prove, and how, as the command line was given it.
#[derive(Debug, Clone)]
pub struct Options {
    /// Found the way `download` finds it.
    pub which: Which,
    /// Where the backup is downloaded to while it is checked (removed afterwards).
    pub dir: PathBuf,
    /// age identities for an encrypted backup.
    pub identities: Option<Arc<Identities>>,
    /// Also ask etcd's own `etcdutl` (status and a scratch restore) once the Rust check passes.
    pub with_etcdutl: bool,
}

/// What a verification found, and whether the verdict reached the bucket.
#[derive(Debug)]
pub struct Verification {
    pub report: Report,
    /// Writing (or, for a corrupt backup, removing) `<key>.verified`. A failure fails the run: without
    /// the record, retention's "newest verified backup stays" floor silently stops working.
    pub recorded: Result<(), crate::s3::Error>,
}

/// Checks and judges the backup, then records the verdict in the bucket. A corrupt backup is a report
/// (`Report::sound` says so), not an error: errors are what kept the check from a verdict.
pub async fn run(client: &Client, opts: &Options) -> Result<Verification, Error> {
    if opts.with_etcdutl {
        etcdutl::probe()?;
    }
    let key = download::resolve_key(client, &opts.which).await?;
    let report = check(client, &key, opts).await?;
    let recorded = write_verified_record(client, &report).await;
    Ok(Verification { report, recorded })
}

/// Removes the downloaded copy however the check ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What the object must decode to (from its name and recorded pipeline), as the verdict compares it.
fn expected(info: &ObjectHead, decoded: &pipeline::Expected) -> Expected {
    Expected {
        sha256: Some(hex::encode(decoded.sha256)),
        file_size: decoded.size,
        revision: info
            .metadata
            .get(crate::s3::meta::REVISION)
            .and_then(|r| r.parse().ok()),
    }
}

/// A download that failed because the backup is bad is a verdict (exit 5 with the reason); one that failed
/// for any other reason (network, a missing or wrong identity) is an error.
fn verdict_or_error(fetched: Result<Verified, Error>) -> Result<Result<Verified, String>, Error> {
    match fetched {
        Ok(v) => Ok(Ok(v)),
        Err(Error::DownloadCorrupt { what, .. }) => Ok(Err(what)),
        Err(Error::Decode { source, .. }) if source.class() == Class::CorruptSnapshot => {
            Ok(Err(source.to_string()))
        }
        Err(e) => Err(e),
    }
}

/// Downloads (reversing the backup's pipeline), checks and judges one backup.
async fn check(client: &Client, key: &str, opts: &Options) -> Result<Report, Error> {
    let info = client.head(key).await?;
    let started = Instant::now();
    let decoded = match download::expected_of(key, &info) {
        Ok(d) => d,
        Err(Error::DownloadCorrupt { what, .. }) => {
            let none = Expected::default();
            let secs = started.elapsed().as_secs_f64();
            return Ok(judge(key, Err(what), None, &none, secs));
        }
        Err(e) => return Err(e),
    };
    download::require_identity(key, &decoded, opts.identities.as_deref())?;
    let expected = expected(&info, &decoded);
    let stamp = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let file = format!("etcdbak-verify-{}-{stamp}.db", std::process::id());
    let scratch = Scratch(opts.dir.join(file));
    // The one call into the download code: stream the object through its decoder to a file.
    let identities = opts.identities.clone();
    let fetched =
        super::fetch::fetch_decoded(client, key, &scratch.0, &decoded, identities, info.size).await;
    let streamed = verdict_or_error(fetched)?;
    let structure = match &streamed {
        Ok(_) => Some(structure_of(&scratch.0).await?),
        Err(_) => None,
    };
    let secs = started.elapsed().as_secs_f64();
    let mut report = judge(key, streamed, structure, &expected, secs);
    if opts.with_etcdutl && report.sound().is_ok() {
        report.with_etcdutl(second_opinion(&scratch.0, report.revision).await?);
        report.seconds = started.elapsed().as_secs_f64();
    }
    tracing::info!(%key, result = ?report.result, problem = ?report.problem, keys = ?report.keys,
        revision = ?report.revision, secs = report.seconds, "verified");
    Ok(report)
}

/// The whole-file structural walk of the downloaded database, off the async threads.
async fn structure_of(file: &Path) -> Result<bolt::Verdict, Error> {
    let path = file.to_path_buf();
    tokio::task::spawn_blocking(move || bolt::check_file(&path))
        .await
        .map_err(|e| Error::io("checking the database", std::io::Error::other(e)))?
        .map_err(|e| Error::io(format!("reading {}", file.display()), e))
}

/// etcdutl's status and restore of the downloaded file, off the async threads.
async fn second_opinion(file: &Path, revision: Option<i64>) -> Result<Result<(), String>, Error> {
    let file = file.to_path_buf();
    let scratch = file.with_extension("etcdutl-restore");
    let opinion = tokio::task::spawn_blocking(move || etcdutl::check(&file, revision, &scratch))
        .await
        .map_err(|e| Error::io("running etcdutl", std::io::Error::other(e)))??;
    Ok(opinion)
}

/// The client to write `backup`'s record with: one that locks it as long as the backup is locked (same
/// mode, no earlier date), so the record and its backup expire together and retention, which deletes a
/// record only with its backup, never meets a record locked longer than the backup. Unlocked: `client`.
async fn locked_like(client: &Client, backup: &str) -> Result<Client, crate::s3::Error> {
    let mut out = client.clone();
    let hold = client.current(backup, None).await?.map(|c| c.hold);
    out.lock = hold.and_then(|h| h.as_lock_from(chrono::Utc::now()));
    if let Some(lock) = &out.lock {
        tracing::info!(%backup, mode = %lock.mode, "the verification record is locked like its backup");
    }
    Ok(out)
}

/// Records the verdict beside the backup, so retention keeps the newest sound one: a record for a sound
/// backup, none for a corrupt one (one that rotted on the store after an earlier pass loses its record).
/// It needs PutObject and DeleteObject on the cluster's prefix (docs/CONTRACT.md, the verify container).
async fn write_verified_record(client: &Client, report: &Report) -> Result<(), crate::s3::Error> {
    let key = crate::naming::verified_record_key(&report.key);
    let done = match report.sound() {
        Ok(()) => match crate::verify::backup::verified_record(report, chrono::Utc::now()) {
            Ok(body) => {
                let locked = locked_like(client, &report.key).await?;
                crate::s3::upload::put_small(&locked, &key, body).await
            }
            Err(e) => Err(crate::s3::Error::Request {
                op: format!("write {key}"),
                reason: e.to_string(),
            }),
        },
        Err(_) => client.delete(&key).await,
    };
    done.map_err(|e| crate::s3::Error::Request {
        op: format!("record the verdict as {key} (verify needs PutObject and DeleteObject there)"),
        reason: e.to_string(),
    })
}
