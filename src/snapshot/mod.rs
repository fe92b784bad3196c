//! `etcdbak snapshot`: pick a member, stream its snapshot to disk, verify, and publish it atomically.
//!
//! The pieces: [`select`] decides which member (pure), [`classify`] names what went wrong on the wire (pure),
//! [`write`] owns the files (`.part` while writing, final names only when complete), [`crate::bolt`] reads the
//! revision out of the finished file. [`endpoints`] and [`setup`] check the options before any traffic,
//! [`probe`] asks the members, [`stream`] receives the snapshot, [`hints`] names what to fix.

pub mod classify;
mod endpoints;
mod error;
mod hints;
mod probe;
pub mod select;
mod setup;
mod stream;
pub mod write;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::info;

use crate::backup::SnapshotMetadata;
pub use error::Error;
use setup::Setup;
use write::Workspace;

/// What to snapshot and where, as the command line was given it; checked by [`run`] before any traffic.
#[derive(Debug, Clone)]
pub struct Options {
    pub endpoints: Vec<String>,
    pub cacert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub dial_timeout: Duration,
    pub timeout: Duration,
    pub dir: PathBuf,
    pub cluster: Option<String>,
    /// The CLUSTER environment variable (the store-container contract): the fallback for `cluster`.
    pub cluster_env: Option<String>,
    /// Where the snapshot stream reports how far it got.
    pub progress: crate::progress::Reporter,
}

/// What the run is doing, for timeout and interruption messages.
pub(super) struct Phase(Mutex<String>);

impl Phase {
    pub(super) fn set(&self, what: impl Into<String>) {
        if let Ok(mut p) = self.0.lock() {
            *p = what.into();
        }
    }

    pub(super) fn get(&self) -> String {
        self.0.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

async fn take(cfg: &Setup, ws: &Workspace, phase: &Phase) -> Result<SnapshotMetadata, Error> {
    phase.set("asking the endpoints for their status");
    let probes =
        futures::future::join_all(cfg.endpoints.iter().map(|ep| probe::probe(ep.clone(), cfg)))
            .await;
    let choice = select::choose(&probes).map_err(|e| cfg.selection_error(e))?;
    info!(
        endpoint = %choice.endpoint,
        member_id = %format!("{:x}", choice.status.member_id),
        leader = choice.status.is_leader(),
        applied_index = choice.status.raft_applied_index,
        "chose member to snapshot"
    );
    stream::stream_snapshot(cfg, ws, &choice, phase).await
}

/// A client for the cluster's members and the cluster's name, checked and with TLS exactly as a snapshot
/// run has them: what `follow` and `replay` reach etcd through.
pub async fn connect(opts: &Options) -> Result<(etcd_client::Client, String), Error> {
    let cfg = Setup::from_options(opts.clone())?;
    let client = etcd_client::Client::connect(cfg.endpoints.clone(), Some(cfg.connect_options()))
        .await
        .map_err(|e| Error::Unreachable {
            report: format!("{} ({e})", cfg.endpoints.join(", ")),
        })?;
    Ok((client, cfg.cluster))
}

pub async fn run(opts: Options) -> Result<(), Error> {
    // The directory is cleared before anything else can fail, so even a run that stops at a bad flag
    // leaves no earlier snapshot under a final name for a store step to pick up as new.
    let ws = Workspace::prepare(&opts.dir)?;
    let cfg = Setup::from_options(opts)?;
    let phase = Phase(Mutex::new("starting".into()));
    let started = Instant::now();
    let result = tokio::select! {
        r = tokio::time::timeout(cfg.timeout, take(&cfg, &ws, &phase)) => match r {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                after: humantime::format_duration(cfg.timeout).to_string(),
                phase: phase.get(),
            }),
        },
        signal = crate::shutdown::signal() => Err(Error::Interrupted { signal, phase: phase.get() }),
    };
    // On any error the workspace is dropped here, which removes the .part files.
    let meta = result?;
    ws.publish()?;
    info!(
        cluster = %meta.cluster,
        dir = %cfg.dir.display(),
        revision = meta.revision,
        bytes = meta.file_size,
        duration_ms = started.elapsed().as_millis() as u64,
        "snapshot saved"
    );
    Ok(())
}
