//! Controller benchmark: N Cluster resources on a real kube-apiserver (tests/common/kube.rs), then
//! `etcdbak watch` started against them with the production resync. Measures the time until every CronJob
//! exists and the requests that took (by verb and resource); then a leader handover (SIGTERM, a new
//! holder) and the time until the new leader has reconciled every Cluster and its writes (target 0); the
//! API writes during its idle resyncs (counted by the apiserver's own `apiserver_request_total`; target 0)
//! and the controllers' peak RSS (VmHWM). Then the apiserver's own bound, the floor: the same writes the controller
//! made (its CronJobs and mirrored Secrets copied as they are into a fresh namespace, plus a Cluster
//! patch, a status patch and an Event per Cluster) sent by a plain client at the controller's concurrency.
//! Prints one JSON line; `scripts/bench` runs it and tabulates.
//!
//!   ETCDBAK_BENCH_CLUSTERS=1000 cargo bench --bench controller
//!
//! Under `cargo test` (no `--bench` argument) it does nothing: it is a measurement, never a timed test.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::kube::{all_request_counts, create_namespace, rig, write_counts, writes_between};
use common::{etcdbak, free_port, Proc};
use etcdbak::crd::{Cluster, ClusterSpec};
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{Event, ObjectReference, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};

const JOB_NS: &str = "etcdbak";
/// Where the floor writes its copies.
const FLOOR_NS: &str = "etcdbak-floor";
/// `etcdbak watch`'s default reconcile concurrency, which the floor's client uses too.
const CONCURRENCY: usize = 64;
const TENANTS: usize = 10;
/// Resync period (at least; see `resync_secs`); the idle window covers at least two full resyncs.
const RESYNC_SECS: u64 = 10;

/// A resync re-queues every Cluster: at 10,000 Clusters one every 10 s leaves the controller no time to
/// converge new ones (measured: 14,020 of 20,000 CronJobs after 14 minutes, the queue full of resyncs). So
/// the period grows with the fleet, as it would in production (the default is 10 minutes).
fn resync_secs(n: usize) -> u64 {
    RESYNC_SECS.max(n as u64 / 100)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("controller bench: run through `cargo bench --bench controller` or scripts/bench");
        return;
    }
    let n: usize = std::env::var("ETCDBAK_BENCH_CLUSTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let result = rt.block_on(bench(n));
    println!("{result}");
}

/// A `/proc/<pid>/status` field in KiB: VmHWM is the peak RSS so far, VmRSS the current one.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

