//! Issue 9: etcdbak where its users run it. A real single-node Kubernetes (tests/common/node.rs: kubelet,
//! containerd, kube-controller-manager with the real CronJob, Job and garbage-collector controllers,
//! kube-scheduler), the chart installed with `helm install` from the locally built images, tenant etcd
//! clusters as 3-member TLS StatefulSets on local PersistentVolumes, and nothing done by the test that a
//! controller should do: CronJobs fire on their own, Jobs run in pods, owned objects are garbage-collected.
//!
//! The node has no pod network and no kube-proxy, so every pod that talks to anything uses the host network
//! and 127.0.0.1. The chart does that through its documented values (`hostNetwork`, `apiServer`, MinIO's
//! `hostNetwork`/`listenAddress`/`bucketJob.endpoint`), and the backup, verify and cleanup pods the
//! controller renders join it through the config's `pod.hostNetwork`.
//!
//! One node and one chart release for the whole binary; the tests take turns ([`serial`]) because they share
//! the controller's config. Timing is printed as `MEASURE:` lines and the story as `STORY:` lines (run with
//! `--nocapture`; `scripts/demo kube` shows them), never asserted.
//!
//! The node's world is in this file (the shared waits and checks) and release.rs / tenant.rs (the chart
//! release, tenant etcd clusters), control_plane.rs (a tenant's own kube-apiserver on its etcd) and
//! runbook.rs (the operator running a printed runbook); the tests are grouped by what they show in
//! backups.rs, restore.rs, pitr.rs (point-in-time restore) and status.rs.
#[path = "../common/mod.rs"]
mod common;

mod backups;
mod control_plane;
mod pitr;
mod release;
mod restore;
mod runbook;
mod status;
mod tenant;

use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::common::node::{node, Node};
use etcdbak::crd::{Cluster, ClusterSpec};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};

use release::Release;
use tenant::TenantEtcd;

pub const RELEASE: &str = "etcdbak";
pub const RELEASE_NS: &str = "etcdbak";
pub const BUCKET: &str = "etcd-backups";
pub const PREFIX: &str = "etcdbak";
pub const MINIO_USER: &str = "etcdbak";
pub const MINIO_PASSWORD: &str = "node-e2e-minio-Kq27vX";
pub const CLIENT_TLS: &str = "etcd-client-tls";
pub const SERVER_TLS: &str = "etcd-server-tls";
pub const EVERY_MINUTE: &str = "* * * * *";
/// A scheduled run can take up to a minute to come, and a pod some seconds to start on a busy machine.
pub const BACKUP_WAIT: Duration = Duration::from_secs(240);

pub static SERIAL: Mutex<()> = Mutex::new(());

/// The tests share one controller (and its config), so they run one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// One node test: it takes its turn, finds the node and the chart release up (started once per binary),
/// and runs `body` on its own runtime with a client of the node's apiserver.
pub fn on_the_node<F>(body: impl FnOnce(&'static Node, &'static Release, Client) -> F)
where
    F: std::future::Future<Output = ()>,
{
    let _serial = serial();
    let n = node();
    let rel = release::release();
    runtime().block_on(async {
        let client = n.client().await;
        body(n, rel, client).await
    })
}

pub fn story(text: &str) {
    println!("STORY: {text}");
}

/// Runs a command to completion within `timeout` (killing it past that).
pub fn run(cmd: &mut Command, what: &str, timeout: Duration) -> Output {
    common::run_within(cmd, what, timeout)
}

/// The command's stdout; fails the test with its output and the node's state unless it exited 0.
pub fn check(out: &Output, what: &str) -> String {
    common::check_output(out, what, || diagnose(node()))
}

/// What a person would look at when something on the node did not happen: pods, recent events, the
/// kubelet's last lines.
pub fn diagnose(n: &Node) -> String {
    let text = |args: &[&str]| {
        n.kubectl()
            .args(args)
            .output()
            .map(|o| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                )
            })
            .unwrap_or_default()
    };
    let events = text(&["get", "events", "-A", "--sort-by=.lastTimestamp"]);
    let events: Vec<&str> = events.lines().collect();
    format!(
        "--- pods ---\n{}\n--- last events ---\n{}\n--- kubelet ---\n{}",
        text(&["get", "pods", "-A", "-o", "wide"]),
        events[events.len().saturating_sub(25)..].join("\n"),
        n.log_tail("kubelet", 15)
    )
}

/// Polls `ready` (async) every `every` until it returns Some or `timeout` passes.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, every: Duration, ready: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    common::poll_for(timeout, every, ready)
        .await
        .unwrap_or_else(|t| panic!("{what}: not after {t:?}\n{}", diagnose(node())))
}

pub fn new_cluster(name: &str, etcd: &TenantEtcd, keep: u32) -> Cluster {
    Cluster::new(
        name,
        ClusterSpec {
            endpoints: Some(etcd.endpoints()),
            tls_secret: Some(CLIENT_TLS.into()),
            schedule: Some(EVERY_MINUTE.into()),
            keep: Some(keep),
            ..ClusterSpec::in_namespace(etcd.ns.as_str())
        },
    )
}

/// Waits until `etcdbak list` shows a backup for `cluster` that `accept` takes; returns it.
pub async fn wait_backup(
    rel: &Release,
    cluster: &str,
    timeout: Duration,
    accept: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    wait_for(
        &format!("a new backup of {cluster} in the bucket"),
        timeout,
        Duration::from_secs(3),
        || {
            let found = rel.backups(cluster).into_iter().find(|b| accept(b));
            async move { found }
        },
    )
    .await
}

pub async fn create_cluster(client: &Client, c: &Cluster) {
    let clusters: Api<Cluster> = Api::all(client.clone());
    clusters
        .create(&PostParams::default(), c)
        .await
        .unwrap_or_else(|e| panic!("creating Cluster {}: {e}", c.name_any()));
}

/// Backup Jobs the CronJob of `cluster` made, as (name, succeeded, failed).
pub async fn backup_jobs(client: &Client, cluster: &str) -> Vec<(String, i32, i32)> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), RELEASE_NS);
    let cj = etcdbak::naming::cron_job_name(cluster);
    jobs.list(&ListParams::default())
        .await
        .expect("listing Jobs")
        .items
        .into_iter()
        .filter(|j| {
            j.owner_references()
                .iter()
                .any(|o| o.kind == "CronJob" && o.name == cj)
        })
        .map(|j| {
            let s = j.status.clone().unwrap_or_default();
            (
                j.name_any(),
                s.succeeded.unwrap_or(0),
                s.failed.unwrap_or(0),
            )
        })
        .collect()
}
