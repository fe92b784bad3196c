//! The order of a reconcile's reads and writes, against the scripted apiserver: what only the sequence of
//! requests shows (the finalizer before anything else, no write at all for an unchanged Cluster). What
//! only a real apiserver shows (server-side apply merging, watches) stays in tests/controller.rs.

use http::Method;
use kube::runtime::controller::Action;
use serde_json::{json, Value};

use super::*;
use crate::controller::apiserver_mock::{call, context, script_done, Call, Reply, Seen};
use crate::crd::ClusterSpec;

pub(crate) const CLUSTER: &str = "/apis/etcdbak.io/v1alpha1/clusters/orders";
pub(crate) const CRON_JOB: &str = "/apis/batch/v1/namespaces/etcdbak/cronjobs/etcdbak-orders";
const VERIFY_CRON_JOB: &str = "/apis/batch/v1/namespaces/etcdbak/cronjobs/etcdbak-verify-orders";
pub(crate) const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/default/events";

/// A Cluster as the apiserver stores it: named, with a uid and a resourceVersion.
pub(crate) fn stored_cluster() -> Cluster {
    let mut c = Cluster::new(
        "orders",
        ClusterSpec {
            endpoints: Some(vec!["https://etcd:2379".into()]),
            schedule: Some("7 * * * *".into()),
            ..ClusterSpec::in_namespace("orders")
        },
    );
    c.metadata.uid = Some("c0ffee00-0000-4000-8000-000000000001".into());
    c.metadata.resource_version = Some("7".into());
    c.metadata.generation = Some(1);
    c
}

pub(crate) fn finalized(mut c: Cluster) -> Cluster {
    c.metadata.finalizers = Some(vec![FINALIZER.to_string()]);
    c
}

pub(crate) fn object<T: serde::Serialize>(obj: &T) -> Reply {
    Reply::Object(serde_json::to_value(obj).expect("serializable"))
}

/// The status a merge patch of `/status` wrote, as the apiserver would store it.
pub(crate) fn written_status(seen: &Seen) -> ClusterStatus {
    serde_json::from_value(seen.body["status"].clone()).expect("a ClusterStatus")
}

fn requests(seen: &[Seen]) -> Vec<(Method, String)> {
    seen.iter()
        .map(|s| {
            (
                s.method.clone(),
                s.uri.split('?').next().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The reads and writes of applying a Cluster that has nothing yet.
fn first_apply(cluster: &Cluster) -> Vec<Call> {
    vec![
        call(Method::GET, CRON_JOB, Reply::NotFound),
        call(Method::PATCH, CRON_JOB, Reply::Echo),
        call(Method::GET, VERIFY_CRON_JOB, Reply::NotFound),
        call(Method::PATCH, VERIFY_CRON_JOB, Reply::Echo),
        call(Method::GET, CLUSTER, object(cluster)),
        call(Method::PATCH, format!("{CLUSTER}/status"), object(cluster)),
        call(Method::POST, EVENTS, Reply::Echo),
    ]
}

#[tokio::test]
async fn a_new_cluster_gets_the_finalizer_then_its_cron_job_then_its_status() {
    let (ctx, server) = context();
    let fresh = stored_cluster();
    let script = vec![call(
        Method::PATCH,
        CLUSTER,
        object(&finalized(fresh.clone())),
    )];
    let server = server.run(script);
    let outcome = reconcile_cluster(Arc::new(fresh.clone()), &ctx)
        .await
        .expect("the finalizer is added");
    let seen = script_done(server).await;
    assert_eq!(outcome.action, Action::await_change());
    assert_eq!(outcome.note, None, "adding the finalizer does nothing else");
    let patch = &seen[0].body;
    assert_eq!(
        patch[1],
        json!({ "op": "add", "path": "/metadata/finalizers", "value": [FINALIZER] }),
        "{patch}"
    );

    // The finalizer's own watch event reconciles again: now the objects, then the status.
    let (ctx, server) = context();
    let cluster = finalized(fresh);
    let server = server.run(first_apply(&cluster));
    let outcome = reconcile_cluster(Arc::new(cluster.clone()), &ctx)
        .await
        .expect("the CronJobs and the status are written");
    let seen = script_done(server).await;
    assert_eq!(
        outcome.note.as_deref(),
        Some("applied CronJob, verify CronJob, status")
    );
    assert_eq!(outcome.action, Action::requeue(ctx.resync));
    assert!(
        seen[1].uri.contains("fieldManager=etcdbak") && seen[1].uri.contains("force=true"),
        "server-side apply, forced: {}",
        seen[1].uri
    );
    assert_eq!(seen[1].body["kind"], "CronJob");
    let status = written_status(&seen[5]);
    assert_eq!(
        status.cron_job_name.as_deref(),
        Some("etcdbak/etcdbak-orders")
    );
    assert_eq!(seen[6].body["reason"], "CronJobCreated");
}

#[tokio::test]
async fn an_unchanged_cluster_makes_no_write() {
    // What the first apply wrote, as the apiserver now has it.
    let (ctx, server) = context();
    let mut cluster = finalized(stored_cluster());
    let server = server.run(first_apply(&cluster));
    reconcile_cluster(Arc::new(cluster.clone()), &ctx)
        .await
        .expect("the first apply");
    let seen = script_done(server).await;
    let (cron_job, verify): (Value, Value) = (seen[1].body.clone(), seen[3].body.clone());
    cluster.status = Some(written_status(&seen[5]));
    cluster.metadata.resource_version = Some("8".into());

    let (ctx, server) = context();
    let server = server.run(vec![
        call(Method::GET, CRON_JOB, Reply::Object(cron_job)),
        call(Method::GET, VERIFY_CRON_JOB, Reply::Object(verify)),
    ]);
    let outcome = reconcile_cluster(Arc::new(cluster), &ctx)
        .await
        .expect("the resync");
    let seen = script_done(server).await;
    assert_eq!(outcome.note.as_deref(), Some("up to date"));
    assert_eq!(
        requests(&seen),
        [
            (Method::GET, CRON_JOB.to_string()),
            (Method::GET, VERIFY_CRON_JOB.to_string())
        ],
        "reads only"
    );
}
