//! `etcdbak follow`: one cluster's watch stream into segments, for as long as it runs.
//!
//! The loop: list the bucket, resume after the newest durable revision (or after the newest full backup
//! when that is newer), watch every key from there, close a segment at the interval or size bound, and
//! count it durable only once the store answered the PUT. A broken stream resumes from the last durable
//! revision, so a restart or a lost connection costs nothing that etcd still holds. A resume point etcd
//! has compacted away is a gap: it is reported, and a full backup is taken at once to start a new chain.

use std::time::{Duration, Instant};

use chrono::Utc;
use etcd_client::{EventType, WatchOptions};
use tracing::{info, warn};

use super::buffer::{Bounds, OpenSegment};
use super::segment::{Event, Kind};
use super::{chain, objects, Error};
use crate::pipeline::Encoding;
use crate::s3::Client;

/// What `follow` is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// etcd endpoints and TLS, as `snapshot` takes them; `dir` is where a re-basing full backup is written.
    pub etcd: crate::snapshot::Options,
    pub bounds: Bounds,
    pub encoding: Encoding,
    /// How a re-basing full backup is stored (its retention keeps everything: the backup Job's own
    /// retention governs the history).
    pub rebase: crate::store::Options,
    /// How long to wait before reconnecting after the stream broke.
    pub retry: Duration,
}

/// Why one watch stream ended.
enum Ended {
    Signal(&'static str),
    /// etcd no longer has the revisions after the resume point.
    Compacted {
        resume: i64,
        compacted: i64,
    },
    Broken(String),
}

/// What the follower tells its caller as it goes (the command line logs it; tests read it).
pub trait Report: Send + Sync {
    fn durable(&self, segment: &super::SegmentName, events: usize);
    /// Nothing is pending and etcd says the stream has sent everything up to `revision`: all of it is
    /// stored. Called about once an interval on an idle cluster, so "no segments" reads as "nothing lost".
    fn caught_up(&self, revision: i64);
    fn gap(&self, resume: i64, compacted: i64);
}

pub async fn run(client: &Client, opts: &Options, report: &dyn Report) -> Result<(), Error> {
    let (mut etcd, cluster) = crate::snapshot::connect(&opts.etcd).await?;
    loop {
        let listing = objects::list(client, &cluster).await?;
        let Some(after) = chain::resume_after(&listing.bases, &listing.segments) else {
            info!(%cluster, "no full backup to continue: taking one");
            rebase(client, opts, &cluster).await?;
            continue;
        };
        prune(client, &cluster, &listing).await;
        match follow_from(&mut etcd, client, &cluster, after + 1, opts, report).await? {
            Ended::Signal(signal) => {
                info!(%cluster, signal, "follower stopped");
                return Ok(());
            }
            Ended::Compacted { resume, compacted } => {
                warn!(
                    %cluster, resume, compacted,
                    "gap: etcd compacted the revisions after the last durable segment; taking a full backup to start a new chain"
                );
                report.gap(resume, compacted);
                rebase(client, opts, &cluster).await?;
            }
            Ended::Broken(why) => {
                warn!(%cluster, resume = after + 1, why, "watch stream broke; resuming from the last durable revision");
                tokio::time::sleep(opts.retry).await;
                (etcd, _) = crate::snapshot::connect(&opts.etcd).await?;
            }
        }
    }
}

/// A full backup through the same library calls as the backup Job's two containers.
async fn rebase(client: &Client, opts: &Options, cluster: &str) -> Result<(), Error> {
    let mut snap = opts.etcd.clone();
    snap.cluster = Some(cluster.to_string());
    crate::snapshot::run(snap).await?;
    let mut store = opts.rebase.clone();
    store.dir = opts.etcd.dir.clone();
    store.cluster = Some(cluster.to_string());
    crate::store::run(client, &store).await?;
    Ok(())
}

/// Deletes the segments no remaining full backup's chain needs (every version, on a versioned bucket); one
/// an Object Lock still holds stays until a later pass finds it expired; a failure only postpones it.
async fn prune(client: &Client, cluster: &str, listing: &objects::Listing) {
    for name in chain::droppable(&listing.bases, &listing.segments) {
        let key = crate::naming::segment::segment_key(&client.prefix, cluster, &name);
        match client.remove(&key).await {
            Ok(crate::s3::Removal::Gone) => info!(%key, "deleted a segment no kept backup needs"),
            Ok(crate::s3::Removal::Locked(locked)) => {
                info!(%key, %locked, "kept a segment no kept backup needs: its Object Lock has not expired");
            }
            Err(e) => warn!(%key, error = %e, "could not delete an unneeded segment"),
        }
    }
}

/// The largest watch response the follower accepts (see [`follow_from`]).
const MAX_WATCH_RESPONSE: usize = 256 * 1024 * 1024;

async fn follow_from(
    etcd: &mut etcd_client::Client,
    client: &Client,
    cluster: &str,
    start: i64,
    opts: &Options,
    report: &dyn Report,
) -> Result<Ended, Error> {
    let watch = WatchOptions::new()
        .with_all_keys()
        .with_start_revision(start)
        .with_progress_notify();
    // etcd batches up to 1,000 revisions in one watch response: catching up a backlog of large
    // transactions sends responses far past tonic's 4 MiB default, which would break the stream at the
    // same revision forever. Fragmenting instead would split a revision across responses.
    let mut watcher = etcd
        .watch_client()
        .max_decoding_message_size(MAX_WATCH_RESPONSE);
    let mut stream = match watcher.watch("", Some(watch)).await {
        Ok(s) => s,
        Err(e) => return Ok(Ended::Broken(e.to_string())),
    };
    info!(%cluster, from_revision = start, "following the watch stream");
    let mut open = OpenSegment::default();
    let mut progress = tokio::time::interval(opts.bounds.interval);
    loop {
        let deadline = open.deadline(&opts.bounds);
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            message = stream.message() => {
                let mut response = match message {
                    Ok(Some(r)) => r,
                    Ok(None) => return Ok(Ended::Broken("etcd closed the watch stream".into())),
                    Err(e) => return Ok(Ended::Broken(e.to_string())),
                };
                if response.compact_revision() > 0 {
                    return Ok(Ended::Compacted { resume: start, compacted: response.compact_revision() });
                }
                if response.canceled() {
                    return Ok(Ended::Broken(format!("etcd cancelled the watch: {}", response.cancel_reason())));
                }
                let events = match events_of(&mut response) {
                    Ok(events) => events,
                    Err(why) => return Ok(Ended::Broken(why)),
                };
                if events.is_empty() && open.is_empty() {
                    report.caught_up(response.header().map_or(0, |h| h.revision()));
                }
                open.extend(events, Instant::now());
            }
            _ = progress.tick() => {
                if open.is_empty() {
                    // The answer is a progress notification: proof the stream is alive and complete.
                    if let Err(e) = stream.request_progress().await {
                        return Ok(Ended::Broken(e.to_string()));
                    }
                }
            }
            () = timer => {}
            signal = crate::shutdown::signal() => {
                // What was received is written before stopping: a stop loses nothing it can keep.
                close(client, cluster, &mut open, opts, report).await?;
                return Ok(Ended::Signal(signal));
            }
        }
        if open.due(Instant::now(), &opts.bounds) {
            close(client, cluster, &mut open, opts, report).await?;
        }
    }
}

