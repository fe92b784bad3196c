//! The follower's Lease: its [`Beat`] written to the apiserver, so the controller (and `kubectl get
//! lease`) can see how far the stored chain reaches without reading the bucket. Renewed every
//! [`renew_every`], at once after a gap, and only when something changed.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff;
use kube::api::{Api, Patch, PatchParams};
use tokio::sync::Notify;

use super::follow::Report;
use super::heartbeat::{self, renew_every, Beat};

const FIELD_MANAGER: &str = "etcdbak-follower";

/// Where the Lease is and who holds it.
#[derive(Debug, Clone)]
pub struct Target {
    pub namespace: String,
    pub name: String,
    /// The follower's pod name.
    pub holder: String,
    /// The cluster it follows, as a label the controller's Lease watch maps back to the Cluster.
    pub cluster: Option<String>,
}

/// A [`Report`] that keeps the newest [`Beat`] for the renewal task.
pub struct LeaseReport {
    beat: Mutex<Beat>,
    wake: Notify,
}

impl LeaseReport {
    fn with<T>(&self, f: impl FnOnce(&mut Beat) -> T) -> T {
        f(&mut self.beat.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn snapshot(&self) -> Beat {
        self.with(|b| b.clone())
    }
}

impl Report for LeaseReport {
    fn durable(&self, segment: &super::SegmentName, _events: usize) {
        self.with(|b| b.caught_up(segment.last, Utc::now()));
    }
    fn caught_up(&self, revision: i64) {
        let first = self.with(|b| {
            let first = b.recovery_point.is_none();
            b.caught_up(revision, Utc::now());
            first
        });
        // The first recovery point is news (the Cluster leaves FollowerStarting); later ones wait for the
        // next renewal.
        if first {
            self.wake.notify_one();
        }
    }
    fn gap(&self, resume: i64, compacted: i64) {
        self.with(|b| b.gap(resume, compacted, Utc::now()));
        self.wake.notify_one();
    }
}

/// Reads the Lease (a restarted follower carries its gap count on) and starts renewing it.
pub async fn start(
    client: kube::Client,
    target: Target,
    interval: Duration,
) -> Result<Arc<LeaseReport>, kube::Error> {
    let api: Api<Lease> = Api::namespaced(client, &target.namespace);
    let mut beat = Beat::default();
    if let Some(old) = api.get_opt(&target.name).await? {
        if let Some(prev) = old
            .metadata
            .annotations
            .as_ref()
            .and_then(Beat::from_annotations)
        {
            beat.gaps = prev.gaps;
            beat.last_gap = prev.last_gap;
            beat.revision = prev.revision;
        }
    }
    let report = Arc::new(LeaseReport {
        beat: Mutex::new(beat),
        wake: Notify::new(),
    });
    let every = renew_every(interval);
    tokio::spawn(renew(api, target, every, report.clone()));
    Ok(report)
}

async fn renew(api: Api<Lease>, target: Target, every: Duration, report: Arc<LeaseReport>) {
    let mut written: Option<Beat> = None;
    loop {
        let beat = report.snapshot();
        if written.as_ref() != Some(&beat) {
            match write(&api, &target, &beat, every).await {
                Ok(()) => written = Some(beat),
                // The chain is what matters; a missed heartbeat shows as a stale recovery point.
                Err(e) => {
                    tracing::warn!(lease = %target.name, "cannot renew the follower's Lease: {e}")
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = report.wake.notified() => {}
        }
    }
}

async fn write(
    api: &Api<Lease>,
    target: &Target,
    beat: &Beat,
    every: Duration,
) -> Result<(), kube::Error> {
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(target.name.clone()),
            namespace: Some(target.namespace.clone()),
            annotations: Some(beat.to_annotations()),
            labels: Some(heartbeat::labels(target.cluster.as_deref())),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(target.holder.clone()),
            lease_duration_seconds: i32::try_from(every.as_secs() * 3).ok(),
            renew_time: Some(MicroTime(jiff::Timestamp::now())),
            ..Default::default()
        }),
    };
    let mut lease = serde_json::to_value(&lease).unwrap_or_default();
    lease["apiVersion"] = "coordination.k8s.io/v1".into();
    lease["kind"] = "Lease".into();
    api.patch(
        &target.name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&lease),
    )
    .await?;
    Ok(())
}
