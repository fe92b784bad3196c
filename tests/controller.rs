//! The controller against a real kube-apiserver (tests/common/kube.rs). No kubelet or controller-manager
//! runs there, so Job outcomes are written through the Job's status subresource, and nothing is garbage
//! collected. Every test holds `serial()`: they share one apiserver and count its writes.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::kube::{create_namespace, rig, serial, write_counts, writes_between};
use common::{etcdbak, free_port, Proc};
use etcdbak::config::Config;
use etcdbak::controller::{reconcile, Context, Error, FINALIZER};
use etcdbak::crd::{Cluster, ClusterSpec};
use etcdbak::metrics::Metrics;
use etcdbak::naming;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};
use kube::{Client, ResourceExt};

const JOB_NS: &str = "etcdbak";

fn test_config(extra: &str) -> Config {
    let yaml = format!(
        "jobNamespace: {JOB_NS}\ndefaultSchedule: \"H/20 * * * *\"\nimage: registry.example/etcdbak:test\n{extra}"
    );
    Config::from_yaml(&yaml, None).expect("test config")
}

fn config_file(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(
        &path,
        format!(
            "jobNamespace: {JOB_NS}\ndefaultSchedule: \"H/20 * * * *\"\nimage: registry.example/etcdbak:test\n{extra}"
        ),
    )
    .unwrap();
    path
}

fn new_cluster(name: &str, ns: &str) -> Cluster {
    Cluster::new(
        name,
        ClusterSpec {
            namespace: ns.to_string(),
            endpoints: Some(vec![format!("https://etcd-0.etcd.{ns}.svc:2379")]),
            service: None,
            tls_secret: Some("etcd-client-tls".to_string()),
            schedule: None,
            keep: None,
            retention: None,
            suspend: None,
            verify: None,
            compression: None,
            encryption: None,
            continuous: None,
        },
    )
}

async fn tenant(client: &Client, ns: &str) {
    create_namespace(client, JOB_NS).await;
    create_namespace(client, ns).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let secret = common::kube::placeholder_tls_secret();
    match secrets.create(&PostParams::default(), &secret).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("creating the tenant TLS Secret: {e}"),
    }
}

fn context(client: &Client, config: Config) -> Arc<Context> {
    Arc::new(Context::new(
        client.clone(),
        config,
        Recorder::new(
            client.clone(),
            Reporter {
                controller: "etcdbak".into(),
                instance: Some("test".into()),
            },
        ),
        Arc::new(Metrics::new()),
        Duration::from_secs(600),
    ))
}

async fn reconcile_once(ctx: &Arc<Context>, name: &str) -> Result<Action, Error> {
    let api: Api<Cluster> = Api::all(ctx.client.clone());
    let obj = api.get(name).await.expect("reading the Cluster");
    reconcile(Arc::new(obj), ctx.clone()).await
}

/// A new Cluster needs two reconciles: the first adds the finalizer, the second applies.
async fn converge(ctx: &Arc<Context>, name: &str) {
    for _ in 0..2 {
        reconcile_once(ctx, name).await.expect("reconcile");
    }
}

async fn create_cluster(client: &Client, cluster: &Cluster) {
    let api: Api<Cluster> = Api::all(client.clone());
    api.create(&PostParams::default(), cluster)
        .await
        .expect("creating the Cluster (schema validation)");
}

async fn patch_spec(client: &Client, name: &str, spec: serde_json::Value) {
    let api: Api<Cluster> = Api::all(client.clone());
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "spec": spec })),
    )
    .await
    .expect("patching the Cluster spec");
}

async fn delete_cluster(client: &Client, name: &str) {
    let api: Api<Cluster> = Api::all(client.clone());
    api.delete(name, &DeleteParams::default())
        .await
        .expect("deleting the Cluster");
}

/// Test hygiene: drop a Cluster whatever state it is in (finalizer included).
async fn purge(client: &Client, name: &str) {
    let api: Api<Cluster> = Api::all(client.clone());
    let _ = api
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "metadata": { "finalizers": null } })),
        )
        .await;
    let _ = api.delete(name, &DeleteParams::default()).await;
}

async fn cron_job(client: &Client, cluster: &str) -> Option<CronJob> {
    let api: Api<CronJob> = Api::namespaced(client.clone(), JOB_NS);
    api.get_opt(&naming::cron_job_name(cluster)).await.unwrap()
}

fn store_env(cj: &CronJob, var: &str) -> Option<String> {
    let pod = cj
        .spec
        .as_ref()?
        .job_template
        .spec
        .as_ref()?
        .template
        .spec
        .as_ref()?;
    pod.containers
        .iter()
        .find(|c| c.name == "store")?
        .env
        .as_ref()?
        .iter()
        .find(|e| e.name == var)?
        .value
        .clone()
}

fn condition<'a>(cluster: &'a Cluster, type_: &str) -> Option<&'a etcdbak::crd::Condition> {
    cluster
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
}

async fn cleanup_jobs(client: &Client, cluster: &str) -> Vec<Job> {
    let api: Api<Job> = Api::namespaced(client.clone(), JOB_NS);
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|j| j.name_any() == naming::cleanup_job_name(cluster))
        .collect()
}

