//! `etcdbak s3-exporter`: a small, generic S3 metrics exporter with s3_exporter-compatible metric names.
//!
//! Why it exists: the widely used `s3_exporter` cannot be built from any package registry these machines (or
//! an air-gapped cluster's build) reach, and the alerts need one series the upstream exporter lacks: the size of
//! the backup *before* the newest one (see docs/ALERTS.md). So etcdbak ships the same metric names and the same
//! `/probe?bucket=&prefix=` interface, plus that series, in the binary that is already deployed.
//!
//! Two ways to scrape it:
//! - `/metrics` lists `--bucket`/`--prefix` once and reports every cluster under it (`<prefix>/<cluster>/...`,
//!   only objects named as etcdbak names backups), labelled `cluster`, so a new Cluster is watched without
//!   touching the Prometheus config;
//! - `/probe?bucket=B&prefix=P` reports one bucket and prefix, exactly like `s3_exporter`.
//!
//! The summaries and the text exposition are pure functions tested below; the HTTP and S3 parts are thin.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Args;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::store::{S3Args, S3Client};
use crate::{Error, Result};

#[derive(Debug, Clone, Args)]
pub struct ExporterArgs {
    /// Address to serve `/metrics`, `/probe` and `/healthz` on.
    #[arg(long, env = "ETCDBAK_EXPORTER_LISTEN", default_value = "0.0.0.0:9340")]
    pub listen: SocketAddr,
    /// The bucket and prefix `/metrics` watches (every `<prefix>/<cluster>/`); `/probe` takes its bucket and
    /// prefix from the query instead. The exporter only lists: read-only credentials are enough.
    #[command(flatten)]
    pub s3: Box<S3Args>,
    /// Give up on one bucket listing after this long (it is then reported as `s3_list_success 0`).
    #[arg(long, env = "ETCDBAK_EXPORTER_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub list_timeout: Duration,
}

/// One listed object, as much as the metrics need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub last_modified: DateTime<Utc>,
    pub size: u64,
}

/// What the metrics say about one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixSummary {
    pub objects: u64,
    pub size_sum: u64,
    pub biggest: u64,
    /// The newest object (by modification time, then key so equal times are stable).
    pub newest: Option<ObjectInfo>,
    /// The object modified just before the newest one: the "previous backup".
    pub previous: Option<ObjectInfo>,
}

/// Summarises the objects of one prefix. Pure.
pub fn summarize<'a>(objects: impl IntoIterator<Item = &'a ObjectInfo>) -> PrefixSummary {
    let mut sorted: Vec<&ObjectInfo> = objects.into_iter().collect();
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
        previous: sorted.get(1).map(|o| (*o).clone()),
    }
}

/// `"etcd"`, `"etcd/"` and `""` all name the same root; returns it with exactly one trailing slash, or empty.
pub fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}/")
    }
}

/// Splits a root listing into clusters: only keys that are etcdbak backups (`<prefix>/<cluster>/<name>` in
/// its naming scheme, see [`crate::backup::parse_key`]) count, so a stray file never poses as a backup. Pure.
pub fn group_by_cluster<'a>(
    prefix: &str,
    objects: &'a [ObjectInfo],
) -> BTreeMap<String, Vec<&'a ObjectInfo>> {
    let mut out: BTreeMap<String, Vec<&ObjectInfo>> = BTreeMap::new();
    for o in objects {
        if let Some((cluster, _)) = crate::backup::parse_key(prefix, &o.key) {
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
    pub objects: Option<Vec<ObjectInfo>>,
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

/// `/metrics`: the root listing split per cluster, labelled `cluster` and the cluster's own prefix. Pure.
pub fn render_clusters(listing: &Listing) -> String {
    let mut f = Families::new();
    let root = normalize_prefix(&listing.prefix);
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
            f.add_summary(labels, &summarize(objs));
        }
    }
    f.render()
}

