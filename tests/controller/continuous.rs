//! Continuous backup in the controller, against a real kube-apiserver: the follower Deployment follows the
//! Cluster's spec, the follower (`etcdbak follow --lease`, on a real etcd into a real MinIO) renews its
//! Lease, and the reconcile turns that Lease into the ContinuousBackup condition and the recovery point.
//! A deleted Cluster's follower is stopped before its cleanup Job exists.
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::controller::{context as context_with, purge, reconcile_once, JOB_NS};
use crate::common::etcd::EtcdCluster;
use crate::common::fixtures;
use crate::common::kube::{create_namespace, rig, serial};
use crate::common::minio::Minio;
use crate::common::{etcdbak, Proc};
use etcdbak::continuous::heartbeat::{Beat, GAPS, RECOVERY_POINT, REVISION};
use etcdbak::controller::Context;
use etcdbak::crd::{Cluster, ContinuousSpec};
use etcdbak::naming;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};

fn context(client: &Client) -> Arc<Context> {
    context_with(
        client,
        crate::common::controller::test_config("continuous:\n  interval: 1s\n"),
    )
}

fn continuous_cluster(name: &str, endpoints: &str) -> Cluster {
    let mut c = fixtures::cluster(name, "default");
    c.spec.endpoints = Some(endpoints.split(',').map(str::to_string).collect());
    c.spec.tls_secret = None;
    c.spec.continuous = Some(ContinuousSpec {
        enabled: Some(true),
        interval: None,
    });
    c
}

async fn reconcile_times(ctx: &Arc<Context>, name: &str, n: usize) {
    for _ in 0..n {
        if let Err(e) = reconcile_once(ctx, name).await {
            eprintln!("reconcile of {name}: {e}");
        }
    }
}

async fn condition(client: &Client, name: &str) -> Option<(String, String, String)> {
    let api: Api<Cluster> = Api::all(client.clone());
    let c = api.get(name).await.ok()?;
    c.status?
        .conditions
        .into_iter()
        .find(|c| c.type_ == "ContinuousBackup")
        .map(|c| (c.status, c.reason, c.message))
}

async fn follower(client: &Client, cluster: &str) -> Option<Deployment> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), JOB_NS);
    api.get_opt(&naming::follower_name(cluster)).await.unwrap()
}

/// What a follower would write: a Lease with a beat in its annotations.
async fn write_lease(client: &Client, cluster: &str, beat: &Beat) {
    let api: Api<Lease> = Api::namespaced(client.clone(), JOB_NS);
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(naming::follower_name(cluster)),
            annotations: Some(beat.to_annotations()),
            ..Default::default()
        },
        spec: None,
    };
    let mut value = serde_json::to_value(&lease).unwrap();
    value["apiVersion"] = "coordination.k8s.io/v1".into();
    value["kind"] = "Lease".into();
    api.patch(
        &naming::follower_name(cluster),
        &PatchParams::apply("test-follower").force(),
        &Patch::Apply(&value),
    )
    .await
    .expect("writing the Lease");
}

#[tokio::test]
async fn the_follower_deployment_follows_the_spec_and_stops_before_the_cleanup() {
    let _serial = serial().await;
    let client = rig().client().await;
    create_namespace(&client, JOB_NS).await;
    let ctx = context(&client);
    let name = "cont-life";
    let clusters: Api<Cluster> = Api::all(client.clone());
    let cluster = continuous_cluster(name, "http://etcd-0.example:2379");
    clusters
        .create(&PostParams::default(), &cluster)
        .await
        .expect("creating the Cluster (schema validation)");
    reconcile_times(&ctx, name, 2).await;

    let d = follower(&client, name)
        .await
        .expect("a follower Deployment");
    let spec = d.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(1));
    let pod = spec.template.spec.as_ref().unwrap();
    let env = pod.containers[0].env.clone().unwrap_or_default();
    let value = |n: &str| {
        env.iter()
            .find(|e| e.name == n)
            .and_then(|e| e.value.clone())
    };
    assert_eq!(value("ETCDBAK_SEGMENT_INTERVAL").as_deref(), Some("1s"));
    assert_eq!(value("ETCDBAK_LEASE"), Some(naming::follower_name(name)));
    let (status, reason, _) = condition(&client, name).await.expect("the condition");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "FollowerStarting")
    );

    // The follower reports: caught up, then a gap, then caught up again on a new chain.
    let mut beat = Beat::default();
    beat.caught_up(120, chrono::Utc::now());
    write_lease(&client, name, &beat).await;
    reconcile_times(&ctx, name, 1).await;
    let (status, reason, message) = condition(&client, name).await.unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "Following"),
        "{message}"
    );
    let live = clusters.get(name).await.unwrap().status.unwrap();
    assert_eq!(live.recovery_revision, Some(120));
    assert!(live.recovery_point.is_some());
    let printed = ctx.metrics.encode_prometheus();
    assert!(
        printed.contains(&format!(
            "etcdbak_cluster_continuous_ok{{cluster=\"{name}\"}} 1"
        )),
        "{printed}"
    );

    beat.gap(121, 300, chrono::Utc::now());
    write_lease(&client, name, &beat).await;
    reconcile_times(&ctx, name, 1).await;
    let (status, reason, message) = condition(&client, name).await.unwrap();
    assert_eq!((status.as_str(), reason.as_str()), ("False", "Gap"));
    assert!(message.contains("revisions 121 to 299"), "{message}");
    let printed = ctx.metrics.encode_prometheus();
    assert!(
        printed.contains(&format!(
            "etcdbak_cluster_continuous_gaps{{cluster=\"{name}\"}} 1"
        )),
        "{printed}"
    );

    // Opting out removes the follower and forgets the condition.
    clusters
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"continuous": {"enabled": false}}})),
        )
        .await
        .unwrap();
    reconcile_times(&ctx, name, 1).await;
    assert!(
        follower(&client, name).await.is_none(),
        "the follower is removed"
    );
    assert_eq!(condition(&client, name).await, None);

    // Back on, then deleted: the follower is scaled to zero and gone before any cleanup Job exists.
    clusters
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"continuous": {"enabled": true}}})),
        )
        .await
        .unwrap();
    reconcile_times(&ctx, name, 1).await;
    assert!(follower(&client, name).await.is_some());
    clusters
        .delete(name, &DeleteParams::default())
        .await
        .unwrap();
    let jobs: Api<Job> = Api::namespaced(client.clone(), JOB_NS);
    let cleanup = naming::cleanup_job_name(name);
    reconcile_times(&ctx, name, 1).await;
    let d = follower(&client, name)
        .await
        .expect("still there, stopping");
    assert_eq!(d.spec.unwrap().replicas, Some(0), "scaled to zero first");
    assert!(
        jobs.get_opt(&cleanup).await.unwrap().is_none(),
        "no cleanup while the follower may still write"
    );
    reconcile_times(&ctx, name, 1).await;
    let left = follower(&client, name).await;
    assert!(
        left.is_none(),
        "deleted once no pod is left: {:?}",
        left.map(|d| (d.metadata, d.spec.and_then(|s| s.replicas), d.status))
    );
    assert!(
        jobs.get_opt(&cleanup).await.unwrap().is_some(),
        "then the cleanup Job"
    );

    let _ = jobs.delete(&cleanup, &DeleteParams::default()).await;
    purge(&client, name).await;
}

