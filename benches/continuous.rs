//! Continuous-backup benchmark (docs/CONTINUOUS.md; issue 17's figures), on real etcd and MinIO:
//!
//! - **RPO under load**: a writer puts `RATE` Kubernetes-shaped keys per second while `etcdbak follow` runs
//!   with its default 20 s interval. From the stored segments themselves (each one's S3 LastModified, the
//!   moment it became durable, and its last event's `seen_at`), the recovery point's age is sampled every
//!   100 ms over the window: p50, p99 and max.
//! - **Storage per hour** at that load: one full backup an hour plus the segments, against a full backup
//!   every minute (both zstd:1, as stored).
//! - **Follower memory**: RSS of one follower idle and under load, and of `FOLLOWERS` followers (one process
//!   each, as the per-Cluster Deployments run) pointed at three etcd clusters, idle and under load.
//! - **Catch-up**: one million events written while no follower runs, then the follower started: seconds
//!   until a durable segment holds the last one, and its peak RSS.
//!
//! Prints one JSON line; `scripts/bench --continuous` runs it and tabulates. Under `cargo test` it does
//! nothing: it is a measurement, never a timed test.
//!
//!   ETCDBAK_BENCH_WINDOW_SECS=120 ETCDBAK_BENCH_FOLLOWERS=100 cargo bench --bench continuous

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::etcd::EtcdCluster;
use common::etcdbak;
use common::minio::{Minio, BUCKET};
use etcd_client::{Txn, TxnOp};

const PREFIX: &str = "bench";
const RATE: u64 = 500;
const CATCH_UP_EVENTS: usize = 1_000_000;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("continuous bench: run through `cargo bench --bench continuous` or scripts/bench");
        return;
    }
    let window = Duration::from_secs(env_or("ETCDBAK_BENCH_WINDOW_SECS", 120));
    let followers = env_or("ETCDBAK_BENCH_FOLLOWERS", 100) as usize;
    let scratch = tempfile::tempdir().expect("scratch");
    let minio = Minio::start();
    let (rpo, storage, one) = rpo_and_storage(&minio, scratch.path(), window);
    let many = many_followers(&minio, scratch.path(), followers);
    let catch_up = catch_up(&minio, scratch.path());
    let out = serde_json::json!({
        "rate": RATE, "windowSecs": window.as_secs(), "rpo": rpo, "storage": storage,
        "oneFollower": one, "followers": many, "catchUp": catch_up,
    });
    println!("{out}");
}

/// A `/proc/<pid>/status` field in KiB: VmHWM is the peak RSS so far, VmRSS the current one.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn s3_args(minio: &Minio) -> Vec<String> {
    let mut a = minio.s3_args();
    a.extend(["--prefix".into(), PREFIX.into()]);
    a
}

fn follower(minio: &Minio, etcd: &EtcdCluster, cluster: &str, dir: &Path, interval: &str) -> Child {
    minio
        .creds_env(
            etcdbak()
                .arg("follow")
                .args(etcd.etcdbak_args())
                .arg("--dir")
                .arg(dir.join(cluster))
                .args(["--cluster", cluster, "--interval", interval])
                .args(s3_args(minio))
                .env("ETCDBAK_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .spawn()
        .expect("start etcdbak follow")
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// A Pod-like value of about 1 KiB, different each time.
fn pod(i: u64) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"web-{i}","namespace":"shop","resourceVersion":"{i}","labels":{{"app":"web","pod-template-hash":"7d4b9c8f6"}}}},"spec":{{"containers":[{{"name":"web","image":"registry.example.com/shop/web:1.{}","resources":{{"requests":{{"cpu":"100m","memory":"128Mi"}}}}}}],"nodeName":"node-{}"}},"status":{{"phase":"Running","conditions":[{{"type":"Ready","status":"True","lastTransitionTime":"2026-12-03T08:{:02}:00Z"}}],"podIP":"10.0.{}.{}"}},"pad":"{}"}}"#,
        i % 50,
        i % 20,
        i % 60,
        i % 250,
        i % 250,
        "x".repeat(400)
    )
}

/// Puts `RATE` keys per second (over a working set of 5,000 pods, as status updates do) until `stop`.
fn writer(etcd: &EtcdCluster, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    let endpoints: Vec<String> = etcd.endpoints().split(',').map(str::to_string).collect();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let mut c = etcd_client::Client::connect(endpoints, None)
                .await
                .expect("etcd");
            let start = Instant::now();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let due = start.elapsed().as_millis() as u64 * RATE / 1000;
                while n < due {
                    c.put(
                        format!("/registry/pods/shop/web-{}", n % 5000),
                        pod(n),
                        None,
                    )
                    .await
                    .expect("put");
                    n += 1;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            n
        })
    })
}

