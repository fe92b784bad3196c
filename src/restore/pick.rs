//! Picking the snapshot to restore: the backups worth a HEAD, whether their metadata agrees with their
//! names, and the choice (the one asked for, else the newest verified one, or the operator's pick on a
//! terminal, which the command line asks through the `ask` it hands [`super::guide`]). [`choose`] is pure;
//! [`candidates`] is the S3 edge.

use std::collections::HashMap;

use super::Error;
use crate::backup::Backup;
use crate::pipeline::Format;
use crate::s3::{self as store, Client as S3Client};

/// How many of the newest backups are checked (one HEAD each) when looking for a verified one or offering a pick.
const CANDIDATES: usize = 20;

/// A listed backup plus what its metadata says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub backup: Backup,
    /// The full SHA-256 from the object's metadata, when it has one.
    pub sha256: Option<String>,
    /// The metadata agrees with the object name and size (what `etcdbak store` writes after verifying).
    pub verified: bool,
}

/// The full SHA-256 of the snapshot (the plaintext) that the metadata records.
pub fn recorded_sha256(b: &Backup, meta: &HashMap<String, String>) -> Option<String> {
    let plain = Format::split_name(&b.key).is_none_or(|(_, f)| f == Format::PLAIN);
    let pipeline = (!plain)
        .then(|| meta.get(crate::pipeline::metadata::key::PLAIN_SHA256))
        .flatten();
    pipeline.or_else(|| meta.get(store::meta::SHA256)).cloned()
}

/// Whether a HEAD's metadata agrees with the listed backup: same SHA-256 prefix, revision and size. For a
/// plain object the size is the file's; for a compressed or encrypted one the pipeline record must be whole
/// and match the name, and its stored size, where recorded, the object's (objects stored in one pass do
/// not record it: the listing's size is it).
pub fn metadata_agrees(b: &Backup, meta: &HashMap<String, String>) -> bool {
    let plain = Format::split_name(&b.key).is_none_or(|(_, f)| f == Format::PLAIN);
    let sha_ok = recorded_sha256(b, meta)
        .is_some_and(|s| s.len() == 64 && s.to_ascii_lowercase().starts_with(&b.sha256_prefix));
    let rev_ok = meta
        .get(store::meta::REVISION)
        .is_some_and(|r| r.parse::<i64>().ok() == Some(b.revision));
    let size_ok = if plain {
        meta.get(store::meta::FILE_SIZE)
            .is_some_and(|s| s.parse::<u64>().ok() == Some(b.size_bytes))
    } else {
        encoded_record_agrees(b, meta)
    };
    sha_ok && rev_ok && size_ok
}

fn encoded_record_agrees(b: &Backup, meta: &HashMap<String, String>) -> bool {
    match crate::pipeline::ObjectFacts::from_metadata(meta) {
        Ok(Some(r)) => {
            b.key.ends_with(r.pipeline.format().suffix())
                && r.stored_size.is_none_or(|s| s == b.size_bytes)
        }
        _ => false,
    }
}

/// Picks the snapshot: the requested one (full key or file name), else the newest verified one.
/// `candidates` are newest first. Pure.
pub fn choose(
    cluster: &str,
    candidates: &[Candidate],
    requested: Option<&str>,
) -> Result<usize, Error> {
    match requested {
        Some(want) => candidates
            .iter()
            .position(|c| key_matches(&c.backup.key, want))
            .ok_or_else(|| Error::SnapshotNotFound {
                cluster: cluster.to_string(),
                key: want.to_string(),
            }),
        None => candidates
            .iter()
            .position(|c| c.verified)
            .ok_or(Error::NoneVerified {
                cluster: cluster.to_string(),
                checked: candidates.len(),
            }),
    }
}

/// `want` names `key`: the full key, or its file name.
pub fn key_matches(key: &str, want: &str) -> bool {
    key == want || key.ends_with(&format!("/{want}"))
}

/// The backups worth a HEAD: the one asked for (however old), else the newest [`CANDIDATES`].
pub async fn candidates(
    client: &S3Client,
    cluster: &str,
    requested: Option<&str>,
) -> Result<Vec<Candidate>, Error> {
    let backups = client.list_backups(Some(cluster)).await?;
    if backups.is_empty() {
        let none = crate::backup::NoBackups::new(&client.bucket_name, &client.prefix, cluster);
        return Err(none.into());
    }
    let wanted: Vec<Backup> = match requested {
        Some(want) => backups
            .into_iter()
            .filter(|b| key_matches(&b.key, want))
            .collect(),
        None => backups.into_iter().take(CANDIDATES).collect(),
    };
    let mut out = Vec::new();
    for b in wanted {
        out.push(candidate(client, b).await);
    }
    Ok(out)
}

