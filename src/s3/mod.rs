//! The S3 adapter: connection settings, a client that never shows its credentials, a bounded-memory
//! multipart upload, the one codec for the metadata every backup object carries, and the translation of S3
//! failures into one sentence that names what to fix.
//!
//! `store`, `prune`, `download`, `list`, the restore guide and the exporter all reach S3 through here.

pub mod classify;
pub mod client;
pub mod destination;
pub mod error;
pub mod fanout;
pub mod lock;
pub mod meta;
pub mod sign;
pub mod source;
pub mod sse;
pub mod stall;
pub mod upload;
pub mod versions;

use std::time::Duration;

pub use client::{Client, ListedObject, ObjectHead, PendingUpload};
pub use destination::{CredentialSource, DestinationSpec};
pub use error::Error;
pub use lock::{LockMode, Locked, ObjectLock};
pub use source::{Expected, Payload};
pub use sse::Sse;
pub use upload::{UploadPlan, Uploaded};
pub use versions::{Current, Removal};

/// Where backups are stored, as plain values (the command line's `S3Args` builds it).
///
/// Credentials are not flags: they come from the AWS credential chain ([`crate::credentials`]), so they never
/// show up in a process listing, a pod spec's args or a log line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The endpoint URL; `None` means AWS S3, whose endpoint follows from `region`.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    /// The key prefix as given; the client normalises it.
    pub prefix: String,
    /// Path-style addressing (http://host/bucket/key) rather than virtual-hosted style.
    pub path_style: bool,
    /// Send Content-MD5 with every uploaded part.
    pub content_md5: bool,
    /// Limit for a single request; `None` means no limit.
    pub request_timeout: Option<Duration>,
    /// Limit for connecting to the endpoint.
    pub connect_timeout: Duration,
    /// Limit for a request that moves no bytes.
    pub stall_timeout: Duration,
    /// Keys from the credential chain ([`crate::credentials`]), kept current for the run: the only way
    /// credentials reach the client.
    pub credentials: crate::credentials::Provider,
    /// Server-side encryption of the objects etcdbak writes (and, for SSE-C, reads).
    pub sse: Sse,
    /// Object Lock on every backup `store` writes; `None` writes them unlocked. With a lock, every PUT carries
    /// Content-MD5, as S3 requires of locked writes.
    pub object_lock: Option<ObjectLock>,
    /// Where uploads and downloads report how far they got.
    pub progress: crate::progress::Reporter,
}
