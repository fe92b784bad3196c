//! The whole deletion path of a Cluster, run in the finalizer's Cleanup arm ([`clean_up`]): suspend its
//! CronJob, stop the continuous-backup follower, wait for running backups, run the cleanup Job to success (retrying with backoff), remove the
//! objects we created, and only then let the finalizer go. Each step is decided by [`plan::step`] and
//! [`plan::for_step`] (pure) and applied here by one executor.

pub mod plan;
#[cfg(test)]
mod write_order;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};

use super::conditions::{remove_condition, set_condition};
use super::jobs::{has_active_pods, job_phase, JobPhase, ATTEMPT_ANNOTATION};
use super::outcome::Outcome;
use super::writes::{delete_if_present, patch_status, publish};
use super::{now_rfc3339, Context, Error, FIELD_MANAGER};
use crate::config::Config;
use crate::crd::Cluster;
use crate::{naming, template};
use plan::{
    CleanupAction, CleanupOutcome, CleanupPlan, CleanupStep, CLEANUP_FAILED, CLEANUP_PENDING,
    CLEANUP_SUCCEEDED,
};

/// Why the finalizer's Cleanup arm stops short of removing the finalizer. `finalizer()` removes it
/// whenever the arm returns Ok, so a cleanup still under way is returned as an error too.
#[derive(Debug, thiserror::Error)]
pub(super) enum Unfinished {
    #[error(transparent)]
    Failed(#[from] Error),
    /// The cleanup is under way (or waits for a backup Job); not a failure.
    #[error("the cleanup of the Cluster is under way")]
    Pending(Outcome),
}

/// The finalizer's Cleanup arm: drives the cleanup one step, and once it is done removes what we created.
/// Ok means the finalizer may go.
pub(super) async fn clean_up(cluster: &Cluster, ctx: &Context) -> Result<Outcome, Unfinished> {
    if let Some(pending) = cleanup_progress(cluster, ctx).await? {
        return Err(Unfinished::Pending(pending));
    }
    Ok(finish_cleanup(cluster, ctx).await?)
}

/// Where the cleanup of one Cluster happens.
struct Target<'a> {
    cluster: &'a Cluster,
    name: String,
    ns: String,
    jobs: Api<Job>,
    job_name: String,
}

impl Target<'_> {
    fn job_ref(&self) -> String {
        format!("{}/{}", self.ns, self.job_name)
    }
}

/// Drives a deleted Cluster's cleanup. `None`: the cleanup is done (or was never needed) and the
/// finalizer may go; `Some(outcome)`: not yet.
async fn cleanup_progress(cluster: &Cluster, ctx: &Context) -> Result<Option<Outcome>, Error> {
    let config = ctx.config();
    let ns = config.job_namespace().to_string();
    let name = cluster.name_any();
    let t = Target {
        cluster,
        jobs: Api::namespaced(ctx.client.clone(), &ns),
        job_name: naming::cleanup_job_name(&name),
        name,
        ns,
    };
    let had_backup = suspend_backups(&t, ctx).await?;
    if cleanup_recorded(cluster) {
        return Ok(None);
    }
    if super::continuous::may_have_follower(cluster, &config) {
        if let Some(pending) = stop_follower(&t, ctx).await? {
            return Ok(Some(pending));
        }
    }
    let live_job = t
        .jobs
        .get_opt(&t.job_name)
        .await
        .map_err(|e| Error::kube(format!("read the cleanup Job {}", t.job_ref()), e))?;
    if let Some(job) = &live_job {
        if let Some(action) = not_ours_yet(&t, job).await? {
            return Ok(Some(action));
        }
    }
    let phase = live_job.as_ref().map(|j| job_phase(j, Timestamp::now()));
    let step = plan::step(had_backup, phase.as_ref());
    let running = match step {
        CleanupStep::CreateJob => settle_backup_jobs(&t).await?,
        _ => Vec::new(),
    };
    let failed_attempt = match phase {
        Some(JobPhase::Failed { attempt, .. }) => attempt,
        _ => 1,
    };
    let plan = plan::for_step(&step, &t.job_ref(), &running, failed_attempt);
    execute(&t, &config, plan, ctx).await
}

