use k8s_openapi::api::batch::v1::{CronJobStatus, JobCondition, JobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};

use super::*;

const UID: &str = "cj-uid-1";

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap()
}

fn cron_job(success: Option<i64>, schedule: Option<i64>) -> CronJob {
    let mut cj = CronJob::default();
    cj.metadata.name = Some("etcdbak-orders".into());
    cj.metadata.namespace = Some("etcdbak".into());
    cj.metadata.uid = Some(UID.into());
    cj.status = Some(CronJobStatus {
        last_successful_time: success.map(|s| Time(at(s))),
        last_schedule_time: schedule.map(|s| Time(at(s))),
        ..Default::default()
    });
    cj
}

/// A Job made by the CronJob `owner`, created at `created`, ended as `outcome` ("Complete", "Failed", or
/// "" while it runs).
fn job(name: &str, owner: &str, created: i64, outcome: &str) -> Job {
    let mut j = Job::default();
    j.metadata.name = Some(name.into());
    j.metadata.creation_timestamp = Some(Time(at(created)));
    j.metadata.owner_references = Some(vec![OwnerReference {
        kind: "CronJob".into(),
        uid: owner.into(),
        controller: Some(true),
        ..Default::default()
    }]);
    if !outcome.is_empty() {
        j.status = Some(JobStatus {
            conditions: Some(vec![JobCondition {
                type_: outcome.into(),
                status: "True".into(),
                last_transition_time: Some(Time(at(created + 30))),
                ..Default::default()
            }]),
            ..Default::default()
        });
    }
    j
}

#[test]
fn the_newest_finished_job_of_this_cron_job_decides() {
    let now = at(10_000);
    let finished = |job: &str, succeeded| {
        Some(Finished {
            job: format!("etcdbak/{job}"),
            succeeded,
            finished_at: None,
        })
    };
    let cases: Vec<(Vec<Job>, Option<Finished>)> = vec![
        (vec![], None),
        (vec![job("b-1", UID, 100, "")], None),
        (
            vec![job("b-1", UID, 100, "Complete")],
            finished("b-1", true),
        ),
        (
            vec![
                job("b-1", UID, 100, "Complete"),
                job("b-2", UID, 200, "Failed"),
            ],
            finished("b-2", false),
        ),
        // Listing order does not matter; a running newer Job does not hide the finished one.
        (
            vec![
                job("b-3", UID, 300, ""),
                job("b-2", UID, 200, "Complete"),
                job("b-1", UID, 100, "Failed"),
            ],
            finished("b-2", true),
        ),
        // A Job of another CronJob (an earlier Cluster of the same name) is not ours.
        (
            vec![
                job("b-1", UID, 100, "Complete"),
                job("x-9", "other", 900, "Failed"),
            ],
            finished("b-1", true),
        ),
        // Same creation second: the name (the scheduled minute) orders them.
        (
            vec![
                job("b-5", UID, 500, "Failed"),
                job("b-4", UID, 500, "Complete"),
            ],
            finished("b-5", false),
        ),
    ];
    for (jobs, want) in cases {
        let runs = backup_runs(&cron_job(Some(50), Some(60)), &jobs, now);
        let got = runs.newest.clone().map(|f| Finished {
            finished_at: None,
            ..f
        });
        assert_eq!(
            got,
            want,
            "{:?}",
            jobs.iter().map(|j| j.name_any()).collect::<Vec<_>>()
        );
        assert_eq!(runs.last_successful_time, Some(at(50)));
        assert_eq!(runs.last_schedule_time, Some(at(60)));
    }
    let runs = backup_runs(
        &cron_job(None, None),
        &[job("b-1", UID, 100, "Failed")],
        now,
    );
    assert_eq!(
        runs.newest.unwrap().finished_at,
        Some(at(130)),
        "from the Failed condition"
    );
    let never = backup_runs(&cron_job(None, None), &[], now);
    assert_eq!(never, BackupRuns::default());
}

