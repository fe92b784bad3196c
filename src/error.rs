//! The top-level error: one variant per domain, each with a sentence that names what to fix.
//!
//! Exit codes are part of the store-container contract (docs/CONTRACT.md), so they live here in one place.

/// Exit codes. 2 is clap's own for usage errors.
pub mod exit {
    pub const FAILURE: i32 = 1;
    pub const USAGE: i32 = 2;
    /// No etcd endpoint answered, or none was healthy.
    pub const ETCD_UNAVAILABLE: i32 = 3;
    /// TLS or credential problem (wrong CA, bad client cert, access denied).
    pub const AUTH: i32 = 4;
    /// The snapshot on disk is corrupt, truncated, or not an etcd database.
    pub const CORRUPT_SNAPSHOT: i32 = 5;
    /// The object store failed (unreachable, bucket missing, upload or verification failed).
    pub const STORAGE: i32 = 6;
    /// The config file, a template, or a Cluster spec is invalid.
    pub const CONFIG: i32 = 7;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::Error),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    #[error(transparent)]
    Controller(#[from] crate::controller::Error),
    #[error(transparent)]
    Restore(#[from] crate::restore::Error),
    #[error("{0}")]
    Usage(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Snapshot(e) => e.exit_code(),
            Error::Store(e) => e.exit_code(),
            Error::Config(_) => exit::CONFIG,
            Error::Controller(e) => e.exit_code(),
            Error::Restore(e) => e.exit_code(),
            Error::Usage(_) => exit::USAGE,
            Error::Io { .. } => exit::FAILURE,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