/// Writes a finished status onto a Job, as the Job controller would (the apiserver validates the shape:
/// start/completion times, the *Target/SuccessCriteriaMet conditions before the final one).
async fn finish_job(client: &Client, name: &str, succeeded: bool, finished_ago: Duration) {
    let api: Api<Job> = Api::namespaced(client.clone(), JOB_NS);
    let now = chrono::Utc::now();
    let at = now - chrono::Duration::from_std(finished_ago).unwrap();
    let start = at - chrono::Duration::seconds(5);
    let ts =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let cond = |type_: &str| {
        serde_json::json!({
            "type": type_, "status": "True", "reason": "Test", "message": "set by the test",
            "lastProbeTime": ts(at), "lastTransitionTime": ts(at),
        })
    };
    let status = if succeeded {
        serde_json::json!({
            "startTime": ts(start), "completionTime": ts(at), "succeeded": 1, "active": 0, "ready": 0,
            "terminating": 0,
            "uncountedTerminatedPods": {},
            "conditions": [cond("SuccessCriteriaMet"), cond("Complete")],
        })
    } else {
        serde_json::json!({
            "startTime": ts(start), "failed": 1, "active": 0, "ready": 0, "terminating": 0,
            "uncountedTerminatedPods": {},
            "conditions": [cond("FailureTarget"), cond("Failed")],
        })
    };
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": status })),
    )
    .await
    .unwrap_or_else(|e| panic!("writing the Job status of {name}: {e}"));
}

async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < timeout,
            "{what}: not true after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn cluster_gets_a_cronjob_that_follows_edits_and_idles_without_writes() {
    let _serial = serial().await;
    let client = rig().client().await;
    let name = "edits";
    tenant(&client, "tenant-edits").await;
    create_cluster(&client, &new_cluster(name, "tenant-edits")).await;
    let ctx = context(&client, test_config(""));

    // First reconcile: only the finalizer, before anything exists that would need cleaning up.
    reconcile_once(&ctx, name).await.unwrap();
    let api: Api<Cluster> = Api::all(client.clone());
    let c = api.get(name).await.unwrap();
    assert!(c.finalizers().iter().any(|f| f == FINALIZER));
    assert!(cron_job(&client, name).await.is_none());

    reconcile_once(&ctx, name).await.unwrap();
    let cj = cron_job(&client, name)
        .await
        .expect("the CronJob (accepted by the apiserver's validation)");
    let spec = cj.spec.as_ref().unwrap();
    let expected = etcdbak::schedule::expand("H/20 * * * *", name).unwrap();
    assert_eq!(spec.schedule, expected);
    assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
    assert_eq!(spec.suspend, Some(false));
    assert_eq!(store_env(&cj, "CLUSTER").as_deref(), Some(name));
    assert_eq!(store_env(&cj, "KEEP").as_deref(), Some("20"));
    let owner = &cj.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(owner.kind, "Cluster");
    assert_eq!(Some(&owner.uid), c.metadata.uid.as_ref());
    let secrets: Api<Secret> = Api::namespaced(client.clone(), JOB_NS);
    let mirrored = secrets
        .get(&naming::tls_secret_name(name))
        .await
        .expect("the mirrored TLS Secret");
    assert_eq!(
        mirrored.data.unwrap().get("tls.key").map(|b| b.0.clone()),
        Some(b"key".to_vec())
    );
    let c = api.get(name).await.unwrap();
    let cond = condition(&c, "BackupScheduled").expect("BackupScheduled condition");
    assert_eq!(cond.status, "True", "{cond:?}");
    let status = c.status.as_ref().unwrap();
    assert_eq!(status.schedule.as_deref(), Some(expected.as_str()));
    assert_eq!(
        status.cron_job_name.as_deref(),
        Some(format!("{JOB_NS}/{}", naming::cron_job_name(name)).as_str())
    );
    assert_eq!(status.observed_generation, c.metadata.generation);

    // Idle resync: nothing changed, so nothing is written. Counted by the apiserver itself.
    let before = write_counts(&client).await;
    for _ in 0..3 {
        reconcile_once(&ctx, name).await.unwrap();
    }
    let writes = writes_between(&before, &write_counts(&client).await);
    println!("writes during 3 idle reconciles: {writes:?}");
    assert!(writes.is_empty(), "idle reconciles wrote: {writes:?}");

    // Schedule and keep edits reach the CronJob.
    patch_spec(
        &client,
        name,
        serde_json::json!({"schedule": "H 3 * * *", "keep": 7}),
    )
    .await;
    let before = write_counts(&client).await;
    reconcile_once(&ctx, name).await.unwrap();
    let writes = writes_between(&before, &write_counts(&client).await);
    println!("writes for one schedule+keep edit: {writes:?}");
    assert!(writes.contains_key("APPLY/cronjobs") || writes.contains_key("PATCH/cronjobs"));
    assert!(
        !writes.contains_key("APPLY/secrets"),
        "the Secret did not change: {writes:?}"
    );
    let cj = cron_job(&client, name).await.unwrap();
    assert_eq!(
        cj.spec.as_ref().unwrap().schedule,
        etcdbak::schedule::expand("H 3 * * *", name).unwrap()
    );
    assert_eq!(store_env(&cj, "KEEP").as_deref(), Some("7"));

    // A template change in the controller config reaches the CronJob too.
    ctx.set_config(test_config(
        "storeContainer:\n  name: store\n  image: registry.example/custom-store:1\n  command: [/bin/custom-store]\n  volumeMounts: [{name: etcd-backup, mountPath: /backup}]\n",
    ));
    reconcile_once(&ctx, name).await.unwrap();
    let cj = cron_job(&client, name).await.unwrap();
    let pod = cj
        .spec
        .unwrap()
        .job_template
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    let store = pod.containers.iter().find(|c| c.name == "store").unwrap();
    assert_eq!(
        store.image.as_deref(),
        Some("registry.example/custom-store:1")
    );
    assert_eq!(
        store.command.as_deref(),
        Some(&["/bin/custom-store".to_string()][..])
    );

    // Suspend keeps the CronJob, suspended.
    patch_spec(&client, name, serde_json::json!({"suspend": true})).await;
    reconcile_once(&ctx, name).await.unwrap();
    let cj = cron_job(&client, name).await.unwrap();
    assert_eq!(cj.spec.unwrap().suspend, Some(true));
    let c = api.get(name).await.unwrap();
    assert_eq!(
        condition(&c, "BackupScheduled").unwrap().reason,
        "Suspended"
    );

    purge(&client, name).await;
}

