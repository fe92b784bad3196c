//! What the Cluster's status says about its backups, read from its backup CronJob and the Jobs it made:
//! when the last one succeeded and was scheduled, and whether the newest finished one failed. Pure.

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::conditions::set_condition;
use super::jobs::{finished_at, job_phase, JobPhase};
use crate::crd::{ClusterStatus, Condition};

/// Condition type: did the newest finished backup Job succeed?
pub const BACKUP_SUCCEEDED: &str = "BackupSucceeded";
/// Event reason, once per failed backup Job.
pub const BACKUP_FAILED_EVENT: &str = "BackupFailed";

/// How the newest finished backup Job ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// `namespace/name` of the Job.
    pub job: String,
    pub succeeded: bool,
    pub finished_at: Option<Timestamp>,
}

/// What the CronJob and its Jobs say, ready for the status and the metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackupRuns {
    pub last_successful_time: Option<Timestamp>,
    pub last_schedule_time: Option<Timestamp>,
    /// `None` while no Job of this CronJob has finished (or all were cleaned up by the history limits).
    pub newest: Option<Finished>,
    /// How long the newest successful Job ran, in seconds; `None` while none is listed.
    pub last_success_took: Option<f64>,
}

/// RFC3339 in UTC with whole seconds, as Kubernetes writes times.
pub fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// True when the Job's controller is the CronJob with this UID (a Job of an earlier CronJob of the same
/// name, or one created by hand with the same labels, says nothing about this one).
fn made_by(job: &Job, cron_job_uid: &str) -> bool {
    job.owner_references()
        .iter()
        .any(|o| o.kind == "CronJob" && o.uid == cron_job_uid && o.controller == Some(true))
}

/// The newest finished Job the CronJob made, in whatever order `jobs` were listed.
pub fn newest_finished(cron_job: &CronJob, jobs: &[Job], now: Timestamp) -> Option<Finished> {
    let uid = cron_job.uid().unwrap_or_default();
    let ns = cron_job.namespace().unwrap_or_default();
    jobs.iter()
        .filter(|j| made_by(j, &uid))
        .filter_map(|j| match job_phase(j, now) {
            JobPhase::Running => None,
            phase => Some((j, phase == JobPhase::Succeeded)),
        })
        // The CronJob names Jobs after their scheduled minute, so creation time then name is run order.
        .max_by(|(a, _), (b, _)| {
            (a.creation_timestamp().map(|t| t.0), a.name_any())
                .cmp(&(b.creation_timestamp().map(|t| t.0), b.name_any()))
        })
        .map(|(j, succeeded)| Finished {
            job: format!("{ns}/{}", j.name_any()),
            succeeded,
            finished_at: finished_at(j),
        })
}

/// When the newest successful Job the CronJob made finished.
pub fn newest_succeeded_at(cron_job: &CronJob, jobs: &[Job], now: Timestamp) -> Option<Timestamp> {
    let uid = cron_job.uid().unwrap_or_default();
    jobs.iter()
        .filter(|j| made_by(j, &uid) && job_phase(j, now) == JobPhase::Succeeded)
        .filter_map(finished_at)
        .max()
}

/// How long the newest successful Job the CronJob made ran: its `completionTime - startTime`, as the Job
/// controller writes them (pod scheduling, the snapshot, the upload and retention). A Job missing either
/// time says nothing.
pub fn newest_success_took(cron_job: &CronJob, jobs: &[Job], now: Timestamp) -> Option<f64> {
    let uid = cron_job.uid().unwrap_or_default();
    jobs.iter()
        .filter(|j| made_by(j, &uid) && job_phase(j, now) == JobPhase::Succeeded)
        .filter_map(|j| {
            let status = j.status.as_ref()?;
            let (start, end) = (
                status.start_time.as_ref()?.0,
                status.completion_time.as_ref()?.0,
            );
            Some((end, end.duration_since(start).as_secs_f64().max(0.0)))
        })
        .max_by_key(|(end, _)| *end)
        .map(|(_, took)| took)
}

/// Reads the CronJob's status and the newest finished Job it made.
pub fn backup_runs(cron_job: &CronJob, jobs: &[Job], now: Timestamp) -> BackupRuns {
    let status = cron_job.status.as_ref();
    BackupRuns {
        last_successful_time: status
            .and_then(|s| s.last_successful_time.as_ref())
            .map(|t| t.0),
        last_schedule_time: status
            .and_then(|s| s.last_schedule_time.as_ref())
            .map(|t| t.0),
        newest: newest_finished(cron_job, jobs, now),
        last_success_took: newest_success_took(cron_job, jobs, now),
    }
}

/// The BackupSucceeded condition for a finished Job: `(status, reason, message)`.
pub fn succeeded_condition(finished: &Finished) -> (bool, &'static str, String) {
    let job = &finished.job;
    if finished.succeeded {
        (
            true,
            "BackupJobSucceeded",
            format!("the backup Job {job} succeeded"),
        )
    } else {
        let (ns, name) = job.split_once('/').unwrap_or(("", job));
        (
            false,
            "BackupJobFailed",
            format!(
                "the backup Job {job} failed: read its logs with kubectl -n {ns} logs job/{name}"
            ),
        )
    }
}

/// Records `runs` in `status`. A condition without a finished Job to speak of stays as it was.
pub fn set_status(
    status: &mut ClusterStatus,
    runs: &BackupRuns,
    generation: Option<i64>,
    now: &str,
) {
    status.last_successful_time = runs.last_successful_time.map(rfc3339);
    status.last_schedule_time = runs.last_schedule_time.map(rfc3339);
    if let Some(finished) = &runs.newest {
        let (ok, reason, message) = succeeded_condition(finished);
        set_condition(
            &mut status.conditions,
            BACKUP_SUCCEEDED,
            ok,
            reason,
            &message,
            generation,
            now,
        );
    }
}

/// The failure Event's message, when condition `type_` in `new` reports a failed Job that `old` did not:
/// once per failed Job, however often the Cluster is reconciled.
pub fn failure_event(type_: &str, old: &[Condition], new: &[Condition]) -> Option<String> {
    let find = |cs: &[Condition]| cs.iter().find(|c| c.type_ == type_).cloned();
    let now = find(new).filter(|c| c.status == "False")?;
    let before = find(old);
    let same = before.is_some_and(|b| b.status == now.status && b.message == now.message);
    (!same).then_some(now.message)
}

#[cfg(test)]
mod tests;