async fn bench(n: usize) -> String {
    let rig = rig();
    let client = rig.client().await;
    create_namespace(&client, JOB_NS).await;
    for t in 0..TENANTS {
        let ns = format!("tenant-{t}");
        create_namespace(&client, &ns).await;
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
        let secret = common::kube::placeholder_tls_secret();
        let _ = secrets.create(&PostParams::default(), &secret).await;
    }
    let clusters: Api<Cluster> = Api::all(client.clone());
    let create_start = Instant::now();
    for i in 0..n {
        let ns = format!("tenant-{}", i % TENANTS);
        let c = Cluster::new(
            &format!("bench-{i:04}"),
            ClusterSpec {
                endpoints: Some(vec![format!("https://etcd-0.etcd.{ns}.svc:2379")]),
                tls_secret: Some("etcd-client-tls".to_string()),
                ..ClusterSpec::in_namespace(ns.as_str())
            },
        );
        match clusters.create(&PostParams::default(), &c).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => panic!("creating Cluster {i}: {e}"),
        }
    }
    let create_secs = create_start.elapsed().as_secs_f64();

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!("jobNamespace: {JOB_NS}\ndefaultSchedule: \"H/20 * * * *\"\nimage: registry.example/etcdbak:bench\ns3: {{endpoint: \"http://minio.etcdbak.svc:9000\", bucket: etcd-backups}}\n"),
    )
    .expect("config");
    // Converge with the production resync (10 minutes): a shorter one re-queues every Cluster while the
    // fleet is still converging, and the figure would measure resyncs rather than convergence.
    let requests_before = all_request_counts(&client).await;
    let start = Instant::now();
    let (mut first, _) = spawn_watch(rig, &config, dir.path(), "bench-1", "10m");
    let first_pid = first.pid().expect("pid");
    wait_for_cron_jobs(&client, n, start, dir.path()).await;
    let to_all = start.elapsed().as_secs_f64();
    // Where the controller's requests went while it converged (the bench's own CronJob polls are LISTs).
    let requests = writes_between(&requests_before, &all_request_counts(&client).await);
    settle(&client).await;
    let peak_first = status_kib(first_pid, "VmHWM:").unwrap_or(0);

    // A leader handover, as a rolling update makes it: SIGTERM to the leader, a new holder takes the
    // Lease and reconciles every Cluster once; it should write nothing. Then its resyncs, idle.
    let before_restart = write_counts(&client).await;
    let restart = Instant::now();
    stop_gracefully(&mut first);
    let (second, metrics) = spawn_watch(
        rig,
        &config,
        dir.path(),
        "bench-2",
        &format!("{}s", resync_secs(n)),
    );
    let pid = second.pid().expect("pid");
    wait_reconciled(&metrics, n, restart).await;
    let restart_secs = restart.elapsed().as_secs_f64();
    let restart_writes: u64 = writes_between(&before_restart, &write_counts(&client).await)
        .values()
        .sum();
    let before = write_counts(&client).await;
    tokio::time::sleep(Duration::from_secs(2 * resync_secs(n) + 2)).await;
    let writes = writes_between(&before, &write_counts(&client).await);
    let idle_writes: u64 = writes.values().sum();
    let peak = status_kib(pid, "VmHWM:").unwrap_or(0).max(peak_first);
    let idle = status_kib(pid, "VmRSS:").unwrap_or(0);
    drop(second);
    let floor = floor(&client, n).await;
    serde_json::json!({
        "floor_seconds": floor,
        "concurrency": CONCURRENCY,
        "clusters": n,
        "create_seconds": create_secs,
        "seconds_to_all_cronjobs": to_all,
        "restart_seconds": restart_secs,
        "restart_writes": restart_writes,
        "idle_writes": idle_writes,
        "requests_to_converge": requests,
        "idle_write_detail": writes,
        "idle_window_seconds": 2 * resync_secs(n) + 2,
        "resync_seconds": resync_secs(n),
        "peak_rss_kib": peak,
        "idle_rss_kib": idle,
    })
    .to_string()
}

/// `etcdbak watch` as Lease holder `holder` with `resync`; returns it and its metrics URL.
fn spawn_watch(
    rig: &common::kube::KubeRig,
    config: &std::path::Path,
    dir: &std::path::Path,
    holder: &str,
    resync: &str,
) -> (Proc, String) {
    let log = std::fs::File::create(dir.join(format!("watch-{holder}.log"))).expect("log");
    let addr = format!("127.0.0.1:{}", free_port());
    let proc = Proc::spawn(
        "etcdbak watch",
        etcdbak()
            .env("KUBECONFIG", &rig.kubeconfig)
            .env("ETCDBAK_LOG", "warn")
            .args(["watch", "--config"])
            .arg(config)
            .args(["--metrics-addr", &addr])
            .args(["--lease-namespace", JOB_NS, "--lease-name", "etcdbak-bench"])
            .args(["--lease-holder", holder, "--lease-duration", "4s"])
            .args(["--resync", resync])
            .stdout(Stdio::null())
            .stderr(log),
    );
    (proc, format!("http://{addr}/metrics"))
}

/// Until every Cluster has its backup and verification CronJob.
async fn wait_for_cron_jobs(client: &Client, n: usize, start: Instant, dir: &std::path::Path) {
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), JOB_NS);
    loop {
        let count = cron_jobs
            .list_metadata(&ListParams::default())
            .await
            .map(|l| l.items.len())
            .unwrap_or(0);
        if count >= 2 * n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1800),
            "only {count} of {} CronJobs after 30 minutes; see {}",
            2 * n,
            dir.display()
        );
        // Listing 20,000 CronJobs is itself load on the apiserver: poll less often at fleet scale.
        let poll = if n >= 5000 { 1000 } else { 250 };
        tokio::time::sleep(Duration::from_millis(poll)).await;
    }
}