/// Each stored segment of `cluster`: (durable at, newest change's seen_at, stored bytes).
fn stored_segments(minio: &Minio, cluster: &str) -> Vec<(DateTime<Utc>, DateTime<Utc>, u64)> {
    let bucket = minio.client_bucket(BUCKET);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let pages = rt
        .block_on(bucket.list(format!("{PREFIX}/{cluster}/segments/"), None))
        .expect("list");
    let mut out = Vec::new();
    for o in pages.into_iter().flat_map(|p| p.contents) {
        let durable: DateTime<Utc> = o.last_modified.parse().expect("LastModified");
        let (meta, _) = minio.head(&o.key);
        let recorded = etcdbak::pipeline::ObjectFacts::from_metadata(meta.iter())
            .expect("metadata")
            .expect("a pipeline record");
        let body = minio.get(&o.key);
        let expected = etcdbak::pipeline::Expected::from_recorded(&recorded);
        let (plain, _) = etcdbak::pipeline::decode(body.as_slice(), Vec::new(), &expected, None)
            .expect("decode");
        let events = etcdbak::continuous::segment::decode(&plain).expect("segment");
        let seen = events.last().map(|e| e.seen_at_ms).expect("events");
        let seen = DateTime::from_timestamp_millis(seen).expect("time");
        out.push((durable, seen, o.size));
    }
    out.sort();
    out
}

