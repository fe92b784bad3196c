//! The exporter's metrics: per-prefix summaries and their Prometheus text exposition, all pure.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::naming::root_prefix;
use crate::s3::ListedObject;

/// What the metrics say about one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixSummary {
    pub objects: u64,
    pub size_sum: u64,
    pub biggest: u64,
    /// The newest object (by modification time, then key so equal times are stable).
    pub newest: Option<ListedObject>,
    /// The newest object before the newest one that is stored the same way (`.db`, `.db.zst`, ...): the
    /// "previous backup", so the size-drop alert compares like with like and turning compression on is not a
    /// drop.
    pub previous: Option<ListedObject>,
}

/// Summarises the objects of one prefix. Pure.
pub fn summarize<'a>(objects: impl IntoIterator<Item = &'a ListedObject>) -> PrefixSummary {
    let mut sorted: Vec<&ListedObject> = objects.into_iter().collect();
    sorted.sort_by(|a, b| {
        (a.last_modified, &a.key)
            .cmp(&(b.last_modified, &b.key))
            .reverse()
    });
    PrefixSummary {
        objects: sorted.len() as u64,
        size_sum: sorted.iter().map(|o| o.size).sum(),
        biggest: sorted.iter().map(|o| o.size).max().unwrap_or(0),
        newest: sorted.first().map(|o| (*o).clone()),
        previous: sorted.first().and_then(|newest| {
            // Objects outside etcdbak's naming (a generic /probe) keep s3_exporter's meaning: the next one.
            let Some(format) = stored_format(&newest.key) else {
                return sorted.get(1).map(|o| (*o).clone());
            };
            sorted[1..]
                .iter()
                .find(|o| stored_format(&o.key) == Some(format))
                .map(|o| (*o).clone())
        }),
    }
}

/// How an object is stored, from its name's suffix; `None` for names outside etcdbak's scheme.
fn stored_format(key: &str) -> Option<crate::pipeline::Format> {
    let name = key.rsplit('/').next().unwrap_or(key);
    crate::naming::ObjectName::parse(name).map(|n| n.format)
}

/// Splits a root listing into clusters: only keys that are etcdbak backups (`<prefix>/<cluster>/<name>` in
/// its naming scheme, see [`crate::naming::parse_key`]) count, so a stray file never poses as a backup. Pure.
pub fn group_by_cluster<'a>(
    prefix: &str,
    objects: &'a [ListedObject],
) -> BTreeMap<String, Vec<&'a ListedObject>> {
    let mut out: BTreeMap<String, Vec<&ListedObject>> = BTreeMap::new();
    for o in objects {
        if let Some((cluster, _)) = crate::naming::parse_key(prefix, &o.key) {
            out.entry(cluster).or_default().push(o);
        }
    }
    out
}

/// The outcome of listing one bucket and prefix.
#[derive(Debug, Clone)]
pub struct Listing {
    pub bucket: String,
    pub prefix: String,
    pub duration: Duration,
    /// `None` when the listing failed.
    pub objects: Option<Vec<ListedObject>>,
}

struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Self {
        Family {
            name,
            help,
            samples: Vec::new(),
        }
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for f in families.iter().filter(|f| !f.samples.is_empty()) {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} gauge", f.name);
        for (labels, value) in &f.samples {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            let _ = writeln!(out, "{}{{{}}} {}", f.name, labels.join(","), value);
        }
    }
    out
}

struct Families {
    success: Family,
    duration: Family,
    objects: Family,
    size_sum: Family,
    biggest: Family,
    newest_date: Family,
    newest_size: Family,
    previous_size: Family,
    previous_date: Family,
    newest_plaintext: Family,
}

impl Families {
    fn new() -> Self {
        Families {
            success: Family::new(
                "s3_list_success",
                "Whether listing the bucket and prefix succeeded (1) or failed (0).",
            ),
            duration: Family::new(
                "s3_list_duration_seconds",
                "How long listing the bucket and prefix took.",
            ),
            objects: Family::new("s3_objects", "The number of objects under the prefix."),
            size_sum: Family::new(
                "s3_objects_size_sum_bytes",
                "The total size of the objects under the prefix.",
            ),
            biggest: Family::new(
                "s3_biggest_object_size_bytes",
                "The size of the biggest object under the prefix.",
            ),
            newest_date: Family::new(
                "s3_last_modified_object_date",
                "The modification time of the newest object under the prefix, in Unix seconds.",
            ),
            newest_size: Family::new(
                "s3_last_modified_object_size_bytes",
                "The size of the newest object under the prefix.",
            ),
            previous_date: Family::new(
                "s3_previous_object_date",
                "The modification time of the object before the newest one, in Unix seconds.",
            ),
            previous_size: Family::new(
                "s3_previous_object_size_bytes",
                "The size of the object before the newest one (the previous backup).",
            ),
            newest_plaintext: Family::new(
                "s3_last_modified_object_plaintext_size_bytes",
                "The size of the newest backup's snapshot before compression and encryption, as its metadata records it (/metrics only).",
            ),
        }
    }

