//! What a backup is: the files `snapshot` leaves for `store`, and the object names in the bucket.
//!
//! The metadata struct and the file names are the contract between `snapshot` and `store` (and custom store
//! containers, docs/CONTRACT.md); change them only together.

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

/// Length of the SHA-256 prefix in an object name: 32 bits is plenty to tell apart two snapshots taken in the
/// same millisecond, and short enough to read.
pub const SHA_PREFIX_LEN: usize = 8;
/// Object names end in `.db` so a downloaded object is recognisably a database file.
const NAME_SUFFIX: &str = ".db";
/// `20261125T103000.123Z`: fixed width, so a plain `ls` of one cluster's prefix is in time order.
const TIME_FORMAT: &str = "%Y%m%dT%H%M%S%.3fZ";

/// What an object name says about the backup it holds. Ordered by time, then revision (then the hash
/// prefix, only to make the order total): never by the string, whose order breaks when a revision gains a
/// digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectName {
    /// When the snapshot was taken, truncated to milliseconds.
    pub taken_at: DateTime<Utc>,
    /// The etcd store revision in the snapshot.
    pub revision: i64,
    /// The first [`SHA_PREFIX_LEN`] lower-case hex digits of the file's SHA-256.
    pub sha_prefix: String,
}

impl Ord for ObjectName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.taken_at, self.revision, &self.sha_prefix).cmp(&(
            other.taken_at,
            other.revision,
            &other.sha_prefix,
        ))
    }
}

impl PartialOrd for ObjectName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl ObjectName {
    /// The name for a snapshot described by its metadata.
    pub fn for_snapshot(meta: &SnapshotMetadata) -> ObjectName {
        let millis = meta.taken_at.timestamp_millis();
        let taken_at = DateTime::<Utc>::from_timestamp_millis(millis).unwrap_or(meta.taken_at);
        let sha_prefix: String = meta
            .sha256
            .chars()
            .take(SHA_PREFIX_LEN)
            .collect::<String>()
            .to_ascii_lowercase();
        ObjectName {
            taken_at,
            revision: meta.revision.max(0),
            sha_prefix,
        }
    }

    /// Parses a name of exactly our scheme; anything else (another tool's file, a name with extra text, a
    /// leading zero, an impossible date) is `None`, so it is never listed, pruned or downloaded as ours.
    pub fn parse(name: &str) -> Option<ObjectName> {
        let stem = name.strip_suffix(NAME_SUFFIX)?;
        let mut fields = stem.split('-');
        let (time, rev, sha) = (fields.next()?, fields.next()?, fields.next()?);
        if fields.next().is_some() {
            return None;
        }
        // Fixed width: 8 date digits, T, 6 time digits, '.', 3 millisecond digits, Z.
        if time.len() != 20 || !time.is_ascii() {
            return None;
        }
        let taken_at = chrono::NaiveDateTime::parse_from_str(time, TIME_FORMAT)
            .ok()?
            .and_utc();
        let digits = rev.strip_prefix('r')?;
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || (digits.len() > 1 && digits.starts_with('0'))
        {
            return None;
        }
        let revision: i64 = digits.parse().ok()?;
        if sha.len() != SHA_PREFIX_LEN
            || !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return None;
        }
        let parsed = ObjectName {
            taken_at,
            revision,
            sha_prefix: sha.to_string(),
        };
        // The format is the definition: whatever does not print back identically is not ours.
        (parsed.to_string() == name).then_some(parsed)
    }
}

impl std::fmt::Display for ObjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-r{}-{}{}",
            self.taken_at.format(TIME_FORMAT),
            self.revision,
            self.sha_prefix,
            NAME_SUFFIX
        )
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
    /// Object size in bytes.
    pub size_bytes: u64,
    /// The SHA-256 prefix in the object name.
    pub sha256_prefix: String,
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
        })
    }

    pub fn name(&self) -> ObjectName {
        ObjectName {
            taken_at: self.taken_at,
            revision: self.revision,
            sha_prefix: self.sha256_prefix.clone(),
        }
    }
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

/// The prefix without leading or trailing slashes (`""` means the bucket root).
pub fn normalize_prefix(prefix: &str) -> &str {
    prefix.trim_matches('/')
}

