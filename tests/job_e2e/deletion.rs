use etcdbak::crd::Cluster;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};

use crate::common::podrun::LocalPod;
use crate::world::*;

/// Marks a backup Job as running, as the Job and CronJob controllers would once its pod started: the Job's
/// `status.active` and the CronJob's `status.active` reference.
async fn mark_active(client: &Client, cj: &CronJob, job: &Job) {
    let ns = job.namespace().unwrap();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    jobs.patch_status(
        &job.name_any(),
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": {
            "startTime": now, "active": 1, "ready": 1, "terminating": 0, "uncountedTerminatedPods": {},
        }})),
    )
    .await
    .expect("marking the backup Job active");
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), &ns);
    cron_jobs
        .patch_status(
            &cj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "status": {
                "lastScheduleTime": now,
                "active": [{
                    "apiVersion": "batch/v1", "kind": "Job", "namespace": ns,
                    "name": job.name_any(), "uid": job.uid(),
                }],
            }})),
        )
        .await
        .expect("marking the CronJob's active Job");
}

/// A Cluster deleted while its backup Job runs (the snapshot streams; the store container has not
/// uploaded yet). Whatever the controller does about it (wait for the Job, or delete it so the kubelet
/// kills the pod), once the Cluster is gone none of its backups may be left in the bucket.
#[test]
fn no_backup_outlives_a_cluster_deleted_mid_backup() {
    const LATE: &str = "late-etcd";
    let World {
        _serial,
        rt,
        etcd,
        minio,
        client,
        scratch: _scratch,
        setup,
    } = world();
    etcd.put_keys("/registry/late/", 50, 100);
    rt.block_on(async {
        let clusters: Api<Cluster> = Api::all(client.clone());
        clusters
            .create(
                &PostParams::default(),
                &cluster(LATE, TENANT_NS, &etcd, None),
            )
            .await
            .expect("creating the Cluster");
    });
    reconcile(&setup);
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), &setup.job_ns);
    let jobs: Api<Job> = Api::namespaced(client.clone(), &setup.job_ns);
    let cj = rt
        .block_on(cron_jobs.get(&etcdbak::naming::cron_job_name(LATE)))
        .expect("the CronJob");

    // A scheduled run starts: its pod is through the snapshot, the store container is next.
    let backup = rt.block_on(job_from_cron_job(&client, &cj, 1));
    rt.block_on(mark_active(&client, &cj, &backup));
    let backup_pod = rt.block_on(LocalPod::prepare(
        &client,
        &setup.job_ns,
        &format!("{}-pod", backup.name_any()),
        pod_spec(&backup),
        &setup.image,
    ));
    backup_pod.run_init_containers(POD_DEADLINE);

    // The Cluster is deleted now.
    rt.block_on(async {
        let clusters: Api<Cluster> = Api::all(client.clone());
        clusters
            .delete(LATE, &DeleteParams::default())
            .await
            .expect("deleting the Cluster");
    });
    reconcile_unchecked(&setup);
    let cleanup_name = etcdbak::naming::cleanup_job_name(LATE);
    let run_cleanup = |job: &Job| {
        let pod = rt.block_on(LocalPod::prepare(
            &client,
            &setup.job_ns,
            &format!("{cleanup_name}-pod"),
            pod_spec(job),
            &setup.image,
        ));
        pod.run(POD_DEADLINE);
        rt.block_on(mark_succeeded(&client, &setup.job_ns, &job.name_any()));
    };
    // A cleanup Job created now may start at once, on another node, while the backup pod still works.
    let early = rt.block_on(jobs.get_opt(&cleanup_name)).unwrap();
    if let Some(job) = &early {
        run_cleanup(job);
    }
    // The backup pod goes on unless its Job is gone or going (then the kubelet kills it).
    let live = rt.block_on(jobs.get_opt(&backup.name_any())).unwrap();
    let backup_still_runs = live.is_some_and(|j| j.metadata.deletion_timestamp.is_none());
    if backup_still_runs {
        backup_pod.run_containers(POD_DEADLINE);
        rt.block_on(mark_succeeded(&client, &setup.job_ns, &backup.name_any()));
    }
    drop(backup_pod);
    // Give the controller a few passes to finish the deletion its way.
    let clusters: Api<Cluster> = Api::all(client.clone());
    let mut cleaned = early.is_some();
    for _ in 0..5 {
        if rt.block_on(clusters.get_opt(LATE)).unwrap().is_none() {
            break;
        }
        reconcile_unchecked(&setup);
        if !cleaned {
            if let Some(job) = rt.block_on(jobs.get_opt(&cleanup_name)).unwrap() {
                run_cleanup(&job);
                cleaned = true;
            }
        }
    }
    rt.block_on(wait_gone(&client, LATE));
    let orphans = backup_keys(&minio, &setup.prefix, LATE);
    assert!(
        orphans.is_empty(),
        "Cluster {LATE} is gone, but its backup {orphans:?} is still in the bucket: the cleanup Job ran \
         (early: {}) while backup Job {} was still active, and its upload landed after the cleanup",
        early.is_some(),
        backup.name_any()
    );
}
