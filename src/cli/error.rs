//! The command line's error: one variant per domain. Each domain error names its own failure class
//! ([`crate::exit::Class`]); [`Error::class`] is the only place the command line asks for it.

use crate::exit::{Class, IoError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::Error),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    S3(#[from] crate::s3::Error),
    #[error(transparent)]
    List(#[from] crate::list::Error),
    #[error(transparent)]
    Exporter(#[from] crate::exporter::Error),
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    #[error(transparent)]
    Controller(#[from] crate::controller::Error),
    #[error(transparent)]
    Restore(#[from] crate::restore::Error),
    #[error(transparent)]
    Continuous(#[from] crate::continuous::Error),
    #[error(transparent)]
    Verify(#[from] crate::verify::backup::Corrupt),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Io(#[from] IoError),
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io(IoError::new(context, source))
    }

    pub fn class(&self) -> Class {
        match self {
            Error::Snapshot(e) => e.class(),
            Error::Store(e) => e.class(),
            Error::S3(e) => e.class(),
            Error::List(e) => e.class(),
            Error::Exporter(e) => e.class(),
            Error::Config(e) => e.class(),
            Error::Controller(e) => e.class(),
            Error::Restore(e) => e.class(),
            Error::Continuous(e) => e.class(),
            Error::Verify(e) => e.class(),
            Error::Usage(_) => Class::Usage,
            Error::Io(_) => Class::Failure,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