/// A Cluster's `spec.retention` passes the CRD's schema and CEL rule only when it keeps something, and
/// reaches the store container of the CronJob the apiserver accepted as `ETCDBAK_KEEP*`.
#[tokio::test]
async fn a_clusters_retention_is_validated_and_reaches_the_store_container() {
    let _serial = serial().await;
    let client = rig().client().await;
    tenant(&client, "tenant-retention").await;
    let refused = [
        (
            serde_json::json!({"keepLast": 0}),
            "retention keeps nothing",
        ),
        (
            serde_json::json!({"keepLast": 0, "keepWithin": "0d"}),
            "retention keeps nothing",
        ),
        (serde_json::json!({"keepDaily": -1}), "keepDaily"),
        (serde_json::json!({"keepWithin": "7days"}), "keepWithin"),
    ];
    // Sent as raw JSON: a negative count does not even fit the Rust type.
    let ar = kube::api::ApiResource::erase::<Cluster>(&());
    let raw: Api<kube::api::DynamicObject> = Api::all_with(client.clone(), &ar);
    for (i, (retention, says)) in refused.iter().enumerate() {
        let mut c = serde_json::to_value(new_cluster(
            &format!("bad-retention-{i}"),
            "tenant-retention",
        ))
        .unwrap();
        c["spec"]["retention"] = retention.clone();
        let obj: kube::api::DynamicObject = serde_json::from_value(c).unwrap();
        let err = raw
            .create(&PostParams::default(), &obj)
            .await
            .expect_err(&format!("{retention} was accepted"));
        assert!(err.to_string().contains(says), "{retention}: {err}");
    }

    let name = "retention";
    let mut c = new_cluster(name, "tenant-retention");
    c.spec.retention = Some(etcdbak::crd::RetentionSpec {
        keep_last: Some(0),
        keep_daily: Some(7),
        keep_within: Some("2d".into()),
        ..Default::default()
    });
    create_cluster(&client, &c).await;
    let ctx = context(&client, test_config(""));
    converge(&ctx, name).await;
    let cj = cron_job(&client, name).await.expect("the CronJob");
    assert_eq!(store_env(&cj, "ETCDBAK_KEEP").as_deref(), Some("0"));
    assert_eq!(store_env(&cj, "ETCDBAK_KEEP_DAILY").as_deref(), Some("7"));
    assert_eq!(store_env(&cj, "ETCDBAK_KEEP_WITHIN").as_deref(), Some("2d"));
    assert_eq!(store_env(&cj, "ETCDBAK_KEEP_HOURLY"), None);

    // An edit reaches it too, and the config's block applies once the Cluster drops its own.
    patch_spec(
        &client,
        name,
        serde_json::json!({"retention": {"keepWeekly": 4}}),
    )
    .await;
    reconcile_once(&ctx, name).await.unwrap();
    let cj = cron_job(&client, name).await.unwrap();
    assert_eq!(store_env(&cj, "ETCDBAK_KEEP_WEEKLY").as_deref(), Some("4"));
    ctx.set_config(test_config("retention:\n  keepMonthly: 12\n"));
    patch_spec(&client, name, serde_json::json!({"retention": null})).await;
    reconcile_once(&ctx, name).await.unwrap();
    let cj = cron_job(&client, name).await.unwrap();
    assert_eq!(
        store_env(&cj, "ETCDBAK_KEEP_MONTHLY").as_deref(),
        Some("12")
    );
    assert_eq!(store_env(&cj, "ETCDBAK_KEEP_WEEKLY"), None);
    assert_eq!(store_env(&cj, "ETCDBAK_KEEP").as_deref(), Some("20"));

    purge(&client, name).await;
}

