//! The deletion decided without I/O: [`step`] (what comes next, from the cleanup Job's phase) and
//! [`for_step`] (what that step does: the writes to make, the condition to set, the Event to publish, the note
//! for `etcdbak reconcile`, and when to look again). The executor in `super` applies a plan as it is; the
//! tables in `plan/tests.rs` are the whole deletion sequence of docs/CONTRACT.md.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;

use crate::controller::jobs::JobPhase;

pub const CLEANUP_PENDING: &str = "CleanupPending";
pub const CLEANUP_FAILED: &str = "CleanupFailed";

/// Reason of the CleanupPending condition once the cleanup Job succeeded. Stored before anything is
/// deleted, so a restart after this point finishes the deletion instead of running the cleanup again.
pub const CLEANUP_SUCCEEDED: &str = "CleanupSucceeded";
/// How often a running cleanup Job is looked at even without a watch event.
pub const CLEANUP_POLL: Duration = Duration::from_secs(30);
/// How often a cleanup waiting for a running backup Job looks again.
const BACKUP_WAIT_POLL: Duration = Duration::from_secs(10);

/// What the deletion of a Cluster does next.
#[derive(Debug, Clone, PartialEq)]
pub enum CleanupStep {
    /// The Cluster never had a backup CronJob and no cleanup ever started: nothing to clean in the bucket.
    NothingToClean,
    /// Create the cleanup Job (attempt 1).
    CreateJob,
    /// The Job runs; look again later (its status change also triggers a reconcile).
    Wait,
    /// The Job succeeded: delete the mirrored objects and remove the finalizer.
    Finish,
    /// The Job failed and its backoff has passed: delete it, then create attempt `next_attempt`.
    Retry { next_attempt: u32 },
    /// The Job failed; retry after this long.
    BackoffFor(Duration),
}

/// The deletion state machine. `had_backup`: the Cluster's status names a CronJob, or one exists. A
/// restart at any point re-enters here from what is stored in the apiserver (the Job, with its
/// deterministic name and attempt annotation), so cleanup is neither skipped nor run twice.
pub fn step(had_backup: bool, job: Option<&JobPhase>) -> CleanupStep {
    match job {
        None if !had_backup => CleanupStep::NothingToClean,
        None => CleanupStep::CreateJob,
        Some(JobPhase::Running) => CleanupStep::Wait,
        Some(JobPhase::Succeeded) => CleanupStep::Finish,
        Some(JobPhase::Failed {
            attempt,
            seconds_ago,
        }) => {
            let wait = retry_backoff(*attempt);
            let elapsed = Duration::from_secs(*seconds_ago);
            if elapsed >= wait {
                CleanupStep::Retry {
                    next_attempt: attempt.saturating_add(1),
                }
            } else {
                CleanupStep::BackoffFor(wait - elapsed)
            }
        }
    }
}

/// 30s, 1m, 2m, 4m ... capped at 30m: a failing cleanup (S3 down) is retried for as long as it takes,
/// without hammering the store.
pub fn retry_backoff(attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(6);
    Duration::from_secs(30u64 << exp).min(Duration::from_secs(30 * 60))
}

/// Where the follower Deployment is on its way down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowerPhase {
    /// It still asks for a pod: scale it to zero.
    Running,
    /// Scaled to zero, but a pod is still there (or the Deployment controller has not looked yet).
    Stopping,
    /// No pod is left: delete it.
    Stopped,
}

/// Reads the Deployment's spec and status. A Deployment no controller ever reported on has no pod.
pub fn follower_phase(d: &Deployment) -> FollowerPhase {
    let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    if wanted > 0 {
        return FollowerPhase::Running;
    }
    let Some(observed) = d.status.as_ref().and_then(|s| s.observed_generation) else {
        return FollowerPhase::Stopped;
    };
    let pods = d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let seen = observed >= d.metadata.generation.unwrap_or(0);
    if seen && pods == 0 {
        FollowerPhase::Stopped
    } else {
        FollowerPhase::Stopping
    }
}

/// A write the executor makes before it records the step.
#[derive(Debug, Clone, PartialEq)]
pub enum CleanupAction {
    /// Delete the failed cleanup Job first, so there are never two cleanups at once.
    DeleteFailedJob,
    /// Create the cleanup Job as attempt `attempt` (a Job that already exists is this one).
    CreateJob { attempt: u32 },
}

/// A condition to set on the Cluster's status.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionUpdate {
    pub type_: &'static str,
    pub status: bool,
    pub reason: &'static str,
    pub message: String,
}

/// An Event to publish on the Cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedEvent {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
    /// Only when the status write happened, so a resync of an unchanged failure publishes nothing.
    pub only_if_status_changed: bool,
}

/// How the reconcile ends after the step.
#[derive(Debug, Clone, PartialEq)]
pub enum CleanupOutcome {
    /// The cleanup is done (or was never needed): the finalizer may go.
    Done,
    /// Not yet: look again after this long.
    Requeue(Duration),
    /// The cleanup Job failed; the reconcile fails with this, and retries after `retry_in`.
    Failed { attempt: u32, retry_in: Duration },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CleanupPlan {
    pub actions: Vec<CleanupAction>,
    pub condition: Option<ConditionUpdate>,
    /// Drop the CleanupFailed condition (the cleanup finally succeeded).
    pub clear_failed: bool,
    pub event: Option<PlannedEvent>,
    pub note: Option<String>,
    pub outcome: CleanupOutcome,
}

impl CleanupPlan {
    fn new(outcome: CleanupOutcome) -> CleanupPlan {
        CleanupPlan {
            actions: Vec::new(),
            condition: None,
            clear_failed: false,
            event: None,
            note: None,
            outcome,
        }
    }

