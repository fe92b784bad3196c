use etcdbak::crd::Cluster;
use k8s_openapi::api::batch::v1::CronJob;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

use crate::common::etcd::EtcdCluster;
use crate::world::*;

/// A Cluster's name is the backup prefix component and the Jobs' CLUSTER, which `etcdbak store` accepts
/// only as a DNS-1123 label. A dotted name used to get a CronJob whose every run failed while the Cluster
/// reported BackupScheduled=True; now the CRD's CEL rule makes the real apiserver refuse it up front (and
/// rendering refuses it too, as InvalidClusterName, for a CRD installed without the rule).
#[test]
fn a_dotted_cluster_name_is_refused_by_the_apiserver() {
    let World {
        _serial,
        rt,
        etcd,
        client,
        setup,
        ..
    } = world();
    let clusters: Api<Cluster> = Api::all(client.clone());
    for bad in ["orders.etcd", &"a".repeat(64)] {
        let err = rt
            .block_on(clusters.create(
                &PostParams::default(),
                &cluster(bad, TENANT_NS, &etcd, None),
            ))
            .expect_err("the apiserver must refuse a Cluster name that is not a DNS-1123 label");
        assert!(
            err.to_string().contains("DNS-1123 label"),
            "the refusal names the fix: {err}"
        );
        let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), &setup.job_ns);
        assert!(rt
            .block_on(cron_jobs.get_opt(&etcdbak::naming::cron_job_name(bad)))
            .unwrap()
            .is_none());
    }
}

/// An etcd without TLS (no `spec.tlsSecret`, http endpoints): the Job has no TLS volume and still works.
#[test]
fn a_plain_etcd_without_tls_is_backed_up() {
    const PLAIN: &str = "plain-etcd";
    let World {
        _serial,
        rt,
        etcd,
        minio,
        client,
        scratch: _scratch,
        setup,
    } = world_with(EtcdCluster::start(1, false));
    etcd.put_keys("/registry/plain/", 30, 100);
    let clusters: Api<Cluster> = Api::all(client.clone());
    let mut c = cluster(PLAIN, TENANT_NS, &etcd, None);
    c.spec.tls_secret = None;
    rt.block_on(clusters.create(&PostParams::default(), &c))
        .expect("creating the Cluster");
    reconcile(&setup);
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), &setup.job_ns);
    let cj = rt
        .block_on(cron_jobs.get(&etcdbak::naming::cron_job_name(PLAIN)))
        .expect("the CronJob");
    let (meta, snapshot, pod) = run_backup(&rt, &client, &setup, &cj, 1);
    assert!(
        !pod.volumes.keys().any(|v| v.contains("tls")),
        "no TLS volume for a plain etcd: {:?}",
        pod.volumes.keys()
    );
    drop(pod);
    assert_eq!(meta.cluster, PLAIN);
    assert_eq!(meta.endpoint, etcd.endpoint(0));
    let key = expected_key(&setup.prefix, &meta);
    assert_eq!(backup_keys(&minio, &setup.prefix, PLAIN), vec![key.clone()]);
    assert_eq!(
        sha256_hex(&decompressed(&minio.get(&key))),
        sha256_hex(&snapshot)
    );
    rt.block_on(async {
        let _ = clusters
            .patch(
                PLAIN,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({ "metadata": { "finalizers": null } })),
            )
            .await;
        let _ = clusters.delete(PLAIN, &DeleteParams::default()).await;
    });
}