/// Suspends the CronJob (no new backup may start while the bucket is being emptied) and records what is
/// left in the metrics. True when the Cluster ever had a backup CronJob.
async fn suspend_backups(t: &Target<'_>, ctx: &Context) -> Result<bool, Error> {
    let cron_jobs: Api<CronJob> = Api::namespaced(ctx.client.clone(), &t.ns);
    let cj_name = naming::cron_job_name(&t.name);
    let live_cj = cron_jobs
        .get_opt(&cj_name)
        .await
        .map_err(|e| Error::kube(format!("read CronJob {}/{cj_name}", t.ns), e))?;
    let had_backup = t
        .cluster
        .status
        .as_ref()
        .is_some_and(|s| s.cron_job_name.is_some())
        || live_cj.is_some();
    ctx.metrics.update_cluster(&t.name, |s| {
        s.cronjob_present = live_cj.is_some();
        s.deletion_timestamp_seconds = deletion_seconds(t.cluster);
    });
    let suspended = |cj: &CronJob| cj.spec.as_ref().and_then(|s| s.suspend).unwrap_or(false);
    if live_cj.as_ref().is_some_and(|cj| !suspended(cj)) {
        cron_jobs
            .patch(
                &cj_name,
                &PatchParams::apply(FIELD_MANAGER),
                &Patch::Merge(serde_json::json!({ "spec": { "suspend": true } })),
            )
            .await
            .map_err(|e| Error::kube(format!("suspend CronJob {}/{cj_name}", t.ns), e))?;
    }
    Ok(had_backup)
}

/// Before the bucket is emptied, the follower must be gone: it would write segments after the cleanup.
/// Scaled to zero first (its pod stores what it holds on SIGTERM), deleted once no pod is left.
async fn stop_follower(t: &Target<'_>, ctx: &Context) -> Result<Option<Outcome>, Error> {
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &t.ns);
    let name = naming::follower_name(&t.name);
    let live = deployments
        .get_opt(&name)
        .await
        .map_err(|e| Error::kube(format!("read the follower Deployment {}/{name}", t.ns), e))?;
    let wait = |note: &str| Outcome::new(Action::requeue(Duration::from_secs(2)), note);
    match live.as_ref().map(plan::follower_phase) {
        None => Ok(None),
        Some(plan::FollowerPhase::Running) => {
            deployments
                .patch(
                    &name,
                    &PatchParams::apply(FIELD_MANAGER),
                    &Patch::Merge(serde_json::json!({ "spec": { "replicas": 0 } })),
                )
                .await
                .map_err(|e| Error::kube(format!("stop the follower {}/{name}", t.ns), e))?;
            Ok(Some(wait("stopping the follower before the cleanup")))
        }
        Some(plan::FollowerPhase::Stopping) => {
            Ok(Some(wait("waiting for the follower's pod to stop")))
        }
        Some(plan::FollowerPhase::Stopped) => {
            delete_if_present(&deployments, &name, "the follower Deployment").await?;
            Ok(None)
        }
    }
}

/// A cleanup Job on its way out, or one left (for its logs) by an earlier Cluster of the same name, is not
/// judged: wait for it to go, or delete it, and look again.
async fn not_ours_yet(t: &Target<'_>, job: &Job) -> Result<Option<Outcome>, Error> {
    if job.metadata.deletion_timestamp.is_some() {
        return Ok(Some(Outcome::silent(Action::requeue(Duration::from_secs(
            2,
        )))));
    }
    let job_uid = job.annotations().get(template::CLUSTER_UID_ANNOTATION);
    if job_uid.is_some() && job_uid != t.cluster.meta().uid.as_ref() {
        delete_if_present(&t.jobs, &t.job_name, "the stale cleanup Job").await?;
        return Ok(Some(Outcome::silent(Action::requeue(Duration::from_secs(
            1,
        )))));
    }
    Ok(None)
}

