//! What a backup is: the files `snapshot` leaves for `store`, and the object names in the bucket.
//!
//! OWNER: data-path (S3 side) helper fills in object naming and parsing. The metadata struct and the file
//! names are shared contract between `snapshot` and `store`; change them only together.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The seed's contract: custom store containers read the snapshot from here.
pub const SNAPSHOT_FILE: &str = "snapshot.db";
/// Written beside the snapshot, renamed into place together with it.
pub const METADATA_FILE: &str = "snapshot.json";

/// Written by `etcdbak snapshot` as `snapshot.json`; uploaded as S3 user metadata by `etcdbak store`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotMetadata {
    /// The Cluster's name (the backup prefix component).
    pub cluster: String,
    /// The name of the member the snapshot was streamed from.
    pub member: String,
    /// That member's ID, hex.
    pub member_id: String,
    /// The endpoint it was reached at.
    pub endpoint: String,
    /// The store revision at the time of the snapshot.
    pub revision: i64,
    /// The member's reported database size in bytes.
    pub db_size: u64,
    /// Bytes in `snapshot.db`, etcd's 32-byte SHA-256 trailer included.
    pub file_size: u64,
    /// Lower-case hex SHA-256 of the whole `snapshot.db` file.
    pub sha256: String,
    /// When the snapshot stream finished.
    pub taken_at: DateTime<Utc>,
    /// The server version the member reported.
    pub etcd_version: String,
    /// The etcdbak version that took it.
    pub etcdbak_version: String,
}
