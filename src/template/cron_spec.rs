//! The CronJob shell both rendered CronJobs share (the backup's in `cron_job`, the verification's in
//! `verify`): the config's history, deadline and time-zone settings around a Job, stamped with its hash.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::labels::stamp_hash;
use crate::config::Config;

/// A CronJob around `job`, with the config's history, deadline and time-zone settings; stamped with its hash.
pub(super) fn cron_job(
    metadata: ObjectMeta,
    labels: &BTreeMap<String, String>,
    schedule: &str,
    suspend: bool,
    job: JobSpec,
    config: &Config,
) -> CronJob {
    let mut cron_job = CronJob {
        metadata,
        spec: Some(CronJobSpec {
            schedule: schedule.to_string(),
            time_zone: Some(config.time_zone.clone()),
            concurrency_policy: Some("Forbid".into()),
            starting_deadline_seconds: Some(config.job.starting_deadline_seconds),
            successful_jobs_history_limit: Some(config.job.successful_jobs_history_limit),
            failed_jobs_history_limit: Some(config.job.failed_jobs_history_limit),
            suspend: Some(suspend),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                spec: Some(job),
            },
        }),
        status: None,
    };
    stamp_hash(&mut cron_job);
    cron_job
}
