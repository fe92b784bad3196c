//! What can go wrong in `store`, `prune` and `download` beyond S3 itself.

use std::path::PathBuf;

use crate::backup::{METADATA_FILE, SNAPSHOT_FILE};
use crate::exit::Class;
use crate::verify::VerifyError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    S3(#[from] crate::s3::Error),
    #[error("{0}")]
    Usage(String),
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
    /// Encoding or decoding a backup (zstd, age) failed; the pipeline's message names what to fix.
    #[error("{0}")]
    Pipeline(#[from] crate::pipeline::Error),
    /// Downloading `key` failed in the pipeline (wrong identity, truncated, tampered, too large).
    #[error("cannot restore the backup {key}: {source}; no file was left behind")]
    Decode {
        key: String,
        #[source]
        source: crate::pipeline::Error,
    },
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
            Error::S3(e) => e.class(),
            Error::Pipeline(e) | Error::Decode { source: e, .. } => e.class(),
            Error::Usage(_) | Error::InvalidCluster(_) => Class::Usage,
            Error::Corrupt { .. } | Error::DownloadCorrupt { .. } | Error::BadMetadata { .. } => {
                Class::CorruptSnapshot
            }
            Error::ClusterMismatch { .. } => Class::Config,
            Error::NoBackups { .. } | Error::Verification { .. } => Class::Storage,
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