/// One HEAD: a backup whose metadata cannot be read is offered, but never as verified.
async fn candidate(client: &S3Client, b: Backup) -> Candidate {
    let (sha256, verified) = match client.head(&b.key).await {
        Ok(info) => (
            recorded_sha256(&b, &info.metadata),
            metadata_agrees(&b, &info.metadata),
        ),
        Err(e) => {
            tracing::warn!(key = %b.key, error = %e, "cannot read the backup's metadata");
            (None, false)
        }
    };
    Candidate {
        backup: b,
        sha256,
        verified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(key: &str, verified: bool) -> Candidate {
        Candidate {
            backup: Backup {
                cluster: "c".into(),
                key: key.into(),
                taken_at: "2026-11-25T10:30:00Z".parse().unwrap(),
                revision: 1,
                size_bytes: 1,
                sha256_prefix: "00000000".into(),
                compressed: false,
                encrypted: false,
                plaintext_bytes: Some(1),
                verified: false,
            },
            sha256: None,
            verified,
        }
    }

    #[test]
    fn choosing_takes_the_newest_verified_or_the_requested_one() {
        let c = vec![
            cand("p/c/new.db", false),
            cand("p/c/mid.db", true),
            cand("p/c/old.db", true),
        ];
        assert_eq!(choose("c", &c, None).unwrap(), 1);
        assert_eq!(choose("c", &c, Some("old.db")).unwrap(), 2);
        assert_eq!(choose("c", &c, Some("p/c/new.db")).unwrap(), 0);
        assert!(matches!(
            choose("c", &c, Some("w.db")),
            Err(Error::SnapshotNotFound { .. })
        ));
        assert!(matches!(
            choose("c", &c[..1], None),
            Err(Error::NoneVerified { checked: 1, .. })
        ));
    }

    #[test]
    fn metadata_must_agree_with_the_name() {
        let b = cand("p/c/x.db", false).backup;
        let mut m = HashMap::new();
        m.insert("sha256".to_string(), format!("00000000{}", "a".repeat(56)));
        m.insert("revision".to_string(), "1".to_string());
        m.insert("file-size".to_string(), "1".to_string());
        assert!(metadata_agrees(&b, &m));
        m.insert("revision".to_string(), "2".to_string());
        assert!(!metadata_agrees(&b, &m));
    }

    #[test]
    fn a_compressed_or_encrypted_object_is_checked_against_its_stored_size_and_plaintext_sha() {
        let plain_sha = format!("00000000{}", "b".repeat(56));
        for suffix in [".db.zst", ".db.age", ".db.zst.age"] {
            let mut b = cand(&format!("p/c/x{suffix}"), false).backup;
            b.size_bytes = 7; // the object as stored; the snapshot itself is bigger
            let mut m = HashMap::new();
            m.insert("sha256".to_string(), plain_sha.clone());
            m.insert("revision".to_string(), "1".to_string());
            m.insert("file-size".to_string(), "100".to_string());
            m.insert("plain-sha256".to_string(), plain_sha.clone());
            m.insert("plain-size".to_string(), "100".to_string());
            m.insert("stored-size".to_string(), "7".to_string());
            let pipeline = match suffix {
                ".db.zst" => "zstd:3",
                ".db.age" => "age",
                _ => "zstd:3+age",
            };
            m.insert("pipeline".to_string(), pipeline.to_string());
            assert!(metadata_agrees(&b, &m), "{suffix}");
            assert_eq!(recorded_sha256(&b, &m), Some(plain_sha.clone()));
            m.insert("stored-size".to_string(), "100".to_string());
            assert!(
                !metadata_agrees(&b, &m),
                "{suffix}: the stored size decides"
            );
            m.insert("stored-size".to_string(), "7".to_string());
            m.insert("plain-sha256".to_string(), "f".repeat(64));
            assert!(
                !metadata_agrees(&b, &m),
                "{suffix}: the plaintext SHA-256 decides"
            );
            m.remove("stored-size");
            m.insert("plain-sha256".to_string(), plain_sha.clone());
            assert!(
                metadata_agrees(&b, &m),
                "{suffix}: stored in one pass, the listing's size is the stored size"
            );
            m.remove("pipeline");
            assert!(
                !metadata_agrees(&b, &m),
                "{suffix}: no pipeline record, not verified"
            );
        }
        // A plain object never reads the pipeline's keys, however they are set.
        let b = cand("p/c/x.db", false).backup;
        let mut m = HashMap::new();
        m.insert("sha256".to_string(), plain_sha.clone());
        m.insert("revision".to_string(), "1".to_string());
        m.insert("file-size".to_string(), "1".to_string());
        m.insert("stored-size".to_string(), "999".to_string());
        m.insert("plain-sha256".to_string(), "f".repeat(64));
        assert!(metadata_agrees(&b, &m));
        assert_eq!(recorded_sha256(&b, &m), Some(plain_sha));
    }
}
