//! A restore to a point: the chain of segments its replay needs, planned from one listing and, where the
//! guide can read the segments (not encrypted), read and checked end to end now, so that a broken chain
//! stops the guide instead of the restore half-way. Encrypted segments get what their HEAD can show;
//! the runbook's check step reads them with the identity.

use chrono::DateTime;

use super::facts::{Point, Reached};
use super::Error;
use crate::continuous::chain::{self, Target};
use crate::continuous::{objects, replay};
use crate::s3::Client;

/// The full backup a restore to `target` starts from (its key) and the point facts for the runbook.
pub async fn point(
    client: &Client,
    cluster: &str,
    target: Target,
) -> Result<(String, Point), Error> {
    let listing = objects::list(client, cluster).await?;
    let chain = chain::restore_chain(&listing.bases, &listing.segments, target)
        .map_err(crate::continuous::Error::from)?;
    let base = chain.base.key.clone();
    let segments = chain.segments.clone();
    let reached = reached(client, cluster, target, chain).await?;
    Ok((
        base,
        Point {
            target,
            segments,
            reached,
        },
    ))
}

/// Reads every segment of `chain` (none is applied) and says where its replay ends; for an encrypted chain
/// checks what each HEAD shows and returns `None`.
async fn reached(
    client: &Client,
    cluster: &str,
    target: Target,
    chain: chain::Chain,
) -> Result<Option<Reached>, Error> {
    if chain.segments.iter().any(|s| s.encrypted) {
        for s in &chain.segments {
            objects::head_checked(client, cluster, s).await?;
        }
        return Ok(None);
    }
    let opts = replay::Options {
        cluster: cluster.to_string(),
        target,
        identities: None,
    };
    let checked = replay::read_planned(client, &opts, chain, async |_| Ok(())).await?;
    Ok(Some(Reached {
        events: checked.events,
        revision: checked.reached,
        seen_at: checked
            .reached_at_ms
            .and_then(DateTime::from_timestamp_millis),
    }))
}
