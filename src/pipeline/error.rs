//! The pipeline's errors: each names what to fix, none carries key material.

use std::io;
use std::path::PathBuf;

use super::format::BadCompression;
use super::metadata::MetadataError;
use crate::exit::Class;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    BadCompression(#[from] BadCompression),
    #[error("cannot read the age {what} file {}: {source}", path.display())]
    KeyFileUnreadable {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `entry` counts from 1 across the whole text; the entry itself is never shown.
    #[error("{origin}, line {line}: entry {entry} is not an age X25519 recipient (expected age1… from `age-keygen -y`)")]
    BadRecipient {
        origin: String,
        line: usize,
        entry: usize,
    },
    #[error("{origin}, line {line}: this is an age secret key, not a recipient; encrypt to its public key (`age-keygen -y KEYFILE` prints it) and keep the secret key out of the backup Job")]
    SecretKeyAsRecipient { origin: String, line: usize },
    #[error(
        "{origin} holds no age recipient (expected one age1… public key per line, # for comments)"
    )]
    NoRecipients { origin: String },
    #[error("{origin}, line {line}: not an age X25519 identity (expected AGE-SECRET-KEY-1… as `age-keygen` writes it; SSH keys and plugins are not supported)")]
    BadIdentity { origin: String, line: usize },
    #[error("{origin} holds no age identity (expected AGE-SECRET-KEY-1… lines as `age-keygen` writes them)")]
    NoIdentities { origin: String },
    #[error("the backup is encrypted (age): give the identity file that holds the secret key of one of its recipients")]
    IdentityRequired,
    #[error("none of the {count} age identities given can decrypt this backup: it was encrypted to other recipients")]
    WrongIdentity { count: usize },
    #[error("the backup is not an age file or its age header is damaged ({detail})")]
    BadHeader { detail: String },
    #[error(
        "the backup failed age authentication: it was truncated or modified after it was stored"
    )]
    Tampered,
    #[error("the backup is truncated: it ends before all of its data ({detail})")]
    Truncated { detail: String },
    #[error("the backup's zstd data is corrupt: {detail}")]
    CorruptCompression { detail: String },
    #[error("the backup decompresses to more than {limit} bytes, its recorded plaintext size allows no more; refusing it as a decompression bomb")]
    TooLarge { limit: u64 },
    #[error("the backup decoded to {actual} bytes, its metadata records {expected}")]
    SizeMismatch { expected: u64, actual: u64 },
    #[error("the backup's plaintext SHA-256 is {actual}, its metadata records {expected}")]
    DigestMismatch { expected: String, actual: String },
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error("reading the snapshot to store failed: {0}")]
    Input(#[source] io::Error),
    #[error("writing the stored object failed: {0}")]
    Sink(#[source] io::Error),
    #[error("reading the stored object failed: {0}")]
    Source(#[source] io::Error),
    #[error("writing the decoded snapshot failed: {0}")]
    Output(#[source] io::Error),
    #[error("zstd could not compress: {0}")]
    Compress(#[source] io::Error),
    #[error("age could not encrypt: {0}")]
    Encrypt(String),
}

impl Error {
    pub fn class(&self) -> Class {
        use Error::*;
        match self {
            BadCompression(_)
            | KeyFileUnreadable { .. }
            | BadRecipient { .. }
            | SecretKeyAsRecipient { .. } => Class::Usage,
            NoRecipients { .. } | BadIdentity { .. } | NoIdentities { .. } | IdentityRequired => {
                Class::Usage
            }
            WrongIdentity { .. } => Class::Auth,
            BadHeader { .. }
            | Tampered
            | Truncated { .. }
            | CorruptCompression { .. }
            | TooLarge { .. } => Class::CorruptSnapshot,
            SizeMismatch { .. } | DigestMismatch { .. } | Metadata(_) => Class::CorruptSnapshot,
            Sink(_) | Source(_) => Class::Storage,
            Input(_) | Output(_) | Compress(_) | Encrypt(_) => Class::Failure,
        }
    }

    /// Carries the error through a `Read`/`Write` impl; [`Error::from_io`] gets it back.
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::other(self)
    }

    /// The pipeline error inside an `io::Error` from an [`Encoder`](super::Encoder),
    /// [`EncodeReader`](super::EncodeReader) or [`Decoder`](super::Decoder); any other I/O error is the
    /// caller's side (`otherwise` says which: e.g. [`Error::Output`] when copying decoded bytes to a file).
    pub fn from_io(e: io::Error, otherwise: fn(io::Error) -> Error) -> Error {
        match e.downcast::<Error>() {
            Ok(ours) => ours,
            Err(e) => otherwise(e),
        }
    }
}
