//! One reconcile of one Cluster: apply its mirrored TLS Secret and backup CronJob (no write when nothing
//! changed), or, once it is deleted, run the cleanup Job to success before the finalizer goes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{self, finalizer};
use kube::{Resource, ResourceExt};

use super::backups::{self, BackupRuns, Finished, BACKUP_FAILED_EVENT};
use super::conditions::{set_condition, BACKUP_SCHEDULED};
use super::continuous;
use super::deletion::{self, Unfinished};
use super::outcome::Outcome;
use super::verification;
use super::writes::{
    apply_if_changed, apply_unless_live, apply_unread, delete_if_present,
    patch_status_unless_stale, publish, read, records_same, Applied,
};
use super::{now_rfc3339, Context, Error};
use crate::config::Config;
use crate::crd::{Cluster, ClusterStatus, Condition};
use crate::{naming, schedule, template};

pub const FINALIZER: &str = "etcdbak.io/cleanup";
pub const FIELD_MANAGER: &str = "etcdbak";

/// The reconciler the Controller runs for each Cluster.
pub async fn reconcile(cluster: Arc<Cluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    reconcile_cluster(cluster, &ctx).await.map(|o| o.action)
}

/// One reconcile, with what it did (`etcdbak reconcile` shows the note).
pub async fn reconcile_cluster(cluster: Arc<Cluster>, ctx: &Context) -> Result<Outcome, Error> {
    let start = Instant::now();
    let name = cluster.name_any();
    let in_flight = ctx.metrics.reconcile_started();
    let result = reconcile_inner(cluster, ctx).await;
    drop(in_flight);
    ctx.metrics.reconciled(
        start.elapsed().as_secs_f64(),
        result.as_ref().err().map(Error::reason),
    );
    match &result {
        Ok(_) => {
            ctx.failures().remove(&name);
        }
        Err(e) => tracing::warn!(cluster = %name, "{e}"),
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
    Action::requeue(error_backoff(*n))
}

/// Requeue delay after `failures` consecutive failed reconciles of one Cluster: 5s doubling to 5m.
pub fn error_backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    Duration::from_secs(5u64 << exp).min(Duration::from_secs(300))
}

