//! One reconcile of one Cluster: apply its mirrored TLS Secret and backup CronJob (no write when nothing
//! changed), or, once it is deleted, run the cleanup Job to success before the finalizer goes.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::finalizer::{self, finalizer};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::decide::{
    self, cleanup_step, set_condition, CleanupStep, JobPhase, BACKUP_SCHEDULED, CLEANUP_FAILED,
    CLEANUP_PENDING,
};
use super::Error;
use crate::config::Config;
use crate::crd::{Cluster, ClusterStatus};
use crate::metrics::Metrics;
use crate::{schedule, template};

pub const FINALIZER: &str = "etcdbak.io/cleanup";
pub const FIELD_MANAGER: &str = "etcdbak";
/// On the cleanup Job: which try this is, so the backoff survives a controller restart.
pub const ATTEMPT_ANNOTATION: &str = "etcdbak.io/cleanup-attempt";
/// Reason of the CleanupPending condition once the cleanup Job succeeded. Stored before anything is
/// deleted, so a restart after this point finishes the deletion instead of running the cleanup again.
pub const CLEANUP_SUCCEEDED: &str = "CleanupSucceeded";

/// How often a running cleanup Job is looked at even without a watch event.
const CLEANUP_POLL: Duration = Duration::from_secs(30);

pub struct Context {
    pub client: Client,
    config: RwLock<Arc<Config>>,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    /// Requeue interval after a successful reconcile (the idle resync).
    pub resync: Duration,
    failures: Mutex<HashMap<String, u32>>,
    /// The last thing each reconcile did, for `etcdbak reconcile`'s table.
    notes: Mutex<HashMap<String, String>>,
}