/// A Job made by the Cluster's backup CronJob, as the CronJob controller would create it.
async fn backup_job(client: &Client, cj: &CronJob, name: &str) {
    let labels = cj
        .spec
        .as_ref()
        .unwrap()
        .job_template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone();
    let job = Job {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(JOB_NS.to_string()),
            labels,
            owner_references: Some(vec![
                k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                    api_version: "batch/v1".into(),
                    kind: "CronJob".into(),
                    name: cj.name_any(),
                    uid: cj.uid().unwrap(),
                    controller: Some(true),
                    block_owner_deletion: None,
                },
            ]),
            ..Default::default()
        },
        spec: cj.spec.as_ref().unwrap().job_template.spec.clone(),
        status: None,
    };
    let api: Api<Job> = Api::namespaced(client.clone(), JOB_NS);
    api.create(&PostParams::default(), &job)
        .await
        .unwrap_or_else(|e| panic!("creating the backup Job {name}: {e}"));
}

async fn backup_failed_events(client: &Client, cluster: &str) -> Vec<Event> {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(cluster)
                && e.reason.as_deref() == Some("BackupFailed")
        })
        .collect()
}

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
    backup_job(&client, &cj, &first).await;
    finish_job(&client, &first, true, Duration::from_secs(120)).await;
    backup_job(&client, &cj, &second).await;
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
    let events = backup_failed_events(&client, name).await;
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
    assert_eq!(backup_failed_events(&client, name).await.len(), 1);

    // The next run succeeds: the condition flips back, the metric clears.
    let third = format!("{cj_name}-29000120");
    backup_job(&client, &cj, &third).await;
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
    assert_eq!(backup_failed_events(&client, name).await.len(), 1);

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
    backup_job(&client, &cj, &job).await;
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
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let count = || async {
        events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                    && e.reason.as_deref() == Some("VerificationFailed")
            })
            .count()
    };
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

#[tokio::test]
async fn invalid_cron_is_a_condition_and_an_event_and_deletes_without_cleanup() {
    let _serial = serial().await;
    let client = rig().client().await;
    let name = "badcron";
    tenant(&client, "tenant-bad").await;
    let mut c = new_cluster(name, "tenant-bad");
    // Five fields, so the schema's pattern accepts it; minute 61 is for the reconciler to reject.
    c.spec.schedule = Some("61 * * * *".into());
    create_cluster(&client, &c).await;
    let ctx = context(&client, test_config(""));

    reconcile_once(&ctx, name).await.unwrap(); // finalizer
    let err = reconcile_once(&ctx, name)
        .await
        .expect_err("an invalid schedule fails");
    assert!(
        matches!(
            err,
            Error::Invalid {
                reason: "InvalidSchedule",
                ..
            }
        ),
        "{err:?}"
    );
    let api: Api<Cluster> = Api::all(client.clone());
    let got = api.get(name).await.unwrap();
    let cond = condition(&got, "BackupScheduled").expect("condition");
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_str()),
        ("False", "InvalidSchedule")
    );
    assert!(cond.message.contains("spec.schedule"), "{}", cond.message);
    assert_eq!(
        got.status.as_ref().unwrap().last_error.as_deref(),
        Some(cond.message.as_str())
    );
    assert!(cron_job(&client, name).await.is_none());

    // Cluster-scoped objects get their Events in "default".
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let list = events.list(&ListParams::default()).await.unwrap().items;
    let ev = list
        .iter()
        .find(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                && e.reason.as_deref() == Some("InvalidSchedule")
        })
        .expect("a Warning Event for the invalid schedule");
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    assert!(ev.note.as_deref().unwrap_or("").contains("spec.schedule"));

    // Retrying the same invalid spec writes nothing (no status flapping, no Event storm).
    let before = write_counts(&client).await;
    let _ = reconcile_once(&ctx, name).await;
    let writes = writes_between(&before, &write_counts(&client).await);
    assert!(writes.is_empty(), "{writes:?}");

    // It never had a backup CronJob: deletion is prompt, without a cleanup Job.
    delete_cluster(&client, name).await;
    reconcile_once(&ctx, name).await.unwrap();
    assert!(
        api.get_opt(name).await.unwrap().is_none(),
        "the Cluster is gone"
    );
    assert!(cleanup_jobs(&client, name).await.is_empty());
}

