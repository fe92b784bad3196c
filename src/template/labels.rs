//! What every rendered object carries: the labels that select it, the annotations that point back at its
//! Cluster, and the spec hash that lets the controller skip writes that change nothing.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::crd::Cluster;

/// On every rendered object: which Cluster it belongs to (the Cluster's name, a DNS-1123 label).
pub const LABEL_CLUSTER: &str = "etcdbak.io/cluster";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "etcdbak";
pub const LABEL_NAME: &str = "app.kubernetes.io/name";
/// `backup` (CronJob, its Jobs and pods), `verify` (verification CronJob), `tls` (mirrored Secret) or
/// `cleanup` (cleanup Job).
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
/// Stable hash of the rendered object (without this annotation), so the controller can skip no-op writes.
pub const HASH_ANNOTATION: &str = "etcdbak.io/spec-hash";
/// The Cluster's name, which the controller maps a changed object back to its Cluster with.
pub const CLUSTER_ANNOTATION: &str = "etcdbak.io/cluster-name";
/// The Cluster's UID on the cleanup Job: a Job left over from an earlier Cluster of the same name (and so
/// the same deterministic Job name) is not proof that *this* Cluster's backups were cleaned up.
pub const CLUSTER_UID_ANNOTATION: &str = "etcdbak.io/cluster-uid";
/// On the backup CronJob: the spec hash of the mirrored TLS Secret it was written with. The controller may
/// not read Secrets in the job namespace, so this is how it knows the mirror is current.
pub const TLS_HASH_ANNOTATION: &str = "etcdbak.io/tls-secret-hash";
/// `namespace/name` of the Secret a mirrored TLS Secret was copied from.
pub const SOURCE_SECRET_ANNOTATION: &str = "etcdbak.io/source-secret";

/// Label selector for everything rendered for one Cluster.
pub fn cluster_selector(cluster: &str) -> String {
    format!("{LABEL_CLUSTER}={cluster}")
}

/// Label selector for one Cluster's objects of one component (`backup`, `verify`, `cleanup`).
pub fn component_selector(cluster: &str, component: &str) -> String {
    format!(
        "{},{LABEL_COMPONENT}={component}",
        cluster_selector(cluster)
    )
}

pub(super) fn labels(cluster: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_CLUSTER.to_string(), cluster.to_string()),
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (LABEL_NAME.to_string(), "etcdbak".to_string()),
        (LABEL_COMPONENT.to_string(), component.to_string()),
    ])
}

pub(super) fn object_meta(
    cluster: &Cluster,
    name: String,
    config: &Config,
    labels: &BTreeMap<String, String>,
    owned: bool,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(config.job_namespace().to_string()),
        labels: Some(labels.clone()),
        annotations: Some(BTreeMap::from([(
            CLUSTER_ANNOTATION.to_string(),
            cluster.name_any(),
        )])),
        owner_references: if owned {
            cluster.controller_owner_ref(&()).map(|r| vec![r])
        } else {
            None
        },
        ..Default::default()
    }
}

/// Hashes the object as rendered (without the hash annotation) and records it in the annotation.
pub(super) fn stamp_hash<K: Resource + Serialize>(object: &mut K) {
    if let Some(a) = object.meta_mut().annotations.as_mut() {
        a.remove(HASH_ANNOTATION);
    }
    let hash = spec_hash(object);
    object
        .meta_mut()
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(HASH_ANNOTATION.into(), hash);
}

/// 16 hex digits of SHA-256 over the object's JSON (k8s-openapi serializes fields in a fixed order and
/// maps as BTreeMaps, so equal objects hash equal).
pub fn spec_hash<K: Serialize>(object: &K) -> String {
    let json = serde_json::to_vec(object).unwrap_or_default();
    hex::encode(&Sha256::digest(&json)[..8])
}
