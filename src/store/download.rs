//! `etcdbak download`: fetch a backup into `PATH.part`, check its SHA-256 and etcd trailer, then rename it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use tokio::io::AsyncWriteExt;

use super::Error;
use crate::backup::{self, ObjectName, SNAPSHOT_FILE};
use crate::s3::{self, meta, Client};
use crate::verify;

/// Which backup to fetch, as the command line was given it.
#[derive(Debug, Clone)]
pub enum Which {
    /// `--key`: a full key, or just a file name with `cluster`.
    Key {
        key: String,
        cluster: Option<String>,
    },
    /// `--cluster` alone: that cluster's newest backup.
    Newest { cluster: String },
}

#[derive(Debug, Clone)]
pub struct Options {
    pub which: Which,
    /// Default: the object's file name in the current directory.
    pub output: Option<PathBuf>,
}

pub async fn run(client: &Client, opts: &Options) -> Result<(), Error> {
    let key = resolve_key(client, &opts.which).await?;
    let info = client.head(&key).await?;
    let expected_sha = meta::decode(&info.metadata)
        .sha256
        .ok_or_else(|| Error::Verification {
            key: key.clone(),
            what: "it carries no sha256 metadata, so it cannot be checked".into(),
        })?;
    let output = match &opts.output {
        Some(p) => p.clone(),
        None => PathBuf::from(key.rsplit('/').next().unwrap_or(SNAPSHOT_FILE)),
    };
    if output.exists() {
        return Err(Error::Usage(format!(
            "{} already exists: remove it or choose another --output",
            output.display()
        )));
    }
    let part = part_path(&output);
    tracing::info!(%key, output = %output.display(), bytes = ?info.size, "downloading");
    let started = Instant::now();
    let checked = match fetch(client, &key, &part, info.size).await {
        Ok(verifier) => check(&key, verifier, &expected_sha, info.size),
        Err(e) => Err(e),
    };
    let verified = match checked {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    publish(&part, &output)?;
    tracing::info!(
        %key, output = %output.display(), bytes = verified.file_size, sha256 = %verified.sha256,
        secs = started.elapsed().as_secs_f64(),
        "downloaded and verified (sha256 metadata, etcd hash trailer)"
    );
    println!("{}", output.display());
    Ok(())
}

/// The key to fetch: a full key is checked against the prefix (and `--cluster`), a bare name is placed
/// under the cluster, and a cluster alone means its newest backup.
async fn resolve_key(client: &Client, which: &Which) -> Result<String, Error> {
    match which {
        Which::Key {
            key,
            cluster: Some(c),
        } if !key.contains('/') => {
            let name = ObjectName::parse(key)
                .ok_or_else(|| Error::Usage(format!("{key:?} is not an etcdbak backup name")))?;
            Ok(backup::object_key(&client.prefix, c, &name))
        }
        Which::Key { key, cluster } => {
            let (c, _) = backup::parse_key(&client.prefix, key).ok_or_else(|| {
                Error::Usage(format!(
                    "{key:?} is not an etcdbak backup key under prefix {:?}: copy it from `etcdbak list`",
                    client.prefix
                ))
            })?;
            if let Some(given) = cluster {
                if *given != c {
                    return Err(Error::Usage(format!(
                        "the key {key:?} belongs to cluster {c:?}, not {given:?}"
                    )));
                }
            }
            Ok(key.clone())
        }
        Which::Newest { cluster } => client
            .list_backups(Some(cluster))
            .await?
            .into_iter()
            .next()
            .map(|b| b.key)
            .ok_or_else(|| Error::NoBackups {
                cluster: cluster.clone(),
                location: format!(
                    "s3://{}/{}",
                    client.bucket_name,
                    backup::cluster_prefix(&client.prefix, cluster)
                ),
            }),
    }
}

fn part_path(output: &Path) -> PathBuf {
    let mut part = output.to_path_buf().into_os_string();
    part.push(".part");
    PathBuf::from(part)
}

/// The downloaded bytes must be an etcd snapshot whose SHA-256 and size are the object's.
fn check(
    key: &str,
    verifier: verify::Verifier,
    expected_sha: &str,
    size: Option<u64>,
) -> Result<verify::Verified, Error> {
    let corrupt = |what: String| Error::DownloadCorrupt {
        key: key.to_string(),
        what,
    };
    match verifier.finish() {
        Ok(v) if !v.sha256.eq_ignore_ascii_case(expected_sha) => Err(corrupt(format!(
            "its SHA-256 is {}, its metadata says {expected_sha}",
            v.sha256
        ))),
        Ok(v) if size.is_some_and(|s| s != v.file_size) => Err(corrupt(format!(
            "got {} bytes, the object is {size:?}",
            v.file_size
        ))),
        Ok(v) => Ok(v),
        Err(e) => Err(corrupt(e.to_string())),
    }
}

/// Renames the checked file into place and syncs its directory, so the name survives a crash.
fn publish(part: &Path, output: &Path) -> Result<(), Error> {
    std::fs::rename(part, output).map_err(|e| {
        let _ = std::fs::remove_file(part);
        Error::io(format!("renaming {} into place", part.display()), e)
    })?;
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Streams the object into `part`, hashing as it goes, and fsyncs it.
/// Streams an object into `part`, hashing as it goes (download and verify both read backups this way).
pub async fn fetch(
    client: &Client,
    key: &str,
    part: &Path,
    size: Option<u64>,
) -> Result<verify::Verifier, Error> {
    use futures::StreamExt;
    let op = format!("download {key}");
    let mut stream = client
        .call(&op, client.bucket.get_object_stream(key))
        .await?;
    let file = tokio::fs::File::create(part)
        .await
        .map_err(|e| Error::io(format!("creating {}", part.display()), e))?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut verifier = verify::Verifier::new();
    let bar = crate::logging::bytes_bar(size, "downloading");
    // A stall, not a total deadline: a large backup on a slow link takes as long as it needs.
    let stalled = || s3::Error::Request {
        op: op.clone(),
        reason: s3::stall::reason(client.stall_timeout),
    };
    while let Some(chunk) = tokio::time::timeout(client.stall_timeout, stream.bytes.next())
        .await
        .map_err(|_| stalled())?
    {
        let chunk = chunk.map_err(|e| client.classify(&op, e))?;
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