/// Before the first cleanup Job: the CronJob is suspended, so no backup Job starts anew. Jobs with pods are
/// waited for (activeDeadlineSeconds bounds them); Jobs without pods have uploaded nothing and are deleted,
/// so they never start and never block. Returns the ones still running.
async fn settle_backup_jobs(t: &Target<'_>) -> Result<Vec<String>, Error> {
    let selector = template::component_selector(&t.name, "backup");
    let list = t
        .jobs
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| Error::kube(format!("list the backup Jobs of Cluster {}", t.name), e))?;
    let now = Timestamp::now();
    let (running, idle): (Vec<&Job>, Vec<&Job>) = list
        .items
        .iter()
        .filter(|j| j.name_any() != t.job_name && j.metadata.deletion_timestamp.is_none())
        .filter(|j| job_phase(j, now) == JobPhase::Running)
        .partition(|j| has_active_pods(j));
    for job in idle {
        delete_if_present(&t.jobs, &job.name_any(), "the not yet running backup Job").await?;
    }
    Ok(running.iter().map(|j| j.name_any()).collect())
}

/// Applies a plan: its writes, then the status and the Event; returns its outcome and note.
async fn execute(
    t: &Target<'_>,
    config: &Config,
    plan: CleanupPlan,
    ctx: &Context,
) -> Result<Option<Outcome>, Error> {
    for action in &plan.actions {
        match action {
            CleanupAction::DeleteFailedJob => {
                delete_if_present(&t.jobs, &t.job_name, "the failed cleanup Job").await?
            }
            CleanupAction::CreateJob { attempt } => {
                create_cleanup_job(t.cluster, config, &t.jobs, *attempt).await?
            }
        }
    }
    let mut wrote = false;
    if plan.touches_status() {
        let mut status = t.cluster.status.clone().unwrap_or_default();
        if let Some(c) = &plan.condition {
            let generation = t.cluster.meta().generation;
            let now = now_rfc3339();
            let conditions = &mut status.conditions;
            set_condition(
                conditions, c.type_, c.status, c.reason, &c.message, generation, &now,
            );
        }
        if plan.clear_failed {
            remove_condition(&mut status.conditions, CLEANUP_FAILED);
        }
        wrote = patch_status(t.cluster, status, ctx).await?;
    }
    if let Some(e) = plan.event.filter(|e| wrote || !e.only_if_status_changed) {
        let type_ = if e.warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        publish(ctx, t.cluster, type_, e.reason, &e.message).await;
    }
    match plan.outcome {
        CleanupOutcome::Done => Ok(None),
        CleanupOutcome::Requeue(after) => Ok(Some(Outcome {
            action: Action::requeue(after),
            note: plan.note,
        })),
        CleanupOutcome::Failed { attempt, retry_in } => Err(Error::CleanupJobFailed {
            job: t.job_ref(),
            attempt,
            retry_in,
        }),
    }
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

async fn create_cleanup_job(
    cluster: &Cluster,
    config: &Config,
    jobs: &Api<Job>,
    attempt: u32,
) -> Result<(), Error> {
    let name = cluster.name_any();
    let mut job = template::render_cleanup_job(cluster, config).map_err(Error::from)?;
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

/// The cleanup is done: remove what we created. The finalizer goes only when this returns Ok.
async fn finish_cleanup(cluster: &Cluster, ctx: &Context) -> Result<Outcome, Error> {
    let name = cluster.name_any();
    let config = ctx.config();
    let ns = config.job_namespace();
    let cron_jobs: Api<CronJob> = Api::namespaced(ctx.client.clone(), ns);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    delete_if_present(&cron_jobs, &naming::cron_job_name(&name), "CronJob").await?;
    let verify = naming::verify_cron_job_name(&name);
    delete_if_present(&cron_jobs, &verify, "the verification CronJob").await?;
    delete_if_present(&secrets, &naming::tls_secret_name(&name), "Secret").await?;
    if super::continuous::may_have_follower(cluster, &config) {
        let leases: Api<Lease> = Api::namespaced(ctx.client.clone(), ns);
        let lease = naming::follower_name(&name);
        delete_if_present(&leases, &lease, "the follower's Lease").await?;
    }
    ctx.metrics.forget_cluster(&name);
    Ok(Outcome::new(
        Action::await_change(),
        "cleanup done, finalizer removed",
    ))
}
