//! What each panel must show for the fleet of fleet.rs, worked out from what the fixture did (the bucket as
//! MinIO lists it, the Job times it wrote), never from what Prometheus answered. A panel without an entry
//! here fails the test: a new panel says what it is meant to show.

use std::collections::BTreeMap;

use etcdbak::naming;
use etcdbak::pipeline::Format;

use super::fleet::{backup_took, Fleet, BACKED_UP, FAILING, HEALTHY, INTERVAL_SECONDS, PREFIX};
use crate::common::prometheus::Sample;

/// One backup object as the bucket lists it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub key: String,
    pub size: f64,
    pub at: f64,
    pub format: Format,
}

/// The facts at one evaluation time.
pub struct Truth {
    pub at: f64,
    pub backups: BTreeMap<String, Vec<Stored>>,
    pub verified_at: BTreeMap<&'static str, f64>,
    pub plain_sizes: BTreeMap<&'static str, u64>,
}

impl Truth {
    /// The bucket as MinIO lists it now (only etcdbak's backups count, as for the exporter).
    pub fn read(fleet: &Fleet, at: f64) -> Truth {
        let mut backups: BTreeMap<String, Vec<Stored>> = BTreeMap::new();
        for (key, size, modified) in fleet.minio.listed(&format!("{PREFIX}/")) {
            if let Some((cluster, name)) = naming::parse_key(PREFIX, &key) {
                backups.entry(cluster).or_default().push(Stored {
                    key,
                    size: size as f64,
                    at: modified.timestamp_millis() as f64 / 1000.0,
                    format: name.format,
                });
            }
        }
        Truth {
            at,
            backups,
            verified_at: fleet.verified_at.clone(),
            plain_sizes: fleet.plain_sizes.clone(),
        }
    }

