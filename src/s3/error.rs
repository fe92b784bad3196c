//! What can go wrong talking to S3, each with the sentence that names what to fix.

use crate::exit::Setting;
use std::path::PathBuf;

use crate::exit::{Class, IoError};
use crate::verify::VerifyError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The settings cannot make a client (empty bucket, malformed endpoint, unknown region).
    #[error("{0}")]
    Settings(String),
    #[error("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials) in the environment")]
    MissingCredentials,
    #[error(transparent)]
    Credentials(#[from] crate::credentials::Error),
    #[error(
        "cannot reach the S3 endpoint {endpoint} ({reason}): check {} and that the store is up",
        Setting::S3Endpoint
    )]
    Unreachable { endpoint: String, reason: String },
    #[error(
        "the bucket \"{bucket}\" does not exist at {endpoint}: create it or fix {}",
        Setting::Bucket
    )]
    BucketMissing { bucket: String, endpoint: String },
    /// `credentials` names the source the keys came from (an IRSA role is not fixed by editing a Secret).
    #[error("S3 refused to {op} in bucket \"{bucket}\" ({code}): check the credentials from the {credentials} and the bucket's policy")]
    AccessDenied {
        op: String,
        bucket: String,
        code: String,
        credentials: &'static str,
    },
    /// `store` was asked to lock its backups in a bucket that cannot hold locks.
    #[error("Object Lock is not enabled on bucket \"{bucket}\": create the bucket with Object Lock (aws s3api create-bucket --object-lock-enabled-for-bucket, mc mb --with-lock) or unset {}", Setting::ObjectLockMode)]
    ObjectLockOff { bucket: String },
    #[error("cannot {op}: {reason}")]
    Request { op: String, reason: String },
    /// The store does not implement an optional operation; callers that can do without it degrade.
    #[error("the store does not support the request to {op} ({reason})")]
    Unsupported { op: String, reason: String },
    #[error("there is no object {key} in bucket \"{bucket}\": check the key with `etcdbak list`")]
    NotFound { key: String, bucket: String },
    /// A part the store acknowledged is not the part that was sent.
    #[error("the uploaded object {key} failed verification ({what}); it was not kept and retention did not run")]
    Verification { key: String, what: String },
    /// The one-pass check failed: the upload was never completed (or the single PUT never sent).
    #[error("{path} is not a usable etcd snapshot: {source}; nothing was uploaded")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: VerifyError,
    },
    #[error("{path} changed while it was being uploaded ({what}); nothing was uploaded")]
    Changed { path: PathBuf, what: String },
    #[error(
        "interrupted by {signal}; the unfinished upload was aborted and retention did not run"
    )]
    Interrupted { signal: &'static str },
    #[error(transparent)]
    Io(#[from] IoError),
}

impl Error {
    pub fn class(&self) -> Class {
        match self {
            Error::Settings(_) => Class::Usage,
            Error::ObjectLockOff { .. } => Class::Config,
            Error::MissingCredentials | Error::AccessDenied { .. } => Class::Auth,
            Error::Credentials(e) => e.class(),
            Error::Unreachable { .. }
            | Error::BucketMissing { .. }
            | Error::Request { .. }
            | Error::Unsupported { .. }
            | Error::NotFound { .. }
            | Error::Verification { .. } => Class::Storage,
            Error::Corrupt { .. } | Error::Changed { .. } => Class::CorruptSnapshot,
            Error::Interrupted { .. } | Error::Io(_) => Class::Failure,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io(IoError::new(context, source))
    }
}
