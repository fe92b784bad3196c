//! What can go wrong in `store`, `prune`, `download` and `verify` beyond S3 itself. What S3 already names (the
//! object that failed verification, the snapshot found corrupt on the way up, the interrupted upload) stays
//! an [`crate::s3::Error`] inside [`Error::S3`], with its message and class.

use crate::exit::Setting;
use std::path::PathBuf;

use crate::backup::{METADATA_FILE, SNAPSHOT_FILE};
use crate::exit::{Class, IoError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    S3(#[from] crate::s3::Error),
    #[error(transparent)]
    Usage(#[from] crate::exit::Usage),
    // Not transparent: the command line finds it among the causes to add which flags to check.
    #[error("{0}")]
    NoBackups(#[from] crate::backup::NoBackups),
    #[error("the downloaded backup {key} is corrupt ({what}); the partial file was deleted")]
    DownloadCorrupt { key: String, what: String },
    #[error("{path} is not valid snapshot metadata ({reason}): re-run `etcdbak snapshot`")]
    BadMetadata { path: PathBuf, reason: String },
    #[error("cannot read {path} ({source}): check {} (`etcdbak snapshot` writes {SNAPSHOT_FILE} and {METADATA_FILE} there)", Setting::SnapshotDir)]
    Input {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{METADATA_FILE} says the snapshot is of cluster \"{recorded}\" but {} is \"{given}\": store it under its own cluster or fix it", Setting::Cluster)]
    ClusterMismatch { recorded: String, given: String },
    #[error("invalid cluster name: {0}")]
    InvalidCluster(String),
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
    /// `verify --with-etcdutl` without etcdutl to run.
    #[error(transparent)]
    Etcdutl(#[from] crate::verify::etcdutl::Missing),
    #[error(transparent)]
    Io(#[from] IoError),
    /// `store` to several destinations: some failed (named, with why), the others hold the backup.
    #[error("{0}")]
    Destinations(super::destinations::Partial),
    /// A further destination whose credentials did not resolve (none set, or their source failed): it is
    /// down for this run like an unreachable one, so it counts as the object store's failure (exit 6).
    #[error("its credentials could not be resolved: {0}")]
    Unready(String),
}

impl Error {
    pub fn class(&self) -> Class {
        match self {
            Error::S3(e) => e.class(),
            Error::Pipeline(e) | Error::Decode { source: e, .. } => e.class(),
            Error::Usage(_) | Error::InvalidCluster(_) => Class::Usage,
            Error::DownloadCorrupt { .. } | Error::BadMetadata { .. } => Class::CorruptSnapshot,
            Error::ClusterMismatch { .. } => Class::Config,
            Error::NoBackups(_) | Error::Unready(_) => Class::Storage,
            Error::Input { .. } | Error::Etcdutl(_) | Error::Io(_) => Class::Failure,
            Error::Destinations(p) => p.class(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io(IoError::new(context, source))
    }
}
