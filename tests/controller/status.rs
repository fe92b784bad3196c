//! Backup and verification outcomes reaching a Cluster's status, its Events and the metrics. No Job
//! controller runs on the kube-apiserver rig, so Jobs are created and finished by hand as the CronJob and
//! Job controllers would. Every test holds `serial()`: they share one apiserver and count its writes.

use std::time::Duration;

use etcdbak::crd::Cluster;
use etcdbak::naming;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{Api, DeleteParams, Patch, PatchParams};

use crate::common::controller::*;
use crate::common::jobs::create_run;
use crate::common::kube::{rig, serial, write_counts, writes_between};

#[tokio::test]
async fn backup_outcomes_reach_the_status_one_event_and_the_metrics() {
    let _serial = serial().await;
    let client = rig().client().await;
    let name = "outcomes";
    tenant(&client, "tenant-outcomes").await;
    create_cluster(&client, &new_cluster(name, "tenant-outcomes")).await;
    let ctx = context(&client, test_config(""));
    converge(&ctx, name).await;
    let api: Api<Cluster> = Api::all(client.clone());
    let status = api.get(name).await.unwrap().status.unwrap();
    assert_eq!(status.last_successful_time, None, "never ran");
    assert!(condition(&api.get(name).await.unwrap(), "BackupSucceeded").is_none());

    // The CronJob ran twice: the first Job succeeded at 16:00, the second (scheduled 17:00) failed.
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), JOB_NS);
    let cj_name = naming::cron_job_name(name);
    cron_jobs
        .patch_status(
            &cj_name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "status": {
                "lastSuccessfulTime": "2026-12-01T16:00:05Z",
                "lastScheduleTime": "2026-12-01T17:00:00Z",
            }})),
        )
        .await
        .expect("writing the CronJob status");
    let cj = cron_job(&client, name).await.unwrap();
    let (first, second) = (format!("{cj_name}-29000000"), format!("{cj_name}-29000060"));
    create_run(&client, &cj, &first).await;
    finish_job(&client, &first, true, Duration::from_secs(120)).await;
    create_run(&client, &cj, &second).await;
    finish_job(&client, &second, false, Duration::from_secs(10)).await;

    reconcile_once(&ctx, name).await.unwrap();
    let c = api.get(name).await.unwrap();
    let status = c.status.as_ref().unwrap();
    assert_eq!(
        status.last_successful_time.as_deref(),
        Some("2026-12-01T16:00:05Z")
    );
    assert_eq!(
        status.last_schedule_time.as_deref(),
        Some("2026-12-01T17:00:00Z")
    );
    let cond = condition(&c, "BackupSucceeded").expect("BackupSucceeded");
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_str()),
        ("False", "BackupJobFailed")
    );
    assert!(
        cond.message.contains(&format!("{JOB_NS}/{second}")) && cond.message.contains("logs"),
        "{cond:?}"
    );
    let events = events_for(&client, name, "BackupFailed").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].type_.as_deref(), Some("Warning"));
    let metrics = ctx.metrics.encode_prometheus();
    assert!(
        metrics.contains(&format!(
            "etcdbak_cluster_backup_failing{{cluster=\"{name}\"}} 1"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "etcdbak_cluster_last_success_timestamp_seconds{{cluster=\"{name}\"}} 1796140805.0"
        )),
        "{metrics}"
    );

    // Resyncs of the same failure write nothing and publish no second Event.
    let before = write_counts(&client).await;
    for _ in 0..3 {
        reconcile_once(&ctx, name).await.unwrap();
    }
    let writes = writes_between(&before, &write_counts(&client).await);
    assert!(writes.is_empty(), "idle reconciles wrote: {writes:?}");
    assert_eq!(events_for(&client, name, "BackupFailed").await.len(), 1);

    // The next run succeeds: the condition flips back, the metric clears.
    let third = format!("{cj_name}-29000120");
    create_run(&client, &cj, &third).await;
    finish_job(&client, &third, true, Duration::from_secs(1)).await;
    reconcile_once(&ctx, name).await.unwrap();
    let c = api.get(name).await.unwrap();
    let cond = condition(&c, "BackupSucceeded").unwrap();
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_str()),
        ("True", "BackupJobSucceeded")
    );
    assert!(ctx.metrics.encode_prometheus().contains(&format!(
        "etcdbak_cluster_backup_failing{{cluster=\"{name}\"}} 0"
    )));
    assert_eq!(events_for(&client, name, "BackupFailed").await.len(), 1);

    let jobs: Api<Job> = Api::namespaced(client.clone(), JOB_NS);
    for job in [&first, &second, &third] {
        let _ = jobs.delete(job, &DeleteParams::background()).await;
    }
    purge(&client, name).await;
}

