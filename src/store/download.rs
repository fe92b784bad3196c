//! `etcdbak download`: fetch a backup into `PATH.part`, reversing its pipeline (age, zstd) as it streams,
//! check the plaintext's SHA-256, size and etcd trailer, then rename it.

use crate::exit::Setting;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::Error;
use crate::backup::SNAPSHOT_FILE;
use crate::naming::{self, ObjectName};
use crate::pipeline::{Expected, Identities, ObjectFacts};
use crate::s3::{self, meta, Client};

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
    /// age identities for an encrypted backup.
    pub identities: Option<std::sync::Arc<Identities>>,
}

/// Downloads and verifies the backup; returns the path it was published at (the command line prints it).
pub async fn run(client: &Client, opts: &Options) -> Result<std::path::PathBuf, Error> {
    let key = resolve_key(client, &opts.which).await?;
    let info = client.head(&key).await?;
    let expected = expected_of(&key, &info)?;
    require_identity(&key, &expected, opts.identities.as_deref())?;
    let output = match &opts.output {
        Some(p) => p.clone(),
        None => PathBuf::from(key.rsplit('/').next().unwrap_or(SNAPSHOT_FILE)),
    };
    if output.exists() {
        return Err(Error::Usage(crate::exit::Usage(format!(
            "{} already exists: remove it or choose another {}",
            output.display(),
            Setting::DownloadOutput
        ))));
    }
    let part = part_path(&output);
    tracing::info!(%key, output = %output.display(), bytes = ?info.size, "downloading");
    let started = Instant::now();
    let identities = opts.identities.clone();
    let fetched =
        super::fetch::fetch_decoded(client, &key, &part, &expected, identities, info.size).await;
    let verified = match fetched {
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
        "downloaded and verified (plaintext sha256 and size from metadata, etcd hash trailer)"
    );
    Ok(output)
}

/// An encrypted backup cannot be read without an identity: refused before anything is downloaded.
pub fn require_identity(
    key: &str,
    expected: &Expected,
    identities: Option<&Identities>,
) -> Result<(), Error> {
    if expected.format.encrypted && identities.is_none() {
        return Err(Error::Decode {
            key: key.to_string(),
            source: crate::pipeline::Error::IdentityRequired,
        });
    }
    Ok(())
}

/// What the object must decode to: from its pipeline metadata (checked against its name), or for an old
/// `.db` object without it, from the store's own sha256 and its size.
pub fn expected_of(key: &str, info: &s3::ObjectHead) -> Result<Expected, Error> {
    let corrupt = |what: String| Error::DownloadCorrupt {
        key: key.to_string(),
        what,
    };
    let name = key.rsplit('/').next().unwrap_or(key);
    let format = ObjectName::parse(name).map(|n| n.format).ok_or_else(|| {
        Error::Usage(crate::exit::Usage(format!(
            "{key:?} is not an etcdbak backup name"
        )))
    })?;
    let recorded =
        ObjectFacts::from_metadata(&info.metadata).map_err(|e| corrupt(e.to_string()))?;
    if let Some(r) = recorded {
        r.check_name(format).map_err(|e| corrupt(e.to_string()))?;
        if let (Some(size), Some(recorded)) = (info.size, r.stored_size) {
            if size != recorded {
                return Err(corrupt(format!(
                    "it is {size} bytes, its metadata records {recorded} stored bytes"
                )));
            }
        }
        return Ok(Expected::from_recorded(&r));
    }
    if format != crate::pipeline::Format::PLAIN {
        return Err(corrupt(
            "it carries no pipeline metadata, so it cannot be decoded and checked".into(),
        ));
    }
    let sha = meta::decode(&info.metadata)
        .sha256
        .ok_or_else(|| corrupt("it carries no sha256 metadata, so it cannot be checked".into()))?;
    let mut digest = [0u8; 32];
    hex::decode_to_slice(sha.to_ascii_lowercase(), &mut digest)
        .map_err(|_| corrupt(format!("its sha256 metadata {sha:?} is not 64 hex digits")))?;
    let size = info
        .size
        .ok_or_else(|| corrupt("the store reported no size for it".into()))?;
    Ok(Expected::plain(digest, size))
}

/// The key to fetch (`download` and `verify` alike): a full key is checked against the prefix (and
/// `--cluster`), a bare name is placed under the cluster, and a cluster alone means its newest backup.
pub(super) async fn resolve_key(client: &Client, which: &Which) -> Result<String, Error> {
    match which {
        Which::Key {
            key,
            cluster: Some(c),
        } if !key.contains('/') => {
            let name = ObjectName::parse(key).ok_or_else(|| {
                Error::Usage(crate::exit::Usage(format!(
                    "{key:?} is not an etcdbak backup name"
                )))
            })?;
            Ok(naming::object_key(&client.prefix, c, &name))
        }
        Which::Key { key, cluster } => {
            let (c, _) = naming::parse_key(&client.prefix, key).ok_or_else(|| {
                Error::Usage(crate::exit::Usage(format!(
                    "{key:?} is not an etcdbak backup key under prefix {:?}: copy it from `etcdbak list`",
                    client.prefix
                )))
            })?;
            if let Some(given) = cluster {
                if *given != c {
                    return Err(Error::Usage(crate::exit::Usage(format!(
                        "the key {key:?} belongs to cluster {c:?}, not {given:?}"
                    ))));
                }
            }
            Ok(key.clone())
        }
        Which::Newest { cluster } => client
            .list_backups(Some(valid_cluster(cluster)?))
            .await?
            .into_iter()
            .next()
            .map(|b| b.key)
            .ok_or_else(|| {
                crate::backup::NoBackups::new(&client.bucket_name, &client.prefix, cluster).into()
            }),
    }
}

fn valid_cluster(name: &str) -> Result<&str, Error> {
    naming::validate_cluster_name(name).map_err(Error::InvalidCluster)?;
    Ok(name)
}

fn part_path(output: &Path) -> PathBuf {
    let mut part = output.to_path_buf().into_os_string();
    part.push(".part");
    PathBuf::from(part)
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
