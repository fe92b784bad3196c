//! The controller's pure decisions: condition bookkeeping, the cleanup state machine, retry backoff.
//! Everything here is a function of its inputs, so the tables below pin the behaviour.

use std::time::Duration;

use crate::crd::Condition;

pub const BACKUP_SCHEDULED: &str = "BackupScheduled";
pub const CLEANUP_PENDING: &str = "CleanupPending";
pub const CLEANUP_FAILED: &str = "CleanupFailed";

/// Sets condition `type_`, keeping `lastTransitionTime` when the status did not flip (as metav1.Condition
/// does), so an unchanged condition compares equal and causes no status write.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &str,
) {
    let status = if status { "True" } else { "False" };
    let last_transition_time = conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.to_string());
    let new = Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        last_transition_time,
        observed_generation: generation,
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => *c = new,
        None => conditions.push(new),
    }
}

pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// Where a cleanup Job stands, read from its status.
#[derive(Debug, Clone, PartialEq)]
pub enum JobPhase {
    Running,
    Succeeded,
    /// Failed `seconds_ago` seconds ago (from its Failed condition); `attempt` is the Job's attempt number.
    Failed {
        attempt: u32,
        seconds_ago: u64,
    },
}

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
pub fn cleanup_step(had_backup: bool, job: Option<&JobPhase>) -> CleanupStep {
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

/// Requeue delay after `failures` consecutive failed reconciles of one Cluster: 5s doubling to 5m.
pub fn error_backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    Duration::from_secs(5u64 << exp).min(Duration::from_secs(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_table() {
        let failed = |attempt, seconds_ago| JobPhase::Failed {
            attempt,
            seconds_ago,
        };
        let cases: Vec<(bool, Option<JobPhase>, CleanupStep)> = vec![
            (false, None, CleanupStep::NothingToClean),
            (true, None, CleanupStep::CreateJob),
            // A Job exists, so a cleanup started even if the status never recorded a CronJob.
            (false, Some(JobPhase::Running), CleanupStep::Wait),
            (true, Some(JobPhase::Running), CleanupStep::Wait),
            (true, Some(JobPhase::Succeeded), CleanupStep::Finish),
            (false, Some(JobPhase::Succeeded), CleanupStep::Finish),
            (
                true,
                Some(failed(1, 0)),
                CleanupStep::BackoffFor(Duration::from_secs(30)),
            ),
            (
                true,
                Some(failed(1, 29)),
                CleanupStep::BackoffFor(Duration::from_secs(1)),
            ),
            (
                true,
                Some(failed(1, 30)),
                CleanupStep::Retry { next_attempt: 2 },
            ),
            (
                true,
                Some(failed(3, 60)),
                CleanupStep::BackoffFor(Duration::from_secs(60)),
            ),
            (
                true,
                Some(failed(3, 120)),
                CleanupStep::Retry { next_attempt: 4 },
            ),
        ];
        for (had_backup, job, want) in cases {
            assert_eq!(
                cleanup_step(had_backup, job.as_ref()),
                want,
                "had_backup={had_backup} job={job:?}"
            );
        }
    }

    #[test]
    fn backoffs_grow_and_cap() {
        let secs: Vec<u64> = (1..=9).map(|a| retry_backoff(a).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1800, 1800, 1800]);
        let secs: Vec<u64> = (0..=8).map(|a| error_backoff(a).as_secs()).collect();
        assert_eq!(secs, [5, 5, 10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn condition_keeps_transition_time_when_status_holds() {
        let mut c = Vec::new();
        set_condition(
            &mut c,
            BACKUP_SCHEDULED,
            true,
            "Scheduled",
            "ok",
            Some(1),
            "t1",
        );
        let before = c.clone();
        set_condition(
            &mut c,
            BACKUP_SCHEDULED,
            true,
            "Scheduled",
            "ok",
            Some(1),
            "t2",
        );
        assert_eq!(
            c, before,
            "same condition must compare equal (no status write)"
        );
        set_condition(
            &mut c,
            BACKUP_SCHEDULED,
            false,
            "InvalidSchedule",
            "bad",
            Some(2),
            "t3",
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].last_transition_time, "t3");
        assert_eq!(c[0].reason, "InvalidSchedule");
        set_condition(
            &mut c,
            CLEANUP_PENDING,
            true,
            "CleanupRunning",
            "x",
            Some(2),
            "t4",
        );
        assert_eq!(c.len(), 2);
        remove_condition(&mut c, CLEANUP_PENDING);
        assert_eq!(c.len(), 1);
    }
}
