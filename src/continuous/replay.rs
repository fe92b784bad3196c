//! `etcdbak replay`: bring a cluster restored from a full backup forward to a chosen revision or time, by
//! applying the chain's changes in commit order. Each original revision becomes one transaction (split
//! only past etcd's per-transaction operation limit), so the restored keyspace passes through the same
//! states the source did. Leases are not carried over: a lease granted after the full backup does not
//! exist in the restored cluster, and Kubernetes re-creates its leased keys (events, leases of
//! components) on its own.

use std::sync::Arc;

use etcd_client::{Txn, TxnOp};

use super::chain::{self, Chain, Target};
use super::segment::{Event, Kind};
use super::{objects, Error};
use crate::pipeline::Identities;
use crate::s3::Client;

/// etcd's default `--max-txn-ops`.
const MAX_TXN_OPS: usize = 128;

#[derive(Debug, Clone)]
pub struct Options {
    pub cluster: String,
    pub target: Target,
    pub identities: Option<Arc<Identities>>,
}

/// What a chain holds up to the target, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub chain: Chain,
    pub events: usize,
    /// The revision the replay ends at, and when the follower saw it (ms since the epoch).
    pub reached: i64,
    pub reached_at_ms: Option<i64>,
}

/// The events of one segment that belong between the base and the target.
pub fn wanted(events: Vec<Event>, base: i64, target: Target) -> Vec<Event> {
    events
        .into_iter()
        .filter(|e| e.revision > base)
        .take_while(|e| match target {
            Target::Revision(r) => e.revision <= r,
            Target::Time(t) => e.seen_at_ms <= t.timestamp_millis(),
        })
        .collect()
}

/// The transactions that replay `events`: one per revision, split at the operation limit.
pub fn transactions(events: &[Event]) -> Vec<Vec<&Event>> {
    let mut out: Vec<Vec<&Event>> = Vec::new();
    for e in events {
        match out.last_mut() {
            Some(txn) if txn[0].revision == e.revision && txn.len() < MAX_TXN_OPS => txn.push(e),
            _ => out.push(vec![e]),
        }
    }
    out
}

/// Plans the chain to the target and reads every segment in it (each one checked end to end), calling
/// `each` with the events to replay in order. Nothing is applied by this function itself.
pub async fn read_chain<F>(client: &Client, opts: &Options, each: F) -> Result<Checked, Error>
where
    F: AsyncFnMut(Vec<Event>) -> Result<(), Error>,
{
    let listing = objects::list(client, &opts.cluster).await?;
    let chain = chain::restore_chain(&listing.bases, &listing.segments, opts.target)?;
    read_planned(client, opts, chain, each).await
}

/// [`read_chain`] for a chain already planned.
pub async fn read_planned<F>(
    client: &Client,
    opts: &Options,
    chain: Chain,
    mut each: F,
) -> Result<Checked, Error>
where
    F: AsyncFnMut(Vec<Event>) -> Result<(), Error>,
{
    let mut events = 0;
    let mut reached = chain.base.revision;
    let mut reached_at_ms = None;
    for name in &chain.segments {
        let read = objects::get(client, &opts.cluster, name, opts.identities.clone()).await?;
        let keep = wanted(read, chain.base.revision, opts.target);
        if let Some(last) = keep.last() {
            reached = last.revision;
            reached_at_ms = Some(last.seen_at_ms);
        }
        events += keep.len();
        each(keep).await?;
    }
    Ok(Checked {
        chain,
        events,
        reached,
        reached_at_ms,
    })
}

/// Reads the chain and applies it to the cluster behind `etcd`.
pub async fn run(
    client: &Client,
    etcd: &mut etcd_client::Client,
    opts: &Options,
) -> Result<Checked, Error> {
    read_chain(client, opts, async |events: Vec<Event>| {
        apply(etcd, &events).await
    })
    .await
}

async fn apply(etcd: &mut etcd_client::Client, events: &[Event]) -> Result<(), Error> {
    for txn in transactions(events) {
        let ops: Vec<TxnOp> = txn
            .iter()
            .map(|e| match e.kind {
                Kind::Put => TxnOp::put(e.key.clone(), e.value.clone(), None),
                Kind::Delete => TxnOp::delete(e.key.clone(), None),
            })
            .collect();
        etcd.txn(Txn::new().and_then(ops))
            .await
            .map_err(|e| Error::Replay {
                revision: txn[0].revision,
                why: e.to_string(),
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn ev(revision: i64, key: &str, seen: i64) -> Event {
        Event {
            kind: Kind::Put,
            revision,
            create_revision: revision,
            version: 1,
            lease: 0,
            seen_at_ms: seen,
            key: key.as_bytes().to_vec(),
            value: b"v".to_vec(),
        }
    }

    #[test]
    fn only_events_after_the_base_and_up_to_the_target_are_replayed() {
        let events = vec![
            ev(10, "a", 100),
            ev(11, "b", 200),
            ev(12, "c", 300),
            ev(13, "d", 400),
        ];
        let revs = |v: Vec<Event>| v.iter().map(|e| e.revision).collect::<Vec<_>>();
        assert_eq!(
            revs(wanted(events.clone(), 10, Target::Revision(12))),
            [11, 12]
        );
        let at = DateTime::from_timestamp_millis(300).unwrap();
        assert_eq!(revs(wanted(events, 0, Target::Time(at))), [10, 11, 12]);
    }

    #[test]
    fn one_transaction_per_revision_split_at_the_op_limit() {
        let mut events = vec![ev(5, "a", 0), ev(5, "b", 0), ev(6, "c", 0)];
        events.extend((0..130).map(|i| ev(7, &format!("k{i}"), 0)));
        let txns = transactions(&events);
        let sizes: Vec<usize> = txns.iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 1, 128, 2]);
    }
}
