//! `etcdbak verify`: download one backup and prove it restorable: its SHA-256 and etcd's trailer, then the
//! whole bbolt database walked in Rust, and its revision against the metadata recorded at backup time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::bolt;
use crate::cli::s3::S3Args;
use crate::exit::Class;
use crate::naming;
use crate::pipeline::{self, Identities};
use crate::s3::{Client as S3Client, ObjectHead};
use crate::store;
use crate::verify::backup::{judge, render_table, Expected, Report};
use crate::verify::etcdutl;
use crate::verify::Verified;

pub const LONG_ABOUT: &str = "\
Prove a backup restorable: its SHA-256, etcd's trailer, the whole bbolt database and its revision.

A sound backup gets a verification record beside it in the bucket (its key plus .verified), which
`list` shows and retention honours: store and prune never delete the newest backup that has one. A
corrupt backup loses its record. Writing the record needs write access; without it verify warns and
the verdict stands.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// A table for people.
    Table,
    /// A JSON array for scripts; field names are stable: key, result, problem, keys, revision, dbSize,
    /// seconds, and etcdutl (agrees or disagrees) with --with-etcdutl.
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub s3: S3Args,
    /// Verify this cluster's newest backup.
    #[arg(long, env = "ETCDBAK_CLUSTER", value_name = "NAME")]
    pub cluster: Option<String>,
    /// Verify this backup instead (its full key, as `etcdbak list` shows it).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Where the backup is downloaded to while it is checked (removed afterwards); it needs room for one
    /// backup. Default: the system's temporary directory.
    #[arg(long, env = "ETCDBAK_VERIFY_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// age identity file (`age-keygen` output, AGE-SECRET-KEY-1… lines) to decrypt an encrypted (`.age`)
    /// backup; one of its keys must be a recipient of the backup.
    #[arg(long, env = "ETCDBAK_IDENTITY", value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// After the Rust check passes, also run etcd's own `etcdutl snapshot status` and `snapshot restore`
    /// (into a scratch data dir beside the download, removed afterwards) and require etcdutl's revision
    /// to be the Rust check's. etcdutl must be on PATH.
    #[arg(long)]
    pub with_etcdutl: bool,
}

