//! The one codec for the user metadata (x-amz-meta-*) every backup object carries: its names, how a
//! snapshot's metadata is written into them, and how they are read back. `store` writes it; `download`,
//! the restore guide and `list` users read it through [`SnapshotFields`].

use std::collections::HashMap;

use crate::backup::SnapshotMetadata;

/// The metadata names. No name may be a prefix of another followed by '-' (as `member` and `member-id`
/// would be): rust-s3 0.38 sorts `name:value` strings when it builds the canonical headers for SigV4, which
/// orders such a pair differently from S3 and makes it answer SignatureDoesNotMatch.
pub const SHA256: &str = "sha256";
pub const REVISION: &str = "revision";
pub const MEMBER: &str = "member-name";
pub const MEMBER_ID: &str = "member-id";
pub const TAKEN_AT: &str = "taken-at";
pub const ETCD_VERSION: &str = "etcd-version";
pub const ETCDBAK_VERSION: &str = "etcdbak-version";
pub const CLUSTER: &str = "cluster";
pub const FILE_SIZE: &str = "file-size";
pub const DB_SIZE: &str = "db-size";

/// The x-amz-meta-* pairs for a snapshot (values as sent, before header escaping).
pub fn encode(m: &SnapshotMetadata, cluster: &str) -> Vec<(String, String)> {
    [
        (SHA256, m.sha256.to_ascii_lowercase()),
        (REVISION, m.revision.to_string()),
        (MEMBER, m.member.clone()),
        (MEMBER_ID, m.member_id.clone()),
        (
            TAKEN_AT,
            m.taken_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ),
        (ETCD_VERSION, m.etcd_version.clone()),
        (ETCDBAK_VERSION, m.etcdbak_version.clone()),
        (CLUSTER, cluster.to_string()),
        (FILE_SIZE, m.file_size.to_string()),
        (DB_SIZE, m.db_size.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// What a stored object's metadata says about the snapshot in it; a field is `None` when it is missing or
/// unreadable (objects written by other tools, or damaged metadata).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotFields {
    /// Lower-case hex, exactly as stored.
    pub sha256: Option<String>,
    pub revision: Option<i64>,
    pub file_size: Option<u64>,
}

/// Reads the fields checks need from a HEAD's user metadata.
pub fn decode(metadata: &HashMap<String, String>) -> SnapshotFields {
    SnapshotFields {
        sha256: metadata.get(SHA256).cloned(),
        revision: metadata.get(REVISION).and_then(|r| r.parse().ok()),
        file_size: metadata.get(FILE_SIZE).and_then(|s| s.parse().ok()),
    }
}

/// Header values must be visible ASCII; anything else is percent-encoded (member names are free text).
pub fn header_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> SnapshotMetadata {
        SnapshotMetadata {
            cluster: "prod".into(),
            member: "m1".into(),
            member_id: "1".into(),
            endpoint: "e".into(),
            revision: 5,
            db_size: 10,
            file_size: 100,
            sha256: "AB".repeat(32),
            taken_at: chrono::Utc::now(),
            etcd_version: "3.6".into(),
            etcdbak_version: "0.1".into(),
        }
    }

    fn names() -> Vec<String> {
        encode(&meta(), "prod")
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    #[test]
    fn no_metadata_name_is_a_dash_prefix_of_another() {
        let names = names();
        for a in &names {
            for b in &names {
                assert!(
                    !b.starts_with(&format!("{a}-")),
                    "{a} and {b} break rust-s3's signing"
                );
            }
        }
    }

    #[test]
    fn metadata_names_are_stable() {
        insta::assert_yaml_snapshot!(names());
    }

    #[test]
    fn what_is_encoded_decodes() {
        let m = meta();
        let map: HashMap<String, String> = encode(&m, "prod").into_iter().collect();
        assert_eq!(
            decode(&map),
            SnapshotFields {
                sha256: Some("ab".repeat(32)),
                revision: Some(5),
                file_size: Some(100),
            }
        );
        let damaged: HashMap<String, String> = [(REVISION.to_string(), "five".to_string())].into();
        assert_eq!(decode(&damaged), SnapshotFields::default());
    }

    #[test]
    fn header_values_are_visible_ascii() {
        assert_eq!(header_safe("etcd-0"), "etcd-0");
        assert_eq!(header_safe("näme\n%"), "n%C3%A4me%0A%25");
    }
}
