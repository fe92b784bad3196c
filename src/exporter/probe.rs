//! What `/probe` may list and how often: it lists with the exporter's own credentials, so a caller must not
//! choose any bucket or prefix they like, and every probe is a full listing, so repeated probes of the same
//! prefix are answered from a short cache and only a few listings run at once. The scope and the cache's
//! decisions are pure; the exporter holds them behind a lock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::metrics::Listing;

/// The most listings `/probe` runs at once; more callers wait (and usually find the cache filled).
pub const CONCURRENT_LISTINGS: usize = 2;
/// Cached probe results kept at most; the oldest goes first.
pub const CACHE_ENTRIES: usize = 64;

/// One allowed bucket and the prefix every probed prefix must lie under (empty: the whole bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    pub bucket: String,
    pub prefix: String,
}

impl Allowed {
    /// `BUCKET` or `BUCKET/PREFIX` (the prefix's slashes kept, leading and trailing ones dropped).
    pub fn parse(s: &str) -> Result<Allowed, String> {
        let s = s.trim();
        let (bucket, prefix) = s.split_once('/').unwrap_or((s, ""));
        if bucket.is_empty() || bucket.contains([' ', ':', '?', '#']) {
            return Err(format!("{s:?} is not BUCKET or BUCKET/PREFIX"));
        }
        Ok(Allowed {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    /// True when `prefix` is this prefix or lies under it, component by component (`etcdbak` allows
    /// `etcdbak/prod/`, not `etcdbak-other/`).
    fn covers(&self, bucket: &str, prefix: &str) -> bool {
        if bucket != self.bucket {
            return false;
        }
        let asked = prefix.trim_start_matches('/');
        if self.prefix.is_empty() {
            return true;
        }
        match asked.strip_prefix(&self.prefix) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }
}

/// The buckets and prefixes `/probe` may list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(Vec<Allowed>);

impl Scope {
    pub fn new(allowed: Vec<Allowed>) -> Scope {
        Scope(allowed)
    }

    pub fn permits(&self, bucket: &str, prefix: &str) -> bool {
        self.0.iter().any(|a| a.covers(bucket, prefix))
    }

    /// For the refusal and the start-up log: `bucket/prefix, ...`.
    pub fn describe(&self) -> String {
        let all: Vec<String> = self
            .0
            .iter()
            .map(|a| match a.prefix.as_str() {
                "" => a.bucket.clone(),
                p => format!("{}/{p}", a.bucket),
            })
            .collect();
        all.join(", ")
    }
}

/// Recent probe results by (bucket, prefix).
#[derive(Debug, Default)]
pub struct Cache {
    entries: BTreeMap<(String, String), (Instant, Listing)>,
}

impl Cache {
    /// The cached listing of `key` if it is younger than `ttl` at `now`.
    pub fn fresh(&self, key: &(String, String), ttl: Duration, now: Instant) -> Option<Listing> {
        self.entries
            .get(key)
            .filter(|(at, _)| now.saturating_duration_since(*at) < ttl)
            .map(|(_, l)| l.clone())
    }

    /// Keeps `listing` as of `now`, dropping the oldest entries beyond [`CACHE_ENTRIES`].
    pub fn put(&mut self, key: (String, String), listing: Listing, now: Instant) {
        self.entries.insert(key, (now, listing));
        while self.entries.len() > CACHE_ENTRIES {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.entries.remove(&k),
                None => break,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(bucket: &str) -> Listing {
        Listing {
            bucket: bucket.into(),
            prefix: String::new(),
            duration: Duration::ZERO,
            objects: None,
        }
    }

    #[test]
    fn only_configured_buckets_and_prefixes_are_probed() {
        let scope = Scope::new(vec![
            Allowed::parse("etcd-backups/etcdbak").unwrap(),
            Allowed::parse("other").unwrap(),
        ]);
        let table = [
            ("etcd-backups", "etcdbak", true),
            ("etcd-backups", "etcdbak/", true),
            ("etcd-backups", "/etcdbak/prod/", true),
            ("etcd-backups", "etcdbak-evil/", false),
            ("etcd-backups", "", false),
            ("etcd-backups", "secrets/", false),
            ("other", "", true),
            ("other", "anything/at/all", true),
            ("payroll", "etcdbak/", false),
        ];
        for (bucket, prefix, want) in table {
            assert_eq!(scope.permits(bucket, prefix), want, "{bucket} {prefix:?}");
        }
        assert_eq!(scope.describe(), "etcd-backups/etcdbak, other");
        for bad in ["", "/etcdbak", "a b/c"] {
            assert!(Allowed::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_cache_answers_within_its_ttl_and_stays_bounded() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(30);
        let mut cache = Cache::default();
        let key = ("b".to_string(), "p".to_string());
        assert!(cache.fresh(&key, ttl, t0).is_none());
        cache.put(key.clone(), listing("b"), t0);
        assert!(cache
            .fresh(&key, ttl, t0 + Duration::from_secs(29))
            .is_some());
        assert!(cache.fresh(&key, ttl, t0 + ttl).is_none());
        for i in 0..CACHE_ENTRIES + 10 {
            let at = t0 + Duration::from_millis(i as u64 + 1);
            cache.put(("b".into(), format!("p{i}")), listing("b"), at);
        }
        assert_eq!(cache.entries.len(), CACHE_ENTRIES);
        assert!(!cache.entries.contains_key(&key), "the oldest went first");
    }
}
