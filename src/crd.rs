//! The `Cluster` custom resource (etcdbak.io/v1alpha1), generated from these types.

use clap::Args;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Result;

/// One etcd cluster to keep backed up. Cluster-scoped: the etcd itself lives in `spec.namespace`.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "etcdbak.io",
    version = "v1alpha1",
    kind = "Cluster",
    plural = "clusters",
    shortname = "etcdcluster",
    status = "ClusterStatus",
    printcolumn = r#"{"name":"Namespace","type":"string","jsonPath":".spec.namespace"}"#,
    printcolumn = r#"{"name":"Schedule","type":"string","jsonPath":".status.schedule"}"#,
    printcolumn = r#"{"name":"CronJob","type":"string","jsonPath":".status.cronJobName"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Namespace the etcd cluster (its StatefulSet, Service and client TLS Secret) runs in.
    pub namespace: String,
    /// Client URLs, e.g. `https://etcd-0.etcd.ns.svc:2379`. Give these or `service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Vec<String>>,
    /// A Service in `namespace` whose DNS name serves etcd's client port. Give this or `endpoints`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceRef>,
    /// A Secret in `namespace` with the etcd client TLS material: keys `ca.crt`, `tls.crt`, `tls.key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret: Option<String>,
    /// Cron schedule overriding the controller default. `H` in the minute or hour field is replaced by a
    /// stable hash of the cluster name, so many clusters do not snapshot at the same moment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^\s*\S+(\s+\S+){4}\s*$"))]
    pub schedule: Option<String>,
    /// How many snapshots to keep (overrides the controller default, 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub keep: Option<u32>,
    /// Stop scheduling backups (the CronJob is kept, suspended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRef {
    /// Service name in the Cluster's namespace.
    pub name: String,
    /// Client port; 2379 when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Use `http://` instead of `https://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// The backup CronJob, `namespace/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_job_name: Option<String>,
    /// The effective schedule after `H` expansion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The last reconcile error, in one sentence; cleared on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A status condition (the shape of metav1.Condition, as a plain type so the schema stays structural).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// e.g. `BackupScheduled`, `CleanupPending`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: String,
    pub message: String,
    pub last_transition_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

#[derive(Debug, Clone, Args)]
pub struct CrdArgs {}

/// Prints the CustomResourceDefinition as YAML (what charts/etcdbak/crds ships).
pub fn run(_args: CrdArgs) -> Result<()> {
    print!("{}", crd_yaml());
    Ok(())
}

pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    // The CRD is built from our own types, so serialising it cannot fail.
    serde_yaml::to_string(&Cluster::crd()).unwrap_or_default()
}
