//! Why a restore guide could not be made, each with the failure class its exit code follows.

use crate::exit::Class;
use crate::exit::Setting;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Usage(#[from] crate::exit::Usage),
    #[error(transparent)]
    S3(#[from] crate::s3::Error),
    // Not transparent: the command line finds it among the causes to add which flags to check.
    #[error("{0}")]
    NoBackups(#[from] crate::backup::NoBackups),
    #[error("no backup of cluster {cluster} matches {key:?}: copy a key from `etcdbak list {setting} {cluster}`", setting = Setting::Cluster)]
    SnapshotNotFound { cluster: String, key: String },
    #[error("none of the {checked} newest backups of cluster {cluster} carries metadata matching its name: pick one with {} and check it with `etcdbak download`", Setting::RestoreSnapshot)]
    NoneVerified { cluster: String, checked: usize },
    #[error("choosing a snapshot: {0}")]
    Prompt(String),
    /// The chain of segments a restore to a point needs is missing or damaged.
    #[error(transparent)]
    Chain(#[from] crate::continuous::Error),
}

impl Error {
    pub fn class(&self) -> Class {
        match self {
            Error::Usage(_) | Error::SnapshotNotFound { .. } => Class::Usage,
            Error::S3(e) => e.class(),
            Error::NoBackups(_) => Class::Storage,
            Error::NoneVerified { .. } => Class::CorruptSnapshot,
            Error::Prompt(_) => Class::Failure,
            Error::Chain(e) => e.class(),
        }
    }
}
