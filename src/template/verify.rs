//! The verification CronJob: the admin's verify container (by default `etcdbak verify --cluster
//! $(CLUSTER)`) on its own schedule, with the same S3 env contract as the cleanup container. It reads the
//! bucket only, so it needs no snapshot, no TLS Secret and no etcd endpoint.

use k8s_openapi::api::batch::v1::{CronJob, JobSpec};
use kube::ResourceExt;

use super::container::{contract_env, s3_env, template_container, Role};
use super::cron_spec::cron_job;
use super::labels::{labels, object_meta};
use super::pod::{base_volumes, pod_template};
use super::settings::{effective_keep, effective_verify_schedule};
use super::RenderError;
use crate::config::Config;
use crate::crd::Cluster;
use crate::naming;
use crate::retention::Policy;

/// The verification CronJob, or `None` when verification is turned off for this Cluster.
pub fn render_verify(cluster: &Cluster, config: &Config) -> Result<Option<CronJob>, RenderError> {
    let Some(schedule) = effective_verify_schedule(cluster, config)? else {
        return Ok(None);
    };
    let name = cluster.name_any();
    let keep = effective_keep(cluster, config)?;
    let verify = template_container(
        &config.verify_container,
        "verify",
        &contract_env(&name, &Policy::newest(keep), Role::Verify),
        &s3_env(config),
        config,
        false,
    )?;
    let labels = labels(&name, "verify");
    let pod = pod_template(&labels, config, None, vec![verify], base_volumes(config));
    let job = JobSpec {
        backoff_limit: Some(config.job.backoff_limit),
        active_deadline_seconds: Some(config.job.active_deadline_seconds),
        template: pod,
        ..Default::default()
    };
    let metadata = object_meta(
        cluster,
        naming::verify_cron_job_name(&name),
        config,
        &labels,
        true,
    );
    let suspend = cluster.spec.suspend.unwrap_or(false);
    Ok(Some(cron_job(
        metadata, &labels, &schedule, suspend, job, config,
    )))
}
