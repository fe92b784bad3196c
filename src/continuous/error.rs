use crate::exit::Class;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    S3(#[from] crate::s3::Error),
    #[error(transparent)]
    Etcd(#[from] crate::snapshot::Error),
    #[error("the full backup that starts a new chain failed: {0}")]
    Rebase(#[from] crate::store::Error),
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::Error),
    #[error("no restore to that point: {0}")]
    Plan(#[from] super::chain::PlanError),
    #[error("segment {key} is damaged: {what}")]
    Corrupt { key: String, what: String },
    #[error("segment {0} is encrypted: an age identity is needed to read it")]
    NeedsIdentity(String),
    #[error("replaying revision {revision} failed: {why}")]
    Replay { revision: i64, why: String },
    #[error("a segment with no events")]
    Empty,
    #[error("a worker thread failed: {0}")]
    Task(String),
}

impl Error {
    pub fn class(&self) -> Class {
        match self {
            Error::S3(e) => e.class(),
            Error::Etcd(e) => e.class(),
            Error::Rebase(e) => e.class(),
            Error::Pipeline(e) => e.class(),
            Error::Plan(_) => Class::Storage,
            Error::Corrupt { .. } => Class::CorruptSnapshot,
            Error::NeedsIdentity(_) => Class::Usage,
            Error::Replay { .. } => Class::EtcdUnavailable,
            Error::Empty | Error::Task(_) => Class::Failure,
        }
    }
}
