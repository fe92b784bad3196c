//! The snapshot's size before compression and encryption, for each cluster's newest backup: what the
//! compression ratio is drawn from. A listing gives only the stored size; the plaintext size is in the
//! object's metadata (`plain-size`, or `file-size` for objects from before the pipeline), which only a HEAD
//! returns. Backups are immutable, so each key is HEADed once and the answer kept; the cache holds only the
//! keys that are some cluster's newest backup (so it is as big as the fleet, never as the bucket), and each
//! scrape HEADs at most [`HEADS_PER_SCRAPE`] new keys, [`CONCURRENT_HEADS`] at once: a first scrape of a
//! large fleet fills in over a few scrapes instead of sending thousands of requests. Pure; the exporter
//! holds the cache behind a lock.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::metrics::{group_by_cluster, summarize};
use crate::pipeline::ObjectFacts;
use crate::s3::ListedObject;

/// New keys HEADed per scrape at most; the rest wait for the next scrape.
pub const HEADS_PER_SCRAPE: usize = 64;
/// HEADs in flight at once.
pub const CONCURRENT_HEADS: usize = 4;

/// The plaintext size an object's user metadata records: the pipeline's `plain-size`, else the store's
/// `file-size` (the snapshot file's size, written on every etcdbak backup). `None` for an object another
/// tool wrote or whose metadata is damaged.
pub fn plaintext_size(metadata: &HashMap<String, String>) -> Option<u64> {
    match ObjectFacts::from_metadata(metadata) {
        Ok(Some(recorded)) => Some(recorded.plaintext_size),
        Ok(None) => crate::s3::meta::decode(metadata).file_size,
        Err(_) => None,
    }
}

/// The key of each cluster's newest backup in a root listing, as `/metrics` reports it.
pub fn newest_keys(root: &str, objects: &[ListedObject]) -> BTreeSet<String> {
    group_by_cluster(root, objects)
        .into_values()
        .filter_map(|objs| summarize(objs).newest.map(|o| o.key))
        .collect()
}

/// What HEADs have said, by key: `Some(size)`, or `None` when the object records no plaintext size (never
/// asked again: the object will not change).
#[derive(Debug, Default)]
pub struct Cache {
    sizes: BTreeMap<String, Option<u64>>,
}

impl Cache {
    /// Forgets every key not in `newest` (a cluster's backup that is no longer its newest, or is gone) and
    /// returns the keys of `newest` still to HEAD, at most [`HEADS_PER_SCRAPE`].
    pub fn plan(&mut self, newest: &BTreeSet<String>) -> Vec<String> {
        self.sizes.retain(|k, _| newest.contains(k));
        newest
            .iter()
            .filter(|k| !self.sizes.contains_key(*k))
            .take(HEADS_PER_SCRAPE)
            .cloned()
            .collect()
    }

    /// Keeps what a HEAD of `key` said.
    pub fn put(&mut self, key: String, size: Option<u64>) {
        self.sizes.insert(key, size);
    }

    /// The known plaintext sizes, by key.
    pub fn sizes(&self) -> BTreeMap<String, u64> {
        self.sizes
            .iter()
            .filter_map(|(k, v)| v.map(|v| (k.clone(), v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(key: &str, at: &str) -> ListedObject {
        ListedObject {
            key: key.into(),
            last_modified: chrono::DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&chrono::Utc),
            size: 1,
        }
    }

    #[test]
    fn the_plaintext_size_is_the_pipelines_record_else_the_snapshots_file_size() {
        let map = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let sha = "ab".repeat(32);
        let pipeline = [
            ("pipeline", "zstd:3"),
            ("plain-sha256", sha.as_str()),
            ("plain-size", "8192"),
            ("file-size", "1"),
        ];
        assert_eq!(plaintext_size(&map(&pipeline)), Some(8192));
        assert_eq!(plaintext_size(&map(&[("file-size", "4096")])), Some(4096));
        assert_eq!(plaintext_size(&map(&[])), None);
        assert_eq!(plaintext_size(&map(&[("file-size", "many")])), None);
        // A half-written pipeline record is not guessed at.
        assert_eq!(
            plaintext_size(&map(&[("plain-size", "5"), ("file-size", "5")])),
            None
        );
    }

    #[test]
    fn only_each_clusters_newest_backup_is_asked_for() {
        let objs = [
            obj(
                "etcd/a/20260101T000000.000Z-r1-0123abcd.db",
                "2026-01-01T00:00:00Z",
            ),
            obj(
                "etcd/a/20260101T010000.000Z-r2-4567cdef.db.zst",
                "2026-01-01T01:00:00Z",
            ),
            obj(
                "etcd/b/20260101T003000.000Z-r7-89abcdef.db",
                "2026-01-01T00:30:00Z",
            ),
            obj("etcd/a/notes.txt", "2026-01-01T02:00:00Z"),
        ];
        let keys: Vec<String> = newest_keys("etcd/", &objs).into_iter().collect();
        assert_eq!(
            keys,
            [
                "etcd/a/20260101T010000.000Z-r2-4567cdef.db.zst",
                "etcd/b/20260101T003000.000Z-r7-89abcdef.db",
            ]
        );
    }

    #[test]
    fn each_key_is_headed_once_and_the_cache_is_as_big_as_the_fleet() {
        let set = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect::<BTreeSet<_>>();
        let mut cache = Cache::default();
        assert_eq!(cache.plan(&set(&["a1", "b1"])), ["a1", "b1"]);
        cache.put("a1".into(), Some(100));
        cache.put("b1".into(), None);
        // Known keys, sized or not, are not asked again.
        assert!(cache.plan(&set(&["a1", "b1"])).is_empty());
        assert_eq!(cache.sizes(), BTreeMap::from([("a1".to_string(), 100)]));
        // a's newest backup changed: the old key goes, the new one is asked for.
        assert_eq!(cache.plan(&set(&["a2", "b1"])), ["a2"]);
        assert!(cache.sizes().is_empty());
        assert_eq!(cache.sizes.len(), 1);
        // A huge fleet is asked for a bounded number of keys per scrape.
        let many: BTreeSet<String> = (0..HEADS_PER_SCRAPE * 3)
            .map(|i| format!("k{i:04}"))
            .collect();
        let first = cache.plan(&many);
        assert_eq!(first.len(), HEADS_PER_SCRAPE);
        for k in first {
            cache.put(k, Some(1));
        }
        let second = cache.plan(&many);
        assert_eq!(second.len(), HEADS_PER_SCRAPE);
        assert!(second.iter().all(|k| !cache.sizes.contains_key(k)));
    }
}