    fn add_summary(&mut self, labels: Vec<(&'static str, String)>, s: &PrefixSummary) {
        self.objects
            .samples
            .push((labels.clone(), s.objects as f64));
        self.size_sum
            .samples
            .push((labels.clone(), s.size_sum as f64));
        self.biggest
            .samples
            .push((labels.clone(), s.biggest as f64));
        if let Some(n) = &s.newest {
            self.newest_date
                .samples
                .push((labels.clone(), unix_seconds(n.last_modified)));
            self.newest_size
                .samples
                .push((labels.clone(), n.size as f64));
        }
        if let Some(p) = &s.previous {
            self.previous_date
                .samples
                .push((labels.clone(), unix_seconds(p.last_modified)));
            self.previous_size.samples.push((labels, p.size as f64));
        }
    }

    fn render(self) -> String {
        render(&[
            self.success,
            self.duration,
            self.objects,
            self.size_sum,
            self.biggest,
            self.newest_date,
            self.newest_size,
            self.previous_date,
            self.previous_size,
            self.newest_plaintext,
        ])
    }
}

fn unix_seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// `/probe`: one bucket and prefix, s3_exporter's labels (`bucket`, `prefix`). Pure.
pub fn render_probe(listing: &Listing, suffix: &str) -> String {
    let mut f = Families::new();
    let labels = vec![
        ("bucket", listing.bucket.clone()),
        ("prefix", listing.prefix.clone()),
    ];
    f.success.samples.push((
        labels.clone(),
        if listing.objects.is_some() { 1.0 } else { 0.0 },
    ));
    f.duration
        .samples
        .push((labels.clone(), listing.duration.as_secs_f64()));
    if let Some(objects) = &listing.objects {
        let summary = summarize(
            objects
                .iter()
                .filter(|o| o.key.starts_with(&listing.prefix) && o.key.ends_with(suffix)),
        );
        f.add_summary(labels, &summary);
    }
    f.render()
}

/// `/metrics`: the root listing split per cluster, labelled `cluster` and the cluster's own prefix, with the
/// plaintext size of each newest backup that `plaintext` (by key, see [`super::plain`]) knows. Pure.
pub fn render_clusters(listing: &Listing, plaintext: &BTreeMap<String, u64>) -> String {
    let mut f = Families::new();
    let root = root_prefix(&listing.prefix);
    let labels = vec![("bucket", listing.bucket.clone()), ("prefix", root.clone())];
    f.success.samples.push((
        labels.clone(),
        if listing.objects.is_some() { 1.0 } else { 0.0 },
    ));
    f.duration
        .samples
        .push((labels, listing.duration.as_secs_f64()));
    if let Some(objects) = &listing.objects {
        for (cluster, objs) in group_by_cluster(&root, objects) {
            let labels = vec![
                ("bucket", listing.bucket.clone()),
                ("prefix", format!("{root}{cluster}/")),
                ("cluster", cluster),
            ];
            let summary = summarize(objs);
            if let Some(size) = summary.newest.as_ref().and_then(|n| plaintext.get(&n.key)) {
                f.newest_plaintext
                    .samples
                    .push((labels.clone(), *size as f64));
            }
            f.add_summary(labels, &summary);
        }
    }
    f.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(key: &str, at: &str, size: u64) -> ListedObject {
        ListedObject {
            key: key.to_string(),
            last_modified: DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&Utc),
            size,
        }
    }

    fn objects() -> Vec<ListedObject> {
        let a = "etcd/a/20260101T000000.000Z-r100-0123abcd.db";
        let a2 = "etcd/a/20260101T010000.000Z-r200-4567cdef.db";
        let b = "etcd/b/20260101T003000.000Z-r7-89abcdef.db";
        let c = "other/c/20260101T003000.000Z-r7-89abcdef.db";
        vec![
            obj(a, "2026-01-01T00:00:05Z", 1000),
            obj(a2, "2026-01-01T01:00:05Z", 400),
            // Not etcdbak's naming scheme: never a backup, even in a cluster's prefix.
            obj("etcd/a/notes.db", "2026-01-01T01:00:06Z", 50),
            obj(b, "2026-01-01T00:30:05Z", 2048),
            obj("etcd/stray.txt", "2026-01-01T02:00:00Z", 1),
            obj(c, "2026-01-01T02:00:00Z", 1),
        ]
    }

