//! Scheduled backups, retention and cleanup as the real CronJob, Job and garbage-collector controllers run
//! them, and a custom store container from the mc image.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::rig_bin;
use etcdbak::crd::Cluster;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams};
use kube::ResourceExt;
use sha2::{Digest, Sha256};

use crate::release::*;
use crate::tenant::*;
use crate::*;

#[test]
pub fn scheduled_backups_retention_and_cleanup_on_a_real_node() {
    on_the_node(|n, rel, client| async move {
        let etcd = TenantEtcd::start(n, &client, "orders", 3).await;
        story(
            "a 3-member TLS etcd StatefulSet runs in namespace orders on local PersistentVolumes",
        );
        etcd.put_keys("/orders/", 200).await;
        let name = "orders-etcd";

        // The Cluster, and nothing else: the CronJob fires on its own, the Job's pod takes and stores the
        // snapshot.
        let t = Instant::now();
        create_cluster(&client, &new_cluster(name, &etcd, 2)).await;
        let first = wait_backup(rel, name, BACKUP_WAIT, |_| true).await;
        println!(
            "MEASURE: Cluster created -> first backup stored (CronJob {EVERY_MINUTE}) in {:.1?}",
            t.elapsed()
        );
        story(&format!(
            "Cluster {name} created; its CronJob fired by itself and `etcdbak list` shows {}",
            key_of(&first)
        ));
        assert!(
            key_of(&first).starts_with(&format!("{PREFIX}/{name}/")),
            "{first}"
        );
        // The object lands a moment before the Job controller marks the Job complete.
        let client2 = client.clone();
        wait_for(
            "a Job of the CronJob succeeded",
            Duration::from_secs(60),
            Duration::from_secs(1),
            move || {
                let client = client2.clone();
                async move {
                    let jobs = backup_jobs(&client, name).await;
                    jobs.iter().any(|(_, ok, _)| *ok >= 1).then_some(())
                }
            },
        )
        .await;

        // Keep 2: after the third run, the two newest are left.
        let t = Instant::now();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let kept = wait_for(
            "three scheduled runs with keep 2",
            Duration::from_secs(300),
            Duration::from_secs(5),
            || {
                let now: Vec<String> = rel.backups(name).iter().map(key_of).collect();
                seen.extend(now.iter().cloned());
                let done = seen.len() >= 3 && now.len() == 2;
                async move { done.then_some(now) }
            },
        )
        .await;
        let newest: Vec<String> = seen.iter().rev().take(2).cloned().collect();
        assert_eq!(
            kept, newest,
            "keep 2 leaves the two newest of {seen:?} (newest first)"
        );
        assert!(
            !kept.contains(&key_of(&first)),
            "the first backup was pruned"
        );
        println!(
            "MEASURE: two more scheduled runs, retention to 2, in {:.1?}",
            t.elapsed()
        );
        story(&format!(
            "three scheduled runs later the bucket keeps the newest two: {kept:?}"
        ));

        // Deleting the Cluster: the real cleanup Job, the finalizer held until it succeeded, and the
        // garbage collector removing what the Cluster owned.
        let clusters: Api<Cluster> = Api::all(client.clone());
        let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), RELEASE_NS);
        let secrets: Api<Secret> = Api::namespaced(client.clone(), RELEASE_NS);
        let jobs: Api<Job> = Api::namespaced(client.clone(), RELEASE_NS);
        let cj_name = etcdbak::naming::cron_job_name(name);
        let tls_name = etcdbak::naming::tls_secret_name(name);
        let cleanup = etcdbak::naming::cleanup_job_name(name);
        assert!(cron_jobs.get_opt(&cj_name).await.unwrap().is_some());
        assert!(secrets.get_opt(&tls_name).await.unwrap().is_some());
        let t = Instant::now();
        clusters
            .delete(name, &DeleteParams::default())
            .await
            .expect("deleting the Cluster");
        let mut held_while_running = false;
        let started = Instant::now();
        loop {
            let c = clusters.get_opt(name).await.expect("reading the Cluster");
            let job = jobs
                .get_opt(&cleanup)
                .await
                .expect("reading the cleanup Job");
            let succeeded = job
                .as_ref()
                .and_then(|j| j.status.as_ref())
                .and_then(|s| s.succeeded)
                .unwrap_or(0)
                >= 1;
            match c {
                Some(c) => {
                    if !succeeded && !c.finalizers().is_empty() {
                        held_while_running = true;
                    }
                }
                None => {
                    assert!(
                        succeeded,
                        "the Cluster went away before its cleanup Job succeeded: {:?}",
                        job.and_then(|j| j.status)
                    );
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(240),
                "the Cluster is still there 240s after its deletion\n{}",
                diagnose(n)
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(
            held_while_running,
            "the finalizer held the Cluster while the cleanup Job had not succeeded"
        );
        println!(
            "MEASURE: Cluster deleted -> cleanup Job succeeded and finalizer removed in {:.1?}",
            t.elapsed()
        );
        assert_eq!(
            rel.backups(name),
            Vec::<serde_json::Value>::new(),
            "the cleanup Job removed every backup of {name}"
        );
        wait_for(
            "the CronJob and the mirrored Secret are garbage-collected",
            Duration::from_secs(120),
            Duration::from_secs(1),
            || {
                let (cron_jobs, secrets) = (cron_jobs.clone(), secrets.clone());
                let (cj_name, tls_name) = (cj_name.clone(), tls_name.clone());
                async move {
                    let cj = cron_jobs.get_opt(&cj_name).await.expect("CronJob");
                    let s = secrets.get_opt(&tls_name).await.expect("Secret");
                    (cj.is_none() && s.is_none()).then_some(())
                }
            },
        )
        .await;
        story(&format!(
            "kubectl delete cluster {name}: the cleanup Job {cleanup} emptied its prefix, then the finalizer \
             went, and the garbage collector removed CronJob {cj_name} and Secret {tls_name}"
        ));
    });
}

#[test]
pub fn custom_store_container_from_the_mc_image() {
    on_the_node(|n, rel, client| async move {
        // An admin's own store container: mc from its own image, the S3 keys injected as env vars from the
        // Secret, the snapshot read from /backup. It uploads the snapshot and its metadata side by side.
        let store = format!(
            r#"storeContainer:
  name: store
  image: {mc}
  imagePullPolicy: IfNotPresent
  command: [/bin/sh, -ec]
  args:
    - |
      mc alias set dst "$ETCDBAK_S3_ENDPOINT" "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >/dev/null
      key="dst/$ETCDBAK_S3_BUCKET/custom/$CLUSTER/$(date -u +%Y%m%dT%H%M%SZ)"
      mc cp --quiet "$SNAPSHOT_FILE" "$key.db"
      mc cp --quiet "$SNAPSHOT_METADATA" "$key.json"
      echo "stored $key.db"
  env:
    - name: MC_CONFIG_DIR
      value: /tmp/.mc
    - name: S3_ACCESS_KEY
      valueFrom: {{secretKeyRef: {{name: minio, key: AWS_ACCESS_KEY_ID}}}}
    - name: S3_SECRET_KEY
      valueFrom: {{secretKeyRef: {{name: minio, key: AWS_SECRET_ACCESS_KEY}}}}
  volumeMounts:
    - {{name: etcd-backup, mountPath: /backup, readOnly: true}}
"#,
            mc = n.image("mc")
        );
        let t = Instant::now();
        rel.upgrade(&store);
        println!(
            "MEASURE: helm upgrade to the custom store container in {:.1?}",
            t.elapsed()
        );
        let etcd = TenantEtcd::start(n, &client, "billing", 1).await;
        let written = etcd.put_keys("/billing/", 50).await;
        let name = "billing-etcd";
        let t = Instant::now();
        create_cluster(&client, &new_cluster(name, &etcd, 3)).await;
        let prefix = format!("custom/{name}/");
        let keys = wait_for(
            "the custom store container uploaded a snapshot",
            BACKUP_WAIT,
            Duration::from_secs(3),
            || {
                let prefix = prefix.clone();
                async move {
                    let keys = rel.keys(&prefix).await;
                    (keys.iter().any(|k| k.ends_with(".db"))
                        && keys.iter().any(|k| k.ends_with(".json")))
                    .then_some(keys)
                }
            },
        )
        .await;
        println!(
            "MEASURE: Cluster created -> snapshot stored by the custom container in {:.1?}",
            t.elapsed()
        );
        let db_key = keys.iter().find(|k| k.ends_with(".db")).expect("a .db");
        let json_key = db_key.replace(".db", ".json");
        assert!(keys.contains(&json_key), "{keys:?}");
        let db = rel.get(db_key).await;
        let meta: serde_json::Value =
            serde_json::from_slice(&rel.get(&json_key).await).expect("snapshot.json");
        assert_eq!(meta["cluster"].as_str(), Some(name));
        assert_eq!(
            meta["sha256"].as_str(),
            Some(hex::encode(Sha256::digest(&db)).as_str()),
            "the uploaded bytes are the verified snapshot"
        );
        // And they restore: etcdutl checks the hash trailer and the keys are there.
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("snapshot.db");
        std::fs::write(&file, &db).expect("write snapshot");
        let out = run(
            Command::new(rig_bin("etcdutl"))
                .args(["snapshot", "status", "-w", "json"])
                .arg(&file),
            "etcdutl snapshot status",
            Duration::from_secs(60),
        );
        let status = check(&out, "etcdutl snapshot status");
        let status: serde_json::Value = serde_json::from_str(status.trim()).expect("status JSON");
        assert!(
            status["totalKey"].as_u64().unwrap_or(0) >= written.len() as u64,
            "{status}"
        );
        story(&format!(
            "a custom store container (mc image, S3 keys from env vars) stored {db_key} for Cluster {name}"
        ));

        // Back to the default store for the other tests; the Cluster goes (its cleanup prunes only names
        // etcdbak wrote, so the custom objects stay: the admin's container owns them).
        let clusters: Api<Cluster> = Api::all(client.clone());
        clusters
            .delete(name, &DeleteParams::default())
            .await
            .expect("deleting the Cluster");
        wait_for(
            "Cluster billing-etcd is gone",
            Duration::from_secs(240),
            Duration::from_secs(1),
            || {
                let clusters = clusters.clone();
                async move {
                    clusters
                        .get_opt(name)
                        .await
                        .ok()
                        .flatten()
                        .is_none()
                        .then_some(())
                }
            },
        )
        .await;
        rel.upgrade("storeContainer: null\n");
    });
}