#[tokio::test]
async fn a_missing_secret_and_a_bad_template_are_conditions_that_say_what_to_fix() {
    let _serial = serial().await;
    let client = rig().client().await;
    let name = "nosecret";
    tenant(&client, "tenant-nosecret").await;
    let mut c = new_cluster(name, "tenant-nosecret");
    c.spec.tls_secret = Some("does-not-exist".into());
    create_cluster(&client, &c).await;
    let api: Api<Cluster> = Api::all(client.clone());

    // (config, expected reason, words the message must contain)
    let bad_template = test_config(
        "storeContainer:\n  name: store\n  image: registry.example/custom:1\n  command: [/bin/store]\n",
    );
    let cases = [
        (
            test_config(""),
            "TlsSecretNotFound",
            vec!["does-not-exist", "spec.tlsSecret"],
        ),
        (
            bad_template,
            "TemplateMissingBackupMount",
            vec!["etcd-backup", "/backup"],
        ),
    ];
    for (i, (config, reason, words)) in cases.into_iter().enumerate() {
        if i == 1 {
            patch_spec(
                &client,
                name,
                serde_json::json!({"tlsSecret": "etcd-client-tls"}),
            )
            .await;
        }
        let ctx = context(&client, config);
        let _ = reconcile_once(&ctx, name).await; // finalizer (first round only)
        let err = reconcile_once(&ctx, name).await.expect_err(reason);
        assert!(
            matches!(&err, Error::Invalid { reason: r, .. } if *r == reason),
            "{err:?}"
        );
        let got = api.get(name).await.unwrap();
        let cond = condition(&got, "BackupScheduled").unwrap();
        assert_eq!(
            (cond.status.as_str(), cond.reason.as_str()),
            ("False", reason)
        );
        for w in words {
            assert!(
                cond.message.contains(w),
                "{reason}: {:?} lacks {w:?}",
                cond.message
            );
        }
        assert!(cron_job(&client, name).await.is_none());
        let events: Api<Event> = Api::namespaced(client.clone(), "default");
        assert!(events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .any(
                |e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                    && e.reason.as_deref() == Some(reason)
            ));
    }

    // Fixed: the next reconcile schedules it and clears the error.
    let ctx = context(&client, test_config(""));
    reconcile_once(&ctx, name).await.unwrap();
    let got = api.get(name).await.unwrap();
    assert_eq!(condition(&got, "BackupScheduled").unwrap().status, "True");
    assert_eq!(got.status.unwrap().last_error, None);
    assert!(cron_job(&client, name).await.is_some());
    purge(&client, name).await;
}

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
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    assert!(events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .any(
            |e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                && e.reason.as_deref() == Some("CleanupJobFailed")
        ));
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

struct Watcher {
    proc: Proc,
    metrics: String,
}

/// `etcdbak watch` as a child process, electing over Lease `etcdbak-test` with a 4s duration (a killed
/// leader blocks the next test only briefly).
fn start_watch(config: &Path, identity: &str, log: &Path) -> Watcher {
    start_watch_with(
        config,
        identity,
        log,
        &["--lease-name", "etcdbak-test", "--lease-duration", "4s"],
    )
}