    /// Newest first, by time then key (the exporter's order).
    fn sorted(&self, cluster: &str) -> Vec<&Stored> {
        let mut v: Vec<&Stored> = self.backups.get(cluster).into_iter().flatten().collect();
        v.sort_by(|a, b| {
            (b.at, &b.key)
                .partial_cmp(&(a.at, &a.key))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        v
    }

    fn newest(&self, cluster: &str) -> &Stored {
        self.sorted(cluster)
            .first()
            .copied()
            .unwrap_or_else(|| panic!("{cluster} has no backup in the bucket"))
    }

    /// The newest backup before the newest one that is stored the same way.
    fn previous(&self, cluster: &str) -> Option<&Stored> {
        let sorted = self.sorted(cluster);
        let newest = sorted.first()?;
        sorted[1..]
            .iter()
            .find(|o| o.format == newest.format)
            .copied()
    }
}

/// A range a value must fall in.
#[derive(Debug, Clone, Copy)]
pub struct Range(pub f64, pub f64);

fn near(v: f64, tolerance: f64) -> Range {
    Range(v - tolerance, v + tolerance)
}

fn exactly(v: f64) -> Range {
    near(v, 1e-9 * v.abs().max(1.0))
}

/// The series a query must return: one per value of `by` (or a single one without labels when `by` is
/// None), each in its range, and no other label; no other series either, unless `more` allows them.
#[derive(Debug, Clone)]
pub struct Want {
    pub by: Option<&'static str>,
    pub series: BTreeMap<String, Range>,
    pub more: bool,
}

fn one(r: Range) -> Want {
    Want {
        by: None,
        series: BTreeMap::from([(String::new(), r)]),
        more: false,
    }
}

fn per(by: &'static str, items: impl IntoIterator<Item = (String, Range)>) -> Want {
    Want {
        by: Some(by),
        series: items.into_iter().collect(),
        more: false,
    }
}

fn per_backed_up(f: impl Fn(&str) -> Range) -> Want {
    per("cluster", BACKED_UP.iter().map(|c| (c.to_string(), f(c))))
}

fn positive(by: &'static str, values: &[&str]) -> Want {
    per(by, values.iter().map(|v| (v.to_string(), Range(1e-9, 1e6))))
}

/// What the panel titled `title` (query `ref_id`) must show with every cluster chosen.
pub fn want(title: &str, ref_id: &str, t: &Truth) -> Option<Want> {
    let limit = 2.0 * INTERVAL_SECONDS + 900.0;
    let age = |c: &str| t.at - t.newest(c).at;
    Some(match (title, ref_id) {
        ("Clusters managed", _) => one(exactly(5.0)),
        ("Backed up", _) => one(exactly(BACKED_UP.len() as f64)),
        ("Stale", _) => one(exactly(1.0)),
        // The failed Jobs, and the Cluster without a CronJob.
        ("Failing", _) => one(exactly(2.0)),
        ("Unverified", _) => one(exactly(1.0)),
        ("Continuous backup behind", _) => one(exactly(0.0)),
        ("Newest backup age", _) => per_backed_up(|c| near(age(c), 2.0)),
        ("Newest backup age against its limit", _) => {
            per_backed_up(|c| near(age(c) / limit, 2.0 / limit))
        }
        ("Newest backup size against the one before", _) => per(
            "cluster",
            BACKED_UP.iter().filter_map(|c| {
                let prev = t.previous(c)?;
                Some((c.to_string(), exactly(t.newest(c).size / prev.size)))
            }),
        ),
        ("Newest backup size", _) => per_backed_up(|c| exactly(t.newest(c).size)),
        ("Bytes stored per cluster", _) => {
            per_backed_up(|c| exactly(t.sorted(c).iter().map(|o| o.size).sum()))
        }
        // The snapshot as written over the newest object as stored (zstd, the store's default).
        ("Compression ratio", _) => {
            per_backed_up(|c| exactly(t.plain_sizes[c] as f64 / t.newest(c).size))
        }
        ("Backup Job duration", _) => per_backed_up(|c| exactly(backup_took(c).as_secs_f64())),
        ("Last verification", _) => per_backed_up(|c| exactly(f64::from(c == FAILING))),
        // Job times are written in whole seconds.
        ("Since the last successful verification", _) => {
            per_backed_up(|c| near(t.at - t.verified_at[c], 3.0))
        }
        // The follower renews its Lease every second here.
        ("Recovery point age", _) => per("cluster", [(HEALTHY.to_string(), Range(-2.0, 60.0))]),
        ("Continuous backup state", _) => per("cluster", [(HEALTHY.to_string(), exactly(1.0))]),
        ("Gaps reported", _) => per("cluster", [(HEALTHY.to_string(), exactly(0.0))]),
        ("Leader", _) => one(exactly(1.0)),
        ("Cleanups pending", _) => one(exactly(0.0)),
        ("Bucket listing", _) => one(exactly(1.0)),
        ("Bucket listing duration", _) => one(Range(1e-6, 1.0)),
        ("Reconciles", _) => positive("result", &["error", "success"]),
        // The misconfigured Cluster's; a passing apiserver hiccup may add another reason.
        ("Reconcile errors", _) => Want {
            more: true,
            ..positive("reason", &["TlsSecretNotFound"])
        },
        ("Reconcile duration", "A" | "B") => one(Range(1e-6, 10.0)),
        // Every Cluster's spec was reconciled (the misconfigured one's refusal is recorded too).
        ("Work queue", "A") => one(exactly(0.0)),
        // A reconcile may be running at the moment of the query (the misconfigured Cluster's retries).
        ("Work queue", "B") => one(Range(0.0, 1.0)),
        _ => return None,
    })
}

/// The fleet summary with only the stale Cluster chosen; other panels are checked for showing nothing
/// but it.
pub fn want_for_stale(title: &str) -> Option<f64> {
    Some(match title {
        "Clusters managed" | "Backed up" | "Stale" => 1.0,
        "Failing" | "Unverified" | "Continuous backup behind" => 0.0,
        _ => return None,
    })
}

/// Why `got` is not what `want` says, if it is not.
pub fn mismatch(want: &Want, got: &[Sample]) -> Option<String> {
    if got.is_empty() {
        return Some("returned nothing".into());
    }
    let mut seen = BTreeMap::new();
    for s in got {
        let key = match want.by {
            Some(by) => s.labels.get(by).cloned().unwrap_or_default(),
            None => String::new(),
        };
        let expected: Vec<&str> = want.by.into_iter().collect();
        let names: Vec<&str> = s.labels.keys().map(String::as_str).collect();
        if names != expected {
            return Some(format!(
                "a series labelled {:?}, not by {expected:?}",
                s.labels
            ));
        }
        seen.insert(key, s.value);
    }
    let keys: Vec<&String> = seen.keys().collect();
    let wanted: Vec<&String> = want.series.keys().collect();
    let missing = wanted.iter().any(|k| !seen.contains_key(*k));
    if missing || (!want.more && keys != wanted) {
        return Some(format!("series {keys:?}, not {wanted:?}: {got:?}"));
    }
    for (key, Range(lo, hi)) in &want.series {
        let v = seen[key];
        if !(v >= *lo && v <= *hi) {
            return Some(format!("{key:?} is {v}, not in [{lo}, {hi}]"));
        }
    }
    None
}