    #[test]
    fn summary_picks_newest_and_previous_by_time_not_key() {
        let objs = [
            obj("z-old", "2026-01-01T00:00:00Z", 10),
            obj("a-new", "2026-01-02T00:00:00Z", 20),
            obj("m-mid", "2026-01-01T12:00:00Z", 30),
        ];
        let s = summarize(&objs);
        assert_eq!(s.objects, 3);
        assert_eq!(s.size_sum, 60);
        assert_eq!(s.biggest, 30);
        assert_eq!(s.newest.unwrap().key, "a-new");
        assert_eq!(s.previous.unwrap().key, "m-mid");
    }

    #[test]
    fn the_previous_backup_is_the_newest_one_stored_the_same_way() {
        let key = |t: &str, suffix: &str| format!("etcd/a/{t}-r1-1a2b3c4d{suffix}");
        let objs = [
            obj(
                &key("20260101T000000.000Z", ".db"),
                "2026-01-01T00:00:00Z",
                1000,
            ),
            obj(
                &key("20260101T010000.000Z", ".db"),
                "2026-01-01T01:00:00Z",
                1000,
            ),
            obj(
                &key("20260101T020000.000Z", ".db.zst"),
                "2026-01-01T02:00:00Z",
                200,
            ),
        ];
        // Compression turned on: the newest .db.zst has no earlier .db.zst to shrink from.
        let s = summarize(&objs);
        assert_eq!(s.newest.as_ref().map(|o| o.size), Some(200));
        assert!(s.previous.is_none(), "{:?}", s.previous);
        let mut more = objs.to_vec();
        more.push(obj(
            &key("20260101T030000.000Z", ".db.zst"),
            "2026-01-01T03:00:00Z",
            90,
        ));
        let s = summarize(&more);
        assert_eq!(s.previous.map(|o| o.size), Some(200));
    }

    #[test]
    fn empty_prefix_has_no_newest() {
        let s = summarize(&[]);
        assert_eq!(s.objects, 0);
        assert!(s.newest.is_none() && s.previous.is_none());
    }

    #[test]
    fn the_root_prefix_is_the_one_the_exporter_used_to_normalise_to() {
        for (input, want) in [
            ("", ""),
            ("/", ""),
            ("etcd", "etcd/"),
            ("/etcd/", "etcd/"),
            ("a/b", "a/b/"),
        ] {
            assert_eq!(root_prefix(input), want, "{input}");
        }
    }

    #[test]
    fn grouping_counts_only_etcdbak_backups_under_the_prefix() {
        let objs = objects();
        let g = group_by_cluster("etcd/", &objs);
        let keys: Vec<_> = g.iter().map(|(c, o)| (c.as_str(), o.len())).collect();
        assert_eq!(keys, vec![("a", 2), ("b", 1)]);
        let g = group_by_cluster("other", &objs);
        assert_eq!(g.keys().collect::<Vec<_>>(), vec!["c"]);
    }

    fn listing(prefix: &str, objects: Option<Vec<ListedObject>>) -> Listing {
        Listing {
            bucket: "backups".into(),
            prefix: prefix.into(),
            duration: Duration::from_millis(1500),
            objects,
        }
    }

    #[test]
    fn cluster_metrics_exposition() {
        // a's newest backup records its plaintext size; b's is not known (yet).
        let plain = BTreeMap::from([
            (
                "etcd/a/20260101T010000.000Z-r200-4567cdef.db".to_string(),
                4000,
            ),
            (
                "etcd/a/20260101T000000.000Z-r100-0123abcd.db".to_string(),
                9,
            ),
        ]);
        insta::assert_snapshot!(render_clusters(&listing("etcd", Some(objects())), &plain));
    }

    #[test]
    fn probe_exposition_matches_s3_exporter_labels() {
        insta::assert_snapshot!(render_probe(&listing("etcd/a/", Some(objects())), ".db"));
    }

    #[test]
    fn failed_listing_reports_only_list_success_zero() {
        let text = render_probe(&listing("etcd/a/", None), "");
        assert!(text.contains("s3_list_success{bucket=\"backups\",prefix=\"etcd/a/\"} 0"));
        assert!(!text.contains("s3_last_modified_object_date"));
        let text = render_clusters(&listing("etcd", None), &BTreeMap::new());
        assert!(text.contains("s3_list_success{bucket=\"backups\",prefix=\"etcd/\"} 0"));
        assert!(!text.contains("cluster="));
    }

    #[test]
    fn label_values_are_escaped() {
        let objs = vec![obj("p/we\"ird\\name/x.db", "2026-01-01T00:00:00Z", 1)];
        let text = render_probe(&listing("p/we\"ird\\name/", Some(objs)), "");
        assert!(text.contains("prefix=\"p/we\\\"ird\\\\name/\""), "{text}");
    }
}