    /// True when the plan changes the Cluster's status.
    pub fn touches_status(&self) -> bool {
        self.condition.is_some() || self.clear_failed
    }
}

fn condition(
    type_: &'static str,
    status: bool,
    reason: &'static str,
    message: &str,
) -> Option<ConditionUpdate> {
    Some(ConditionUpdate {
        type_,
        status,
        reason,
        message: message.to_string(),
    })
}

fn event(
    warning: bool,
    reason: &'static str,
    message: &str,
    only_if_status_changed: bool,
) -> Option<PlannedEvent> {
    Some(PlannedEvent {
        warning,
        reason,
        message: message.to_string(),
        only_if_status_changed,
    })
}

/// The plan for `step`. `job` is the cleanup Job's `namespace/name`; `running_backups` are the Cluster's
/// backup Jobs that still have pods (read only for [`CleanupStep::CreateJob`]); `failed_attempt` is the
/// attempt number of the failed Job, for [`CleanupStep::BackoffFor`].
pub fn for_step(
    step: &CleanupStep,
    job: &str,
    running_backups: &[String],
    failed_attempt: u32,
) -> CleanupPlan {
    match step {
        CleanupStep::NothingToClean => CleanupPlan {
            note: Some("deleted (never had a backup CronJob)".into()),
            ..CleanupPlan::new(CleanupOutcome::Done)
        },
        CleanupStep::Finish => CleanupPlan {
            condition: condition(
                CLEANUP_PENDING,
                false,
                CLEANUP_SUCCEEDED,
                &format!("the cleanup Job {job} succeeded"),
            ),
            clear_failed: true,
            event: event(
                false,
                CLEANUP_SUCCEEDED,
                &format!("the cleanup Job {job} succeeded; removing the finalizer"),
                false,
            ),
            ..CleanupPlan::new(CleanupOutcome::Done)
        },
        CleanupStep::CreateJob if !running_backups.is_empty() => {
            wait_for_backups(job, running_backups)
        }
        CleanupStep::CreateJob => {
            let message = format!("the cleanup Job {job} runs (attempt 1)");
            CleanupPlan {
                actions: vec![CleanupAction::CreateJob { attempt: 1 }],
                condition: condition(CLEANUP_PENDING, true, "CleanupRunning", &message),
                event: event(false, "CleanupStarted", &message, false),
                note: Some(format!("cleanup Job {job} created")),
                ..CleanupPlan::new(CleanupOutcome::Requeue(CLEANUP_POLL))
            }
        }
        CleanupStep::Wait => CleanupPlan {
            note: Some(format!("cleanup Job {job} running")),
            ..CleanupPlan::new(CleanupOutcome::Requeue(CLEANUP_POLL))
        },
        CleanupStep::Retry { next_attempt } => {
            let message = format!("the cleanup Job {job} runs again (attempt {next_attempt})");
            CleanupPlan {
                actions: vec![
                    CleanupAction::DeleteFailedJob,
                    CleanupAction::CreateJob {
                        attempt: *next_attempt,
                    },
                ],
                condition: condition(CLEANUP_PENDING, true, "CleanupRunning", &message),
                event: event(false, "CleanupRetried", &message, false),
                note: Some(message),
                ..CleanupPlan::new(CleanupOutcome::Requeue(CLEANUP_POLL))
            }
        }
        CleanupStep::BackoffFor(retry_in) => back_off(job, failed_attempt, *retry_in),
    }
}

/// A backup Job still running would upload after the cleanup emptied the bucket, leaving a backup of a
/// Cluster that no longer exists; activeDeadlineSeconds bounds the wait.
fn wait_for_backups(job: &str, running_backups: &[String]) -> CleanupPlan {
    let (ns, _) = job.split_once('/').unwrap_or(("", job));
    let message = format!(
        "waiting for backup Job {} in {ns} to finish before deleting the backups",
        running_backups.join(", ")
    );
    CleanupPlan {
        condition: condition(CLEANUP_PENDING, true, "WaitingForBackupJob", &message),
        note: Some(message),
        ..CleanupPlan::new(CleanupOutcome::Requeue(BACKUP_WAIT_POLL))
    }
}

/// The cleanup Job failed and its backoff has not passed: say so (once), keep the backups.
fn back_off(job: &str, failed_attempt: u32, retry_in: Duration) -> CleanupPlan {
    let (ns, name) = job.split_once('/').unwrap_or(("", job));
    let message = format!(
        "the cleanup Job {job} failed (attempt {failed_attempt}) and is retried with backoff; the Cluster's backups are kept until it succeeds: see kubectl -n {ns} logs job/{name}"
    );
    CleanupPlan {
        condition: condition(CLEANUP_FAILED, true, "CleanupJobFailed", &message),
        event: event(true, "CleanupJobFailed", &message, true),
        ..CleanupPlan::new(CleanupOutcome::Failed {
            attempt: failed_attempt,
            retry_in,
        })
    }
}

#[cfg(test)]
mod tests;
