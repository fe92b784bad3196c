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
    #[error(transparent)]
    Chain(#[from] crate::continuous::check::Broken),
    #[error(transparent)]
    Usage(#[from] crate::exit::Usage),
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
            Error::Chain(_) => Class::CorruptSnapshot,
            Error::Usage(_) => Class::Usage,
            Error::Io(_) => Class::Failure,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which flags fix `e`, found along its chain of causes: the library names what went wrong, the command
/// line names its own flags.
pub fn hint(e: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<crate::backup::NoBackups>().is_some() {
            return Some("check --bucket, --prefix and --cluster with `etcdbak list`");
        }
        cause = c.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_backup_gets_the_flags_to_check_however_deep_it_is() {
        let none = crate::backup::NoBackups::new("b", "etcdbak", "ghost");
        let e = Error::Restore(crate::restore::Error::NoBackups(none.clone()));
        let line = crate::cli::with_hint(&e);
        assert_eq!(
            line,
            "there are no backups of cluster \"ghost\" under s3://b/etcdbak/ghost/: check --bucket, \
             --prefix and --cluster with `etcdbak list`"
        );
        let e = Error::Store(crate::store::Error::NoBackups(none));
        assert!(hint(&e).is_some());
        assert_eq!(hint(&Error::Usage(crate::exit::Usage("x".into()))), None);
    }
}
