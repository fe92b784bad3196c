//! Receiving the chosen member's snapshot: the gRPC stream goes to the writer thread chunk by chunk, its
//! length is checked against what etcd announced, and the verified file becomes [`SnapshotMetadata`].

use std::time::{Duration, Instant};

use etcd_client::{Client, SnapshotStreaming};
use tokio::sync::mpsc::Sender;
use tracing::{info, warn};

use super::probe::{etcd_failure, member_name};
use super::select::Choice;
use super::setup::Setup;
use super::write::{self, Workspace};
use super::{Error, Phase};
use crate::backup::SnapshotMetadata;
use crate::verify::{Verified, VerifyError, TRAILER_LEN};

/// How much of the stream arrived, and how much etcd said it would send (without the trailer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Count {
    received: u64,
    announced: Option<u64>,
}

impl Count {
    /// The stream's length must be what etcd announced plus the 32-byte trailer: more is caught as soon
    /// as it arrives, less once the stream has ended. `Err` carries the expected length. Pure.
    fn verdict(&self, ended: bool) -> Result<(), u64> {
        let expected = self.announced.unwrap_or(0) + TRAILER_LEN;
        if self.received > expected || (ended && self.received != expected) {
            Err(expected)
        } else {
            Ok(())
        }
    }

    fn total_text(&self) -> String {
        self.announced
            .map_or("?".into(), |t| (t + TRAILER_LEN).to_string())
    }
}

/// A bar for a person, a log line every 15 s for a Job.
struct Progress {
    bar: Option<Box<dyn crate::progress::Transfer>>,
    last_log: Instant,
}

impl Progress {
    fn advance(&mut self, count: &Count) {
        if let Some(b) = &self.bar {
            b.at(count.received);
        } else if self.last_log.elapsed() >= Duration::from_secs(15) {
            self.last_log = Instant::now();
            info!(
                bytes = count.received,
                total = count.announced.unwrap_or(0) + TRAILER_LEN,
                "snapshot progress"
            );
        }
    }
}