impl Context {
    pub fn new(
        client: Client,
        config: Config,
        recorder: Recorder,
        metrics: Arc<Metrics>,
        resync: Duration,
    ) -> Context {
        Context {
            client,
            config: RwLock::new(Arc::new(config)),
            recorder,
            metrics,
            resync,
            failures: Mutex::new(HashMap::new()),
            notes: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_config(&self, config: Config) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
    }

    pub fn note(&self, cluster: &str) -> Option<String> {
        self.notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(cluster)
            .cloned()
    }

    fn set_note(&self, cluster: &str, note: impl Into<String>) {
        self.notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cluster.to_string(), note.into());
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The reconciler the Controller (and `etcdbak reconcile`) runs for each Cluster.
pub async fn reconcile(cluster: Arc<Cluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let start = Instant::now();
    let name = cluster.name_any();
    let result = reconcile_inner(cluster, &ctx).await;
    ctx.metrics.reconciled(
        start.elapsed().as_secs_f64(),
        result.as_ref().err().map(Error::reason),
    );
    match &result {
        Ok(_) => {
            ctx.failures().remove(&name);
        }
        Err(e) => {
            ctx.set_note(&name, e.to_string());
            tracing::warn!(cluster = %name, "{e}");
        }
    }
    result
}

/// Requeue with a per-Cluster growing backoff; a failed cleanup Job says itself when to look again.
pub fn error_policy(cluster: Arc<Cluster>, error: &Error, ctx: Arc<Context>) -> Action {
    if let Error::CleanupJobFailed { retry_in, .. } = error {
        return Action::requeue(*retry_in);
    }
    let mut failures = ctx.failures();
    let n = failures.entry(cluster.name_any()).or_insert(0);
    *n = n.saturating_add(1);
    Action::requeue(decide::error_backoff(*n))
}

async fn reconcile_inner(cluster: Arc<Cluster>, ctx: &Context) -> Result<Action, Error> {
    let api: Api<Cluster> = Api::all(ctx.client.clone());
    let name = cluster.name_any();
    if cluster.meta().deletion_timestamp.is_some() {
        if !cluster.finalizers().iter().any(|f| f == FINALIZER) {
            ctx.metrics.forget_cluster(&name);
            return Ok(Action::await_change());
        }
        if let Some(action) = cleanup_progress(&cluster, ctx).await? {
            return Ok(action);
        }
    }
    let result = finalizer(&api, FINALIZER, cluster, |event| async move {
        match event {
            finalizer::Event::Apply(c) => apply(&c, ctx).await,
            finalizer::Event::Cleanup(c) => finish_cleanup(&c, ctx).await,
        }
    })
    .await;
    match result {
        Ok(action) => Ok(action),
        Err(finalizer::Error::ApplyFailed(e)) | Err(finalizer::Error::CleanupFailed(e)) => Err(e),
        Err(finalizer::Error::AddFinalizer(source)) => Err(Error::kube(
            format!("add the finalizer {FINALIZER} to Cluster {name}"),
            source,
        )),
        Err(finalizer::Error::RemoveFinalizer(source)) => Err(Error::kube(
            format!("remove the finalizer {FINALIZER} from Cluster {name}"),
            source,
        )),
        Err(other) => Err(Error::Finalizer(other.to_string())),
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Reads the Cluster's TLS Secret (if it names one) from its own namespace.
async fn source_tls(cluster: &Cluster, ctx: &Context) -> Result<Option<Secret>, Error> {
    let Some(secret) = cluster.spec.tls_secret.as_deref() else {
        return Ok(None);
    };
    let ns = &cluster.spec.namespace;
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    // Not found is Ok(None): rendering turns it into a condition that names the Secret.
    api.get_opt(secret)
        .await
        .map_err(|source| Error::kube(format!("read the TLS Secret {ns}/{secret}"), source))
}

/// Renders what the Cluster should have; bad input becomes [`Error::Invalid`].
pub async fn desired(
    cluster: &Cluster,
    config: &Config,
    ctx: &Context,
) -> Result<template::Desired, Error> {
    let tls = source_tls(cluster, ctx).await?;
    template::render_backup(cluster, tls.as_ref(), config).map_err(|e| Error::Invalid {
        reason: e.reason(),
        message: e.to_string(),
    })
}

fn hash_of<K: Resource>(obj: &K) -> Option<&String> {
    obj.meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(template::HASH_ANNOTATION))
}

/// True when `live` already is what we would apply: same spec hash and owned by this Cluster (a Cluster
/// re-created under the same name has a new uid).
pub fn up_to_date<K: Resource>(live: &K, desired: &K) -> bool {
    let (Some(have), Some(want)) = (hash_of(live), hash_of(desired)) else {
        return false;
    };
    let owners = |o: &K| {
        o.meta()
            .owner_references
            .as_ref()
            .map(|refs| refs.iter().map(|r| r.uid.clone()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    have == want && owners(live) == owners(desired)
}

/// What [`apply_if_changed`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Applied {
    Unchanged,
    Created,
    Updated,
}

/// Server-side applies `desired` unless the live object already matches.
async fn apply_if_changed<K>(api: &Api<K>, desired: &K, what: &str) -> Result<Applied, Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    let name = desired.name_any();
    let live = api
        .get_opt(&name)
        .await
        .map_err(|e| Error::kube(format!("read {what} {name}"), e))?;
    let outcome = match &live {
        Some(l) if up_to_date(l, desired) => return Ok(Applied::Unchanged),
        Some(l) => {
            tracing::debug!(
                "{what} {name} differs (hash {:?} -> {:?}): applying",
                hash_of(l),
                hash_of(desired)
            );
            Applied::Updated
        }
        None => Applied::Created,
    };
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(desired),
    )
    .await
    .map_err(|e| Error::kube(format!("apply {what} {name}"), e))?;
    Ok(outcome)
}

/// Writes `status` only when it differs from what the Cluster has.
async fn patch_status(
    cluster: &Cluster,
    status: ClusterStatus,
    ctx: &Context,
) -> Result<bool, Error> {
    if cluster.status.as_ref() == Some(&status) {
        return Ok(false);
    }
    let mut value = serde_json::to_value(&status).map_err(|e| Error::Status(e.to_string()))?;
    // A merge patch only clears what it names as null.
    if let Some(map) = value.as_object_mut() {
        for key in ["observedGeneration", "cronJobName", "schedule", "lastError"] {
            map.entry(key).or_insert(serde_json::Value::Null);
        }
    }
    let api: Api<Cluster> = Api::all(ctx.client.clone());
    let name = cluster.name_any();
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": value })),
    )
    .await
    .map_err(|e| Error::kube(format!("update the status of Cluster {name}"), e))?;
    Ok(true)
}

/// [`patch_status`] for the apply path, skipping the write when our copy of the Cluster is out of date: a
/// reconcile triggered by a CronJob event can run before the Cluster's own last status update reached the
/// cache. A newer Cluster means its watch event is queued and that reconcile decides, with the real status.
async fn patch_status_unless_stale(
    cluster: &Cluster,
    status: ClusterStatus,
    ctx: &Context,
) -> Result<bool, Error> {
    if cluster.status.as_ref() == Some(&status) {
        return Ok(false);
    }
    let api: Api<Cluster> = Api::all(ctx.client.clone());
    let name = cluster.name_any();
    let fresh = api
        .get_opt(&name)
        .await
        .map_err(|e| Error::kube(format!("read Cluster {name}"), e))?;
    if let Some(fresh) = fresh {
        if fresh.metadata.resource_version != cluster.metadata.resource_version {
            tracing::debug!(cluster = %name, "newer Cluster in the apiserver; its reconcile writes the status");
            return Ok(false);
        }
    }
    patch_status(cluster, status, ctx).await
}

async fn publish(ctx: &Context, cluster: &Cluster, type_: EventType, reason: &str, note: &str) {
    let event = Event {
        type_,
        reason: reason.to_string(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &cluster.object_ref(&())).await {
        // An Event is a courtesy: the condition already carries the same sentence.
        tracing::warn!(cluster = %cluster.name_any(), "cannot publish an Event: {e}");
    }
}

fn job_namespace(config: &Config) -> String {
    config.job_namespace().to_string()
}

async fn apply(cluster: &Cluster, ctx: &Context) -> Result<Action, Error> {
    let name = cluster.name_any();
    let config = ctx.config();
    let ns = job_namespace(&config);
    let cron_jobs: Api<CronJob> = Api::namespaced(ctx.client.clone(), &ns);
    let now = now_rfc3339();
    let generation = cluster.meta().generation;
    let mut status = cluster.status.clone().unwrap_or_default();
    status.observed_generation = generation;

    let desired = match desired(cluster, &config, ctx).await {
        Ok(d) => d,
        Err(Error::Invalid { reason, message }) => {
            // The last good CronJob (if any) stays: a typo must not stop backups that worked.
            let present = cron_jobs
                .get_opt(&template::cron_job_name(&name))
                .await
                .map_err(|e| Error::kube(format!("read the CronJob of Cluster {name}"), e))?
                .is_some();
            let message = if present {
                format!("{message} (the CronJob keeps its last valid settings)")
            } else {
                message
            };
            set_condition(
                &mut status.conditions,
                BACKUP_SCHEDULED,
                false,
                reason,
                &message,
                generation,
                &now,
            );
            status.last_error = Some(message.clone());
            if patch_status_unless_stale(cluster, status, ctx).await? {
                publish(ctx, cluster, EventType::Warning, reason, &message).await;
            }
            ctx.metrics.update_cluster(&name, |s| {
                s.cronjob_present = present;
                s.suspended = cluster.spec.suspend.unwrap_or(false);
                s.deletion_timestamp_seconds = None;
            });
            return Err(Error::Invalid { reason, message });
        }
        Err(e) => return Err(e),
    };

    let mut wrote = Vec::new();
    if let Some(secret) = &desired.tls_secret {
        let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
        if apply_if_changed(&api, secret, "Secret").await? != Applied::Unchanged {
            wrote.push("Secret");
        }
    }
    let cj_name = desired.cron_job.name_any();
    let applied = apply_if_changed(&cron_jobs, &desired.cron_job, "CronJob").await?;
    if applied != Applied::Unchanged {
        wrote.push("CronJob");
    }

    let suspended = desired
        .cron_job
        .spec
        .as_ref()
        .and_then(|s| s.suspend)
        .unwrap_or(false);
    let message = if suspended {
        format!("backups are suspended (spec.suspend); CronJob {ns}/{cj_name} is kept")
    } else {
        format!("CronJob {ns}/{cj_name} runs on \"{}\"", desired.schedule)
    };
    set_condition(
        &mut status.conditions,
        BACKUP_SCHEDULED,
        !suspended,
        if suspended { "Suspended" } else { "Scheduled" },
        &message,
        generation,
        &now,
    );
    status.cron_job_name = Some(format!("{ns}/{cj_name}"));
    status.schedule = Some(desired.schedule.clone());
    status.last_error = None;
    if patch_status_unless_stale(cluster, status, ctx).await? {
        wrote.push("status");
    }
    // Decided by what the apiserver had, not by our (possibly stale) copy of the status: one Event per
    // CronJob actually created.
    if applied == Applied::Created {
        publish(ctx, cluster, EventType::Normal, "CronJobCreated", &message).await;
    }
    let interval = schedule::max_interval(&desired.schedule)
        .ok()
        .map(|d| d.as_secs_f64());
    ctx.metrics.update_cluster(&name, |s| {
        s.cronjob_present = true;
        s.backup_interval_seconds = interval;
        s.suspended = suspended;
        s.deletion_timestamp_seconds = None;
    });
    ctx.set_note(
        &name,
        if wrote.is_empty() {
            "up to date".to_string()
        } else {
            format!("applied {}", wrote.join(", "))
        },
    );
    Ok(Action::requeue(ctx.resync))
}

fn job_phase(job: &Job) -> JobPhase {
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let is = |t: &str| {
        conditions
            .iter()
            .any(|c| c.type_ == t && c.status == "True")
    };
    if is("Complete") || is("SuccessCriteriaMet") {
        return JobPhase::Succeeded;
    }
    if let Some(failed) = conditions
        .iter()
        .find(|c| (c.type_ == "Failed" || c.type_ == "FailureTarget") && c.status == "True")
    {
        let attempt = job
            .annotations()
            .get(ATTEMPT_ANNOTATION)
            .and_then(|a| a.parse().ok())
            .unwrap_or(1);
        let seconds_ago = failed
            .last_transition_time
            .as_ref()
            .map(|t| {
                let ago = k8s_openapi::jiff::Timestamp::now().duration_since(t.0);
                ago.as_secs().max(0) as u64
            })
            .unwrap_or(0);
        return JobPhase::Failed {
            attempt,
            seconds_ago,
        };
    }
    JobPhase::Running
}

fn cleanup_recorded(cluster: &Cluster) -> bool {
    cluster.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == CLEANUP_PENDING && c.reason == CLEANUP_SUCCEEDED)
    })
}

