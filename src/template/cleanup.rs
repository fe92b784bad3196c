//! The cleanup Job of a deleted Cluster.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use kube::ResourceExt;

use super::container::{contract_env, s3_env, template_container, Role};
use super::labels::{labels, object_meta, stamp_hash, CLUSTER_UID_ANNOTATION};
use super::pod::{base_volumes, pod_template};
use super::settings::{destinations_env, effective_keep};
use super::RenderError;
use crate::config::Config;
use crate::crd::Cluster;
use crate::naming;
use crate::retention::Policy;

/// The cleanup Job for a deleted Cluster: the cleanup template with the same env, no snapshot.
///
/// Deliberately not owned by the Cluster: the Cluster is about to disappear, and the Job (with its logs)
/// must outlive it; `ttlSecondsAfterFinished` removes it later. It carries the Cluster's UID in
/// [`CLUSTER_UID_ANNOTATION`].
pub fn render_cleanup_job(cluster: &Cluster, config: &Config) -> Result<Job, RenderError> {
    let name = cluster.name_any();
    // A Cluster whose keep is invalid must still be deletable: cleanup deletes everything anyway.
    let keep = effective_keep(cluster, config).unwrap_or(config.default_keep);
    let contract = contract_env(&name, &Policy::newest(keep), Role::Cleanup);
    // Every destination the store container writes to, so `prune --all` empties each of them.
    let mut defaults = s3_env(config);
    defaults.extend(destinations_env(config));
    let cleanup = template_container(
        &config.cleanup_container,
        "cleanup",
        &contract,
        &defaults,
        config,
        false,
    )?;
    let labels = labels(&name, "cleanup");
    let pod = pod_template(&labels, config, None, vec![cleanup], base_volumes(config));
    let mut metadata = object_meta(
        cluster,
        naming::cleanup_job_name(&name),
        config,
        &labels,
        false,
    );
    if let Some(uid) = &cluster.metadata.uid {
        metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(CLUSTER_UID_ANNOTATION.into(), uid.clone());
    }
    let mut job = Job {
        metadata,
        spec: Some(JobSpec {
            backoff_limit: Some(config.job.backoff_limit),
            active_deadline_seconds: Some(config.job.active_deadline_seconds),
            ttl_seconds_after_finished: Some(config.job.cleanup_ttl_seconds_after_finished),
            template: pod,
            ..Default::default()
        }),
        status: None,
    };
    stamp_hash(&mut job);
    Ok(job)
}