/// Where every backup of every cluster lives: `<prefix>/` (or the bucket root).
pub fn root_prefix(prefix: &str) -> String {
    let p = normalize_prefix(prefix);
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    }
}

/// Where one cluster's backups live: `<prefix>/<cluster>/`.
pub fn cluster_prefix(prefix: &str, cluster: &str) -> String {
    format!("{}{cluster}/", root_prefix(prefix))
}

/// The object key for a backup.
pub fn object_key(prefix: &str, cluster: &str, name: &ObjectName) -> String {
    format!("{}{name}", cluster_prefix(prefix, cluster))
}

/// Splits `<prefix>/<cluster>/<name>` into a valid cluster name and a parsed object name; `None` for
/// anything else (other prefixes, deeper paths, foreign names).
pub fn parse_key(prefix: &str, key: &str) -> Option<(String, ObjectName)> {
    let rest = key.strip_prefix(&root_prefix(prefix))?;
    let (cluster, name) = rest.split_once('/')?;
    validate_cluster_name(cluster).ok()?;
    let name = ObjectName::parse(name)?;
    Some((cluster.to_string(), name))
}

/// Cluster names are DNS-1123 labels (as Kubernetes object names that become CronJob names are): 1-63
/// characters of `a-z`, `0-9` and `-`, starting and ending with a letter or digit. This also keeps them
/// safe as one S3 key component.
pub fn validate_cluster_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the cluster name is empty".into());
    }
    if name.len() > 63 {
        return Err(format!(
            "the cluster name {name:?} is {} characters, more than the 63 a DNS-1123 label allows",
            name.len()
        ));
    }
    if !name
        .bytes()
        .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
    {
        return Err(format!(
            "the cluster name {name:?} may contain only lower-case letters, digits and '-' (a DNS-1123 label)"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(format!(
            "the cluster name {name:?} must start and end with a letter or digit (a DNS-1123 label)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test time")
            .with_timezone(&Utc)
    }

    fn meta(taken_at: &str, revision: i64, sha256: &str) -> SnapshotMetadata {
        SnapshotMetadata {
            cluster: "prod".into(),
            member: "m1".into(),
            member_id: "8e9e05c52164694d".into(),
            endpoint: "https://127.0.0.1:2379".into(),
            revision,
            db_size: 1,
            file_size: 1,
            sha256: sha256.into(),
            taken_at: t(taken_at),
            etcd_version: "3.6.16".into(),
            etcdbak_version: "0.1.0".into(),
        }
    }

    #[test]
    fn names_a_snapshot_by_time_revision_and_hash() {
        let cases = [
            (
                "2026-11-25T10:30:00.123456Z",
                100000,
                "1A2B3C4D5e6f",
                "20261125T103000.123Z-r100000-1a2b3c4d.db",
            ),
            (
                "2026-01-02T03:04:05Z",
                1,
                "00000000ffff",
                "20260102T030405.000Z-r1-00000000.db",
            ),
            (
                "2026-01-02T03:04:05.999999Z",
                99999,
                "abcdef0123",
                "20260102T030405.999Z-r99999-abcdef01.db",
            ),
        ];
        for (time, rev, sha, want) in cases {
            let name = ObjectName::for_snapshot(&meta(time, rev, sha));
            assert_eq!(name.to_string(), want);
            assert_eq!(
                ObjectName::parse(want),
                Some(name),
                "{want} does not round-trip"
            );
        }
    }

    #[test]
    fn parses_only_exactly_our_scheme() {
        let good = "20261125T103000.123Z-r100000-1a2b3c4d.db";
        assert!(ObjectName::parse(good).is_some());
        let foreign = [
            "",
            "snapshot.db",
            "README.md",
            "20261125T103000.123Z-r100000-1a2b3c4d",
            "20261125T103000.123Z-r100000-1a2b3c4d.db.part",
            "x20261125T103000.123Z-r100000-1a2b3c4d.db",
            "20261125T103000.123Z-r100000-1a2b3c4d-x.db",
            "20261125T103000Z-r100000-1a2b3c4d.db",
            "20261125T103000.12Z-r100000-1a2b3c4d.db",
            "20261125T103000.123-r100000-1a2b3c4d.db",
            "20261325T103000.123Z-r100000-1a2b3c4d.db",
            "20260230T103000.123Z-r100000-1a2b3c4d.db",
            "20261125T253000.123Z-r100000-1a2b3c4d.db",
            "20261125T103000.123Z-100000-1a2b3c4d.db",
            "20261125T103000.123Z-r0100000-1a2b3c4d.db",
            "20261125T103000.123Z-r-5-1a2b3c4d.db",
            "20261125T103000.123Z-r+5-1a2b3c4d.db",
            "20261125T103000.123Z-r-1a2b3c4d.db",
            "20261125T103000.123Z-r99999999999999999999-1a2b3c4d.db",
            "20261125T103000.123Z-r100000-1A2B3C4D.db",
            "20261125T103000.123Z-r100000-1a2b3c4.db",
            "20261125T103000.123Z-r100000-1a2b3c4d5.db",
            "20261125T103000.123Z-r100000-1a2b3g4d.db",
            "20261125t103000.123z-r100000-1a2b3c4d.db",
            "２0261125T103000.123Z-r100000-1a2b3c4d.db",
        ];
        for name in foreign {
            assert_eq!(ObjectName::parse(name), None, "{name:?} parsed as ours");
        }
        assert!(ObjectName::parse("20261125T103000.123Z-r0-1a2b3c4d.db").is_some());
    }

    #[test]
    fn orders_by_parsed_time_and_revision_not_by_string() {
        // A string sort puts r100000 before r99999 ("1" < "9"); the parsed order must not.
        let older = ObjectName::parse("20261125T103000.000Z-r99999-aaaaaaaa.db").expect("ours");
        let newer = ObjectName::parse("20261125T103000.000Z-r100000-aaaaaaaa.db").expect("ours");
        assert!(older.to_string() > newer.to_string());
        assert!(older < newer);
        // Time wins over revision (a restored cluster may start again at a lower revision).
        let later_lower_rev =
            ObjectName::parse("20261125T103000.001Z-r5-aaaaaaaa.db").expect("ours");
        assert!(later_lower_rev > newer);
    }

    #[test]
    fn keys_are_prefix_cluster_name() {
        let name = ObjectName::parse("20261125T103000.123Z-r7-1a2b3c4d.db").expect("ours");
        let cases = [
            (
                "etcdbak",
                "etcdbak/prod/20261125T103000.123Z-r7-1a2b3c4d.db",
            ),
            (
                "/etcdbak/",
                "etcdbak/prod/20261125T103000.123Z-r7-1a2b3c4d.db",
            ),
            ("a/b", "a/b/prod/20261125T103000.123Z-r7-1a2b3c4d.db"),
            ("", "prod/20261125T103000.123Z-r7-1a2b3c4d.db"),
        ];
        for (prefix, want) in cases {
            let key = object_key(prefix, "prod", &name);
            assert_eq!(key, want);
            assert_eq!(
                parse_key(prefix, &key),
                Some(("prod".to_string(), name.clone()))
            );
        }
    }

    #[test]
    fn parse_key_refuses_what_is_not_a_backup() {
        let p = "etcdbak";
        let n = "20261125T103000.123Z-r7-1a2b3c4d.db";
        for key in [
            format!("other/prod/{n}"),
            format!("etcdbak/{n}"),
            format!("etcdbak/prod/sub/{n}"),
            format!("etcdbak/Prod/{n}"),
            format!("etcdbak//{n}"),
            "etcdbak/prod/notes.txt".to_string(),
            format!("etcdbakx/prod/{n}"),
        ] {
            assert_eq!(parse_key(p, &key), None, "{key} parsed as a backup");
        }
    }

    #[test]
    fn cluster_names_are_dns_1123_labels() {
        for ok in ["a", "prod", "prod-eu-1", "0", &"a".repeat(63)] {
            assert!(validate_cluster_name(ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "Prod",
            "a_b",
            "a.b",
            "a/b",
            "a b",
            &"a".repeat(64),
        ] {
            assert!(validate_cluster_name(bad).is_err(), "{bad:?} accepted");
        }
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