fn deletion_seconds(cluster: &Cluster) -> Option<f64> {
    cluster
        .meta()
        .deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_second() as f64)
}

/// Drives a deleted Cluster's cleanup. `None`: the cleanup is done (or was never needed) and the
/// finalizer may go; `Some(action)`: not yet.
async fn cleanup_progress(cluster: &Cluster, ctx: &Context) -> Result<Option<Action>, Error> {
    let name = cluster.name_any();
    let config = ctx.config();
    let ns = job_namespace(&config);
    let cron_jobs: Api<CronJob> = Api::namespaced(ctx.client.clone(), &ns);
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let cj_name = template::cron_job_name(&name);
    let job_name = template::cleanup_job_name(&name);

    let live_cj = cron_jobs
        .get_opt(&cj_name)
        .await
        .map_err(|e| Error::kube(format!("read CronJob {ns}/{cj_name}"), e))?;
    let had_backup = cluster
        .status
        .as_ref()
        .is_some_and(|s| s.cron_job_name.is_some())
        || live_cj.is_some();
    ctx.metrics.update_cluster(&name, |s| {
        s.cronjob_present = live_cj.is_some();
        s.deletion_timestamp_seconds = deletion_seconds(cluster);
    });
    // No new backup may start while the bucket is being emptied.
    if let Some(cj) = &live_cj {
        let suspended = cj.spec.as_ref().and_then(|s| s.suspend).unwrap_or(false);
        if !suspended {
            cron_jobs
                .patch(
                    &cj_name,
                    &PatchParams::apply(FIELD_MANAGER),
                    &Patch::Merge(serde_json::json!({ "spec": { "suspend": true } })),
                )
                .await
                .map_err(|e| Error::kube(format!("suspend CronJob {ns}/{cj_name}"), e))?;
        }
    }
    if cleanup_recorded(cluster) {
        return Ok(None);
    }
    let live_job = jobs
        .get_opt(&job_name)
        .await
        .map_err(|e| Error::kube(format!("read the cleanup Job {ns}/{job_name}"), e))?;
    if let Some(job) = &live_job {
        // Someone deletes it; wait until it is gone rather than judge a Job on its way out.
        if job.metadata.deletion_timestamp.is_some() {
            return Ok(Some(Action::requeue(Duration::from_secs(2))));
        }
        // A cleanup Job left (for its logs) by an earlier Cluster of the same name is not ours.
        let job_uid = job.annotations().get(template::CLUSTER_UID_ANNOTATION);
        if job_uid.is_some() && job_uid != cluster.meta().uid.as_ref() {
            delete_if_present(&jobs, &job_name, "the stale cleanup Job").await?;
            return Ok(Some(Action::requeue(Duration::from_secs(1))));
        }
    }
    let phase = live_job.as_ref().map(job_phase);
    let now = now_rfc3339();
    let generation = cluster.meta().generation;
    let mut status = cluster.status.clone().unwrap_or_default();

    match cleanup_step(had_backup, phase.as_ref()) {
        CleanupStep::NothingToClean => {
            ctx.set_note(&name, "deleted (never had a backup CronJob)");
            Ok(None)
        }
        CleanupStep::Finish => {
            set_condition(
                &mut status.conditions,
                CLEANUP_PENDING,
                false,
                CLEANUP_SUCCEEDED,
                &format!("the cleanup Job {ns}/{job_name} succeeded"),
                generation,
                &now,
            );
            decide::remove_condition(&mut status.conditions, CLEANUP_FAILED);
            patch_status(cluster, status, ctx).await?;
            publish(
                ctx,
                cluster,
                EventType::Normal,
                CLEANUP_SUCCEEDED,
                &format!("the cleanup Job {ns}/{job_name} succeeded; removing the finalizer"),
            )
            .await;
            Ok(None)
        }
        CleanupStep::CreateJob => {
            // A backup Job still running would upload after the cleanup emptied the bucket, leaving a
            // backup of a Cluster that no longer exists. The CronJob is suspended now, so none starts
            // anew. Jobs with pods are waited for (activeDeadlineSeconds bounds them); Jobs without
            // pods have uploaded nothing and are deleted, so they never start and never block.
            let (running, idle) = unfinished_backup_jobs(&jobs, &name, &job_name).await?;
            for job in &idle {
                delete_if_present(&jobs, job, "the not yet running backup Job").await?;
            }
            if !running.is_empty() {
                let message = format!(
                    "waiting for backup Job {} in {ns} to finish before deleting the backups",
                    running.join(", ")
                );
                set_condition(
                    &mut status.conditions,
                    CLEANUP_PENDING,
                    true,
                    "WaitingForBackupJob",
                    &message,
                    generation,
                    &now,
                );
                patch_status(cluster, status, ctx).await?;
                ctx.set_note(&name, message);
                return Ok(Some(Action::requeue(Duration::from_secs(10))));
            }
            create_cleanup_job(cluster, &config, &jobs, 1).await?;
            let message = format!("the cleanup Job {ns}/{job_name} runs (attempt 1)");
            set_condition(
                &mut status.conditions,
                CLEANUP_PENDING,
                true,
                "CleanupRunning",
                &message,
                generation,
                &now,
            );
            patch_status(cluster, status, ctx).await?;
            publish(ctx, cluster, EventType::Normal, "CleanupStarted", &message).await;
            ctx.set_note(&name, format!("cleanup Job {ns}/{job_name} created"));
            Ok(Some(Action::requeue(CLEANUP_POLL)))
        }
        CleanupStep::Wait => {
            ctx.set_note(&name, format!("cleanup Job {ns}/{job_name} running"));
            Ok(Some(Action::requeue(CLEANUP_POLL)))
        }
        CleanupStep::Retry { next_attempt } => {
            // The failed Job goes first, so there are never two cleanups at once.
            match jobs
                .delete(
                    &job_name,
                    &DeleteParams {
                        propagation_policy: Some(PropagationPolicy::Background),
                        ..Default::default()
                    },
                )
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => {
                    return Err(Error::kube(
                        format!("delete the failed cleanup Job {ns}/{job_name}"),
                        e,
                    ))
                }
            }
            create_cleanup_job(cluster, &config, &jobs, next_attempt).await?;
            let message =
                format!("the cleanup Job {ns}/{job_name} runs again (attempt {next_attempt})");
            set_condition(
                &mut status.conditions,
                CLEANUP_PENDING,
                true,
                "CleanupRunning",
                &message,
                generation,
                &now,
            );
            patch_status(cluster, status, ctx).await?;
            publish(ctx, cluster, EventType::Normal, "CleanupRetried", &message).await;
            ctx.set_note(&name, message);
            Ok(Some(Action::requeue(CLEANUP_POLL)))
        }
        CleanupStep::BackoffFor(retry_in) => {
            let attempt = match phase {
                Some(JobPhase::Failed { attempt, .. }) => attempt,
                _ => 1,
            };
            let message = format!(
                "the cleanup Job {ns}/{job_name} failed (attempt {attempt}) and is retried with backoff; the Cluster's backups are kept until it succeeds: see kubectl -n {ns} logs job/{job_name}"
            );
            set_condition(
                &mut status.conditions,
                CLEANUP_FAILED,
                true,
                "CleanupJobFailed",
                &message,
                generation,
                &now,
            );
            if patch_status(cluster, status, ctx).await? {
                publish(
                    ctx,
                    cluster,
                    EventType::Warning,
                    "CleanupJobFailed",
                    &message,
                )
                .await;
            }
            Err(Error::CleanupJobFailed {
                job: format!("{ns}/{job_name}"),
                attempt,
                retry_in,
            })
        }
    }
}

