//! `prune --all` on every destination: the cleanup Job of a deleted Cluster empties each place `store`
//! wrote the cluster's backups to, and one destination that fails (down, no credentials) does not keep the
//! others from being emptied; the run then fails naming it, so the Job is retried.

use futures::future::join_all;

use super::destinations::{self, Destination, Failed, Task};
use super::prune::{self, Options, Report};
use super::Error;

/// Prunes `opts` in every destination at once; each destination's report in their order (what it
/// deleted and what its locks keep), and the run's outcome (`Ok` only when every one was pruned).
pub async fn run_each(
    dests: &[Destination],
    unready: Vec<Failed>,
    opts: &Options,
) -> (Vec<Report>, Result<(), Error>) {
    let runs = dests.iter().map(|d| async move {
        let mut report = Report::default();
        let result = prune::run(&d.client, opts, &mut report).await;
        if let Err(e) = &result {
            tracing::warn!(destination = %d.name, bucket = %d.client.bucket_name, error = %e, "pruning a destination failed; the others go on");
        }
        (report, result)
    });
    let (reports, results): (Vec<Report>, Vec<_>) = join_all(runs).await.into_iter().unzip();
    let outcome = destinations::outcome_of(Task::Cleanup, dests, results, unready);
    (reports, outcome)
}