/// Removes the downloaded copy however the check ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn resolve(client: &S3Client, args: &Args) -> super::Result<String> {
    match (&args.key, &args.cluster) {
        (Some(key), cluster) => {
            let owner = naming::parse_key(&client.prefix, key).map(|(c, _)| c);
            match (owner, cluster) {
                (None, _) => Err(super::Error::Usage(format!(
                    "{key:?} is not an etcdbak backup key under prefix {:?}: copy it from `etcdbak list`",
                    client.prefix
                ))),
                (Some(c), Some(given)) if c != *given => Err(super::Error::Usage(format!(
                    "the key {key:?} belongs to cluster {c:?}, not {given:?}"
                ))),
                _ => Ok(key.clone()),
            }
        }
        (None, Some(cluster)) => {
            naming::validate_cluster_name(cluster).map_err(store::Error::InvalidCluster)?;
            let newest = client.list_backups(Some(cluster)).await?.into_iter().next();
            let location = format!("s3://{}/{}", client.bucket_name, naming::cluster_prefix(&client.prefix, cluster));
            // As `download` reports it: the same situation, the same message and exit code.
            newest.map(|b| b.key).ok_or_else(|| {
                store::Error::NoBackups {
                    cluster: cluster.clone(),
                    location,
                }
                .into()
            })
        }
        (None, None) => Err(super::Error::Usage(
            "say which backup: --cluster NAME (its newest backup) or --key KEY (as `etcdbak list` shows it)".into(),
        )),
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
fn verdict_or_error(
    fetched: Result<Verified, store::Error>,
) -> super::Result<Result<Verified, String>> {
    match fetched {
        Ok(v) => Ok(Ok(v)),
        Err(store::Error::DownloadCorrupt { what, .. }) => Ok(Err(what)),
        Err(store::Error::Decode { source, .. }) if source.class() == Class::CorruptSnapshot => {
            Ok(Err(source.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Downloads (reversing the backup's pipeline), checks and judges one backup.
async fn check(
    client: &S3Client,
    key: &str,
    dir: PathBuf,
    identities: Option<Arc<Identities>>,
    with_etcdutl: bool,
) -> super::Result<Report> {
    let info = client.head(key).await?;
    let started = Instant::now();
    let decoded = match store::download::expected_of(key, &info) {
        Ok(d) => d,
        Err(store::Error::DownloadCorrupt { what, .. }) => {
            let none = Expected::default();
            return Ok(judge(
                key,
                Err(what),
                None,
                &none,
                started.elapsed().as_secs_f64(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    store::download::require_identity(key, &decoded, identities.as_deref())?;
    let expected = expected(&info, &decoded);
    let stamp = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let scratch = Scratch(dir.join(format!("etcdbak-verify-{}-{stamp}.db", std::process::id())));
    // The one call into the download code: stream the object through its decoder to a file.
    let fetched =
        store::fetch::fetch_decoded(client, key, &scratch.0, &decoded, identities, info.size).await;
    let streamed = verdict_or_error(fetched)?;
    let structure = match &streamed {
        Ok(_) => {
            let path = scratch.0.clone();
            let checked = tokio::task::spawn_blocking(move || bolt::check_file(&path))
                .await
                .map_err(|e| super::Error::io("checking the database", std::io::Error::other(e)))?
                .map_err(|e| super::Error::io(format!("reading {}", scratch.0.display()), e))?;
            Some(checked)
        }
        Err(_) => None,
    };
    let mut report = judge(
        key,
        streamed,
        structure,
        &expected,
        started.elapsed().as_secs_f64(),
    );
    if with_etcdutl && report.sound().is_ok() {
        report.with_etcdutl(second_opinion(&scratch.0, report.revision).await?);
        report.seconds = started.elapsed().as_secs_f64();
    }
    tracing::info!(%key, result = ?report.result, problem = ?report.problem, keys = ?report.keys,
        revision = ?report.revision, secs = report.seconds, "verified");
    Ok(report)
}

/// etcdutl's status and restore of the downloaded file, off the async threads.
async fn second_opinion(
    file: &std::path::Path,
    revision: Option<i64>,
) -> super::Result<Result<(), String>> {
    let file = file.to_path_buf();
    let scratch = file.with_extension("etcdutl-restore");
    let opinion = tokio::task::spawn_blocking(move || etcdutl::check(&file, revision, &scratch))
        .await
        .map_err(|e| super::Error::io("running etcdutl", std::io::Error::other(e)))??;
    Ok(opinion)
}

/// Records the verdict beside the backup, so retention keeps the newest sound one: a record for a sound
/// backup, none for a corrupt one (one that rotted on the store after an earlier pass loses its record).
/// A failure here is a warning, not an error: the verdict stands, only retention's floor does without it.
async fn record(client: &S3Client, report: &Report) {
    let key = crate::naming::verified_record_key(&report.key);
    let done = match report.sound() {
        Ok(()) => match crate::verify::backup::record(report, chrono::Utc::now()) {
            Ok(body) => crate::s3::upload::put_small(client, &key, body).await,
            Err(e) => Err(crate::s3::Error::Request {
                op: format!("write {key}"),
                reason: e.to_string(),
            }),
        },
        Err(_) => client.delete(&key).await,
    };
    if let Err(e) = done {
        tracing::warn!(%key, error = %e,
            "could not record the verdict in the bucket; retention will not count this backup as verified");
    }
}

pub async fn run(args: Args) -> super::Result<()> {
    if args.with_etcdutl {
        etcdutl::probe()?;
    }
    let client = args.s3.connect().await?;
    let key = resolve(&client, &args).await?;
    let dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let identities = super::download::identities(args.identity.as_deref())?;
    let report = check(&client, &key, dir, identities, args.with_etcdutl).await?;
    record(&client, &report).await;
    match args.output {
        Output::Json => {
            let json = serde_json::to_string_pretty(std::slice::from_ref(&report))
                .map_err(|e| super::Error::io("encoding the report", std::io::Error::other(e)))?;
            println!("{json}");
        }
        Output::Table => println!("{}", render_table(std::slice::from_ref(&report))),
    }
    report.sound().map_err(Into::into)
}