/// The Cluster's unfinished backup Jobs (made by its CronJob, so carrying its labels): `(with pods, without)`.
async fn unfinished_backup_jobs(
    jobs: &Api<Job>,
    cluster: &str,
    cleanup_job: &str,
) -> Result<(Vec<String>, Vec<String>), Error> {
    let selector = format!(
        "{},{}=backup",
        template::cluster_selector(cluster),
        template::LABEL_COMPONENT
    );
    let list = jobs
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| Error::kube(format!("list the backup Jobs of Cluster {cluster}"), e))?;
    let (with_pods, without): (Vec<&Job>, Vec<&Job>) = list
        .items
        .iter()
        .filter(|j| j.name_any() != cleanup_job && j.metadata.deletion_timestamp.is_none())
        .filter(|j| job_phase(j) == JobPhase::Running)
        .partition(|j| j.status.as_ref().and_then(|s| s.active).unwrap_or(0) > 0);
    let names = |js: Vec<&Job>| js.iter().map(|j| j.name_any()).collect::<Vec<_>>();
    Ok((names(with_pods), names(without)))
}

async fn create_cleanup_job(
    cluster: &Cluster,
    config: &Config,
    jobs: &Api<Job>,
    attempt: u32,
) -> Result<(), Error> {
    let name = cluster.name_any();
    let mut job = template::render_cleanup_job(cluster, config).map_err(|e| Error::Invalid {
        reason: e.reason(),
        message: e.to_string(),
    })?;
    job.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(ATTEMPT_ANNOTATION.to_string(), attempt.to_string());
    // Not owned by the Cluster: a foreground deletion would have the garbage collector delete the cleanup
    // Job while it runs, and its logs should outlive the Cluster (ttlSecondsAfterFinished removes it).
    job.metadata.owner_references = None;
    let job_name = job.name_any();
    match jobs.create(&PostParams::default(), &job).await {
        Ok(_) => Ok(()),
        // Deterministic name: a Job that already exists is this cleanup, created before a restart.
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(Error::kube(
            format!("create the cleanup Job {job_name} for Cluster {name}"),
            e,
        )),
    }
}

async fn delete_if_present<K>(api: &Api<K>, name: &str, what: &str) -> Result<(), Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::kube(format!("delete {what} {name}"), e)),
    }
}

/// The cleanup is done: remove what we created. Runs inside the finalizer helper, which removes the
/// finalizer only when this returns Ok.
async fn finish_cleanup(cluster: &Cluster, ctx: &Context) -> Result<Action, Error> {
    let name = cluster.name_any();
    let config = ctx.config();
    let ns = job_namespace(&config);
    let cron_jobs: Api<CronJob> = Api::namespaced(ctx.client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    delete_if_present(&cron_jobs, &template::cron_job_name(&name), "CronJob").await?;
    delete_if_present(&secrets, &template::tls_secret_name(&name), "Secret").await?;
    ctx.metrics.forget_cluster(&name);
    ctx.set_note(&name, "cleanup done, finalizer removed");
    Ok(Action::await_change())
}
