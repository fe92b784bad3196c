use super::*;
use crate::crd::ClusterSpec;

fn cluster() -> Cluster {
    let mut c = Cluster::new(
        "orders",
        ClusterSpec {
            endpoints: Some(vec!["https://etcd:2379".into()]),
            ..ClusterSpec::in_namespace("orders")
        },
    );
    c.metadata.generation = Some(3);
    c
}

#[test]
fn scheduled_condition_says_where_and_when() {
    assert_eq!(
        scheduled_condition("etcdbak/etcdbak-orders", "7 * * * *", false),
        (
            true,
            "Scheduled",
            "CronJob etcdbak/etcdbak-orders runs on \"7 * * * *\"".to_string()
        )
    );
    assert_eq!(
        scheduled_condition("etcdbak/etcdbak-orders", "7 * * * *", true),
        (
            false,
            "Suspended",
            "backups are suspended (spec.suspend); CronJob etcdbak/etcdbak-orders is kept"
                .to_string()
        )
    );
}

#[test]
fn an_invalid_cluster_keeps_a_working_cron_job() {
    assert_eq!(invalid_message("bad keep", false), "bad keep");
    assert_eq!(
        invalid_message("bad keep", true),
        "bad keep (the CronJob keeps its last valid settings)"
    );
}

#[test]
fn the_note_lists_what_was_written() {
    assert_eq!(applied_note(&[]), "up to date");
    assert_eq!(
        applied_note(&["Secret", "CronJob", "status"]),
        "applied Secret, CronJob, status"
    );
}

#[test]
fn an_unchanged_cluster_gets_an_equal_status() {
    // Equal status means no status write: the idle resync writes nothing.
    let mut c = cluster();
    let first = scheduled_status(
        &c,
        true,
        "Scheduled",
        "m",
        "etcdbak/etcdbak-orders",
        "7 * * * *",
    );
    c.status = Some(first.clone());
    let second = scheduled_status(
        &c,
        true,
        "Scheduled",
        "m",
        "etcdbak/etcdbak-orders",
        "7 * * * *",
    );
    assert_eq!(first, second);
    assert_eq!(first.observed_generation, Some(3));
    assert_eq!(
        first.cron_job_name.as_deref(),
        Some("etcdbak/etcdbak-orders")
    );
    assert_eq!(first.last_error, None);
    // A previous error is cleared, and a new generation is observed.
    c.status.as_mut().unwrap().last_error = Some("old".into());
    c.metadata.generation = Some(4);
    let third = scheduled_status(
        &c,
        true,
        "Scheduled",
        "m",
        "etcdbak/etcdbak-orders",
        "7 * * * *",
    );
    assert_eq!(third.last_error, None);
    assert_eq!(third.observed_generation, Some(4));
    assert_eq!(
        third.conditions[0].last_transition_time, first.conditions[0].last_transition_time,
        "the condition did not flip"
    );
}

#[test]
fn a_new_failure_of_either_kind_is_one_event() {
    use crate::controller::conditions::set_condition;
    let mut old = Vec::new();
    set_condition(
        &mut old,
        "BackupSucceeded",
        true,
        "BackupJobSucceeded",
        "ok",
        None,
        "t",
    );
    let mut new = old.clone();
    set_condition(
        &mut new,
        "BackupSucceeded",
        false,
        "BackupJobFailed",
        "job b-2 failed",
        None,
        "t",
    );
    set_condition(
        &mut new,
        "BackupVerified",
        false,
        "VerificationFailed",
        "job v-1 failed",
        None,
        "t",
    );
    assert_eq!(
        failure_events(&old, &new),
        [
            ("BackupFailed", "job b-2 failed".to_string()),
            ("VerificationFailed", "job v-1 failed".to_string())
        ]
    );
    assert!(
        failure_events(&new, &new).is_empty(),
        "nothing new, nothing published"
    );
    assert!(
        failure_events(&new, &old).is_empty(),
        "recovering is not a failure"
    );
}

#[test]
fn failed_reconciles_back_off_up_to_five_minutes() {
    let secs: Vec<u64> = (0..=8).map(|a| error_backoff(a).as_secs()).collect();
    assert_eq!(secs, [5, 5, 10, 20, 40, 80, 160, 300, 300]);
}
