//! The controller: Cluster resources -> backup CronJobs, with a cleanup finalizer.
//!
//! One reconcile function ([`reconcile::reconcile`]) serves both commands: [`once`] runs it once over every
//! Cluster (`etcdbak reconcile`), [`mod@watch`] runs it under kube-runtime's Controller while holding the
//! leader Lease (`etcdbak watch`); it returns an [`Outcome`] (when to look again, what it did). A deleted
//! Cluster's whole path lives in [`deletion`]: the pure [`deletion::plan`] (the next step, what it writes)
//! and its executor, run in the finalizer's Cleanup arm. Other decisions are pure and tested beside them:
//! [`conditions`] (status conditions), [`backups`] (what the backup Jobs' outcome means for the status),
//! [`verification`] (the same for the verification Jobs), [`leader`] (the Lease), [`config_watch`]
//! (config reloads), [`jobs`] (a Job's outcome), [`backlog`] (the Clusters not yet converged, the metrics'
//! stand-in for the Controller's queue). [`writes`] holds the apiserver writes, each skipped when
//! it would change nothing.

#[cfg(test)]
mod apiserver_mock;
pub mod backlog;
pub mod backups;
pub mod conditions;
pub mod config_watch;
mod context;
pub mod continuous;
pub mod deletion;
mod error;
mod http;
pub mod jobs;
pub mod leader;
mod outcome;
pub mod reconcile;
pub mod single_pass;
pub mod verification;
pub mod watch;
pub mod writes;

use kube::runtime::events::{Recorder, Reporter};
use kube::Client;

pub use context::Context;
pub use error::Error;
pub use outcome::Outcome;
pub use reconcile::{error_policy, reconcile, reconcile_cluster, FIELD_MANAGER, FINALIZER};
pub use single_pass::{dry_run, reconcile_all, DryRun, PassRow};
pub use watch::{watch, WatchOptions};

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A client from KUBECONFIG or the pod's service account.
pub async fn connect() -> Result<Client, Error> {
    Client::try_default().await.map_err(|e| {
        Error::kube(
            "connect to the Kubernetes API (set KUBECONFIG, or run in a pod with a service account)",
            e,
        )
    })
}

fn recorder(client: Client, instance: String) -> Recorder {
    Recorder::new(
        client,
        Reporter {
            controller: "etcdbak".to_string(),
            instance: Some(instance),
        },
    )
}
