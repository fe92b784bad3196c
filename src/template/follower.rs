//! The continuous-backup follower: one Deployment per opted-in Cluster running the admin's follower
//! container (by default `etcdbak follow`). It talks to etcd like the snapshot init container, to the
//! bucket like the store container, and renews a Lease that tells the controller how far its chain reaches.
//!
//! One replica with the `Recreate` strategy: two followers of one cluster would write overlapping
//! segments, so a rollout stops the old one (which stores what it holds on SIGTERM) before the new one
//! starts, and the new one resumes from the newest durable revision.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;

use super::container::{env, mount, s3_env, template_container, BACKUP_DIR, BACKUP_VOLUME};
use super::endpoint::{etcd_client, tls_volume};
use super::labels::{labels, object_meta, stamp_hash};
use super::pod::{base_volumes, pod_template};
use super::settings::{effective_continuous, encoding_env, object_lock_env};
use super::RenderError;
use crate::config::Config;
use crate::crd::Cluster;
use crate::naming;

/// Env vars the controller sets on the follower container; a template may not set them itself.
pub const FOLLOWER_ENV: [&str; 7] = [
    "CLUSTER",
    "ETCDBAK_CLUSTER",
    "ETCDBAK_DIR",
    "ETCDBAK_SEGMENT_INTERVAL",
    "ETCDBAK_LEASE",
    "ETCDBAK_LEASE_NAMESPACE",
    "POD_NAME",
];

/// The follower Deployment, or `None` when continuous backup is off for this Cluster.
pub fn render_follower(
    cluster: &Cluster,
    endpoints: &str,
    tls: bool,
    config: &Config,
) -> Result<Option<Deployment>, RenderError> {
    let Some(interval) = effective_continuous(cluster, config)? else {
        return Ok(None);
    };
    let name = cluster.name_any();
    let object = naming::follower_name(&name);
    let (etcd_env, etcd_mounts) = etcd_client(endpoints, tls);
    let mut contract = vec![
        env("CLUSTER", &name),
        env("ETCDBAK_CLUSTER", &name),
        env("ETCDBAK_DIR", BACKUP_DIR),
        env("ETCDBAK_SEGMENT_INTERVAL", &interval),
        env("ETCDBAK_LEASE", &object),
        field_env("ETCDBAK_LEASE_NAMESPACE", "metadata.namespace"),
        field_env("POD_NAME", "metadata.name"),
    ];
    contract.extend(etcd_env);
    let mut defaults = s3_env(config);
    defaults.extend(encoding_env(cluster, config)?);
    // Segments and the follower's own full backups are locked like the backup Job's.
    defaults.extend(object_lock_env(cluster, config)?);
    let mut follower = template_container(
        &config.follower_container,
        "follower",
        &contract,
        &defaults,
        config,
        false,
    )?;
    let mounts = follower.volume_mounts.get_or_insert_with(Vec::new);
    // A gap makes the follower take a full backup itself, into the same emptyDir the backup Job uses.
    if !mounts.iter().any(|m| m.name == BACKUP_VOLUME) {
        mounts.push(mount(BACKUP_VOLUME, BACKUP_DIR, false));
    }
    mounts.extend(etcd_mounts);
    let mut volumes = base_volumes(config);
    if tls {
        volumes.push(tls_volume(&name));
    }
    let labels = labels(&name, "follower");
    let mut pod = pod_template(&labels, config, None, vec![follower], volumes);
    if let Some(spec) = pod.spec.as_mut() {
        spec.restart_policy = Some("Always".into());
        // The one pod etcdbak runs with an API token: it renews its own Lease and nothing else.
        spec.automount_service_account_token = Some(true);
        spec.service_account_name = config
            .continuous
            .service_account_name
            .clone()
            .or_else(|| config.service_account_name.clone());
    }
    let mut deployment = Deployment {
        metadata: object_meta(cluster, object, config, &labels, true),
        spec: Some(DeploymentSpec {
            replicas: Some(if cluster.spec.suspend.unwrap_or(false) {
                0
            } else {
                1
            }),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            }),
            template: pod,
            ..Default::default()
        }),
        status: None,
    };
    stamp_hash(&mut deployment);
    Ok(Some(deployment))
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                api_version: None,
            }),
            ..Default::default()
        }),
    }
}
