//! A Cluster with `spec.objectLock`, end to end: the CronJob the controller renders gives its store
//! container the lock, the backup lands locked in a bucket made by `mc mb --with-lock` (its version refused
//! to the store's own credentials), and after the Cluster is deleted the cleanup Job leaves the locked
//! backup, says so with its date, and succeeds, so the finalizer goes as usual.

use etcdbak::crd::{Cluster, ObjectLockMode, ObjectLockSpec};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{Api, DeleteParams, PostParams};
use kube::ResourceExt;

use crate::common::etcd::EtcdCluster;
use crate::common::minio::Minio;
use crate::common::podrun::LocalPod;
use crate::world::*;

const LOCKED_BUCKET: &str = "locked";
const LOCKED: &str = "locked-etcd";

/// Every version under `prefix` in the locked bucket, as `mc` lists them: (key, version id).
fn versions(minio: &Minio, prefix: &str) -> Vec<(String, String)> {
    let target = format!("t/{LOCKED_BUCKET}/{prefix}");
    let out = minio.mc(&["ls", "--recursive", "--versions", "--json", &target]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["status"] == "success")
        .map(|v| {
            let key = v["key"].as_str().unwrap_or_default();
            let id = v["versionId"].as_str().unwrap_or_default();
            (format!("{prefix}{key}"), id.to_string())
        })
        .collect()
}

#[test]
fn a_locked_clusters_backup_outlives_its_cleanup_job_which_still_succeeds() {
    let World {
        _serial,
        rt,
        etcd,
        minio,
        client,
        scratch: _scratch,
        setup,
    } = world_with(EtcdCluster::start(1, false));
    let made = minio.mc(&["mb", "--with-lock", &format!("t/{LOCKED_BUCKET}")]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    // The config, as derived from examples/config.yaml, pointed at the locked bucket.
    let text = std::fs::read_to_string(&setup.config).expect("config");
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("config YAML");
    doc["s3"]["bucket"] = LOCKED_BUCKET.into();
    std::fs::write(&setup.config, serde_yaml::to_string(&doc).unwrap()).expect("write config");

    etcd.put_keys("/registry/locked/", 30, 100);
    let clusters: Api<Cluster> = Api::all(client.clone());
    let mut c = cluster(LOCKED, TENANT_NS, &etcd, None);
    c.spec.tls_secret = None;
    c.spec.object_lock = Some(ObjectLockSpec {
        mode: ObjectLockMode::Governance,
        retain: "1h".into(),
    });
    rt.block_on(clusters.create(&PostParams::default(), &c))
        .expect("the apiserver takes spec.objectLock");
    reconcile(&setup);
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), &setup.job_ns);
    let cj = rt
        .block_on(cron_jobs.get(&etcdbak::naming::cron_job_name(LOCKED)))
        .expect("the CronJob");
    let (meta, _snapshot, pod) = run_backup(&rt, &client, &setup, &cj, 1);
    drop(pod);
    let key = expected_key(&setup.prefix, &meta);
    let prefix = format!("{}/{LOCKED}/", setup.prefix);
    let stored = versions(&minio, &prefix);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].0, key);
    let rm = minio.mc(&[
        "rm",
        "--version-id",
        &stored[0].1,
        &format!("t/{LOCKED_BUCKET}/{key}"),
    ]);
    assert!(
        !rm.status.success(),
        "the store's credentials deleted a locked backup"
    );

    // Deletion: the cleanup Job runs, keeps the locked backup, says until when, and succeeds.
    rt.block_on(clusters.delete(LOCKED, &DeleteParams::default()))
        .expect("deleting the Cluster");
    reconcile(&setup);
    let jobs: Api<Job> = Api::namespaced(client.clone(), &setup.job_ns);
    let cleanup = rt
        .block_on(jobs.get(&etcdbak::naming::cleanup_job_name(LOCKED)))
        .expect("the cleanup Job");
    let pod = rt.block_on(LocalPod::prepare(
        &client,
        &setup.job_ns,
        &format!("{}-pod", cleanup.name_any()),
        pod_spec(&cleanup),
        &setup.image,
    ));
    let ran = pod.run(POD_DEADLINE);
    let said: String = ran.iter().map(|r| r.stdout.clone()).collect();
    assert!(
        said.contains(&format!("kept {key} (locked until")),
        "the cleanup Job names what stays locked: {said}"
    );
    assert_eq!(
        versions(&minio, &prefix),
        stored,
        "the locked backup stays, unhidden"
    );
    rt.block_on(mark_succeeded(&client, &setup.job_ns, &cleanup.name_any()));
    reconcile(&setup);
    rt.block_on(wait_gone(&client, LOCKED));
}