#[tokio::test]
async fn verification_runs_on_its_own_cron_job_and_reaches_the_status() {
    let _serial = serial().await;
    let client = rig().client().await;
    let name = "verified";
    tenant(&client, "tenant-verified").await;
    create_cluster(&client, &new_cluster(name, "tenant-verified")).await;
    let ctx = context(&client, test_config(""));
    converge(&ctx, name).await;
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), JOB_NS);
    let verify_name = naming::verify_cron_job_name(name);
    let cj = cron_jobs
        .get(&verify_name)
        .await
        .expect("a verification CronJob by default (accepted by the apiserver)");
    assert_eq!(
        cj.spec.as_ref().unwrap().schedule,
        etcdbak::schedule::expand("H 4 * * *", name).unwrap()
    );

    // Its newest Job fails: lastVerified, BackupVerified=False, one Event, the metric.
    cron_jobs
        .patch_status(
            &verify_name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "status": {
                "lastScheduleTime": "2026-12-01T04:07:00Z",
            }})),
        )
        .await
        .expect("writing the CronJob status");
    let job = format!("{verify_name}-29000247");
    create_run(&client, &cj, &job).await;
    finish_job(&client, &job, false, Duration::from_secs(5)).await;
    reconcile_once(&ctx, name).await.unwrap();
    let api: Api<Cluster> = Api::all(client.clone());
    let c = api.get(name).await.unwrap();
    let last = c
        .status
        .as_ref()
        .unwrap()
        .last_verified
        .clone()
        .expect("lastVerified");
    assert_eq!(
        (last.job.as_str(), last.outcome.as_str()),
        (format!("{JOB_NS}/{job}").as_str(), "Failed")
    );
    assert!(last.time.ends_with('Z'), "{last:?}");
    let cond = condition(&c, "BackupVerified").expect("BackupVerified");
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_str()),
        ("False", "VerificationFailed")
    );
    let count = || async { events_for(&client, name, "VerificationFailed").await.len() };
    assert_eq!(count().await, 1);
    assert!(ctx.metrics.encode_prometheus().contains(&format!(
        "etcdbak_cluster_verification_failing{{cluster=\"{name}\"}} 1"
    )));
    let before = write_counts(&client).await;
    reconcile_once(&ctx, name).await.unwrap();
    let writes = writes_between(&before, &write_counts(&client).await);
    assert!(writes.is_empty(), "an idle reconcile wrote: {writes:?}");
    assert_eq!(count().await, 1);

    // Turned off for this Cluster: the CronJob and the verdict go.
    patch_spec(
        &client,
        name,
        serde_json::json!({"verify": {"enabled": false}}),
    )
    .await;
    reconcile_once(&ctx, name).await.unwrap();
    assert!(cron_jobs.get_opt(&verify_name).await.unwrap().is_none());
    let c = api.get(name).await.unwrap();
    assert_eq!(c.status.as_ref().unwrap().last_verified, None);
    assert!(condition(&c, "BackupVerified").is_none());
    assert!(!ctx.metrics.encode_prometheus().contains(&format!(
        "etcdbak_cluster_verification_failing{{cluster=\"{name}\"}}"
    )));
    let before = write_counts(&client).await;
    reconcile_once(&ctx, name).await.unwrap();
    let writes = writes_between(&before, &write_counts(&client).await);
    assert!(writes.is_empty(), "verification off, idle: {writes:?}");

    let jobs: Api<Job> = Api::namespaced(client.clone(), JOB_NS);
    let _ = jobs.delete(&job, &DeleteParams::background()).await;
    purge(&client, name).await;
}
