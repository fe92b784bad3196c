//! Deleting a Cluster: the finalizer stays until the cleanup Job succeeded, failures are retried after a
//! backoff, and a controller killed mid-deletion runs the cleanup exactly once after its restart. No Job
//! controller runs on the kube-apiserver rig, so Job outcomes are written by hand. Every test holds
//! `serial()`: they share one apiserver.

use std::time::Duration;

use etcdbak::controller::{Error, FINALIZER};
use etcdbak::crd::Cluster;
use etcdbak::naming;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams};
use kube::ResourceExt;

use crate::common::controller::*;
use crate::common::eventually;
use crate::common::kube::{rig, serial};
use crate::common::watch::*;

#[tokio::test]
async fn deletion_keeps_the_finalizer_until_the_cleanup_job_succeeds() {
    let _serial = serial().await;
    let client = rig().client().await;
    let name = "deleteme";
    tenant(&client, "tenant-del").await;
    create_cluster(&client, &new_cluster(name, "tenant-del")).await;
    let ctx = context(&client, test_config(""));
    converge(&ctx, name).await;
    assert!(cron_job(&client, name).await.is_some());

    delete_cluster(&client, name).await;
    reconcile_once(&ctx, name).await.unwrap();
    let jobs = cleanup_jobs(&client, name).await;
    assert_eq!(jobs.len(), 1, "one cleanup Job");
    let job = &jobs[0];
    let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert!(pod.containers[0]
        .command
        .as_ref()
        .unwrap()
        .iter()
        .any(|a| a == "prune"));
    assert_eq!(
        cron_job(&client, name).await.unwrap().spec.unwrap().suspend,
        Some(true),
        "no backup starts while the bucket is cleaned"
    );
    let api: Api<Cluster> = Api::all(client.clone());
    let c = api
        .get(name)
        .await
        .expect("still there: the Job has not succeeded");
    assert!(c.finalizers().iter().any(|f| f == FINALIZER));
    assert_eq!(condition(&c, "CleanupPending").unwrap().status, "True");

    // Created is not done: reconciling again neither removes the finalizer nor makes a second Job.
    reconcile_once(&ctx, name).await.unwrap();
    let jobs = cleanup_jobs(&client, name).await;
    assert_eq!(jobs.len(), 1);
    let first_uid = jobs[0].metadata.uid.clone();
    assert!(api.get_opt(name).await.unwrap().is_some());

    // The Job fails: the finalizer stays, CleanupFailed is set, an Event says so; it is retried only
    // after its backoff.
    finish_job(
        &client,
        &naming::cleanup_job_name(name),
        false,
        Duration::ZERO,
    )
    .await;
    let err = reconcile_once(&ctx, name)
        .await
        .expect_err("a failed cleanup is an error");
    assert!(
        matches!(err, Error::CleanupJobFailed { attempt: 1, .. }),
        "{err:?}"
    );
    let c = api.get(name).await.unwrap();
    assert!(c.finalizers().iter().any(|f| f == FINALIZER));
    let cond = condition(&c, "CleanupFailed").expect("CleanupFailed");
    assert_eq!(cond.status, "True");
    assert!(!events_for(&client, name, "CleanupJobFailed")
        .await
        .is_empty());
    let jobs = cleanup_jobs(&client, name).await;
    assert_eq!(
        jobs[0].metadata.uid, first_uid,
        "not retried before the backoff"
    );

    // Past the backoff (the failure is back-dated) the failed Job is replaced by attempt 2.
    let api_jobs: Api<Job> = Api::namespaced(client.clone(), JOB_NS);
    let job_name = naming::cleanup_job_name(name);
    api_jobs
        .delete(&job_name, &DeleteParams::background())
        .await
        .unwrap();
    reconcile_once(&ctx, name).await.unwrap(); // recreated as attempt 1 (no Job -> create)
    finish_job(&client, &job_name, false, Duration::from_secs(45)).await;
    reconcile_once(&ctx, name).await.unwrap();
    let jobs = cleanup_jobs(&client, name).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0]
            .annotations()
            .get("etcdbak.io/cleanup-attempt")
            .map(String::as_str),
        Some("2")
    );
    assert!(api.get_opt(name).await.unwrap().is_some());

    // Success: the finalizer goes and the apiserver deletes the Cluster; mirrored objects are removed.
    finish_job(&client, &job_name, true, Duration::ZERO).await;
    reconcile_once(&ctx, name).await.unwrap();
    assert!(
        api.get_opt(name).await.unwrap().is_none(),
        "the Cluster is gone"
    );
    assert!(cron_job(&client, name).await.is_none());
    let secrets: Api<Secret> = Api::namespaced(client.clone(), JOB_NS);
    assert!(secrets
        .get_opt(&naming::tls_secret_name(name))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn killed_mid_deletion_the_restarted_controller_runs_cleanup_exactly_once() {
    let _serial = serial().await;
    let client = rig().client().await;
    let name = "restart";
    tenant(&client, "tenant-restart").await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), "");
    let log = dir.path().join("watch-1.log");
    let mut w = start_watch(&config, "replica-a", &log);

    create_cluster(&client, &new_cluster(name, "tenant-restart")).await;
    eventually(
        "the CronJob from `etcdbak watch`",
        Duration::from_secs(60),
        || async { cron_job(&client, name).await.is_some() },
    )
    .await;

    delete_cluster(&client, name).await;
    eventually("the cleanup Job", Duration::from_secs(60), || async {
        !cleanup_jobs(&client, name).await.is_empty()
    })
    .await;
    let uid = cleanup_jobs(&client, name).await[0].metadata.uid.clone();

    // SIGKILL: no graceful anything, the Lease is left held.
    w.proc.kill();
    let log2 = dir.path().join("watch-2.log");
    let w2 = start_watch(&config, "replica-a", &log2);
    // The absence of a second Job means something only once the new process has led, listed and
    // reconciled every Cluster (the deleting one included): wait for its reconcile counter to say so.
    let api: Api<Cluster> = Api::all(client.clone());
    eventually(
        "the restarted controller to lead and reconcile every Cluster",
        Duration::from_secs(30),
        || async {
            let clusters = api.list(&ListParams::default()).await.unwrap().items.len();
            leader_gauge(&w2).await == Some(1) && reconciles(&w2).await >= clusters as f64
        },
    )
    .await;
    let jobs = cleanup_jobs(&client, name).await;
    assert_eq!(
        jobs.len(),
        1,
        "exactly one cleanup Job\n{}",
        log_tail(&log2)
    );
    assert_eq!(jobs[0].metadata.uid, uid, "the same Job, not a second run");
    assert!(api.get_opt(name).await.unwrap().is_some(), "finalizer kept");

    // The Job succeeds (written by hand: no Job controller here); the watch sees it and lets go.
    finish_job(
        &client,
        &naming::cleanup_job_name(name),
        true,
        Duration::ZERO,
    )
    .await;
    eventually(
        "the Cluster to be deleted",
        Duration::from_secs(30),
        || async { api.get_opt(name).await.unwrap().is_none() },
    )
    .await;
    assert_eq!(cleanup_jobs(&client, name).await.len(), 1);
}