fn start_follower(
    minio: &Minio,
    etcd: &EtcdCluster,
    cluster: &str,
    dir: &Path,
    log: &Path,
) -> Proc {
    let log = std::fs::File::create(log).unwrap();
    let mut cmd = etcdbak();
    cmd.arg("follow")
        .args(etcd.etcdbak_args())
        .arg("--dir")
        .arg(dir)
        .args(["--cluster", cluster, "--interval", "1s"])
        .args(minio.s3_args())
        .args(["--prefix", "etcdbak"])
        .args(["--lease", &naming::follower_name(cluster)])
        .args(["--lease-namespace", JOB_NS])
        .env("KUBECONFIG", &rig().kubeconfig)
        .env("POD_NAME", "follower-under-test")
        .stdout(Stdio::null())
        .stderr(log);
    Proc::spawn("etcdbak follow", minio.creds_env(&mut cmd))
}

async fn lease_annotations(
    client: &Client,
    cluster: &str,
) -> std::collections::BTreeMap<String, String> {
    let api: Api<Lease> = Api::namespaced(client.clone(), JOB_NS);
    let list = api
        .list(
            &ListParams::default()
                .fields(&format!("metadata.name={}", naming::follower_name(cluster))),
        )
        .await
        .unwrap();
    list.items
        .first()
        .and_then(|l| l.metadata.annotations.clone())
        .unwrap_or_default()
}

/// The real follower on a real etcd and MinIO renews its Lease in a real apiserver, and the reconcile
/// reports what it says.
#[tokio::test]
async fn a_real_follower_renews_its_lease_and_the_cluster_shows_its_recovery_point() {
    let _serial = serial().await;
    let client = rig().client().await;
    create_namespace(&client, JOB_NS).await;
    let etcd = EtcdCluster::start(1, true);
    let minio = Minio::start();
    let scratch = tempfile::tempdir().unwrap();
    let name = "cont-real";
    let log = scratch.path().join("follow.log");
    let follower_proc = start_follower(&minio, &etcd, name, scratch.path(), &log);
    let tail = || std::fs::read_to_string(&log).unwrap_or_default();

    // With no full backup the follower takes one, then catches up and reports at once.
    let start = Instant::now();
    let mut first = lease_annotations(&client, name).await;
    while !first.contains_key(RECOVERY_POINT) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no recovery point in the Lease; follower log:\n{}",
            tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        first = lease_annotations(&client, name).await;
    }
    assert_eq!(first.get(GAPS).map(String::as_str), Some("0"));
    let holder = {
        let api: Api<Lease> = Api::namespaced(client.clone(), JOB_NS);
        api.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|l| l.name_any() == naming::follower_name(name))
            .and_then(|l| l.spec?.holder_identity)
    };
    assert_eq!(holder.as_deref(), Some("follower-under-test"));

    // Changes reach a segment, and the next renewal carries their revision.
    let written = etcd.client_blocking(|mut c| async move {
        let mut rev = 0;
        for i in 0..20 {
            rev = c
                .put(format!("k/{i}"), "v", None)
                .await?
                .header()
                .map_or(0, |h| h.revision());
        }
        Ok(rev)
    });
    let start = Instant::now();
    loop {
        let seen: i64 = lease_annotations(&client, name)
            .await
            .get(REVISION)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        if seen >= written {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(75),
            "the Lease never reached revision {written} (at {seen}); log:\n{}",
            tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The controller reads the same Lease into the Cluster's status.
    let ctx = context(&client);
    let clusters: Api<Cluster> = Api::all(client.clone());
    clusters
        .create(
            &PostParams::default(),
            &continuous_cluster(name, &etcd.endpoints()),
        )
        .await
        .unwrap();
    reconcile_times(&ctx, name, 2).await;
    let (status, reason, message) = condition(&client, name).await.expect("the condition");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "Following"),
        "{message}"
    );
    let live = clusters.get(name).await.unwrap().status.unwrap();
    assert!(live.recovery_revision.unwrap_or(0) >= written, "{live:?}");
    drop(follower_proc);

    purge(&client, name).await;
}