fn start_watch_with(config: &Path, identity: &str, log: &Path, extra: &[&str]) -> Watcher {
    let port = free_port();
    let log = std::fs::File::create(log).unwrap();
    let proc = Proc::spawn(
        "etcdbak watch",
        etcdbak()
            .env("KUBECONFIG", &rig().kubeconfig)
            .env("ETCDBAK_LOG", "info,kube=warn,etcdbak=debug")
            .args(["watch", "--config"])
            .arg(config)
            .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .args(["--lease-namespace", JOB_NS, "--identity", identity])
            .args(["--config-poll", "1s"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log),
    );
    Watcher {
        proc,
        metrics: format!("http://127.0.0.1:{port}"),
    }
}

/// A plain HTTP GET of `url` (the metrics server speaks HTTP/1.1), returning status and body.
async fn http_get(url: &str) -> Option<(u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}")))?;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(host).await.ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.ok()?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((code, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

async fn leader_gauge(w: &Watcher) -> Option<u8> {
    let (code, body) = http_get(&format!("{}/metrics", w.metrics)).await?;
    if code != 200 {
        return None;
    }
    body.lines()
        .find_map(|l| l.strip_prefix("etcdbak_leader "))
        .and_then(|v| v.trim().parse().ok())
}

fn sigterm(p: &Proc) {
    let pid = p.pid().expect("running");
    let ok = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
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
    let _w2 = start_watch(&config, "replica-a", &log2);
    // Give the new process time to start, lead, list everything and reconcile the deleting Cluster.
    let api: Api<Cluster> = Api::all(client.clone());
    eventually(
        "the restarted controller to lead",
        Duration::from_secs(30),
        || async { leader_gauge(&_w2).await == Some(1) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
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

/// Lays the config out as a ConfigMap volume does: `config.yaml -> ..data/config.yaml`, `..data` a symlink
/// to a timestamped dir. An update writes a new dir and swaps `..data` atomically.
fn configmap_volume_write(dir: &Path, generation: u32, text: &str) -> PathBuf {
    let data_dir = dir.join(format!("..2026_{generation}"));
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::write(data_dir.join("config.yaml"), text).unwrap();
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(data_dir.file_name().unwrap(), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    let link = dir.join("config.yaml");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink("..data/config.yaml", &link).unwrap();
    }
    link
}

#[tokio::test]
async fn watch_follows_a_configmap_update_and_reports_pending_cleanup() {
    let _serial = serial().await;
    let client = rig().client().await;
    let name = "cfgwatch";
    tenant(&client, "tenant-cfg").await;
    let dir = tempfile::tempdir().unwrap();
    let base = format!(
        "jobNamespace: {JOB_NS}\ndefaultSchedule: \"H/20 * * * *\"\nimage: registry.example/etcdbak:test\n"
    );
    let config = configmap_volume_write(dir.path(), 1, &base);
    let w = start_watch(&config, "replica-cfg", &dir.path().join("watch.log"));
    create_cluster(&client, &new_cluster(name, "tenant-cfg")).await;
    eventually("the CronJob", Duration::from_secs(60), || async {
        cron_job(&client, name).await.is_some()
    })
    .await;

    // The admin changes the schedule default and the snapshot image in the ConfigMap.
    configmap_volume_write(
        dir.path(),
        2,
        &format!(
            "jobNamespace: {JOB_NS}\ndefaultSchedule: \"H 4 * * *\"\nimage: registry.example/etcdbak:v2\n"
        ),
    );
    let want = etcdbak::schedule::expand("H 4 * * *", name).unwrap();
    eventually(
        "the CronJob to follow the config",
        Duration::from_secs(30),
        || async {
            cron_job(&client, name).await.is_some_and(|cj| {
                let spec = cj.spec.unwrap();
                let pod = spec.job_template.spec.unwrap().template.spec.unwrap();
                spec.schedule == want
                    && pod.init_containers.unwrap_or_default()[0].image.as_deref()
                        == Some("registry.example/etcdbak:v2")
            })
        },
    )
    .await;

    // An invalid config is refused: the last good one stays in force.
    configmap_volume_write(dir.path(), 3, "jobNamespace: [not, a, string]\n");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        leader_gauge(&w).await == Some(1),
        "still running and leading after a bad config"
    );

    // While the cleanup is pending, the metrics say so (the CleanupStuck alert reads these).
    delete_cluster(&client, name).await;
    eventually("the cleanup Job", Duration::from_secs(30), || async {
        !cleanup_jobs(&client, name).await.is_empty()
    })
    .await;
    let metrics_url = format!("{}/metrics", w.metrics);
    eventually(
        "pending-cleanup metrics",
        // A loaded 2-core CI machine can take a while to run the reconcile that updates the gauges.
        Duration::from_secs(30),
        || async {
            let body = http_get(&metrics_url)
                .await
                .map(|r| r.1)
                .unwrap_or_default();
            body.contains("etcdbak_cleanups_pending 1")
                && body.contains(&format!(
                    "etcdbak_cluster_deletion_timestamp_seconds{{cluster=\"{name}\"}}"
                ))
        },
    )
    .await;
    finish_job(
        &client,
        &naming::cleanup_job_name(name),
        true,
        Duration::ZERO,
    )
    .await;
    let api: Api<Cluster> = Api::all(client.clone());
    eventually(
        "the Cluster to be deleted",
        Duration::from_secs(30),
        || async { api.get_opt(name).await.unwrap().is_none() },
    )
    .await;
    eventually("its series to go", Duration::from_secs(10), || async {
        let body = http_get(&metrics_url)
            .await
            .map(|r| r.1)
            .unwrap_or_default();
        body.contains("etcdbak_cleanups_pending 0")
            && !body.contains(&format!("cluster=\"{name}\""))
    })
    .await;
}

#[tokio::test]
async fn two_replicas_elect_one_leader_and_metrics_pass_promtool() {
    let _serial = serial().await;
    let client = rig().client().await;
    tenant(&client, "tenant-ha").await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), "");
    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    // A 30s Lease, its own: a standby that takes over well within 30s proves the leader released it.
    let ha = ["--lease-name", "etcdbak-ha", "--lease-duration", "30s"];
    let mut a = start_watch_with(&config, "replica-a", &log_a, &ha);
    let mut b = start_watch_with(&config, "replica-b", &log_b, &ha);

    let mut bad = new_cluster("ha-bad", "tenant-ha");
    bad.spec.schedule = Some("61 * * * *".into());
    create_cluster(&client, &bad).await;
    create_cluster(&client, &new_cluster("ha-good", "tenant-ha")).await;

    eventually("one leader", Duration::from_secs(30), || async {
        let (x, y) = (leader_gauge(&a).await, leader_gauge(&b).await);
        matches!((x, y), (Some(1), Some(0)) | (Some(0), Some(1)))
    })
    .await;
    eventually("the CronJob", Duration::from_secs(30), || async {
        cron_job(&client, "ha-good").await.is_some()
    })
    .await;
    // Stays that way: the standby does not grab the Lease while the leader renews.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (la, lb) = (leader_gauge(&a).await, leader_gauge(&b).await);
    assert_eq!(
        la.unwrap_or(0) + lb.unwrap_or(0),
        1,
        "exactly one leader: {la:?} {lb:?}"
    );
    let a_leads = la == Some(1);
    let leader_name = if a_leads { "replica-a" } else { "replica-b" };
    let leases: Api<Lease> = Api::namespaced(client.clone(), JOB_NS);
    let lease = leases.get("etcdbak-ha").await.unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some(leader_name)
    );

    let (leader, standby) = if a_leads {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    // The leader's scrape has every contracted series, and promtool's linter accepts it.
    let (code, body) = http_get(&format!("{}/metrics", leader.metrics))
        .await
        .unwrap();
    assert_eq!(code, 200);
    for name in [
        "etcdbak_reconcile_total{result=\"success\"}",
        "etcdbak_reconcile_errors_total{reason=\"InvalidSchedule\"}",
        "etcdbak_reconcile_duration_seconds_bucket",
        "etcdbak_clusters_managed",
        "etcdbak_cleanups_pending",
        "etcdbak_cluster_cronjob_present{cluster=\"ha-good\"} 1",
        "etcdbak_cluster_cronjob_present{cluster=\"ha-bad\"} 0",
        "etcdbak_cluster_backup_interval_seconds{cluster=\"ha-good\"} ",
        "etcdbak_cluster_suspended{cluster=\"ha-good\"} 0",
        "etcdbak_leader 1",
    ] {
        assert!(body.contains(name), "missing {name} in\n{body}");
    }
    common::promtool_check_metrics(&body);
    for path in ["/healthz", "/readyz"] {
        for w in [&*leader, &*standby] {
            let (code, _) = http_get(&format!("{}{path}", w.metrics)).await.unwrap();
            assert_eq!(code, 200, "{path}");
        }
    }

    // SIGTERM: the leader stops cleanly, releases the Lease, and the standby takes over well before the
    // 30s Lease would have expired.
    sigterm(&leader.proc);
    let stopped = Instant::now();
    eventually(
        "the standby to take over",
        Duration::from_secs(20),
        || async { leader_gauge(standby).await == Some(1) },
    )
    .await;
    println!(
        "MEASURE: standby took over {:.2?} after SIGTERM of the leader (Lease duration 30s)",
        stopped.elapsed()
    );
    let status = loop {
        if let Some(status) = leader.proc.child.as_mut().unwrap().try_wait().unwrap() {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(20),
            "the leader did not exit on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");

    purge(&client, "ha-bad").await;
    purge(&client, "ha-good").await;
    drop((a, b));
}

#[tokio::test]
async fn a_leader_whose_lease_is_taken_stops_and_exits() {
    let _serial = serial().await;
    let client = rig().client().await;
    create_namespace(&client, JOB_NS).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), "");
    let log = dir.path().join("lost.log");
    let mut w = start_watch_with(
        &config,
        "replica-lost",
        &log,
        &["--lease-name", "etcdbak-lost", "--lease-duration", "3s"],
    );
    eventually("leading", Duration::from_secs(30), || async {
        leader_gauge(&w).await == Some(1)
    })
    .await;

    // Someone else now holds the Lease (as after a partition during which it expired).
    let leases: Api<Lease> = Api::namespaced(client.clone(), JOB_NS);
    let mut lease = leases.get("etcdbak-lost").await.unwrap();
    let spec = lease.spec.as_mut().unwrap();
    spec.holder_identity = Some("intruder".into());
    spec.lease_duration_seconds = Some(3600);
    spec.renew_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
        k8s_openapi::jiff::Timestamp::now(),
    ));
    leases
        .replace("etcdbak-lost", &PostParams::default(), &lease)
        .await
        .unwrap();

    let start = Instant::now();
    let status = loop {
        if let Some(status) = w.proc.child.as_mut().unwrap().try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "still running after losing the Lease\n{}",
            log_tail(&log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status.code(), Some(1), "{}", log_tail(&log));
    assert!(
        log_tail(&log).contains("lost the leader Lease"),
        "{}",
        log_tail(&log)
    );
    // It did not hand the Lease back to itself on the way out.
    let lease = leases.get("etcdbak-lost").await.unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("intruder")
    );
}