/// p50, p99 and max of the recovery point's age (seconds) between `from` and `to`, sampled every 100 ms.
fn rpo_percentiles(
    segments: &[(DateTime<Utc>, DateTime<Utc>, u64)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> serde_json::Value {
    let mut ages = Vec::new();
    let mut t = from;
    while t <= to {
        if let Some((_, seen, _)) = segments.iter().rev().find(|(durable, _, _)| *durable <= t) {
            ages.push((t - *seen).num_milliseconds() as f64 / 1000.0);
        }
        t += chrono::Duration::milliseconds(100);
    }
    ages.sort_by(f64::total_cmp);
    let at = |q: f64| {
        ages.get(((ages.len() as f64 - 1.0) * q).round() as usize)
            .copied()
    };
    serde_json::json!({"p50": at(0.5), "p99": at(0.99), "max": ages.last(), "samples": ages.len()})
}

fn full_backup(minio: &Minio, etcd: &EtcdCluster, cluster: &str, dir: &Path) -> u64 {
    let dir = dir.join(format!("full-{cluster}"));
    let _ = std::fs::remove_dir_all(&dir);
    let ok = etcdbak()
        .arg("snapshot")
        .args(etcd.etcdbak_args())
        .arg("--dir")
        .arg(&dir)
        .args(["--cluster", cluster, "--log-level", "warn"])
        .status()
        .expect("snapshot")
        .success()
        && minio
            .creds_env(
                etcdbak()
                    .arg("store")
                    .arg("--dir")
                    .arg(&dir)
                    .args([
                        "--cluster",
                        cluster,
                        "--keep",
                        "1000",
                        "--log-level",
                        "warn",
                    ])
                    .args(s3_args(minio)),
            )
            .status()
            .expect("store")
            .success();
    assert!(ok, "full backup of {cluster} failed");
    let keys = minio.keys(&format!("{PREFIX}/{cluster}/"));
    let newest = keys
        .iter()
        .filter(|k| !k.contains("/segments/") && !k.ends_with(".verified"))
        .max()
        .expect("a full backup");
    minio.head(newest).1
}

fn rpo_and_storage(
    minio: &Minio,
    dir: &Path,
    window: Duration,
) -> (serde_json::Value, serde_json::Value, serde_json::Value) {
    let etcd = EtcdCluster::start(1, false);
    etcd.put_keys("/registry/configmaps/base/", 5000, 1024);
    full_backup(minio, &etcd, "rpo", dir);
    let f = follower(minio, &etcd, "rpo", dir, "20s");
    std::thread::sleep(Duration::from_secs(5));
    let idle_kib = status_kib(f.id(), "VmRSS:");
    let stop_writing = Arc::new(AtomicBool::new(false));
    let from = Utc::now();
    let w = writer(&etcd, stop_writing.clone());
    std::thread::sleep(window);
    let to = Utc::now();
    let load_kib = status_kib(f.id(), "VmRSS:");
    stop_writing.store(true, Ordering::Relaxed);
    let written = w.join().expect("writer");
    // The open segment closes at its interval; then everything written is durable.
    std::thread::sleep(Duration::from_secs(25));
    let peak_kib = status_kib(f.id(), "VmHWM:");
    stop(f);
    let segments = stored_segments(minio, "rpo");
    let segment_bytes: u64 = segments.iter().map(|s| s.2).sum();
    // The recovery point is measured once the first segment is durable: before it, the full backup is.
    let first = segments.first().map_or(from, |s| s.0);
    let rpo = rpo_percentiles(&segments, first.max(from), to);
    let full = full_backup(minio, &etcd, "rpo", dir);
    let per_hour = |bytes: u64| bytes as f64 * 3600.0 / window.as_secs_f64();
    let continuous = full as f64 + per_hour(segment_bytes);
    let every_minute = 60.0 * full as f64;
    let storage = serde_json::json!({
        "written": written, "segments": segments.len(), "segmentBytes": segment_bytes,
        "fullBackupBytes": full, "continuousPerHour": continuous, "fullEveryMinutePerHour": every_minute,
        "ratio": continuous / every_minute,
    });
    let one = serde_json::json!({"idleKib": idle_kib, "loadKib": load_kib, "peakKib": peak_kib});
    (rpo, storage, one)
}

/// `n` followers (one process each) over three etcd clusters: total and median RSS, idle and under load.
fn many_followers(minio: &Minio, dir: &Path, n: usize) -> serde_json::Value {
    let etcds: Vec<EtcdCluster> = (0..3).map(|_| EtcdCluster::start(1, false)).collect();
    for e in &etcds {
        e.put_keys("/registry/configmaps/base/", 500, 1024);
    }
    let children: Vec<Child> = (0..n)
        .map(|i| follower(minio, &etcds[i % 3], &format!("f-{i:03}"), dir, "20s"))
        .collect();
    // Each takes its first full backup, then follows: wait until every one has stored it.
    let started = Instant::now();
    while minio.keys(&format!("{PREFIX}/f-")).len() < n
        && started.elapsed() < Duration::from_secs(300)
    {
        std::thread::sleep(Duration::from_secs(1));
    }
    std::thread::sleep(Duration::from_secs(5));
    let rss = |children: &[Child]| {
        let mut v: Vec<u64> = children
            .iter()
            .map(|c| status_kib(c.id(), "VmRSS:"))
            .collect();
        v.sort();
        (
            v.iter().sum::<u64>(),
            v.get(v.len() / 2).copied().unwrap_or(0),
        )
    };
    let (idle_total, idle_median) = rss(&children);
    let stop_writing = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = etcds
        .iter()
        .map(|e| writer(e, stop_writing.clone()))
        .collect();
    std::thread::sleep(Duration::from_secs(30));
    let (load_total, load_median) = rss(&children);
    stop_writing.store(true, Ordering::Relaxed);
    for w in writers {
        let _ = w.join();
    }
    for c in children {
        stop(c);
    }
    serde_json::json!({
        "followers": n, "idleTotalKib": idle_total, "idleMedianKib": idle_median,
        "loadTotalKib": load_total, "loadMedianKib": load_median,
    })
}

/// One million events written with no follower running, then caught up.
fn catch_up(minio: &Minio, dir: &Path) -> serde_json::Value {
    let etcd = EtcdCluster::start(1, false);
    etcd.put_keys("/registry/configmaps/base/", 500, 1024);
    full_backup(minio, &etcd, "catchup", dir);
    let last = etcd.client_blocking(|mut c| async move {
        let mut last = 0;
        for t in 0..CATCH_UP_EVENTS / 100 {
            let ops: Vec<TxnOp> = (0..100)
                .map(|i| {
                    TxnOp::put(
                        format!("/registry/leases/n-{}", (t * 100 + i) % 10_000),
                        format!("{t}-{i}"),
                        None,
                    )
                })
                .collect();
            let r = c.txn(Txn::new().and_then(ops)).await?;
            last = r.header().map_or(last, |h| h.revision());
        }
        Ok(last)
    });
    let started = Instant::now();
    let f = follower(minio, &etcd, "catchup", dir, "20s");
    let reached = |minio: &Minio| {
        minio
            .keys(&format!("{PREFIX}/catchup/segments/"))
            .iter()
            .filter_map(|k| {
                k.rsplit('/')
                    .next()?
                    .split('-')
                    .nth(1)?
                    .strip_prefix('r')?
                    .parse::<i64>()
                    .ok()
            })
            .max()
            .unwrap_or(0)
    };
    while reached(minio) < last && started.elapsed() < Duration::from_secs(600) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let secs = started.elapsed().as_secs_f64();
    let peak = status_kib(f.id(), "VmHWM:");
    stop(f);
    serde_json::json!({
        "events": CATCH_UP_EVENTS, "seconds": secs, "peakKib": peak, "complete": reached(minio) >= last,
    })
}
