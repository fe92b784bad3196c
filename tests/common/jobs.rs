//! Jobs created and finished by hand: the kube-apiserver rig runs no CronJob or Job controller, so a test
//! that needs a CronJob's run creates it, and one that needs a finished Job writes the status that
//! controller would.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};

/// A Job made by CronJob `cj` (in its namespace), as the CronJob controller would create it: the job
/// template's labels and spec, owned by the CronJob. Name it `<cronjob>-<scheduled minute>` so that run order
/// is name order, as the controller reads it.
pub async fn create_run(client: &Client, cj: &CronJob, name: &str) {
    let spec = cj.spec.as_ref().expect("a CronJob spec");
    let job = Job {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_string()),
            namespace: cj.namespace(),
            labels: spec
                .job_template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone()),
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "CronJob".into(),
                name: cj.name_any(),
                uid: cj.uid().expect("a stored CronJob"),
                controller: Some(true),
                block_owner_deletion: None,
            }]),
            ..Default::default()
        },
        spec: spec.job_template.spec.clone(),
        status: None,
    };
    let api: Api<Job> = Api::namespaced(client.clone(), &cj.namespace().unwrap_or_default());
    api.create(&PostParams::default(), &job)
        .await
        .unwrap_or_else(|e| panic!("creating Job {name} of CronJob {}: {e}", cj.name_any()));
}

/// Writes a finished status onto Job `ns/name`, `finished_ago` in the past, as the Job controller would
/// (the apiserver validates the shape: start/completion times, the *Target/SuccessCriteriaMet conditions
/// before the final one). A Job already marked running keeps the start time it got then.
pub async fn finish_job(
    client: &Client,
    ns: &str,
    name: &str,
    succeeded: bool,
    finished_ago: Duration,
) {
    finish_job_took(
        client,
        ns,
        name,
        succeeded,
        finished_ago,
        Duration::from_secs(5),
    )
    .await
}

/// [`finish_job`] for a Job that ran `took` (its start time that long before it finished, unless it was
/// marked running before).
pub async fn finish_job_took(
    client: &Client,
    ns: &str,
    name: &str,
    succeeded: bool,
    finished_ago: Duration,
    took: Duration,
) {
    let api: Api<Job> = Api::namespaced(client.clone(), ns);
    let at =
        chrono::Utc::now() - chrono::Duration::from_std(finished_ago).expect("a short duration");
    let ts =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let started = api
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("reading Job {name}: {e}"))
        .status
        .and_then(|s| s.start_time)
        .map(|t| t.0.to_string())
        .unwrap_or_else(|| ts(at - chrono::Duration::from_std(took).expect("a short duration")));
    let cond = |type_: &str| {
        serde_json::json!({
            "type": type_, "status": "True", "reason": "Test", "message": "set by the test",
            "lastProbeTime": ts(at), "lastTransitionTime": ts(at),
        })
    };
    let status = if succeeded {
        serde_json::json!({
            "startTime": started, "completionTime": ts(at), "succeeded": 1, "active": 0, "ready": 0,
            "terminating": 0, "uncountedTerminatedPods": {},
            "conditions": [cond("SuccessCriteriaMet"), cond("Complete")],
        })
    } else {
        serde_json::json!({
            "startTime": started, "failed": 1, "active": 0, "ready": 0, "terminating": 0,
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
