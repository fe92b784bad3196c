//! `etcdbak s3-exporter`: a small, generic S3 metrics exporter with s3_exporter-compatible metric names.
//! OWNER: monitoring/restore helper.
//!
//! Why it exists: the widely used `s3_exporter` cannot be built from any package registry these machines (or
//! an air-gapped cluster's build) reach, and the alerts need one series the upstream exporter lacks: the size of
//! the backup *before* the newest one (see docs/ALERTS.md). So etcdbak ships the same metric names and the same
//! `/probe?bucket=&prefix=` interface, plus that series, in the binary that is already deployed.
//!
//! Two ways to scrape it:
//! - `/metrics` lists `--bucket`/`--prefix` once and reports every cluster under it (`<prefix>/<cluster>/...`),
//!   labelled `cluster`, so a new Cluster is watched without touching the Prometheus config;
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

use crate::{Error, Result};

#[derive(Debug, Clone, Args)]
pub struct ExporterArgs {
    /// Address to serve `/metrics`, `/probe` and `/healthz` on.
    #[arg(long, env = "ETCDBAK_EXPORTER_LISTEN", default_value = "0.0.0.0:9340")]
    pub listen: SocketAddr,
    /// S3 endpoint URL, e.g. `http://minio.storage.svc:9000`. Credentials come from AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY only.
    #[arg(long, env = "ETCDBAK_S3_ENDPOINT")]
    pub s3_endpoint: String,
    /// S3 region name (MinIO accepts any; AWS needs the bucket's region).
    #[arg(long, env = "ETCDBAK_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// Address buckets as `endpoint/bucket` instead of `bucket.endpoint` (MinIO and most in-cluster S3 need this).
    #[arg(long, env = "ETCDBAK_S3_PATH_STYLE")]
    pub s3_path_style: bool,
    /// Bucket `/metrics` watches. `/probe` takes its bucket from the query instead.
    #[arg(long, env = "ETCDBAK_BUCKET")]
    pub bucket: Option<String>,
    /// Prefix under which each cluster's backups live as `<prefix>/<cluster>/...`; empty for the bucket root.
    #[arg(long, env = "ETCDBAK_PREFIX", default_value = "")]
    pub prefix: String,
    /// Count only objects whose key ends with this (e.g. `.db`), so sidecar files never pose as the newest
    /// backup. `/probe` accepts `suffix=` to override it.
    #[arg(long, env = "ETCDBAK_EXPORTER_SUFFIX", default_value = "")]
    pub suffix: String,
    /// Give up on one bucket listing after this long (it is then reported as `s3_list_success 0`).
    #[arg(long, env = "ETCDBAK_EXPORTER_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
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

/// Splits a root listing into clusters: `<root><cluster>/<rest>` goes to `cluster`. Objects directly under
/// the root, and objects not ending in `suffix`, belong to no cluster. Pure.
pub fn group_by_cluster<'a>(
    root: &str,
    suffix: &str,
    objects: &'a [ObjectInfo],
) -> BTreeMap<String, Vec<&'a ObjectInfo>> {
    let mut out: BTreeMap<String, Vec<&ObjectInfo>> = BTreeMap::new();
    for o in objects.iter().filter(|o| o.key.ends_with(suffix)) {
        let Some(rest) = o.key.strip_prefix(root) else {
            continue;
        };
        if let Some((cluster, tail)) = rest.split_once('/') {
            if !cluster.is_empty() && !tail.is_empty() {
                out.entry(cluster.to_string()).or_default().push(o);
            }
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
pub fn render_clusters(listing: &Listing, suffix: &str) -> String {
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
        for (cluster, objs) in group_by_cluster(&root, suffix, objects) {
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
    credentials: s3::creds::Credentials,
}

impl Exporter {
    async fn list(&self, bucket: &str, prefix: &str) -> Listing {
        let start = Instant::now();
        let objects = match self.list_objects(bucket, prefix).await {
            Ok(objects) => Some(objects),
            Err(e) => {
                tracing::warn!(bucket, prefix, error = %e, "listing failed");
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
        let region = s3::Region::Custom {
            region: self.args.s3_region.clone(),
            endpoint: self.args.s3_endpoint.clone(),
        };
        let mut b =
            s3::Bucket::new(bucket, region, self.credentials.clone()).map_err(|e| e.to_string())?;
        if self.args.s3_path_style {
            b = b.with_path_style();
        }
        let b = b
            .with_request_timeout(self.args.timeout)
            .map_err(|e| e.to_string())?;
        let pages = tokio::time::timeout(self.args.timeout, b.list(prefix.to_string(), None))
            .await
            .map_err(|_| format!("timed out after {:?}", self.args.timeout))?
            .map_err(|e| e.to_string())?;
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
            "/metrics" => match &self.args.bucket {
                Some(bucket) => {
                    let listing = self.list(bucket, &normalize_prefix(&self.args.prefix)).await;
                    (200, render_clusters(&listing, &self.args.suffix))
                }
                None => (
                    404,
                    "no --bucket configured: use /probe?bucket=B&prefix=P, or start with --bucket\n"
                        .to_string(),
                ),
            },
            "/probe" => {
                let params = query_params(target);
                let Some(bucket) = params.get("bucket").filter(|b| !b.is_empty()) else {
                    return (400, "the bucket parameter is missing\n".to_string());
                };
                let prefix = params.get("prefix").cloned().unwrap_or_default();
                let suffix = params.get("suffix").unwrap_or(&self.args.suffix);
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
    let credentials = s3::creds::Credentials::from_env().map_err(|_| {
        Error::Usage(
            "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_string(),
        )
    })?;
    let listener = TcpListener::bind(args.listen).await.map_err(|e| {
        Error::io(
            format!("cannot listen on {}: check --listen", args.listen),
            e,
        )
    })?;
    tracing::info!(listen = %args.listen, endpoint = %args.s3_endpoint, bucket = ?args.bucket, prefix = %args.prefix, "s3-exporter serving");
    let exporter = std::sync::Arc::new(Exporter { args, credentials });
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve(exporter.clone(), stream));
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
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
        vec![
            obj(
                "etcd/a/20260101T000000Z-r100.db",
                "2026-01-01T00:00:05Z",
                1000,
            ),
            obj(
                "etcd/a/20260101T010000Z-r200.db",
                "2026-01-01T01:00:05Z",
                400,
            ),
            obj(
                "etcd/a/20260101T010000Z-r200.json",
                "2026-01-01T01:00:06Z",
                50,
            ),
            obj(
                "etcd/b/20260101T003000Z-r7.db",
                "2026-01-01T00:30:05Z",
                2048,
            ),
            obj("etcd/stray.txt", "2026-01-01T02:00:00Z", 1),
            obj("other/c/x.db", "2026-01-01T02:00:00Z", 1),
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
    fn grouping_ignores_root_files_other_prefixes_and_suffix_mismatches() {
        let objs = objects();
        let g = group_by_cluster("etcd/", ".db", &objs);
        let keys: Vec<_> = g.iter().map(|(c, o)| (c.as_str(), o.len())).collect();
        assert_eq!(keys, vec![("a", 2), ("b", 1)]);
        let all = group_by_cluster("", "", &objs);
        assert_eq!(all.keys().collect::<Vec<_>>(), vec!["etcd", "other"]);
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
        insta::assert_snapshot!(render_clusters(&listing("etcd", Some(objects())), ".db"));
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
        let text = render_clusters(&listing("etcd", None), "");
        assert!(text.contains("s3_list_success{bucket=\"backups\",prefix=\"etcd/\"} 0"));
        assert!(!text.contains("cluster="));
    }

    #[test]
    fn label_values_are_escaped() {
        let objs = vec![obj("p/we\"ird\\name/x.db", "2026-01-01T00:00:00Z", 1)];
        let text = render_clusters(&listing("p", Some(objs)), "");
        assert!(text.contains("cluster=\"we\\\"ird\\\\name\""), "{text}");
    }
}
