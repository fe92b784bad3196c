//! A deletion's reads and writes in order, against the scripted apiserver: the cleanup Job is created, the
//! finalizer stays while it runs, and it goes only after the Job succeeded and the mirrored objects are
//! deleted. Each reconcile's script ends where the finalizer would be removed too early: a request past
//! it fails the reconcile.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use k8s_openapi::api::batch::v1::{CronJob, Job, JobCondition, JobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use serde_json::{json, Value};

use crate::controller::apiserver_mock::{call, context, script_done, Reply};
use crate::controller::reconcile::write_order::{
    finalized, object, stored_cluster, written_status, CLUSTER, CRON_JOB, EVENTS,
};
use crate::controller::{reconcile_cluster, Context, FINALIZER};
use crate::crd::{Cluster, ClusterStatus};

const JOBS: &str = "/apis/batch/v1/namespaces/etcdbak/jobs";
const CLEANUP_JOB: &str = "/apis/batch/v1/namespaces/etcdbak/jobs/etcdbak-cleanup-orders";
const VERIFY_CRON_JOB: &str = "/apis/batch/v1/namespaces/etcdbak/cronjobs/etcdbak-verify-orders";
const TLS_SECRET: &str = "/api/v1/namespaces/etcdbak/secrets/etcdbak-tls-orders";

/// A Cluster with a backup CronJob, deleted: the deletion timestamp set, the finalizer still on.
fn deleted_cluster() -> Cluster {
    let mut c = finalized(stored_cluster());
    c.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
    c.status = Some(ClusterStatus {
        cron_job_name: Some("etcdbak/etcdbak-orders".into()),
        ..Default::default()
    });
    c
}

fn cron_job(cluster: &Cluster, ctx: &Context, suspended: bool) -> Reply {
    let mut cj: CronJob = crate::template::render_backup(cluster, None, &ctx.config())
        .expect("renders")
        .cron_job;
    if let Some(spec) = cj.spec.as_mut() {
        spec.suspend = Some(suspended);
    }
    object(&cj)
}

fn deleted() -> Reply {
    Reply::Object(
        json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success" }),
    )
}

/// The first look at a deleted Cluster: suspend the CronJob, create the cleanup Job, record it; the
/// finalizer stays. Returns the Job and the status as written.
async fn first_look(cluster: &Cluster) -> (Job, ClusterStatus) {
    let (ctx, server) = context();
    let server = server.run(vec![
        call(Method::GET, CRON_JOB, cron_job(cluster, &ctx, false)),
        call(Method::PATCH, CRON_JOB, Reply::Echo),
        call(Method::GET, CLEANUP_JOB, Reply::NotFound),
        call(
            Method::GET,
            JOBS,
            Reply::Object(
                json!({ "apiVersion": "batch/v1", "kind": "JobList", "metadata": {}, "items": [] }),
            ),
        ),
        call(Method::POST, JOBS, Reply::Echo),
        call(Method::PATCH, format!("{CLUSTER}/status"), object(cluster)),
        call(Method::POST, EVENTS, Reply::Echo),
    ]);
    let outcome = reconcile_cluster(Arc::new(cluster.clone()), &ctx)
        .await
        .expect("the cleanup Job is created");
    let seen = script_done(server).await;
    assert_eq!(seen[1].body, json!({ "spec": { "suspend": true } }));
    assert!(seen[3].uri.contains("labelSelector="), "{}", seen[3].uri);
    assert_eq!(seen[4].body["metadata"]["name"], "etcdbak-cleanup-orders");
    assert_eq!(seen[6].body["reason"], "CleanupStarted");
    assert_eq!(
        outcome.note.as_deref(),
        Some("cleanup Job etcdbak/etcdbak-cleanup-orders created")
    );
    assert_eq!(outcome.action, Action::requeue(Duration::from_secs(30)));
    let created: Job = serde_json::from_value(seen[4].body.clone()).expect("a Job");
    (created, written_status(&seen[5]))
}

#[tokio::test]
async fn a_deleted_cluster_keeps_its_finalizer_until_the_cleanup_job_succeeded() {
    let mut cluster = deleted_cluster();
    let (created, status) = first_look(&cluster).await;
    cluster.status = Some(status);

    // While it runs: two reads, no write, the finalizer stays.
    let (ctx, server) = context();
    let server = server.run(vec![
        call(Method::GET, CRON_JOB, cron_job(&cluster, &ctx, true)),
        call(Method::GET, CLEANUP_JOB, object(&created)),
    ]);
    let outcome = reconcile_cluster(Arc::new(cluster.clone()), &ctx)
        .await
        .expect("the cleanup Job runs");
    script_done(server).await;
    assert_eq!(
        outcome.note.as_deref(),
        Some("cleanup Job etcdbak/etcdbak-cleanup-orders running")
    );

    // It succeeded: record that, delete what we mirrored, and only then remove the finalizer.
    let (ctx, server) = context();
    let server = server.run(vec![
        call(Method::GET, CRON_JOB, cron_job(&cluster, &ctx, true)),
        call(Method::GET, CLEANUP_JOB, object(&succeeded(created))),
        call(Method::PATCH, format!("{CLUSTER}/status"), object(&cluster)),
        call(Method::POST, EVENTS, Reply::Echo),
        call(Method::DELETE, CRON_JOB, deleted()),
        call(Method::DELETE, VERIFY_CRON_JOB, Reply::NotFound),
        call(Method::DELETE, TLS_SECRET, Reply::NotFound),
        call(Method::PATCH, CLUSTER, object(&cluster)),
    ]);
    let outcome = reconcile_cluster(Arc::new(cluster), &ctx)
        .await
        .expect("the deletion finishes");
    let seen = script_done(server).await;
    let status = written_status(&seen[2]);
    let pending = status
        .conditions
        .iter()
        .find(|c| c.type_ == "CleanupPending");
    assert_eq!(
        pending.map(|c| (c.status.as_str(), c.reason.as_str())),
        Some(("False", "CleanupSucceeded")),
        "recorded before anything is deleted: {status:?}"
    );
    assert_eq!(seen[3].body["reason"], "CleanupSucceeded");
    assert_finalizer_removed(&seen[7].body);
    assert_eq!(
        outcome.note.as_deref(),
        Some("cleanup done, finalizer removed")
    );
    assert_eq!(outcome.action, Action::await_change());
}

fn succeeded(mut job: Job) -> Job {
    job.status = Some(JobStatus {
        conditions: Some(vec![JobCondition {
            type_: "Complete".into(),
            status: "True".into(),
            ..Default::default()
        }]),
        ..Default::default()
    });
    job
}

fn assert_finalizer_removed(patch: &Value) {
    assert_eq!(
        patch,
        &json!([
            { "op": "test", "path": "/metadata/finalizers/0", "value": FINALIZER },
            { "op": "remove", "path": "/metadata/finalizers/0" }
        ])
    );
}
