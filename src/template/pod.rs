//! The pod template all rendered Jobs share: identity, scheduling, and the volumes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::container::{BACKUP_VOLUME, TMP_VOLUME};
use super::hardening::runtime_default;
use crate::config::Config;

pub(super) fn base_volumes(config: &Config) -> Vec<Volume> {
    let mut volumes = vec![
        Volume {
            name: BACKUP_VOLUME.into(),
            // The snapshot lands here: bounded so a runaway database cannot fill the node's disk.
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: config.pod.backup_volume_size_limit.clone(),
                ..Default::default()
            }),
            ..Default::default()
        },
        Volume {
            name: TMP_VOLUME.into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
    ];
    volumes.extend(config.pod.extra_volumes.iter().cloned());
    volumes
}

pub(super) fn pod_template(
    labels: &BTreeMap<String, String>,
    config: &Config,
    init_containers: Option<Vec<Container>>,
    containers: Vec<Container>,
    volumes: Vec<Volume>,
) -> PodTemplateSpec {
    let p = &config.pod;
    let mut pod_labels = p.labels.clone();
    pod_labels.extend(labels.clone());
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels),
            annotations: (!p.annotations.is_empty()).then(|| p.annotations.clone()),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            service_account_name: config.service_account_name.clone(),
            // Backup pods never talk to the Kubernetes API.
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(p.run_as_user),
                run_as_group: Some(p.run_as_group),
                fs_group: Some(p.fs_group),
                seccomp_profile: Some(runtime_default()),
                ..Default::default()
            }),
            init_containers,
            containers,
            volumes: Some(volumes),
            node_selector: (!p.node_selector.is_empty()).then(|| p.node_selector.clone()),
            tolerations: (!p.tolerations.is_empty()).then(|| p.tolerations.clone()),
            priority_class_name: p.priority_class_name.clone(),
            image_pull_secrets: (!p.image_pull_secrets.is_empty())
                .then(|| p.image_pull_secrets.clone()),
            host_network: p.host_network.then_some(true),
            // On the host network, cluster DNS still resolves Service names only with this policy.
            dns_policy: p
                .host_network
                .then(|| "ClusterFirstWithHostNet".to_string()),
            ..Default::default()
        }),
    }
}
