//! The chain check `etcdbak verify` runs after the backup's own: the segments that carry the verified
//! backup forward, each read end to end (digest, size, decode, event count, no revision missing inside
//! it), and no hole where the chain should go on. A damaged segment is a verdict; an S3 failure is not
//! (the check did not happen), so it stays an error.

use std::sync::Arc;

use serde::Serialize;

use super::chain::{self, Target};
use super::{objects, replay, Error};
use crate::pipeline::Identities;
use crate::s3::Client;

/// What the check found; `problem` is set when the chain cannot be trusted to its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainReport {
    /// The full backup the chain continues.
    pub base: String,
    pub segments: usize,
    /// The newest revision a restore from the backup reaches through the chain.
    pub reaches: i64,
    /// Changes (etcd events) read.
    pub events: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A chain that cannot be trusted to its end, for the exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the continuous-backup chain after {base} is broken: {problem}")]
pub struct Broken {
    pub base: String,
    pub problem: String,
}

impl ChainReport {
    pub fn sound(&self) -> Result<(), Broken> {
        match &self.problem {
            None => Ok(()),
            Some(problem) => Err(Broken {
                base: self.base.clone(),
                problem: problem.clone(),
            }),
        }
    }
}

/// Checks the chain of backup `base_key` of `cluster`; `None` when the cluster has no segments (no
/// continuous backup) or the backup is not in the listing.
pub async fn check_chain(
    client: &Client,
    cluster: &str,
    base_key: &str,
    identities: Option<Arc<Identities>>,
) -> Result<Option<ChainReport>, Error> {
    let listing = objects::list(client, cluster).await?;
    let Some(base) = listing.bases.iter().find(|b| b.key == base_key) else {
        return Ok(None);
    };
    if listing.segments.is_empty() {
        return Ok(None);
    }
    let reach = chain::reach(base, &listing.segments);
    let chain = chain::chain_of(base, &listing.segments);
    let opts = replay::Options {
        cluster: cluster.to_string(),
        target: Target::Revision(chain.reaches()),
        identities,
    };
    let (events, damaged) = match replay::read_planned(client, &opts, chain, async |_| Ok(())).await
    {
        Ok(checked) => (checked.events, None),
        Err(e @ (Error::Corrupt { .. } | Error::NeedsIdentity(_) | Error::Pipeline(_))) => {
            (0, Some(e.to_string()))
        }
        Err(e) => return Err(e),
    };
    let hole = reach.gap_after.map(|g| {
        format!(
            "it stops at revision {}: revisions {}..{} are in no segment",
            reach.revision, g.from, g.to
        )
    });
    Ok(Some(ChainReport {
        base: base_key.to_string(),
        segments: reach.segments,
        reaches: reach.revision,
        events,
        problem: damaged.or(hole),
    }))
}