#[tokio::test]
async fn reconcile_command_dry_run_table_and_hundred_clusters() {
    let _serial = serial().await;
    let client = rig().client().await;
    tenant(&client, "tenant-many").await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), "");
    let run = |args: &[&str]| {
        etcdbak()
            .env("KUBECONFIG", &rig().kubeconfig)
            .env("ETCDBAK_LOG", "warn")
            .arg("reconcile")
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap()
    };

    let n = 100;
    let names: Vec<String> = (0..n).map(|i| format!("many-{i:03}")).collect();
    for name in &names {
        create_cluster(&client, &new_cluster(name, "tenant-many")).await;
    }

    // --dry-run prints what would be applied and writes nothing.
    let before = write_counts(&client).await;
    let out = run(&["--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("kind: CronJob") && stdout.contains("name: etcdbak-many-042"));
    assert!(stdout.contains("kind: Secret"));
    assert!(
        !stdout.contains("a2V5"),
        "Secret values are not printed (base64 of 'key')"
    );
    let writes = writes_between(&before, &write_counts(&client).await);
    assert!(writes.is_empty(), "--dry-run wrote: {writes:?}");

    // 100 Clusters -> 100 CronJobs through `etcdbak watch`; timed, not asserted.
    let converge_before = write_counts(&client).await;
    let start = Instant::now();
    let w = start_watch(&config, "replica-many", &dir.path().join("many.log"));
    eventually(
        "the controller to lead",
        Duration::from_secs(30),
        || async { leader_gauge(&w).await == Some(1) },
    )
    .await;
    let leading = Instant::now();
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), JOB_NS);
    eventually("100 CronJobs", Duration::from_secs(180), || async {
        let list = cron_jobs.list(&ListParams::default()).await.unwrap().items;
        names.iter().all(|n| {
            list.iter()
                .any(|c| c.name_any() == naming::cron_job_name(n))
        })
    })
    .await;
    println!(
        "MEASURE: {n} Clusters -> {n} CronJobs via `etcdbak watch`: {:.2?} after it became leader, {:.2?} including process start and election",
        leading.elapsed(),
        start.elapsed()
    );
    let clusters: Api<Cluster> = Api::all(client.clone());
    eventually("100 statuses", Duration::from_secs(120), || async {
        let list = clusters.list(&ListParams::default()).await.unwrap().items;
        names.iter().all(|n| {
            list.iter().any(|c| {
                &c.name_any() == n && c.status.as_ref().is_some_and(|s| s.cron_job_name.is_some())
            })
        })
    })
    .await;
    println!(
        "MEASURE: ... and their status written: {:.2?} after it became leader",
        leading.elapsed()
    );
    // Let in-flight work finish, then stop it: the next pass should find nothing to do.
    tokio::time::sleep(Duration::from_secs(1)).await;
    sigterm(&w.proc);
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(w);
    let writes = writes_between(&converge_before, &write_counts(&client).await);
    let total: u64 = writes.values().sum();
    println!(
        "MEASURE: writes to converge {n} new Clusters: {total} ({:.1} per Cluster: {writes:?})",
        total as f64 / n as f64
    );
    // One reconcile of a Cluster at a time, reading the live object first: each CronJob (backup and
    // verification) and Secret is written exactly once (two concurrent reconciles of one Cluster would
    // both create it).
    assert_eq!(
        writes.get("APPLY/cronjobs"),
        Some(&(2 * n as u64)),
        "{writes:?}"
    );
    assert_eq!(writes.get("APPLY/secrets"), Some(&(n as u64)), "{writes:?}");
    // A reconcile that runs on a stale copy of its Cluster leaves the status to the fresh one.
    assert_eq!(
        writes.get("PATCH/clusters/status"),
        Some(&(n as u64)),
        "{writes:?}"
    );
    assert_eq!(
        writes.get("POST/events"),
        Some(&(n as u64)),
        "one CronJobCreated Event each: {writes:?}"
    );

    // One idle pass of `etcdbak reconcile` over all of them: zero writes.
    let before = write_counts(&client).await;
    let start = Instant::now();
    let out = run(&[]);
    let took = start.elapsed();
    let writes = writes_between(&before, &write_counts(&client).await);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("CLUSTER") && stdout.contains("many-042") && stdout.contains("up to date")
    );
    let total: u64 = writes.values().sum();
    println!(
        "MEASURE: idle `etcdbak reconcile` pass over {n} Clusters: {total} writes ({writes:?}) in {took:.2?}"
    );
    assert_eq!(total, 0, "an idle pass must not write: {writes:?}");

    // `etcdbak watch` over the same converged Clusters, resyncing every 2s: its start (a full list and
    // reconcile of every Cluster) and its resyncs write nothing either.
    let before = write_counts(&client).await;
    let w = start_watch_with(
        &config,
        "replica-many",
        &dir.path().join("resync.log"),
        &[
            "--resync",
            "2s",
            "--lease-name",
            "etcdbak-test",
            "--lease-duration",
            "4s",
        ],
    );
    eventually(
        "the controller to lead",
        Duration::from_secs(30),
        || async { leader_gauge(&w).await == Some(1) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let (_, body) = http_get(&format!("{}/metrics", w.metrics)).await.unwrap();
    let reconciles: f64 = body
        .lines()
        .find_map(|l| l.strip_prefix("etcdbak_reconcile_total{result=\"success\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    let writes = writes_between(&before, &write_counts(&client).await);
    let total: u64 = writes.values().sum();
    println!(
        "MEASURE: `etcdbak watch` start + 2s resyncs over {n} idle Clusters: {reconciles} reconciles, {total} writes ({writes:?})"
    );
    assert!(reconciles >= 2.0 * n as f64, "it did resync: {reconciles}");
    assert_eq!(total, 0, "idle resyncs must not write: {writes:?}");
    sigterm(&w.proc);
    drop(w);

    // One invalid Cluster makes the pass fail, with the table naming it.
    let mut bad = new_cluster("many-bad", "tenant-many");
    bad.spec.schedule = Some("* * * * 9".into());
    create_cluster(&client, &bad).await;
    let out = run(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("many-bad") && stdout.contains("FAILED"),
        "{stdout}"
    );

    for name in names.iter().chain([&"many-bad".to_string()]) {
        purge(&client, name).await;
    }
}
