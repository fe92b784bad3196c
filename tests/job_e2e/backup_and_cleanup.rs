use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use etcdbak::crd::Cluster;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, PostParams};
use kube::ResourceExt;

use crate::common::etcd::EtcdCluster;
use crate::common::minio::SECRET_KEY;
use crate::common::podrun::LocalPod;
use crate::common::rig_bin;
use crate::world::*;

#[test]
fn rendered_backup_and_cleanup_jobs_run_for_real() {
    let started = Instant::now();
    let World {
        _serial,
        rt,
        etcd,
        minio,
        client,
        scratch,
        setup,
    } = world();
    let mut written = etcd.put_keys("/registry/jobe2e/", 500, 100);
    println!(
        "MEASURE: rigs up (etcd x3 TLS + 500 keys, MinIO, kube-apiserver) in {:.2?}",
        started.elapsed()
    );

    // Objects in the bucket that are not backups of the clusters under test: nothing may touch them.
    let foreign_in_cluster = format!("{}/{CLUSTER}/notes.txt", setup.prefix);
    let foreign_in_prefix = format!("{}/README", setup.prefix);
    minio.put(&foreign_in_cluster, b"kept by the operator");
    minio.put(&foreign_in_prefix, b"not a backup");

    // Two Clusters on the same etcd, in two tenant namespaces.
    let uid = rt.block_on(async {
        let clusters: Api<Cluster> = Api::all(client.clone());
        for c in [
            cluster(CLUSTER, TENANT_NS, &etcd, Some(KEEP)),
            cluster(OTHER, OTHER_NS, &etcd, None),
        ] {
            clusters
                .create(&PostParams::default(), &c)
                .await
                .unwrap_or_else(|e| panic!("creating Cluster {}: {e}", c.name_any()));
        }
        clusters.get(CLUSTER).await.unwrap().uid().unwrap()
    });

    // The controller, for real: one `etcdbak reconcile` pass.
    let t = Instant::now();
    let out = reconcile(&setup);
    println!(
        "MEASURE: first `etcdbak reconcile` (2 Clusters) {:.2?}",
        t.elapsed()
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains(CLUSTER) && table.contains(OTHER), "{table}");

    // Read back what it made: the Cluster's status names the CronJob; the TLS Secret is mirrored.
    let (cj, other_cj) = rt.block_on(async {
        let clusters: Api<Cluster> = Api::all(client.clone());
        let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), &setup.job_ns);
        let mut out = Vec::new();
        for name in [CLUSTER, OTHER] {
            let c = clusters.get(name).await.unwrap();
            let cj_name = c
                .status
                .as_ref()
                .and_then(|s| s.cron_job_name.clone())
                .unwrap_or_else(|| {
                    panic!("Cluster {name} has no status.cronJobName: {:?}", c.status)
                });
            // status.cronJobName is `namespace/name`.
            let (ns, cj_name) = cj_name
                .split_once('/')
                .unwrap_or_else(|| panic!("status.cronJobName {cj_name:?} is not namespace/name"));
            assert_eq!(ns, setup.job_ns, "the CronJob runs in the jobNamespace");
            out.push(cron_jobs.get(cj_name).await.unwrap_or_else(|e| {
                panic!("the CronJob {cj_name} the status names is not in the apiserver: {e}")
            }));
        }
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &setup.job_ns);
        let mirrored = secrets
            .get(&etcdbak::naming::tls_secret_name(CLUSTER))
            .await
            .expect("the mirrored TLS Secret in the job namespace");
        let source = tls_secret(CLUSTER_TLS, TENANT_NS, &etcd);
        assert_eq!(
            mirrored.data, source.data,
            "the mirrored Secret holds the tenant's ca.crt, tls.crt, tls.key"
        );
        let other = out.pop().unwrap();
        (out.pop().unwrap(), other)
    });
    let keep_env = cj
        .spec
        .as_ref()
        .and_then(|s| s.job_template.spec.as_ref())
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| {
            p.containers
                .iter()
                .flat_map(|c| c.env.iter().flatten())
                .filter(|e| e.name == "KEEP")
                .filter_map(|e| e.value.clone())
                .collect::<Vec<_>>()
        });
    assert_eq!(
        keep_env,
        Some(vec![KEEP.to_string()]),
        "KEEP follows spec.keep"
    );

    // Run 1: the backup lands under <prefix>/<cluster>/ with the contract's name and metadata.
    let (meta, snapshot, pod) = run_backup(&rt, &client, &setup, &cj, 1);
    let ca_path = pod
        .init_containers
        .iter()
        .flat_map(|c| c.env.iter())
        .find(|(k, _)| k.as_str() == "ETCDBAK_CACERT")
        .map(|(_, v)| PathBuf::from(v))
        .expect("the snapshot container is told where the CA is");
    assert_eq!(
        std::fs::read(&ca_path).unwrap(),
        std::fs::read(&etcd.certs().unwrap().ca).unwrap(),
        "the CA the snapshot container read came from the mirrored Secret"
    );
    drop(pod);
    assert_eq!(meta.cluster, CLUSTER);
    assert!(meta.revision > 1, "revision {}", meta.revision);
    assert_eq!(meta.sha256, sha256_hex(&snapshot), "snapshot.json's sha256");
    assert_eq!(meta.file_size, snapshot.len() as u64);
    let key1 = expected_key(&setup.prefix, &meta);
    assert_eq!(
        backup_keys(&minio, &setup.prefix, CLUSTER),
        vec![key1.clone()],
        "exactly the one backup, under the contract's name"
    );
    let stored = decompressed(&minio.get(&key1));
    assert_eq!(
        sha256_hex(&stored),
        meta.sha256,
        "the object is the snapshot"
    );
    let (s3_meta, size) = minio.head(&key1);
    // Compressed by default: the object is smaller, its metadata records the snapshot's own size.
    assert!(size < meta.file_size, "{size} stored bytes");
    assert_eq!(s3_meta.get("plain-size"), Some(&meta.file_size.to_string()));
    assert_eq!(
        s3_meta.get("sha256"),
        Some(&meta.sha256),
        "S3 metadata sha256: {s3_meta:?}"
    );
    assert_eq!(s3_meta.get("cluster").map(String::as_str), Some(CLUSTER));
    assert_eq!(
        s3_meta.get("revision"),
        Some(&meta.revision.to_string()),
        "{s3_meta:?}"
    );

    // `etcdbak list` shows it; `etcdbak download` + `etcdutl snapshot restore` bring the data back.
    let out = run(
        s3_cmd(&minio, &setup, "list").args(["--cluster", CLUSTER, "-o", "json"]),
        "etcdbak list",
        CMD_TIMEOUT,
    );
    check(&out, "etcdbak list");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list JSON");
    let listed = listed.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["key"].as_str(), Some(key1.as_str()));
    assert_eq!(listed[0]["revision"].as_i64(), Some(meta.revision));
    let downloaded = scratch.path().join("downloaded.db");
    let out = run(
        s3_cmd(&minio, &setup, "download")
            .args(["--cluster", CLUSTER, "--key", &key1, "--output"])
            .arg(&downloaded),
        "etcdbak download",
        CMD_TIMEOUT,
    );
    check(&out, "etcdbak download");
    assert_eq!(std::fs::read(&downloaded).unwrap(), snapshot);
    let data_dir = scratch.path().join("restored.etcd");
    let out = run(
        Command::new(rig_bin("etcdutl"))
            .args(["snapshot", "restore"])
            .arg(&downloaded)
            .arg("--data-dir")
            .arg(&data_dir),
        "etcdutl snapshot restore",
        CMD_TIMEOUT,
    );
    check(&out, "etcdutl snapshot restore");
    assert!(data_dir.join("member").is_dir(), "restore made a data dir");
    {
        let restored = EtcdCluster::start_from_snapshot(&downloaded, 1, true);
        assert_eq!(
            restored.read_all(),
            written,
            "every key and value is in the restored backup"
        );
    }

    // Runs 2 and 3 (fresh pods, fresh emptyDirs; etcd changes between them): keep 2 leaves the newest two.
    let mut kept = Vec::new();
    for run in 2..=3 {
        written.extend(etcd.put_keys(&format!("/registry/jobe2e-run{run}/"), 10, 100));
        let (meta, _, _) = run_backup(&rt, &client, &setup, &cj, run);
        kept.push(expected_key(&setup.prefix, &meta));
    }
    assert_eq!(
        backup_keys(&minio, &setup.prefix, CLUSTER),
        kept,
        "retention with keep {KEEP} leaves runs 2 and 3 and removed run 1 ({key1})"
    );
    assert!(minio.keys("").contains(&foreign_in_cluster));
    assert!(minio.keys("").contains(&foreign_in_prefix));

    // The other Cluster's Job (its default keep) stores under its own name.
    let (other_meta, _, _) = run_backup(&rt, &client, &setup, &other_cj, 1);
    let other_key = expected_key(&setup.prefix, &other_meta);
    assert_eq!(other_meta.cluster, OTHER);
    assert_eq!(
        backup_keys(&minio, &setup.prefix, OTHER),
        vec![other_key.clone()]
    );
    assert_eq!(backup_keys(&minio, &setup.prefix, CLUSTER), kept);

    // Deletion: the controller creates the cleanup Job and holds the finalizer until it succeeds.
    rt.block_on(async {
        let clusters: Api<Cluster> = Api::all(client.clone());
        clusters
            .delete(CLUSTER, &DeleteParams::default())
            .await
            .expect("deleting the Cluster");
    });
    let out = reconcile(&setup);
    println!(
        "reconcile after delete:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let cleanup = rt.block_on(async {
        let jobs: Api<Job> = Api::namespaced(client.clone(), &setup.job_ns);
        let name = etcdbak::naming::cleanup_job_name(CLUSTER);
        let job = jobs
            .get(&name)
            .await
            .unwrap_or_else(|e| panic!("the cleanup Job {name} was not created: {e}"));
        assert_eq!(
            job.annotations()
                .get(etcdbak::template::CLUSTER_UID_ANNOTATION),
            Some(&uid),
            "the cleanup Job belongs to this Cluster"
        );
        let clusters: Api<Cluster> = Api::all(client.clone());
        let c = clusters.get_opt(CLUSTER).await.unwrap();
        assert!(
            c.is_some_and(|c| c.metadata.deletion_timestamp.is_some()),
            "the Cluster waits (finalizer) for its cleanup Job"
        );
        // No backup may start while the bucket is being emptied.
        let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), &setup.job_ns);
        let live = cron_jobs.get_opt(&cj.name_any()).await.unwrap();
        assert!(
            live.as_ref()
                .and_then(|c| c.spec.as_ref())
                .and_then(|s| s.suspend)
                == Some(true),
            "the CronJob of a Cluster being cleaned up is suspended: {:?}",
            live.and_then(|c| c.spec).map(|s| s.suspend)
        );
        job
    });
    // Nothing has run the cleanup yet: the backups are all still there.
    assert_eq!(backup_keys(&minio, &setup.prefix, CLUSTER), kept);

    // Play kubelet for the cleanup pod, twice: the second run (a retry after success, or after a partial
    // delete) must succeed on the empty prefix too.
    for attempt in 1..=2 {
        let pod = rt.block_on(LocalPod::prepare(
            &client,
            &setup.job_ns,
            &format!("{}-pod{attempt}", cleanup.name_any()),
            pod_spec(&cleanup),
            &setup.image,
        ));
        for r in pod.run(POD_DEADLINE) {
            println!(
                "MEASURE: cleanup attempt {attempt}: container {} exited {} after {:.2?}",
                r.name, r.status, r.wall
            );
        }
        assert_eq!(
            backup_keys(&minio, &setup.prefix, CLUSTER),
            Vec::<String>::new(),
            "the cleanup Job deleted every backup of {CLUSTER}"
        );
    }
    let left = minio.keys("");
    assert!(
        left.contains(&foreign_in_cluster),
        "a foreign object in the cluster's prefix survives: {left:?}"
    );
    assert!(left.contains(&foreign_in_prefix), "{left:?}");
    assert!(
        left.contains(&other_key),
        "the other cluster's backup survives: {left:?}"
    );
    let out = run(
        s3_cmd(&minio, &setup, "list").args(["-o", "json"]),
        "etcdbak list",
        CMD_TIMEOUT,
    );
    check(&out, "etcdbak list");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list JSON");
    let keys: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|b| b["key"].as_str())
        .collect();
    assert_eq!(
        keys,
        vec![other_key.as_str()],
        "only {OTHER}'s backup is listed"
    );

    // The Job controller would now report success; then the finalizer goes and the Cluster with it.
    rt.block_on(mark_succeeded(&client, &setup.job_ns, &cleanup.name_any()));
    reconcile(&setup);
    rt.block_on(async {
        wait_gone(&client, CLUSTER).await;
        let clusters: Api<Cluster> = Api::all(client.clone());
        assert!(
            clusters.get_opt(OTHER).await.unwrap().is_some(),
            "the other Cluster is untouched"
        );
    });

    // A cleanup that really fails: the S3 secret key in the job namespace is wrong. The pod exits
    // non-zero, and the controller keeps the finalizer and the backups, then retries with a new Job.
    const WRONG_KEY: &str = "not-the-secret-key-Qx7wP";
    rt.block_on(async {
        set_s3_secret_key(&client, &setup.job_ns, WRONG_KEY).await;
        let clusters: Api<Cluster> = Api::all(client.clone());
        clusters
            .delete(OTHER, &DeleteParams::default())
            .await
            .expect("deleting the other Cluster");
    });
    reconcile(&setup);
    let jobs: Api<Job> = Api::namespaced(client.clone(), &setup.job_ns);
    let other_job_name = etcdbak::naming::cleanup_job_name(OTHER);
    let first = rt
        .block_on(jobs.get(&other_job_name))
        .expect("the cleanup Job of the other Cluster");
    let pod = rt.block_on(LocalPod::prepare(
        &client,
        &setup.job_ns,
        &format!("{other_job_name}-pod1"),
        pod_spec(&first),
        &setup.image,
    ));
    let (_, failed) = pod
        .try_run(POD_DEADLINE)
        .expect_err("the cleanup container must fail with a wrong S3 secret key");
    drop(pod);
    println!(
        "cleanup with a wrong S3 key: {} after {:.2?}; stderr:\n{}",
        failed.status, failed.wall, failed.stderr
    );
    assert_eq!(
        failed.status.code(),
        Some(4),
        "a wrong S3 key is an access problem: exit 4 (docs/CONTRACT.md)"
    );
    for secret in [WRONG_KEY, SECRET_KEY] {
        assert!(
            !failed.stderr.contains(secret) && !failed.stdout.contains(secret),
            "the S3 secret key leaked into the container's output"
        );
    }
    assert_eq!(
        backup_keys(&minio, &setup.prefix, OTHER),
        vec![other_key.clone()],
        "a failed cleanup deletes nothing"
    );

    // The Job controller reports the failure (15s ago; the first retry waits 30s).
    rt.block_on(mark_failed(
        &client,
        &setup.job_ns,
        &other_job_name,
        Duration::from_secs(15),
    ));
    let failed_at = Instant::now() - Duration::from_secs(15);
    let out = reconcile_unchecked(&setup);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && table.contains(OTHER) && table.contains("FAILED"),
        "a failed cleanup fails the pass and names the Cluster:\n{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rt.block_on(async {
        let clusters: Api<Cluster> = Api::all(client.clone());
        let c = clusters
            .get_opt(OTHER)
            .await
            .unwrap()
            .expect("the finalizer holds the Cluster while its cleanup failed");
        let cond = c
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "CleanupFailed"))
            .unwrap_or_else(|| panic!("no CleanupFailed condition: {:?}", c.status));
        assert_eq!(cond.status, "True");
        assert!(
            cond.message.contains(&other_job_name),
            "the condition names the Job: {}",
            cond.message
        );
        let again = jobs.get(&other_job_name).await.unwrap();
        assert_eq!(again.uid(), first.uid(), "no retry before the backoff");
    });

    // Fixed credentials, backoff over: the controller replaces the failed Job; that one succeeds.
    rt.block_on(set_s3_secret_key(&client, &setup.job_ns, SECRET_KEY));
    let wait = Duration::from_secs(31).saturating_sub(failed_at.elapsed());
    std::thread::sleep(wait);
    let out = reconcile(&setup);
    println!(
        "reconcile after the backoff:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let second = rt
        .block_on(jobs.get(&other_job_name))
        .expect("the retried Job");
    assert_ne!(
        second.uid(),
        first.uid(),
        "a new cleanup Job replaced the failed one"
    );
    assert_eq!(
        second
            .annotations()
            .get(etcdbak::template::CLUSTER_UID_ANNOTATION),
        first
            .annotations()
            .get(etcdbak::template::CLUSTER_UID_ANNOTATION),
    );
    let pod = rt.block_on(LocalPod::prepare(
        &client,
        &setup.job_ns,
        &format!("{other_job_name}-pod2"),
        pod_spec(&second),
        &setup.image,
    ));
    pod.run(POD_DEADLINE);
    drop(pod);
    assert_eq!(
        backup_keys(&minio, &setup.prefix, OTHER),
        Vec::<String>::new(),
        "the retried cleanup deleted {OTHER}'s backups"
    );
    let left = minio.keys("");
    assert!(
        left.contains(&foreign_in_cluster) && left.contains(&foreign_in_prefix),
        "{left:?}"
    );
    rt.block_on(mark_succeeded(&client, &setup.job_ns, &other_job_name));
    reconcile(&setup);
    rt.block_on(wait_gone(&client, OTHER));
    println!("MEASURE: whole test {:.2?}", started.elapsed());
}
