//! The controller's tests against the kube-apiserver rig (tests/controller/): the controller config they
//! use, Clusters created, edited and purged, one reconcile run in-process, and what it rendered read back.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use etcdbak::config::Config;
use etcdbak::controller::{reconcile, Context, Error};
use etcdbak::crd::Cluster;
use etcdbak::metrics::Metrics;
use etcdbak::naming;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};
use kube::{Client, ResourceExt};

use super::kube::create_namespace;

/// Where the controller under test renders its CronJobs, Jobs and mirrored Secrets.
pub const JOB_NS: &str = "etcdbak";

/// The controller config the tests start from: `extra` YAML is appended.
pub fn config_yaml(extra: &str) -> String {
    format!(
        "jobNamespace: {JOB_NS}\ndefaultSchedule: \"H/20 * * * *\"\nimage: registry.example/etcdbak:test\ns3: {{endpoint: \"http://minio.etcdbak.svc:9000\", bucket: etcd-backups}}\n{extra}"
    )
}

pub fn test_config(extra: &str) -> Config {
    Config::from_yaml(&config_yaml(extra), None).expect("test config")
}

/// [`config_yaml`] written to `dir/config.yaml`, for `etcdbak watch` and `etcdbak reconcile`.
pub fn config_file(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(&path, config_yaml(extra)).expect("writing the controller config");
    path
}

/// A Cluster of tenant namespace `ns` ([`super::fixtures::cluster`]).
pub fn new_cluster(name: &str, ns: &str) -> Cluster {
    super::fixtures::cluster(name, ns)
}

/// The job namespace, tenant namespace `ns` and its etcd client TLS Secret.
pub async fn tenant(client: &Client, ns: &str) {
    create_namespace(client, JOB_NS).await;
    create_namespace(client, ns).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let secret = super::kube::placeholder_tls_secret();
    match secrets.create(&PostParams::default(), &secret).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("creating the tenant TLS Secret: {e}"),
    }
}

pub fn context(client: &Client, config: Config) -> Arc<Context> {
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

pub async fn reconcile_once(ctx: &Arc<Context>, name: &str) -> Result<Action, Error> {
    let api: Api<Cluster> = Api::all(ctx.client.clone());
    let obj = api.get(name).await.expect("reading the Cluster");
    reconcile(Arc::new(obj), ctx.clone()).await
}

/// A new Cluster needs two reconciles: the first adds the finalizer, the second applies.
pub async fn converge(ctx: &Arc<Context>, name: &str) {
    for _ in 0..2 {
        reconcile_once(ctx, name).await.expect("reconcile");
    }
}

pub async fn create_cluster(client: &Client, cluster: &Cluster) {
    let api: Api<Cluster> = Api::all(client.clone());
    api.create(&PostParams::default(), cluster)
        .await
        .expect("creating the Cluster (schema validation)");
}

pub async fn patch_spec(client: &Client, name: &str, spec: serde_json::Value) {
    let api: Api<Cluster> = Api::all(client.clone());
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "spec": spec })),
    )
    .await
    .expect("patching the Cluster spec");
}

pub async fn delete_cluster(client: &Client, name: &str) {
    let api: Api<Cluster> = Api::all(client.clone());
    api.delete(name, &DeleteParams::default())
        .await
        .expect("deleting the Cluster");
}

/// Test hygiene: drop a Cluster whatever state it is in (finalizer included).
pub async fn purge(client: &Client, name: &str) {
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

pub async fn cron_job(client: &Client, cluster: &str) -> Option<CronJob> {
    let api: Api<CronJob> = Api::namespaced(client.clone(), JOB_NS);
    api.get_opt(&naming::cron_job_name(cluster)).await.unwrap()
}

pub fn store_env(cj: &CronJob, var: &str) -> Option<String> {
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

pub fn condition<'a>(cluster: &'a Cluster, type_: &str) -> Option<&'a etcdbak::crd::Condition> {
    cluster
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
}

pub async fn cleanup_jobs(client: &Client, cluster: &str) -> Vec<Job> {
    let api: Api<Job> = Api::namespaced(client.clone(), JOB_NS);
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|j| j.name_any() == naming::cleanup_job_name(cluster))
        .collect()
}

/// A Job of the job namespace finished ([`super::jobs::finish_job`]).
pub async fn finish_job(client: &Client, name: &str, succeeded: bool, finished_ago: Duration) {
    super::jobs::finish_job(client, JOB_NS, name, succeeded, finished_ago).await;
}

/// The Events about Cluster `cluster` with `reason` (cluster-scoped objects get theirs in "default").
pub async fn events_for(client: &Client, cluster: &str, reason: &str) -> Vec<Event> {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    events
        .list(&ListParams::default())
        .await
        .expect("listing Events")
        .items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(cluster)
                && e.reason.as_deref() == Some(reason)
        })
        .collect()
}
