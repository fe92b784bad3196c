//! bbolt, the database inside every etcd snapshot: the crate's one reader of it.
//!
//! Pure over bytes: [`page`] parses one page from a slice, [`meta`] the two meta pages, and the pager
//! reads pages on demand from any `Read + Seek` (a file, a cursor in a test), so memory stays bounded.
//! [`revision`] reads the store revision the way `etcdutl snapshot status` does; [`check`] walks the whole
//! file (what `bbolt check` does) and returns a [`Verdict`] naming the first bad page.

mod check;
#[cfg(test)]
pub(crate) mod fixture;
pub mod meta;
pub mod page;
mod pager;
mod revision;

pub use check::{check, check_file, Summary, Verdict};
pub use meta::{check_header, HeaderError};
pub use revision::{main_revision, revision, revision_of_file};

/// Something wrong inside the database, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The page the problem is on (for an inline bucket, the page holding it).
    pub page: Option<u64>,
    pub what: String,
}

impl Problem {
    pub fn at(page: u64, what: impl std::fmt::Display) -> Problem {
        Problem {
            page: Some(page),
            what: what.to_string(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.page {
            Some(p) => write!(f, "page {p}: {}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading the snapshot: {0}")]
    Io(#[from] std::io::Error),
    #[error("unexpected bbolt layout: {0}")]
    Layout(Problem),
}

impl From<Problem> for Error {
    fn from(p: Problem) -> Self {
        Error::Layout(p)
    }
}

impl Error {
    pub fn class(&self) -> crate::exit::Class {
        match self {
            Error::Io(_) => crate::exit::Class::Failure,
            Error::Layout(_) => crate::exit::Class::CorruptSnapshot,
        }
    }
}