/// Streams the chosen member's snapshot into the workspace's `.part` file and verifies it.
pub(super) async fn stream_snapshot(
    cfg: &Setup,
    ws: &Workspace,
    choice: &Choice,
    phase: &Phase,
) -> Result<SnapshotMetadata, Error> {
    let endpoint = choice.endpoint.as_str();
    let etcd_err =
        |call, e: etcd_client::Error| cfg.failure_error(endpoint, call, etcd_failure(&e));
    let mut client = Client::connect([endpoint], Some(cfg.connect_options()))
        .await
        .map_err(|e| etcd_err("connect", e))?;
    let member = member_name(&mut client, choice.status.member_id, cfg.dial_timeout).await;
    phase.set(format!("streaming the snapshot from {endpoint}"));
    let started = Instant::now();
    let mut stream = client
        .snapshot()
        .await
        .map_err(|e| etcd_err("snapshot", e))?;

    let file = ws.create_db_part()?;
    // 32 messages of 32 KiB in flight at most: memory stays flat whatever the database size.
    let (tx, rx) = tokio::sync::mpsc::channel::<write::Chunk>(32);
    let part = ws.db_part.clone();
    let writer = tokio::task::spawn_blocking(move || write::write_stream(file, &part, rx));
    let (count, outcome) = pump(&mut stream, tx, endpoint, &member, &*cfg.progress).await;
    let written = writer.await.map_err(|e| Error::Disk {
        action: "write",
        path: ws.db_part.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let verified = settle(ws, endpoint, count, written, outcome)?;
    let taken_at = chrono::Utc::now();
    let elapsed = started.elapsed();

    phase.set("reading the revision from the snapshot");
    let meta = metadata(cfg, ws, choice, &member, count, &verified, taken_at);
    let secs = elapsed.as_secs_f64();
    info!(
        endpoint = %endpoint,
        member = %member,
        bytes = verified.file_size,
        duration_ms = elapsed.as_millis() as u64,
        mib_per_sec = format!("{:.1}", verified.file_size as f64 / (1 << 20) as f64 / secs.max(1e-9)),
        revision = meta.revision,
        sha256 = %verified.sha256,
        "snapshot streamed and verified"
    );
    phase.set("writing snapshot.json");
    ws.write_metadata(&meta)?;
    Ok(meta)
}

/// Moves every message to the writer (or stops at the first problem) and says how much arrived.
async fn pump(
    stream: &mut SnapshotStreaming,
    tx: Sender<write::Chunk>,
    endpoint: &str,
    member: &str,
    watcher: &dyn crate::progress::Progress,
) -> (Count, Result<(), Error>) {
    let mut count = Count::default();
    let mut progress = Progress {
        bar: None,
        last_log: Instant::now(),
    };
    let outcome = loop {
        match stream.message().await {
            Ok(Some(mut resp)) => {
                // Moved out, not copied: the writer thread owns each 32 KiB blob from here on.
                let blob = std::mem::take(&mut resp.0.blob);
                let len = blob.len() as u64;
                if count.announced.is_none() {
                    let t = resp.remaining_bytes() + len;
                    progress.bar = watcher.start("snapshot", Some(t + TRAILER_LEN));
                    info!(endpoint = %endpoint, member = %member, bytes = t, "streaming snapshot");
                    count.announced = Some(t);
                }
                count.received += len;
                if let Err(expected) = count.verdict(false) {
                    break Err(truncated(endpoint, count, expected));
                }
                if tx.send(write::Chunk::Data(blob)).await.is_err() {
                    // The writer stopped (a disk error); its result says why.
                    break Ok(());
                }
                progress.advance(&count);
            }
            Ok(None) => {
                // If the writer already stopped, its own error is reported instead.
                let _ = tx.send(write::Chunk::End).await;
                break Ok(());
            }
            Err(e) => {
                let f = etcd_failure(&e);
                break Err(Error::StreamBroken {
                    endpoint: endpoint.to_string(),
                    received: count.received,
                    total: count.total_text(),
                    detail: f.detail,
                    kind: f.kind,
                });
            }
        }
    };
    if let Some(b) = progress.bar {
        b.end();
    }
    (count, outcome)
}

fn truncated(endpoint: &str, count: Count, expected: u64) -> Error {
    Error::Truncated {
        endpoint: endpoint.to_string(),
        received: count.received,
        expected,
    }
}

/// The writer's result and the stream's, in the order that explains a failure best: a disk error first
/// (it explains a stopped stream), then the stream's own error, then the length, then the content.
fn settle(
    ws: &Workspace,
    endpoint: &str,
    count: Count,
    written: Result<Option<Result<Verified, VerifyError>>, Error>,
    outcome: Result<(), Error>,
) -> Result<Verified, Error> {
    let verified = written?;
    outcome?;
    let verified = verified.ok_or_else(|| Error::Disk {
        action: "finish writing",
        path: ws.db_part.clone(),
        source: std::io::Error::other("the writer stopped before the end of the stream"),
    })?;
    count
        .verdict(true)
        .map_err(|expected| truncated(endpoint, count, expected))?;
    verified.map_err(|source| Error::Corrupt {
        endpoint: endpoint.to_string(),
        source,
    })
}

fn metadata(
    cfg: &Setup,
    ws: &Workspace,
    choice: &Choice,
    member: &str,
    count: Count,
    verified: &Verified,
    taken_at: chrono::DateTime<chrono::Utc>,
) -> SnapshotMetadata {
    let revision = match crate::bolt::revision_of_file(&ws.db_part) {
        Ok(Some(rev)) => rev,
        other => {
            // Only a database layout this reader does not know ends up here; the status call's revision
            // is a close lower bound, and the snapshot itself is verified, so it is still a good backup.
            warn!(result = ?other.map_err(|e| e.to_string()), fallback = choice.status.revision,
                "cannot read the revision from the snapshot; using the member's status revision");
            choice.status.revision
        }
    };
    SnapshotMetadata {
        cluster: cfg.cluster.clone(),
        member: member.to_string(),
        member_id: format!("{:x}", choice.status.member_id),
        endpoint: choice.endpoint.clone(),
        revision,
        // What the member announced at the start of the stream: its database size at snapshot time (the
        // status call's figure can lag behind the backend's last commit).
        db_size: count.announced.unwrap_or(0),
        file_size: verified.file_size,
        sha256: verified.sha256.clone(),
        taken_at,
        etcd_version: choice.status.version.clone(),
        etcdbak_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_must_be_the_announced_size_plus_the_trailer() {
        let c = |received, announced| Count {
            received,
            announced,
        };
        // (count, ended, verdict)
        let cases = [
            (c(0, Some(100)), false, Ok(())),
            (c(132, Some(100)), false, Ok(())),
            (c(133, Some(100)), false, Err(132)),
            (c(132, Some(100)), true, Ok(())),
            (c(131, Some(100)), true, Err(132)),
            (c(0, None), true, Err(32)),
            (c(32, None), true, Ok(())),
        ];
        for (count, ended, want) in cases {
            assert_eq!(count.verdict(ended), want, "{count:?} ended={ended}");
        }
        assert_eq!(c(5, None).total_text(), "?");
        assert_eq!(c(5, Some(100)).total_text(), "132");
    }
}