/// Until two scrapes 2 s apart see no write: status writes and in-flight reconciles are done.
async fn settle(client: &Client) {
    let mut last = write_counts(client).await;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = write_counts(client).await;
        if writes_between(&last, &now).is_empty() {
            return;
        }
        last = now;
    }
}

/// SIGTERM, as a rolling update sends it, and up to 30 s to exit.
fn stop_gracefully(proc: &mut Proc) {
    if let Some(pid) = proc.pid() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while proc.is_running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    proc.kill();
}

/// Until the controller behind `metrics` has reconciled `n` Clusters successfully.
async fn wait_reconciled(metrics: &str, n: usize, start: Instant) {
    loop {
        let done = common::watch::http_get(metrics)
            .await
            .and_then(|(_, body)| {
                body.lines()
                    .find_map(|l| l.strip_prefix("etcdbak_reconcile_total{result=\"success\"} "))
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
            .unwrap_or(0.0);
        if done >= n as f64 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1800),
            "the restarted controller reconciled {done} of {n} Clusters in 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Seconds for a plain client at [`CONCURRENCY`] to make the writes the controller made for `n` Clusters.
async fn floor(client: &Client, n: usize) -> f64 {
    create_namespace(client, FLOOR_NS).await;
    let cron_jobs: Vec<CronJob> = Api::namespaced(client.clone(), JOB_NS)
        .list(&ListParams::default())
        .await
        .expect("the controller's CronJobs")
        .items;
    let secrets: Vec<Secret> = Api::<Secret>::namespaced(client.clone(), JOB_NS)
        .list(&ListParams::default())
        .await
        .expect("the controller's Secrets")
        .items
        .into_iter()
        .filter(|s| s.name_any().starts_with("etcdbak-tls-"))
        .collect();
    let names: Vec<String> = (0..n).map(|i| format!("bench-{i:04}")).collect();
    let start = Instant::now();
    let creates = cron_jobs
        .into_iter()
        .map(|c| create_copy(client.clone(), c).boxed())
        .chain(
            secrets
                .into_iter()
                .map(|s| create_copy(client.clone(), s).boxed()),
        )
        .chain(
            names
                .iter()
                .map(|name| cluster_writes(client.clone(), name.clone()).boxed()),
        );
    futures::stream::iter(creates)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    start.elapsed().as_secs_f64()
}

/// Creates `object` in [`FLOOR_NS`] as the controller created it: same spec, labels and annotations.
async fn create_copy<K>(client: Client, mut object: K)
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let meta = object.meta_mut();
    *meta = ObjectMeta {
        name: meta.name.take(),
        labels: meta.labels.take(),
        annotations: meta.annotations.take(),
        ..Default::default()
    };
    let api: Api<K> = Api::namespaced(client, FLOOR_NS);
    if let Err(e) = api.create(&PostParams::default(), &object).await {
        panic!("floor: creating {}: {e}", object.name_any());
    }
}

/// What the controller writes on the Cluster itself: its finalizer (a metadata patch), its status, and
/// an Event.
async fn cluster_writes(client: Client, name: String) {
    let clusters: Api<Cluster> = Api::all(client.clone());
    let pp = PatchParams::default();
    let meta = serde_json::json!({"metadata": {"annotations": {"bench.etcdbak.io/floor": "1"}}});
    clusters
        .patch(&name, &pp, &Patch::Merge(&meta))
        .await
        .unwrap_or_else(|e| panic!("floor: patching Cluster {name}: {e}"));
    let status = serde_json::json!({"status": {"lastError": "floor"}});
    clusters
        .patch_status(&name, &pp, &Patch::Merge(&status))
        .await
        .unwrap_or_else(|e| panic!("floor: patching the status of Cluster {name}: {e}"));
    let event = Event {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}.")),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some("etcdbak.io/v1alpha1".into()),
            kind: Some("Cluster".into()),
            name: Some(name.clone()),
            ..Default::default()
        },
        reason: Some("Floor".into()),
        message: Some("the floor's write".into()),
        type_: Some("Normal".into()),
        ..Default::default()
    };
    // A cluster-scoped object's Events live in `default`, as the controller's do.
    Api::<Event>::namespaced(client, "default")
        .create(&PostParams::default(), &event)
        .await
        .unwrap_or_else(|e| panic!("floor: creating an Event for {name}: {e}"));
}