/// Decodes `%XX` and `+` in a query component.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query parameters of a request target, decoded.
pub fn query_params(target: &str) -> BTreeMap<String, String> {
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

struct Exporter {
    args: ExporterArgs,
}

impl Exporter {
    async fn list(&self, bucket: &str, prefix: &str) -> Listing {
        let start = Instant::now();
        let objects = match tokio::time::timeout(
            self.args.list_timeout,
            self.list_objects(bucket, prefix),
        )
        .await
        {
            Ok(Ok(objects)) => Some(objects),
            Ok(Err(e)) => {
                tracing::warn!(bucket, prefix, error = %e, "listing failed");
                None
            }
            Err(_) => {
                tracing::warn!(bucket, prefix, timeout = ?self.args.list_timeout, "listing timed out");
                None
            }
        };
        Listing {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            duration: start.elapsed(),
            objects,
        }
    }

    async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, String> {
        let mut s3 = (*self.args.s3).clone();
        s3.bucket = bucket.to_string();
        let client = S3Client::from_args(&s3).map_err(|e| e.to_string())?;
        let pages = client
            .bucket
            .list(prefix.to_string(), None)
            .await
            .map_err(|e| client.classify("list the backups", e).to_string())?;
        let mut out = Vec::new();
        for o in pages.into_iter().flat_map(|p| p.contents) {
            let last_modified = DateTime::parse_from_rfc3339(&o.last_modified)
                .map_err(|e| format!("object {} has an unreadable LastModified: {e}", o.key))?
                .with_timezone(&Utc);
            out.push(ObjectInfo {
                key: o.key,
                last_modified,
                size: o.size,
            });
        }
        Ok(out)
    }

    /// Routes one request target to (status, body).
    async fn respond(&self, target: &str) -> (u16, String) {
        let path = target.split('?').next().unwrap_or("");
        match path {
            "/metrics" => {
                let listing = self
                    .list(
                        &self.args.s3.bucket,
                        &normalize_prefix(&self.args.s3.prefix),
                    )
                    .await;
                (200, render_clusters(&listing))
            }
            "/probe" => {
                let params = query_params(target);
                let Some(bucket) = params.get("bucket").filter(|b| !b.is_empty()) else {
                    return (400, "the bucket parameter is missing\n".to_string());
                };
                let prefix = params.get("prefix").cloned().unwrap_or_default();
                let suffix = params.get("suffix").map(String::as_str).unwrap_or("");
                let listing = self.list(bucket, &prefix).await;
                (200, render_probe(&listing, suffix))
            }
            "/healthz" => (200, "ok\n".to_string()),
            "/" => (
                200,
                "etcdbak s3-exporter: /metrics (every cluster under the configured prefix), \
                 /probe?bucket=B&prefix=P (one prefix), /healthz\n"
                    .to_string(),
            ),
            _ => (404, "not found\n".to_string()),
        }
    }
}

/// Reads one HTTP/1.x request head (bounded) and returns its target, or None for anything malformed.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > 16 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.lines().next()?.split_whitespace();
    let method = parts.next()?;
    let target = parts.next()?;
    (method == "GET").then(|| target.to_string())
}

async fn serve(exporter: std::sync::Arc<Exporter>, mut stream: TcpStream) {
    let read = tokio::time::timeout(Duration::from_secs(10), read_target(&mut stream)).await;
    let (status, body) = match read {
        Ok(Some(target)) => exporter.respond(&target).await,
        _ => (400, "bad request: only GET is served\n".to_string()),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Not Found",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

pub async fn run(args: ExporterArgs) -> Result<()> {
    // Fail at start-up, not on the first scrape, when the endpoint or credentials are unusable.
    S3Client::from_args(&args.s3).map_err(Error::from)?;
    let listener = TcpListener::bind(args.listen).await.map_err(|e| {
        Error::io(
            format!("cannot listen on {}: check --listen", args.listen),
            e,
        )
    })?;
    tracing::info!(
        listen = %args.listen,
        bucket = %args.s3.bucket,
        prefix = %args.s3.prefix,
        "s3-exporter serving /metrics (every cluster under the prefix) and /probe"
    );
    let exporter = std::sync::Arc::new(Exporter { args });
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve(exporter.clone(), stream));
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            _ = crate::shutdown::signal() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(key: &str, at: &str, size: u64) -> ObjectInfo {
        ObjectInfo {
            key: key.to_string(),
            last_modified: DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&Utc),
            size,
        }
    }

    fn objects() -> Vec<ObjectInfo> {
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
    fn empty_prefix_has_no_newest() {
        let s = summarize(&[]);
        assert_eq!(s.objects, 0);
        assert!(s.newest.is_none() && s.previous.is_none());
    }

    #[test]
    fn prefixes_normalise() {
        for (input, want) in [
            ("", ""),
            ("/", ""),
            ("etcd", "etcd/"),
            ("/etcd/", "etcd/"),
            ("a/b", "a/b/"),
        ] {
            assert_eq!(normalize_prefix(input), want, "{input}");
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

    #[test]
    fn query_parameters_decode() {
        let p = query_params("/probe?bucket=backups&prefix=etcd%2Fa%2F&suffix=.db&x");
        assert_eq!(p["bucket"], "backups");
        assert_eq!(p["prefix"], "etcd/a/");
        assert_eq!(p["suffix"], ".db");
        assert_eq!(p["x"], "");
        assert_eq!(query_params("/probe?prefix=a+b%")["prefix"], "a b%");
    }

    fn listing(prefix: &str, objects: Option<Vec<ObjectInfo>>) -> Listing {
        Listing {
            bucket: "backups".into(),
            prefix: prefix.into(),
            duration: Duration::from_millis(1500),
            objects,
        }
    }

    #[test]
    fn cluster_metrics_exposition() {
        insta::assert_snapshot!(render_clusters(&listing("etcd", Some(objects()))));
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
        let text = render_clusters(&listing("etcd", None));
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
