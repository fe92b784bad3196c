//! The controller's errors: each says what failed and what to fix, names its failure class for the exit
//! code, and a `reason` for the reconcile-error metric.

use crate::exit::Setting;
use std::net::SocketAddr;
use std::time::Duration;

use crate::exit::Class;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {action}: {source}")]
    Kube {
        action: String,
        #[source]
        source: kube::Error,
    },
    /// The Cluster, its Secret or a template is wrong; the sentence says what to fix.
    #[error("{message}")]
    Invalid {
        reason: &'static str,
        message: String,
    },
    #[error("the cleanup Job {job} failed (attempt {attempt}); retrying in {}: its pod logs say why", humantime::format_duration(*.retry_in))]
    CleanupJobFailed {
        job: String,
        attempt: u32,
        retry_in: Duration,
    },
    #[error("the finalizer step failed: {0}")]
    Finalizer(String),
    #[error("cannot encode a Cluster status: {0}")]
    Status(String),
    #[error("{failed} of {total} Clusters failed to reconcile (see the table above)")]
    ClustersFailed { failed: usize, total: usize },
    #[error("lost the leader Lease {lease}; exiting so that a restart re-joins the election")]
    LeadershipLost { lease: String },
    #[error(
        "cannot serve metrics on {addr}: {source}: choose another {}",
        Setting::MetricsAddr
    )]
    Serve {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the job namespace changed from {from} to {to}; exiting so that a restart watches the new one")]
    JobNamespaceChanged { from: String, to: String },
}

impl Error {
    pub fn kube(action: impl Into<String>, source: kube::Error) -> Error {
        Error::Kube {
            action: action.into(),
            source,
        }
    }

    pub fn class(&self) -> Class {
        match self {
            Error::Kube {
                source: kube::Error::Api(s),
                ..
            } if s.code == 401 || s.code == 403 => Class::Auth,
            Error::Invalid { .. } => Class::Config,
            _ => Class::Failure,
        }
    }

    /// The `reason` label of `etcdbak_reconcile_errors_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "KubeApi",
            Error::Invalid { reason, .. } => reason,
            Error::CleanupJobFailed { .. } => "CleanupJobFailed",
            Error::Finalizer(_) => "Finalizer",
            Error::Status(_) => "Status",
            Error::ClustersFailed { .. } => "ClustersFailed",
            Error::LeadershipLost { .. } => "LeadershipLost",
            Error::Serve { .. } => "Serve",
            Error::JobNamespaceChanged { .. } => "JobNamespaceChanged",
        }
    }
}

impl From<crate::template::RenderError> for Error {
    fn from(e: crate::template::RenderError) -> Error {
        Error::Invalid {
            reason: e.reason(),
            message: e.to_string(),
        }
    }
}
