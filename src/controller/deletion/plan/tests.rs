use std::time::Duration;

use super::*;
use crate::controller::jobs::JobPhase;

const JOB: &str = "etcdbak/etcdbak-cleanup-orders";

/// (actions, condition (type, status, reason), event reason and whether it waits for a status change,
/// outcome)
type Want = (
    Vec<CleanupAction>,
    Option<(&'static str, bool, &'static str)>,
    Option<(&'static str, bool)>,
    CleanupOutcome,
);

/// (step, running backups, failed attempt) -> what the plan must be.
fn check(cases: Vec<(CleanupStep, Vec<String>, u32, Want)>) {
    for (step, running, attempt, want) in cases {
        let p = for_step(&step, JOB, &running, attempt);
        let got: Want = (
            p.actions.clone(),
            p.condition.as_ref().map(|c| (c.type_, c.status, c.reason)),
            p.event
                .as_ref()
                .map(|e| (e.reason, e.only_if_status_changed)),
            p.outcome.clone(),
        );
        assert_eq!(got, want, "{step:?} running={running:?}");
        assert_eq!(p.clear_failed, step == CleanupStep::Finish, "{step:?}");
        assert_eq!(p.touches_status(), p.condition.is_some(), "{step:?}");
        if let Some(e) = &p.event {
            assert_eq!(e.warning, e.reason == "CleanupJobFailed", "{step:?}");
        }
    }
}

#[test]
fn steps_that_start_or_wait() {
    let running = vec!["etcdbak-orders-29000000".to_string()];
    check(vec![
        (
            CleanupStep::NothingToClean,
            vec![],
            0,
            (vec![], None, None, CleanupOutcome::Done),
        ),
        (
            CleanupStep::Finish,
            vec![],
            0,
            (
                vec![],
                Some((CLEANUP_PENDING, false, CLEANUP_SUCCEEDED)),
                Some((CLEANUP_SUCCEEDED, false)),
                CleanupOutcome::Done,
            ),
        ),
        (
            CleanupStep::CreateJob,
            running.clone(),
            0,
            (
                vec![],
                Some((CLEANUP_PENDING, true, "WaitingForBackupJob")),
                None,
                CleanupOutcome::Requeue(Duration::from_secs(10)),
            ),
        ),
        (
            CleanupStep::CreateJob,
            vec![],
            0,
            (
                vec![CleanupAction::CreateJob { attempt: 1 }],
                Some((CLEANUP_PENDING, true, "CleanupRunning")),
                Some(("CleanupStarted", false)),
                CleanupOutcome::Requeue(CLEANUP_POLL),
            ),
        ),
        (
            CleanupStep::Wait,
            vec![],
            0,
            (vec![], None, None, CleanupOutcome::Requeue(CLEANUP_POLL)),
        ),
    ]);
}

#[test]
fn steps_that_retry_or_back_off() {
    check(vec![
        (
            CleanupStep::Retry { next_attempt: 3 },
            vec![],
            2,
            (
                vec![
                    CleanupAction::DeleteFailedJob,
                    CleanupAction::CreateJob { attempt: 3 },
                ],
                Some((CLEANUP_PENDING, true, "CleanupRunning")),
                Some(("CleanupRetried", false)),
                CleanupOutcome::Requeue(CLEANUP_POLL),
            ),
        ),
        (
            CleanupStep::BackoffFor(Duration::from_secs(45)),
            vec![],
            2,
            (
                vec![],
                Some((CLEANUP_FAILED, true, "CleanupJobFailed")),
                Some(("CleanupJobFailed", true)),
                CleanupOutcome::Failed {
                    attempt: 2,
                    retry_in: Duration::from_secs(45),
                },
            ),
        ),
    ]);
}

#[test]
fn messages_name_the_job_and_what_to_do() {
    let p = for_step(
        &CleanupStep::BackoffFor(Duration::from_secs(30)),
        JOB,
        &[],
        4,
    );
    let message = &p.condition.unwrap().message;
    assert_eq!(
        message,
        "the cleanup Job etcdbak/etcdbak-cleanup-orders failed (attempt 4) and is retried with backoff; the Cluster's backups are kept until it succeeds: see kubectl -n etcdbak logs job/etcdbak-cleanup-orders"
    );
    let p = for_step(
        &CleanupStep::CreateJob,
        JOB,
        &["b-1".to_string(), "b-2".to_string()],
        0,
    );
    assert_eq!(
        p.note.as_deref(),
        Some("waiting for backup Job b-1, b-2 in etcdbak to finish before deleting the backups")
    );
    let p = for_step(&CleanupStep::CreateJob, JOB, &[], 0);
    assert_eq!(
        p.condition.unwrap().message,
        "the cleanup Job etcdbak/etcdbak-cleanup-orders runs (attempt 1)"
    );
    assert_eq!(
        p.note.as_deref(),
        Some("cleanup Job etcdbak/etcdbak-cleanup-orders created")
    );
    let p = for_step(&CleanupStep::Finish, JOB, &[], 0);
    assert_eq!(
        p.event.unwrap().message,
        "the cleanup Job etcdbak/etcdbak-cleanup-orders succeeded; removing the finalizer"
    );
}

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
            step(had_backup, job.as_ref()),
            want,
            "had_backup={had_backup} job={job:?}"
        );
    }
}

#[test]
fn cleanup_retries_back_off_and_cap() {
    let secs: Vec<u64> = (1..=9).map(|a| retry_backoff(a).as_secs()).collect();
    assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1800, 1800, 1800]);
}

#[test]
fn the_follower_stops_before_the_bucket_is_emptied() {
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStatus};
    let deployment = |replicas: i32, status: Option<(i64, i32)>| {
        let mut d = Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                ..Default::default()
            }),
            status: status.map(|(observed, pods)| DeploymentStatus {
                observed_generation: Some(observed),
                replicas: Some(pods),
                ..Default::default()
            }),
            ..Default::default()
        };
        d.metadata.generation = Some(2);
        d
    };
    for (d, want, why) in [
        (
            deployment(1, Some((1, 1))),
            FollowerPhase::Running,
            "still wants a pod",
        ),
        (
            deployment(0, Some((1, 1))),
            FollowerPhase::Stopping,
            "scale-down not seen yet",
        ),
        (
            deployment(0, Some((2, 1))),
            FollowerPhase::Stopping,
            "its pod still stores what it holds",
        ),
        (
            deployment(0, Some((2, 0))),
            FollowerPhase::Stopped,
            "no pod left",
        ),
        (
            deployment(0, None),
            FollowerPhase::Stopped,
            "no controller ever made a pod",
        ),
    ] {
        assert_eq!(follower_phase(&d), want, "{why}");
    }
}