/// Under kube's `finalizer()`: a new Cluster first gets the finalizer (and nothing else), a live one is
/// applied, a deleted one is cleaned up in the Cleanup arm ([`deletion::clean_up`]).
async fn reconcile_inner(cluster: Arc<Cluster>, ctx: &Context) -> Result<Outcome, Error> {
    let api: Api<Cluster> = Api::all(ctx.client.clone());
    let name = cluster.name_any();
    let released = !cluster.finalizers().iter().any(|f| f == FINALIZER);
    if cluster.meta().deletion_timestamp.is_some() && released {
        ctx.metrics.forget_cluster(&name);
        return Ok(Outcome::silent(Action::await_change()));
    }
    let mut note = None;
    let note_slot = &mut note;
    let result = finalizer(&api, FINALIZER, cluster, |event| async move {
        let outcome = match event {
            // Boxed: each arm is a deep future, and on a test thread's 2 MiB stack the two side by side
            // overflowed in debug builds.
            finalizer::Event::Apply(c) => Box::pin(apply(&c, ctx)).await?,
            finalizer::Event::Cleanup(c) => Box::pin(deletion::clean_up(&c, ctx)).await?,
        };
        *note_slot = outcome.note;
        Ok::<_, Unfinished>(outcome.action)
    })
    .await;
    match result {
        Ok(action) => Ok(Outcome { action, note }),
        Err(finalizer::Error::ApplyFailed(u)) | Err(finalizer::Error::CleanupFailed(u)) => {
            match u {
                Unfinished::Pending(outcome) => Ok(outcome),
                Unfinished::Failed(e) => Err(e),
            }
        }
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

/// Reads the Cluster's TLS Secret (if it names one) from its own namespace.
async fn source_tls(cluster: &Cluster, ctx: &Context) -> Result<Option<Secret>, Error> {
    let Some(secret) = cluster.spec.tls_secret.as_deref() else {
        return Ok(None);
    };
    let ns = &cluster.spec.namespace;
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    // Not found is Ok(None): rendering turns it into a condition that names the Secret. Read from the
    // watch cache like the CronJobs ([`read`]): a rotation seen a moment late is mirrored at the next
    // reconcile, as one not watched at all is today.
    read(&api, secret, &format!("the TLS Secret (namespace {ns})")).await
}

/// Renders what the Cluster should have; bad input becomes [`Error::Invalid`].
pub async fn desired(
    cluster: &Cluster,
    config: &Config,
    ctx: &Context,
) -> Result<template::Desired, Error> {
    let tls = source_tls(cluster, ctx).await?;
    template::render_backup(cluster, tls.as_ref(), config).map_err(Error::from)
}

/// The BackupScheduled condition for a CronJob that is in place: `(status, reason, message)`.
pub fn scheduled_condition(
    cron_job: &str,
    schedule: &str,
    suspended: bool,
) -> (bool, &'static str, String) {
    if suspended {
        (
            false,
            "Suspended",
            format!("backups are suspended (spec.suspend); CronJob {cron_job} is kept"),
        )
    } else {
        (
            true,
            "Scheduled",
            format!("CronJob {cron_job} runs on \"{schedule}\""),
        )
    }
}

/// The message for a Cluster that cannot be rendered; a CronJob already in place keeps running.
pub fn invalid_message(message: &str, cron_job_present: bool) -> String {
    if cron_job_present {
        format!("{message} (the CronJob keeps its last valid settings)")
    } else {
        message.to_string()
    }
}

/// What `etcdbak reconcile`'s table says a reconcile wrote.
pub fn applied_note(wrote: &[&str]) -> String {
    if wrote.is_empty() {
        "up to date".to_string()
    } else {
        format!("applied {}", wrote.join(", "))
    }
}

async fn apply(cluster: &Cluster, ctx: &Context) -> Result<Outcome, Error> {
    let config = ctx.config();
    match desired(cluster, &config, ctx).await {
        Ok(d) => apply_desired(cluster, &config, d, ctx).await,
        Err(Error::Invalid { reason, message }) => {
            Err(report_invalid(cluster, &config, reason, message, ctx).await?)
        }
        Err(e) => Err(e),
    }
}

/// The Cluster cannot be rendered: say so in its status and an Event. The last good CronJob (if any)
/// stays: a typo must not stop backups that worked. Returns the error the reconcile fails with.
async fn report_invalid(
    cluster: &Cluster,
    config: &Config,
    reason: &'static str,
    message: String,
    ctx: &Context,
) -> Result<Error, Error> {
    let name = cluster.name_any();
    let cron_jobs: Api<CronJob> = Api::namespaced(ctx.client.clone(), config.job_namespace());
    let present = cron_jobs
        .get_opt(&naming::cron_job_name(&name))
        .await
        .map_err(|e| Error::kube(format!("read the CronJob of Cluster {name}"), e))?
        .is_some();
    let message = invalid_message(&message, present);
    let generation = cluster.meta().generation;
    let mut status = cluster.status.clone().unwrap_or_default();
    status.observed_generation = generation;
    let now = now_rfc3339();
    let conditions = &mut status.conditions;
    set_condition(
        conditions,
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
    Ok(Error::Invalid { reason, message })
}

/// Writes the mirrored TLS Secret when the live CronJob does not record its hash. The controller may not
/// read Secrets in the job namespace (the S3 keys live there too), so it never compares the mirror itself:
/// the CronJob is written after the mirror and carries its hash.
async fn mirror_tls(
    ctx: &Context,
    ns: &str,
    desired: &template::Desired,
    live_cron: Option<&CronJob>,
    wrote: &mut Vec<&'static str>,
) -> Result<(), Error> {
    let Some(secret) = &desired.tls_secret else {
        return Ok(());
    };
    let current = live_cron
        .is_some_and(|l| records_same(l, &desired.cron_job, template::TLS_HASH_ANNOTATION));
    if !current {
        let api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
        apply_unread(&api, secret, "Secret").await?;
        wrote.push("Secret");
    }
    Ok(())
}

/// Applies the rendered objects and records the outcome in the status and the metrics.
async fn apply_desired(
    cluster: &Cluster,
    config: &Config,
    desired: template::Desired,
    ctx: &Context,
) -> Result<Outcome, Error> {
    let name = cluster.name_any();
    let ns = config.job_namespace();
    let mut wrote = Vec::new();
    let cron_jobs: Api<CronJob> = Api::namespaced(ctx.client.clone(), ns);
    let live_cron = read(&cron_jobs, &desired.cron_job.name_any(), "CronJob").await?;
    mirror_tls(ctx, ns, &desired, live_cron.as_ref(), &mut wrote).await?;
    let (applied, live) =
        apply_unless_live(&cron_jobs, &desired.cron_job, live_cron, "CronJob").await?;
    if applied != Applied::Unchanged {
        wrote.push("CronJob");
    }
    let verify = desired.verify_cron_job.as_ref();
    let verify_live = apply_verify(&cron_jobs, &name, verify, &mut wrote).await?;
    let interval = template::effective_continuous(cluster, config)
        .ok()
        .flatten();
    let follower = continuous::apply_follower(
        ctx,
        ns,
        &name,
        desired.follower.as_ref().zip(interval.as_deref()),
        continuous::was_following(cluster),
        &mut wrote,
    )
    .await?;
    let cron_job = format!("{ns}/{}", desired.cron_job.name_any());
    let suspended = desired
        .cron_job
        .spec
        .as_ref()
        .and_then(|s| s.suspend)
        .unwrap_or(false);
    let (ok, reason, message) = scheduled_condition(&cron_job, &desired.schedule, suspended);
    let mut status = scheduled_status(cluster, ok, reason, &message, &cron_job, &desired.schedule);
    let seen = observe(&mut status, cluster, &live, verify_live.as_ref(), ctx).await?;
    let generation = cluster.meta().generation;
    continuous::set_status(
        &mut status,
        &name,
        follower.as_ref(),
        generation,
        chrono::Utc::now(),
    );
    if patch_status_unless_stale(cluster, status, ctx).await? {
        wrote.push("status");
        for (reason, note) in &seen.events {
            publish(ctx, cluster, EventType::Warning, reason, note).await;
        }
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
        seen.fill_metrics(s);
        s.continuous = follower.as_ref().map(continuous::metrics);
    });
    Ok(Outcome::new(
        Action::requeue(ctx.resync),
        applied_note(&wrote),
    ))
}

/// Applies the verification CronJob, or removes one left from when verification was on. Returns the live
/// CronJob, if verification is on.
async fn apply_verify(
    cron_jobs: &Api<CronJob>,
    cluster: &str,
    desired: Option<&CronJob>,
    wrote: &mut Vec<&'static str>,
) -> Result<Option<CronJob>, Error> {
    if let Some(desired) = desired {
        let (applied, live) = apply_if_changed(cron_jobs, desired, "CronJob").await?;
        if applied != Applied::Unchanged {
            wrote.push("verify CronJob");
        }
        return Ok(Some(live));
    }
    let name = naming::verify_cron_job_name(cluster);
    let present = cron_jobs
        .get_opt(&name)
        .await
        .map_err(|e| Error::kube(format!("read CronJob {name}"), e))?;
    if present.is_some() {
        delete_if_present(cron_jobs, &name, "the verification CronJob").await?;
        wrote.push("removed verify CronJob");
    }
    Ok(None)
}

/// What the backup and verification Jobs said, for the metrics and the Events.
struct Seen {
    backups: BackupRuns,
    verification: Option<Option<Finished>>,
    last_verified_ok: Option<f64>,
    /// (reason, message) of the failure Events to publish if the status changes.
    events: Vec<(&'static str, String)>,
}

impl Seen {
    fn fill_metrics(&self, s: &mut crate::metrics::ClusterState) {
        s.last_success_seconds = self
            .backups
            .last_successful_time
            .map(|t| t.as_second() as f64);
        // A Job the history limit removed does not unmake how long it took: keep the last one seen.
        if let Some(took) = self.backups.last_success_took {
            s.backup_job_seconds = Some(took);
        }
        s.backup_failing = self.backups.newest.as_ref().is_some_and(|f| !f.succeeded);
        s.verification_failing = self
            .verification
            .as_ref()
            .map(|v| v.as_ref().is_some_and(|f| !f.succeeded));
        s.last_verified_seconds = self.last_verified_ok;
    }
}

/// Reads the backup and verification Jobs and records them in `status`.
async fn observe(
    status: &mut ClusterStatus,
    cluster: &Cluster,
    backup: &CronJob,
    verify: Option<&CronJob>,
    ctx: &Context,
) -> Result<Seen, Error> {
    let (generation, now, clock) = (cluster.meta().generation, now_rfc3339(), Timestamp::now());
    let jobs = list_runs(backup, "backup", ctx).await?;
    let backups = backups::backup_runs(backup, &jobs, clock);
    backups::set_status(status, &backups, generation, &now);
    let (mut verification, mut last_verified_ok) = (None, None);
    if let Some(cj) = verify {
        let jobs = list_runs(cj, "verify", ctx).await?;
        let newest = backups::newest_finished(cj, &jobs, clock);
        last_verified_ok =
            backups::newest_succeeded_at(cj, &jobs, clock).map(|t| t.as_second() as f64);
        verification = Some(newest);
    }
    let newest = verification.as_ref().and_then(Option::as_ref);
    verification::set_status(status, verify.is_some(), newest, generation, &now);
    let old = cluster.status.clone().unwrap_or_default().conditions;
    let events = failure_events(&old, &status.conditions);
    Ok(Seen {
        backups,
        verification,
        last_verified_ok,
        events,
    })
}

/// The Warning Events a status change calls for: one per newly failed backup or verification Job, as
/// `(reason, message)`.
pub fn failure_events(old: &[Condition], new: &[Condition]) -> Vec<(&'static str, String)> {
    [
        (backups::BACKUP_SUCCEEDED, BACKUP_FAILED_EVENT),
        (
            verification::BACKUP_VERIFIED,
            verification::VERIFICATION_FAILED_EVENT,
        ),
    ]
    .into_iter()
    .filter_map(|(type_, reason)| backups::failure_event(type_, old, new).map(|m| (reason, m)))
    .collect()
}

/// The Jobs a CronJob of `component` made. Listed only once it has scheduled one, so an idle Cluster that
/// never ran costs no read.
async fn list_runs(cron_job: &CronJob, component: &str, ctx: &Context) -> Result<Vec<Job>, Error> {
    let scheduled = cron_job.status.as_ref().is_some_and(|s| {
        s.last_schedule_time.is_some() || s.active.as_ref().is_some_and(|a| !a.is_empty())
    });
    if !scheduled {
        return Ok(Vec::new());
    }
    let ns = cron_job.namespace().unwrap_or_default();
    let cluster = cron_job
        .labels()
        .get(template::LABEL_CLUSTER)
        .cloned()
        .unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let selector = template::component_selector(&cluster, component);
    let list = jobs
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| Error::kube(format!("list the {component} Jobs of Cluster {cluster}"), e))?;
    Ok(list.items)
}

/// The Cluster's status with its CronJob in place.
fn scheduled_status(
    cluster: &Cluster,
    ok: bool,
    reason: &str,
    message: &str,
    cron_job: &str,
    schedule: &str,
) -> ClusterStatus {
    let generation = cluster.meta().generation;
    let mut status = cluster.status.clone().unwrap_or_default();
    status.observed_generation = generation;
    let now = now_rfc3339();
    set_condition(
        &mut status.conditions,
        BACKUP_SCHEDULED,
        ok,
        reason,
        message,
        generation,
        &now,
    );
    status.cron_job_name = Some(cron_job.to_string());
    status.schedule = Some(schedule.to_string());
    status.last_error = None;
    status
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(super) mod write_order;
