//! What `etcdbak snapshot` left in `--dir`: reading and checking `snapshot.json`.

use std::path::Path;

use super::Error;
use crate::backup::{SnapshotMetadata, METADATA_FILE};
use crate::naming::ObjectName;

pub(crate) fn read_metadata(dir: &Path) -> Result<SnapshotMetadata, Error> {
    let path = dir.join(METADATA_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Input {
        path: path.clone(),
        source,
    })?;
    parse_metadata(&text).map_err(|reason| Error::BadMetadata { path, reason })
}

/// Parses and checks `snapshot.json`'s text; the error says what is wrong with it. Pure, so the fuzz target
/// (fuzz/fuzz_targets/metadata.rs) drives exactly what `store` runs.
pub fn parse_metadata(text: &str) -> Result<SnapshotMetadata, String> {
    let meta: SnapshotMetadata = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if meta.sha256.len() != 64 || !meta.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("sha256 is not 64 hex digits".into());
    }
    if meta.revision < 0 {
        return Err("revision is negative".into());
    }
    // The object name carries the time with a four-digit year; a time it cannot hold would upload a backup
    // that `list` and retention never see (found by fuzz/fuzz_targets/metadata.rs).
    let name = meta.object_name();
    if ObjectName::parse(&name.to_string()).is_none() {
        return Err(format!(
            "takenAt {} is outside the years an object name can hold (0000 to 9999)",
            meta.taken_at
        ));
    }
    Ok(meta)
}

/// The cluster to file the backup under: `--cluster` if given (it must agree with snapshot.json), else the
/// recorded one; either way a valid name.
pub(crate) fn resolve_cluster(
    given: Option<&str>,
    meta: &SnapshotMetadata,
) -> Result<String, Error> {
    let cluster = match given {
        Some(given) if given != meta.cluster => {
            return Err(Error::ClusterMismatch {
                recorded: meta.cluster.clone(),
                given: given.to_string(),
            })
        }
        Some(given) => given.to_string(),
        None => meta.cluster.clone(),
    };
    crate::naming::validate_cluster_name(&cluster).map_err(Error::InvalidCluster)?;
    Ok(cluster)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn meta() -> SnapshotMetadata {
        SnapshotMetadata {
            cluster: "prod".into(),
            member: "m1".into(),
            member_id: "1".into(),
            endpoint: "e".into(),
            revision: 5,
            db_size: 10,
            file_size: 100,
            sha256: "ab".repeat(32),
            taken_at: chrono::Utc::now(),
            etcd_version: "3.6".into(),
            etcdbak_version: "0.1".into(),
        }
    }

    #[test]
    fn metadata_whose_time_no_object_name_can_hold_is_refused() {
        let json = |taken_at: &str| {
            let mut v = serde_json::to_value(meta()).expect("json");
            v["takenAt"] = taken_at.into();
            v.to_string()
        };
        for (taken_at, ok) in [
            ("2026-11-25T10:30:00.123Z", true),
            ("0000-01-01T00:00:00Z", true),
            ("9999-12-31T23:59:59.999Z", true),
            // From the fuzzer: accepted before, and the object it named was invisible to list and prune.
            ("-026-12-25T10:30:00.123456Z", false),
            ("+10000-01-01T00:00:00Z", false),
        ] {
            assert_eq!(parse_metadata(&json(taken_at)).is_ok(), ok, "{taken_at}");
        }
    }

    #[test]
    fn the_cluster_comes_from_the_flag_or_the_metadata_and_they_must_agree() {
        let m = meta();
        assert_eq!(resolve_cluster(None, &m).expect("recorded"), "prod");
        assert_eq!(resolve_cluster(Some("prod"), &m).expect("same"), "prod");
        assert!(matches!(
            resolve_cluster(Some("staging"), &m),
            Err(Error::ClusterMismatch { .. })
        ));
        let bad = SnapshotMetadata {
            cluster: "Not_A_Name".into(),
            ..m
        };
        assert!(matches!(
            resolve_cluster(None, &bad),
            Err(Error::InvalidCluster(_))
        ));
    }
}
