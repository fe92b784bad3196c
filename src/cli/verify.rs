//! `etcdbak verify`: download one backup and prove it restorable: its SHA-256 and etcd's trailer, then the
//! whole bbolt database walked in Rust, and its revision against the metadata recorded at backup time.

use std::path::PathBuf;
use std::time::Instant;

use crate::backup;
use crate::bolt;
use crate::cli::s3::S3Args;
use crate::s3::{Client as S3Client, ObjectHead};
use crate::verify::backup::{judge, render_table, Expected, Report};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// A table for people.
    Table,
    /// A JSON array for scripts; field names are stable: key, result, problem, keys, revision, dbSize,
    /// seconds.
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
            let owner = backup::parse_key(&client.prefix, key).map(|(c, _)| c);
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
            backup::validate_cluster_name(cluster).map_err(crate::store::Error::InvalidCluster)?;
            let newest = client.list_backups(Some(cluster)).await?.into_iter().next();
            let location = format!("s3://{}/{}", client.bucket_name, backup::cluster_prefix(&client.prefix, cluster));
            // As `download` reports it: the same situation, the same message and exit code.
            newest.map(|b| b.key).ok_or_else(|| {
                crate::store::Error::NoBackups {
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

/// What the object's metadata (as `etcdbak store` writes it) says the backup is.
fn expected(info: &ObjectHead) -> Expected {
    use crate::s3::meta::{REVISION, SHA256};
    Expected {
        sha256: info.metadata.get(SHA256).cloned(),
        file_size: info.size,
        revision: info.metadata.get(REVISION).and_then(|r| r.parse().ok()),
    }
}

/// Downloads, checks and judges one backup.
async fn check(client: &S3Client, key: &str, dir: PathBuf) -> super::Result<Report> {
    let info = client.head(key).await?;
    let expected = expected(&info);
    let stamp = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let scratch = Scratch(dir.join(format!("etcdbak-verify-{}-{stamp}.db", std::process::id())));
    let started = Instant::now();
    // The one call into the download code: stream the object to a file, hashing as it goes.
    let streamed = crate::store::download::fetch(client, key, &scratch.0, info.size)
        .await?
        .finish();
    let path = scratch.0.clone();
    let structure = tokio::task::spawn_blocking(move || bolt::check_file(&path))
        .await
        .map_err(|e| super::Error::io("checking the database", std::io::Error::other(e)))?
        .map_err(|e| super::Error::io(format!("reading {}", scratch.0.display()), e))?;
    let report = judge(
        key,
        streamed,
        Some(structure),
        &expected,
        started.elapsed().as_secs_f64(),
    );
    tracing::info!(%key, result = ?report.result, problem = ?report.problem, keys = ?report.keys,
        revision = ?report.revision, secs = report.seconds, "verified");
    Ok(report)
}

pub async fn run(args: Args) -> super::Result<()> {
    let client = args.s3.connect().await?;
    let key = resolve(&client, &args).await?;
    let dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let report = check(&client, &key, dir).await?;
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
