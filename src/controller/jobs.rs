//! Reading a Job's outcome from its status, as the Job controller writes it. Pure (the time is passed in).

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

/// Where a Job stands, read from its status.
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

/// On the cleanup Job: which try this is, so the backoff survives a controller restart.
pub const ATTEMPT_ANNOTATION: &str = "etcdbak.io/cleanup-attempt";

fn true_condition<'a>(
    job: &'a Job,
    types: &[&str],
) -> Option<&'a k8s_openapi::api::batch::v1::JobCondition> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| types.contains(&c.type_.as_str()) && c.status == "True")
}

/// Where a Job stands at `now`: succeeded, failed (and how long ago, and which attempt), or still running.
pub fn job_phase(job: &Job, now: Timestamp) -> JobPhase {
    if true_condition(job, &["Complete", "SuccessCriteriaMet"]).is_some() {
        return JobPhase::Succeeded;
    }
    if let Some(failed) = true_condition(job, &["Failed", "FailureTarget"]) {
        let attempt = job
            .annotations()
            .get(ATTEMPT_ANNOTATION)
            .and_then(|a| a.parse().ok())
            .unwrap_or(1);
        let seconds_ago = failed
            .last_transition_time
            .as_ref()
            .map(|t| now.duration_since(t.0).as_secs().max(0) as u64)
            .unwrap_or(0);
        return JobPhase::Failed {
            attempt,
            seconds_ago,
        };
    }
    JobPhase::Running
}

/// When the Job finished: its completion time, or when it was marked failed.
pub fn finished_at(job: &Job) -> Option<Timestamp> {
    let completed = job.status.as_ref()?.completion_time.as_ref().map(|t| t.0);
    completed.or_else(|| {
        true_condition(job, &["Failed", "FailureTarget"])?
            .last_transition_time
            .as_ref()
            .map(|t| t.0)
    })
}

/// True while the Job has pods running.
pub fn has_active_pods(job: &Job) -> bool {
    job.status.as_ref().and_then(|s| s.active).unwrap_or(0) > 0
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn job(conditions: &[(&str, &str, i64)], attempt: Option<&str>) -> Job {
        let mut job = Job::default();
        if let Some(a) = attempt {
            job.metadata.annotations =
                Some([(ATTEMPT_ANNOTATION.to_string(), a.to_string())].into());
        }
        job.status = Some(JobStatus {
            conditions: Some(
                conditions
                    .iter()
                    .map(|(t, s, at)| JobCondition {
                        type_: t.to_string(),
                        status: s.to_string(),
                        last_transition_time: Some(Time(Timestamp::from_second(*at).unwrap())),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        });
        job
    }

    #[test]
    fn phases_from_conditions() {
        let now = Timestamp::from_second(1_000_100).unwrap();
        let failed = |attempt, seconds_ago| JobPhase::Failed {
            attempt,
            seconds_ago,
        };
        let cases = [
            (job(&[], None), JobPhase::Running),
            (
                job(&[("Complete", "True", 1_000_000)], None),
                JobPhase::Succeeded,
            ),
            (
                job(&[("SuccessCriteriaMet", "True", 1_000_000)], None),
                JobPhase::Succeeded,
            ),
            (
                job(&[("Complete", "False", 1_000_000)], None),
                JobPhase::Running,
            ),
            (job(&[("Failed", "True", 1_000_000)], None), failed(1, 100)),
            (
                job(&[("FailureTarget", "True", 1_000_090)], Some("3")),
                failed(3, 10),
            ),
            // A clock behind the condition is "just now", never a negative wait.
            (
                job(&[("Failed", "True", 1_000_200)], Some("x")),
                failed(1, 0),
            ),
            (
                job(&[("Suspended", "True", 1_000_000)], None),
                JobPhase::Running,
            ),
        ];
        for (j, want) in cases {
            assert_eq!(job_phase(&j, now), want, "{:?}", j.status);
        }
        assert!(!has_active_pods(&Job::default()));
        assert_eq!(
            finished_at(&job(&[("Failed", "True", 1_000_000)], None)),
            Some(Timestamp::from_second(1_000_000).unwrap())
        );
        assert_eq!(finished_at(&job(&[], None)), None);
    }
}
