//! Why a Cluster (or the admin's config) cannot be rendered: one sentence that names what to fix, and a
//! CamelCase reason for the condition and the Event.

use crate::schedule::ScheduleError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    #[error("spec.schedule is not usable: {0}")]
    Schedule(#[source] ScheduleError),
    #[error("the controller's defaultSchedule is not usable for this cluster: {0}")]
    DefaultSchedule(#[source] ScheduleError),
    #[error("the verification schedule (spec.verify.schedule, else the config's verify.schedule) is not usable: {0}")]
    VerifySchedule(#[source] ScheduleError),
    #[error("keep is {0}: set spec.keep between 1 and 10000")]
    InvalidKeep(u32),
    #[error("{0}")]
    InvalidRetention(String),
    #[error("the continuous-backup interval {0}: set spec.continuous.interval (or the config's continuous.interval) between 1s and 1h")]
    InvalidInterval(String),
    #[error(
        "spec.namespace {0:?} is not a namespace name: give the namespace the etcd cluster runs in"
    )]
    InvalidNamespace(String),
    #[error("{0}: rename the Cluster (its name is the backup prefix and the Jobs' CLUSTER)")]
    InvalidClusterName(String),
    #[error("the Cluster names no etcd endpoint: set spec.endpoints or spec.service")]
    NoEndpoint,
    #[error("the Cluster sets both spec.endpoints and spec.service: keep only one of them")]
    AmbiguousEndpoint,
    #[error("endpoint {0:?} in spec.endpoints is not an http:// or https:// URL: write it as https://host:2379")]
    InvalidEndpoint(String),
    /// The endpoint itself is not repeated: the part before '@' is a password.
    #[error("an endpoint in spec.endpoints carries credentials (user:password@): remove them; etcd is reached with the client certificate of spec.tlsSecret")]
    EndpointCredentials,
    #[error("the TLS Secret {namespace}/{name} named by spec.tlsSecret was not found: create it or fix spec.tlsSecret")]
    TlsSecretNotFound { namespace: String, name: String },
    #[error("the TLS Secret {namespace}/{name} has no {key:?} key: it needs ca.crt, tls.crt and tls.key")]
    TlsKeyMissing {
        namespace: String,
        name: String,
        key: &'static str,
    },
    #[error("the {template} template does not mount the volume etcd-backup at /backup{found}: add `volumeMounts: [{{name: etcd-backup, mountPath: /backup}}]` to it in the controller config")]
    MissingBackupMount {
        template: &'static str,
        found: String,
    },
    #[error("the {template} template sets the env var {name}, which the controller provides: remove it from the template in the controller config")]
    ReservedEnv {
        template: &'static str,
        name: String,
    },
    #[error("the {template} template mounts the volume {volume:?}, which the Job does not have: mount etcd-backup or tmp, or add the volume to pod.extraVolumes in the controller config")]
    UnknownVolume {
        template: &'static str,
        volume: String,
    },
    #[error("the backups' encoding is not usable ({0}): fix spec.compression / spec.encryption, or the config's compression / encryption")]
    InvalidEncoding(String),
    #[error("the backups' Object Lock is not usable ({0}): fix spec.objectLock, or the config's objectLock")]
    InvalidObjectLock(String),
    #[error("the {template} template is named {name:?}, which the snapshot init container already uses: rename it in the controller config")]
    ContainerNameTaken {
        template: &'static str,
        name: String,
    },
}

impl RenderError {
    /// CamelCase, for condition reasons and Event reasons.
    pub fn reason(&self) -> &'static str {
        match self {
            RenderError::Schedule(_) | RenderError::DefaultSchedule(_) => "InvalidSchedule",
            RenderError::VerifySchedule(_) => "InvalidVerifySchedule",
            RenderError::InvalidKeep(_) => "InvalidKeep",
            RenderError::InvalidRetention(_) => "InvalidRetention",
            RenderError::InvalidInterval(_) => "InvalidContinuousInterval",
            RenderError::InvalidNamespace(_) => "InvalidNamespace",
            RenderError::InvalidClusterName(_) => "InvalidClusterName",
            RenderError::NoEndpoint => "NoEndpoint",
            RenderError::AmbiguousEndpoint => "AmbiguousEndpoint",
            RenderError::InvalidEndpoint(_) | RenderError::EndpointCredentials => "InvalidEndpoint",
            RenderError::TlsSecretNotFound { .. } => "TlsSecretNotFound",
            RenderError::TlsKeyMissing { .. } => "TlsSecretIncomplete",
            RenderError::MissingBackupMount { .. } => "TemplateMissingBackupMount",
            RenderError::ReservedEnv { .. } => "TemplateReservedEnv",
            RenderError::UnknownVolume { .. } => "TemplateUnknownVolume",
            RenderError::ContainerNameTaken { .. } => "TemplateNameConflict",
            RenderError::InvalidEncoding(_) => "InvalidEncoding",
            RenderError::InvalidObjectLock(_) => "InvalidObjectLock",
        }
    }
}