#[test]
fn the_status_mirrors_the_cron_job_and_names_a_failed_job() {
    let runs = BackupRuns {
        last_successful_time: Some(at(1_796_140_800)),
        last_schedule_time: Some(at(1_796_144_400)),
        newest: Some(Finished {
            job: "etcdbak/etcdbak-orders-29000000".into(),
            succeeded: false,
            finished_at: None,
        }),
        last_success_took: None,
    };
    let mut status = ClusterStatus::default();
    set_status(&mut status, &runs, Some(2), "t1");
    assert_eq!(
        status.last_successful_time.as_deref(),
        Some("2026-12-01T16:00:00Z")
    );
    assert_eq!(
        status.last_schedule_time.as_deref(),
        Some("2026-12-01T17:00:00Z")
    );
    let c = &status.conditions[0];
    assert_eq!(
        (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
        (BACKUP_SUCCEEDED, "False", "BackupJobFailed")
    );
    assert_eq!(
        c.message,
        "the backup Job etcdbak/etcdbak-orders-29000000 failed: read its logs with kubectl -n etcdbak logs job/etcdbak-orders-29000000"
    );
    // Recording the same runs again changes nothing (no status write, no Event).
    let before = status.clone();
    set_status(&mut status, &runs, Some(2), "t2");
    assert_eq!(status, before);

    let ok = BackupRuns {
        newest: Some(Finished {
            job: "etcdbak/etcdbak-orders-29000060".into(),
            succeeded: true,
            finished_at: None,
        }),
        ..runs.clone()
    };
    set_status(&mut status, &ok, Some(2), "t3");
    let c = &status.conditions[0];
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("True", "BackupJobSucceeded")
    );
    assert_eq!(c.last_transition_time, "t3");
    // No finished Job: the condition stays as it was.
    let mut kept = status.clone();
    set_status(&mut kept, &BackupRuns::default(), Some(2), "t4");
    assert_eq!(kept.conditions, status.conditions);
    assert_eq!(kept.last_successful_time, None);
}

#[test]
fn one_event_per_failed_job() {
    let cond = |status: &str, message: &str| Condition {
        type_: BACKUP_SUCCEEDED.into(),
        status: status.into(),
        reason: String::new(),
        message: message.into(),
        last_transition_time: "t".into(),
        observed_generation: None,
    };
    let failed_1 = vec![cond("False", "job 1 failed")];
    let failed_2 = vec![cond("False", "job 2 failed")];
    let ok = vec![cond("True", "job 3 succeeded")];
    assert_eq!(
        failure_event(BACKUP_SUCCEEDED, &[], &failed_1).as_deref(),
        Some("job 1 failed")
    );
    assert_eq!(
        failure_event(BACKUP_SUCCEEDED, &ok, &failed_1).as_deref(),
        Some("job 1 failed")
    );
    assert_eq!(
        failure_event(BACKUP_SUCCEEDED, &failed_1, &failed_1),
        None,
        "a resync says nothing new"
    );
    assert_eq!(
        failure_event(BACKUP_SUCCEEDED, &failed_1, &failed_2).as_deref(),
        Some("job 2 failed")
    );
    assert_eq!(failure_event(BACKUP_SUCCEEDED, &failed_1, &ok), None);
    assert_eq!(failure_event(BACKUP_SUCCEEDED, &[], &[]), None);
}

#[test]
fn the_duration_is_the_newest_successful_jobs_run_time() {
    let now = at(10_000);
    let timed = |name: &str, owner: &str, created: i64, outcome: &str, ran: Option<(i64, i64)>| {
        let mut j = job(name, owner, created, outcome);
        if let (Some(status), Some((start, end))) = (j.status.as_mut(), ran) {
            status.start_time = Some(Time(at(start)));
            status.completion_time = Some(Time(at(end)));
        }
        j
    };
    let jobs = [
        timed("a-1", UID, 1000, "Complete", Some((1000, 1042))),
        timed("a-2", UID, 2000, "Complete", Some((2000, 2017))),
        // Newer, but failed, made by another CronJob, or without times: none says how long a backup takes.
        timed("a-3", UID, 3000, "Failed", Some((3000, 3500))),
        timed("b-1", "other-uid", 4000, "Complete", Some((4000, 4900))),
        timed("a-4", UID, 5000, "Complete", None),
    ];
    let cj = cron_job(None, Some(5000));
    assert_eq!(newest_success_took(&cj, &jobs, now), Some(17.0));
    assert_eq!(backup_runs(&cj, &jobs, now).last_success_took, Some(17.0));
    assert_eq!(newest_success_took(&cj, &jobs[2..], now), None);
    // A clock step that puts completion before start is not a negative duration.
    let odd = [timed("a-5", UID, 6000, "Complete", Some((6010, 6000)))];
    assert_eq!(newest_success_took(&cj, &odd, now), Some(0.0));
}
