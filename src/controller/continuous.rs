//! Continuous backup in the reconcile: the follower Deployment applied (or removed when the Cluster opts
//! out), its Lease read, and the ContinuousBackup condition and recovery point written from it.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ListParams};

use super::conditions::{remove_condition, set_condition};
use super::writes::{apply_if_changed, delete_if_present, Applied};
use super::{Context, Error};
use crate::config::Config;
use crate::continuous::heartbeat::{self, Beat};
use crate::crd::{Cluster, ClusterStatus};
use crate::metrics::{ContinuousState, Metrics};
use crate::naming;

pub const CONTINUOUS_BACKUP: &str = "ContinuousBackup";

/// The follower as the reconcile found it: `None` when continuous backup is off.
pub struct Follower {
    pub beat: Option<Beat>,
    pub interval: Duration,
}

/// Applies the follower Deployment, or removes one left from when continuous backup was on (`was_on`:
/// the status still has the condition, so a fleet without continuous backup costs no extra request), and
/// reads the follower's Lease.
pub(super) async fn apply_follower(
    ctx: &Context,
    namespace: &str,
    cluster: &str,
    desired: Option<(&Deployment, &str)>,
    was_on: bool,
    wrote: &mut Vec<&'static str>,
) -> Result<Option<Follower>, Error> {
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), namespace);
    let name = naming::follower_name(cluster);
    let Some((desired, interval)) = desired else {
        if was_on {
            delete_if_present(&deployments, &name, "the follower Deployment").await?;
            wrote.push("removed follower");
        }
        return Ok(None);
    };
    if apply_if_changed(&deployments, desired, "Deployment")
        .await?
        .0
        != Applied::Unchanged
    {
        wrote.push("follower");
    }
    let leases: Api<Lease> = Api::namespaced(ctx.client.clone(), namespace);
    // Listed by name rather than read with get: the chart grants list/watch/delete on Leases in the job
    // namespace but no get, so the controller cannot take over a Lease someone else elects with.
    let found = leases
        .list(&ListParams::default().fields(&format!("metadata.name={name}")))
        .await
        .map_err(|e| Error::kube(format!("read the follower's Lease {namespace}/{name}"), e))?;
    let beat = found
        .items
        .first()
        .and_then(|l| l.metadata.annotations.as_ref())
        .and_then(Beat::from_annotations);
    let interval =
        crate::config::parse_segment_interval(interval).unwrap_or(Duration::from_secs(20));
    Ok(Some(Follower { beat, interval }))
}

/// Whether the Cluster's status says a follower was running (so one may need removing).
pub(super) fn was_following(cluster: &Cluster) -> bool {
    cluster
        .status
        .as_ref()
        .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == CONTINUOUS_BACKUP))
}

/// Whether a follower may exist: asked for by the spec or the config, or reported in the status. Others
/// cost no request to look.
pub(super) fn may_have_follower(cluster: &Cluster, config: &Config) -> bool {
    was_following(cluster)
        || crate::template::effective_continuous(cluster, config).map_or(true, |i| i.is_some())
}

/// The follower's series for /metrics.
pub(super) fn metrics(f: &Follower) -> ContinuousState {
    let mut state = ContinuousState {
        interval: f.interval,
        ..Default::default()
    };
    observe(&mut state, f.beat.as_ref());
    state
}

/// Reads a beat into the follower's series (at a reconcile, and at each change of its Lease between them).
pub fn observe(state: &mut ContinuousState, beat: Option<&Beat>) {
    let now = chrono::Utc::now();
    state.ok = heartbeat::verdict("", beat, now, stale_after(state.interval)).0;
    let beat = beat.cloned().unwrap_or_default();
    state.recovery_point_seconds = beat.recovery_point.map(|t| t.timestamp() as f64);
    state.gaps = beat.gaps;
}

/// Keeps the follower series fresh between reconciles: every change of a follower's Lease (a renewal about
/// twice a minute, or a gap) updates its Cluster's series. Metadata only: the beat is in the annotations.
pub async fn watch_leases(client: kube::Client, namespace: String, metrics: Arc<Metrics>) {
    use futures::StreamExt;
    use kube::core::PartialObjectMeta;
    use kube::runtime::{watcher, WatchStreamExt};
    let api: Api<PartialObjectMeta<Lease>> = Api::namespaced(client, &namespace);
    let config = watcher::Config::default().labels(heartbeat::SELECTOR);
    let mut leases = std::pin::pin!(watcher(api, config).default_backoff().applied_objects());
    while let Some(lease) = leases.next().await {
        let Ok(lease) = lease else { continue };
        let labels = lease.metadata.labels.unwrap_or_default();
        let Some(cluster) = labels.get(heartbeat::CLUSTER_LABEL) else {
            continue;
        };
        let beat = lease
            .metadata
            .annotations
            .as_ref()
            .and_then(Beat::from_annotations);
        metrics.update_continuous(cluster, |s| observe(s, beat.as_ref()));
    }
}

/// How old a recovery point may be before the chain counts as behind: two missed renewals and a segment.
pub fn stale_after(interval: Duration) -> chrono::Duration {
    let d = heartbeat::renew_every(interval) * 2 + interval + Duration::from_secs(30);
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Writes the ContinuousBackup condition, `recoveryPoint` and `recoveryRevision`; clears them when off.
pub fn set_status(
    status: &mut ClusterStatus,
    cluster: &str,
    follower: Option<&Follower>,
    generation: Option<i64>,
    now: chrono::DateTime<chrono::Utc>,
) {
    let Some(f) = follower else {
        remove_condition(&mut status.conditions, CONTINUOUS_BACKUP);
        status.recovery_point = None;
        status.recovery_revision = None;
        return;
    };
    let name = naming::follower_name(cluster);
    let (ok, reason, message) =
        heartbeat::verdict(&name, f.beat.as_ref(), now, stale_after(f.interval));
    let at = heartbeat::rfc3339(now);
    set_condition(
        &mut status.conditions,
        CONTINUOUS_BACKUP,
        ok,
        reason,
        &message,
        generation,
        &at,
    );
    status.recovery_point = f
        .beat
        .as_ref()
        .and_then(|b| b.recovery_point)
        .map(heartbeat::rfc3339);
    status.recovery_revision = f.beat.as_ref().map(|b| b.revision).filter(|r| *r > 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_follows_the_lease_and_forgets_it_when_off() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .to_utc();
        let mut beat = Beat::default();
        beat.caught_up(12, now - chrono::Duration::seconds(25));
        let f = Follower {
            beat: Some(beat),
            interval: Duration::from_secs(20),
        };
        let mut status = ClusterStatus::default();
        set_status(&mut status, "orders", Some(&f), Some(3), now);
        let c = &status.conditions[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str()),
            (CONTINUOUS_BACKUP, "True")
        );
        assert_eq!(
            status.recovery_point.as_deref(),
            Some("2026-12-02T09:59:35Z")
        );
        assert_eq!(status.recovery_revision, Some(12));
        let later = now + chrono::Duration::seconds(150);
        set_status(&mut status, "orders", Some(&f), Some(3), later);
        assert_eq!(status.conditions[0].reason, "Behind");
        set_status(&mut status, "orders", None, Some(3), later);
        assert!(status.conditions.is_empty());
        assert_eq!(status.recovery_point, None);
    }

    #[test]
    fn behind_means_two_renewals_and_a_segment_missed() {
        assert_eq!(stale_after(Duration::from_secs(20)).num_seconds(), 110);
        assert_eq!(stale_after(Duration::from_secs(120)).num_seconds(), 390);
    }
}