/// Stores the open segment (retrying the store's transient failures) and empties it.
async fn close(
    client: &Client,
    cluster: &str,
    open: &mut OpenSegment,
    opts: &Options,
    report: &dyn Report,
) -> Result<(), Error> {
    if open.is_empty() {
        return Ok(());
    }
    let mut delay = Duration::from_millis(500);
    let mut attempt = 1;
    let name = loop {
        match objects::put(client, cluster, open.events(), &opts.encoding, Utc::now()).await {
            Ok(name) => break name,
            Err(e) if attempt < PUT_ATTEMPTS => {
                warn!(%cluster, attempt, error = %e, "could not store a segment; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
    info!(%cluster, first = name.first, last = name.last, events = open.events().len(), "segment durable");
    report.durable(&name, open.events().len());
    open.clear();
    Ok(())
}

/// A failing store gets about a minute before the follower gives up (and is restarted to resume).
const PUT_ATTEMPTS: u32 = 8;

/// The response's events as segment events. Their keys and values are moved, not copied: while a
/// backlog is caught up each response holds up to 1,000 revisions, and a copy would double that.
fn events_of(response: &mut etcd_client::WatchResponse) -> Result<Vec<Event>, String> {
    let seen_at_ms = Utc::now().timestamp_millis();
    std::mem::take(&mut response.0.events)
        .into_iter()
        .filter_map(|e| Some((e.r#type, e.kv?)))
        .map(|(kind, kv)| {
            let kind = match EventType::try_from(kind) {
                Ok(EventType::Put) => Kind::Put,
                Ok(EventType::Delete) => Kind::Delete,
                Err(_) => return Err(format!("etcd sent an event of unknown type {kind}")),
            };
            Ok(Event {
                kind,
                revision: kv.mod_revision,
                create_revision: kv.create_revision,
                version: kv.version,
                lease: kv.lease,
                seen_at_ms,
                key: kv.key,
                value: kv.value,
            })
        })
        .collect()
}
