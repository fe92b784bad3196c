//! One reconcile of one Cluster: apply its mirrored TLS Secret and backup CronJob (no write when nothing
//! changed), or, once it is deleted, run the cleanup Job to success before the finalizer goes.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{self, finalizer};
use kube::{Resource, ResourceExt};

use super::cleanup::{cleanup_progress, finish_cleanup};
use super::decide::{self, set_condition, BACKUP_SCHEDULED};
use super::writes::{apply_if_changed, patch_status_unless_stale, publish, Applied};
use super::{now_rfc3339, Context, Error};
use crate::config::Config;
use crate::crd::{Cluster, ClusterStatus};
use crate::{naming, schedule, template};

pub const FINALIZER: &str = "etcdbak.io/cleanup";
pub const FIELD_MANAGER: &str = "etcdbak";

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

async fn apply(cluster: &Cluster, ctx: &Context) -> Result<Action, Error> {
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

/// Applies the rendered objects and records the outcome in the status, the metrics and the note.
async fn apply_desired(
    cluster: &Cluster,
    config: &Config,
    desired: template::Desired,
    ctx: &Context,
) -> Result<Action, Error> {
    let name = cluster.name_any();
    let ns = config.job_namespace();
    let mut wrote = Vec::new();
    if let Some(secret) = &desired.tls_secret {
        let api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
        if apply_if_changed(&api, secret, "Secret").await? != Applied::Unchanged {
            wrote.push("Secret");
        }
    }
    let cron_jobs: Api<CronJob> = Api::namespaced(ctx.client.clone(), ns);
    let applied = apply_if_changed(&cron_jobs, &desired.cron_job, "CronJob").await?;
    if applied != Applied::Unchanged {
        wrote.push("CronJob");
    }
    let cron_job = format!("{ns}/{}", desired.cron_job.name_any());
    let suspended = desired
        .cron_job
        .spec
        .as_ref()
        .and_then(|s| s.suspend)
        .unwrap_or(false);
    let (ok, reason, message) = scheduled_condition(&cron_job, &desired.schedule, suspended);
    let status = scheduled_status(cluster, ok, reason, &message, &cron_job, &desired.schedule);
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
    ctx.set_note(&name, applied_note(&wrote));
    Ok(Action::requeue(ctx.resync))
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
