//! What a backup is: the files `snapshot` leaves for `store`, and a backup as a listing shows it. Its
//! object name and key are [`crate::naming`]'s.
//!
//! The metadata struct and the file names are the contract between `snapshot` and `store` (and custom store
//! containers, docs/CONTRACT.md); change them only together.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::naming::{parse_key, ObjectName};

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

impl SnapshotMetadata {
    /// The object name this snapshot is stored under.
    pub fn object_name(&self) -> ObjectName {
        ObjectName::new(self.taken_at, self.revision, &self.sha256)
    }
}

/// One backup in the bucket, as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    /// The cluster the backup belongs to (the key's second-to-last component).
    pub cluster: String,
    /// The full object key.
    pub key: String,
    /// When the snapshot was taken (from the object name).
    pub taken_at: DateTime<Utc>,
    /// The etcd revision in the snapshot (from the object name).
    pub revision: i64,
    /// Object size in bytes (the stored size: after compression and encryption).
    pub size_bytes: u64,
    /// The SHA-256 prefix in the object name.
    pub sha256_prefix: String,
    /// The object is zstd-compressed (`.zst` in its name).
    pub compressed: bool,
    /// The object is age-encrypted (`.age` in its name).
    pub encrypted: bool,
    /// The snapshot's size before compression and encryption, from the object's metadata when it was read
    /// (`list` HEADs each backup); for a plain `.db` object it is the object's size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext_bytes: Option<u64>,
    /// `etcdbak verify` found it sound: its verification record is in the same listing.
    pub verified: bool,
}

impl Backup {
    /// A backup from a listed key, if the key is exactly `<prefix>/<cluster>/<name>` in our scheme.
    pub fn from_key(prefix: &str, key: &str, size_bytes: u64) -> Option<Backup> {
        let (cluster, name) = parse_key(prefix, key)?;
        Some(Backup {
            cluster,
            key: key.to_string(),
            taken_at: name.taken_at,
            revision: name.revision,
            size_bytes,
            sha256_prefix: name.sha_prefix,
            compressed: name.format.compressed,
            encrypted: name.format.encrypted,
            plaintext_bytes: (name.format == crate::pipeline::Format::PLAIN).then_some(size_bytes),
            verified: false,
        })
    }

    pub fn name(&self) -> ObjectName {
        ObjectName {
            taken_at: self.taken_at,
            revision: self.revision,
            sha_prefix: self.sha256_prefix.clone(),
            format: crate::pipeline::Format {
                compressed: self.compressed,
                encrypted: self.encrypted,
            },
        }
    }
}

/// A cluster with no backup where one was looked for: `store`'s download and `restore-guide` report it
/// alike (the command line adds which flags to check).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("there are no backups of cluster \"{cluster}\" under {location}")]
pub struct NoBackups {
    pub cluster: String,
    /// `s3://bucket/prefix/cluster/`.
    pub location: String,
}

impl NoBackups {
    pub fn new(bucket: &str, prefix: &str, cluster: &str) -> NoBackups {
        NoBackups {
            cluster: cluster.to_string(),
            location: format!(
                "s3://{bucket}/{}",
                crate::naming::cluster_prefix(prefix, cluster)
            ),
        }
    }
}

/// The backups among one listing's `(key, size)` objects (of `cluster`, or of every cluster), newest
/// first, each marked verified when its verification record is in the same listing.
pub fn from_listing(prefix: &str, objects: &[(String, u64)], cluster: Option<&str>) -> Vec<Backup> {
    let records: std::collections::HashSet<&str> = objects
        .iter()
        .filter_map(|(key, _)| key.strip_suffix(crate::naming::VERIFIED_SUFFIX))
        .collect();
    let mut backups: Vec<Backup> = objects
        .iter()
        .filter_map(|(key, size)| Backup::from_key(prefix, key, *size))
        .filter(|b| cluster.is_none_or(|c| b.cluster == c))
        .map(|b| Backup {
            verified: records.contains(b.key.as_str()),
            ..b
        })
        .collect();
    sort_newest_first(&mut backups);
    backups
}

/// Sorts newest first by parsed time and revision (cluster and key break ties so the order is total).
pub fn sort_newest_first(backups: &mut [Backup]) {
    backups.sort_by(|a, b| {
        b.name()
            .cmp(&a.name())
            .then_with(|| a.cluster.cmp(&b.cluster))
            .then_with(|| a.key.cmp(&b.key))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test time")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_snapshot_is_named_by_its_metadata() {
        let meta = SnapshotMetadata {
            cluster: "prod".into(),
            member: "m1".into(),
            member_id: "8e9e05c52164694d".into(),
            endpoint: "https://127.0.0.1:2379".into(),
            revision: 100000,
            db_size: 1,
            file_size: 1,
            sha256: "1A2B3C4D5e6f".into(),
            taken_at: t("2026-11-25T10:30:00.123456Z"),
            etcd_version: "3.6.16".into(),
            etcdbak_version: "0.1.0".into(),
        };
        assert_eq!(
            meta.object_name().to_string(),
            "20261125T103000.123Z-r100000-1a2b3c4d.db"
        );
    }

    #[test]
    fn sorts_backups_newest_first() {
        let mut backups: Vec<Backup> = [
            "etcdbak/a/20261125T103000.000Z-r99999-aaaaaaaa.db",
            "etcdbak/a/20261125T103000.000Z-r100000-aaaaaaaa.db",
            "etcdbak/b/20261124T103000.000Z-r999999-aaaaaaaa.db",
            "etcdbak/a/20261126T000000.000Z-r1-aaaaaaaa.db",
        ]
        .iter()
        .filter_map(|k| Backup::from_key("etcdbak", k, 1))
        .collect();
        sort_newest_first(&mut backups);
        let keys: Vec<&str> = backups.iter().map(|b| b.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "etcdbak/a/20261126T000000.000Z-r1-aaaaaaaa.db",
                "etcdbak/a/20261125T103000.000Z-r100000-aaaaaaaa.db",
                "etcdbak/a/20261125T103000.000Z-r99999-aaaaaaaa.db",
                "etcdbak/b/20261124T103000.000Z-r999999-aaaaaaaa.db",
            ]
        );
    }
}
