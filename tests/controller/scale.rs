//! A hundred Clusters: `etcdbak reconcile` (dry run, table, the exit status of a failed pass) and
//! `etcdbak watch` converging them with one write per object, then idling without writes. Timing is
//! printed as `MEASURE:` lines, never asserted.

use std::time::{Duration, Instant};

use etcdbak::crd::Cluster;
use etcdbak::naming;
use k8s_openapi::api::batch::v1::CronJob;
use kube::api::{Api, ListParams};
use kube::ResourceExt;

use crate::common::controller::*;
use crate::common::kube::{rig, serial, write_counts, writes_between};
use crate::common::watch::*;
use crate::common::{etcdbak, eventually};

#[tokio::test]
async fn reconcile_command_dry_run_table_and_hundred_clusters() {
    let _serial = serial().await;
    let client = rig().client().await;
    tenant(&client, "tenant-many").await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), "");
    let run = |args: &[&str]| {
        etcdbak()
            .env("KUBECONFIG", &rig().kubeconfig)
            .env("ETCDBAK_LOG", "warn")
            .arg("reconcile")
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap()
    };

    let n = 100;
    let names: Vec<String> = (0..n).map(|i| format!("many-{i:03}")).collect();
    for name in &names {
        create_cluster(&client, &new_cluster(name, "tenant-many")).await;
    }

    // --dry-run prints what would be applied and writes nothing.
    let before = write_counts(&client).await;
    let out = run(&["--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("kind: CronJob") && stdout.contains("name: etcdbak-many-042"));
    assert!(stdout.contains("kind: Secret"));
    assert!(
        !stdout.contains("a2V5"),
        "Secret values are not printed (base64 of 'key')"
    );
    let writes = writes_between(&before, &write_counts(&client).await);
    assert!(writes.is_empty(), "--dry-run wrote: {writes:?}");

    // 100 Clusters -> 100 CronJobs through `etcdbak watch`; timed, not asserted.
    let converge_before = write_counts(&client).await;
    let start = Instant::now();
    let mut w = start_watch(&config, "replica-many", &dir.path().join("many.log"));
    eventually(
        "the controller to lead",
        Duration::from_secs(30),
        || async { leader_gauge(&w).await == Some(1) },
    )
    .await;
    let leading = Instant::now();
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), JOB_NS);
    eventually("100 CronJobs", Duration::from_secs(180), || async {
        let list = cron_jobs.list(&ListParams::default()).await.unwrap().items;
        names.iter().all(|n| {
            list.iter()
                .any(|c| c.name_any() == naming::cron_job_name(n))
        })
    })
    .await;
    println!(
        "MEASURE: {n} Clusters -> {n} CronJobs via `etcdbak watch`: {:.2?} after it became leader, {:.2?} including process start and election",
        leading.elapsed(),
        start.elapsed()
    );
    let clusters: Api<Cluster> = Api::all(client.clone());
    eventually("100 statuses", Duration::from_secs(120), || async {
        let list = clusters.list(&ListParams::default()).await.unwrap().items;
        names.iter().all(|n| {
            list.iter().any(|c| {
                &c.name_any() == n && c.status.as_ref().is_some_and(|s| s.cron_job_name.is_some())
            })
        })
    })
    .await;
    println!(
        "MEASURE: ... and their status written: {:.2?} after it became leader",
        leading.elapsed()
    );
    // Stopped gracefully (in-flight reconciles finish first, writes included) before the writes are
    // counted: the next pass should find nothing to do.
    sigterm(&w.proc);
    let status = wait_for_exit(&mut w, Duration::from_secs(30)).await;
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    drop(w);
    let writes = writes_between(&converge_before, &write_counts(&client).await);
    let total: u64 = writes.values().sum();
    println!(
        "MEASURE: writes to converge {n} new Clusters: {total} ({:.1} per Cluster: {writes:?})",
        total as f64 / n as f64
    );
    // One reconcile of a Cluster at a time, reading the live object first: each CronJob (backup and
    // verification) and Secret is written exactly once (two concurrent reconciles of one Cluster would
    // both create it).
    assert_eq!(
        writes.get("APPLY/cronjobs"),
        Some(&(2 * n as u64)),
        "{writes:?}"
    );
    assert_eq!(writes.get("APPLY/secrets"), Some(&(n as u64)), "{writes:?}");
    // A reconcile that runs on a stale copy of its Cluster leaves the status to the fresh one.
    assert_eq!(
        writes.get("PATCH/clusters/status"),
        Some(&(n as u64)),
        "{writes:?}"
    );
    assert_eq!(
        writes.get("POST/events"),
        Some(&(n as u64)),
        "one CronJobCreated Event each: {writes:?}"
    );

    // One idle pass of `etcdbak reconcile` over all of them: zero writes.
    let before = write_counts(&client).await;
    let start = Instant::now();
    let out = run(&[]);
    let took = start.elapsed();
    let writes = writes_between(&before, &write_counts(&client).await);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("CLUSTER") && stdout.contains("many-042") && stdout.contains("up to date")
    );
    let total: u64 = writes.values().sum();
    println!(
        "MEASURE: idle `etcdbak reconcile` pass over {n} Clusters: {total} writes ({writes:?}) in {took:.2?}"
    );
    assert_eq!(total, 0, "an idle pass must not write: {writes:?}");

    // `etcdbak watch` over the same converged Clusters, resyncing every 2s: its start (a full list and
    // reconcile of every Cluster) and its resyncs write nothing either.
    let before = write_counts(&client).await;
    let w = start_watch_with(
        &config,
        "replica-many",
        &dir.path().join("resync.log"),
        &[
            "--resync",
            "2s",
            "--lease-name",
            "etcdbak-test",
            "--lease-duration",
            "4s",
        ],
    );
    eventually(
        "the controller to lead",
        Duration::from_secs(30),
        || async { leader_gauge(&w).await == Some(1) },
    )
    .await;
    // Its start and at least one resync have reconciled every Cluster: only then does "no writes" say
    // something.
    let resynced = || async {
        metric(&w, "etcdbak_reconcile_total{result=\"success\"}")
            .await
            .unwrap_or(0.0)
    };
    eventually(
        "a start and a resync over every Cluster",
        Duration::from_secs(60),
        || async { resynced().await >= 2.0 * n as f64 },
    )
    .await;
    let reconciles = resynced().await;
    let writes = writes_between(&before, &write_counts(&client).await);
    let total: u64 = writes.values().sum();
    println!(
        "MEASURE: `etcdbak watch` start + 2s resyncs over {n} idle Clusters: {reconciles} reconciles, {total} writes ({writes:?})"
    );
    assert_eq!(total, 0, "idle resyncs must not write: {writes:?}");
    sigterm(&w.proc);
    drop(w);

    // One invalid Cluster makes the pass fail, with the table naming it.
    let mut bad = new_cluster("many-bad", "tenant-many");
    bad.spec.schedule = Some("* * * * 9".into());
    create_cluster(&client, &bad).await;
    let out = run(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("many-bad") && stdout.contains("FAILED"),
        "{stdout}"
    );

    for name in names.iter().chain([&"many-bad".to_string()]) {
        purge(&client, name).await;
    }
}
