//! Leader election over a coordination.k8s.io Lease, as client-go's leaderelection does it: the holder
//! renews `renewTime`; anyone may take a Lease whose `renewTime + leaseDurationSeconds` has passed; writes
//! carry the resourceVersion they read, so two candidates cannot both win.
//!
//! [`Elector`] is the whole election for `etcdbak watch`: [`Elector::acquire`] waits in standby until this
//! replica holds the Lease, [`Elector::hold`] renews it in the background and hands back a [`Leadership`]
//! whose [`Leadership::lost`] future resolves when the Lease is gone, and [`Elector::release`] steps down.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::Client;

/// What a candidate does with the Lease it just read.
#[derive(Debug, Clone, PartialEq)]
pub enum LeaseDecision {
    /// We hold it: renew.
    Renew,
    /// Free or expired: take it over.
    Acquire,
    /// Someone else holds it and it has not expired.
    Standby { holder: String },
}

/// Pure: decide from the Lease's spec what `me` may do at `now`.
pub fn lease_decision(spec: &LeaseSpec, me: &str, now: Timestamp) -> LeaseDecision {
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder == me {
        return LeaseDecision::Renew;
    }
    if holder.is_empty() {
        return LeaseDecision::Acquire;
    }
    let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(0)));
    match &spec.renew_time {
        Some(MicroTime(renewed)) if *renewed + duration > now => LeaseDecision::Standby {
            holder: holder.to_string(),
        },
        _ => LeaseDecision::Acquire,
    }
}

#[derive(Clone)]
pub struct LeaseLock {
    api: Api<Lease>,
    pub name: String,
    pub namespace: String,
    pub identity: String,
    pub duration: Duration,
}

impl LeaseLock {
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        duration: Duration,
    ) -> Self {
        LeaseLock {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            namespace: namespace.to_string(),
            identity: identity.to_string(),
            duration,
        }
    }

    fn duration_secs(&self) -> i32 {
        i32::try_from(self.duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    /// One election round: `Ok(true)` when we hold the Lease afterwards. A lost write race is `Ok(false)`.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    namespace: Some(self.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(self.duration_secs()),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let decision = lease_decision(&spec, &self.identity, now);
        let new_spec = match decision {
            LeaseDecision::Standby { .. } => return Ok(false),
            LeaseDecision::Renew => LeaseSpec {
                renew_time: Some(MicroTime(now)),
                lease_duration_seconds: Some(self.duration_secs()),
                ..spec
            },
            LeaseDecision::Acquire => LeaseSpec {
                holder_identity: Some(self.identity.clone()),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_duration_seconds: Some(self.duration_secs()),
                lease_transitions: Some(spec.lease_transitions.unwrap_or(0).saturating_add(1)),
                ..spec
            },
        };
        lease.spec = Some(new_spec);
        // The resourceVersion we read rides along: a concurrent writer makes this a 409.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Steps down: clears the holder so a standby takes over at once instead of waiting out the Lease.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        lease.spec = Some(LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            renew_time: Some(MicroTime(Timestamp::now())),
            ..spec
        });
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// What one failed or successful renewal means for the leader.
#[derive(Debug, Clone, PartialEq)]
pub enum Renewal {
    /// Still ours: carry on.
    Held,
    /// A transient failure, still within the grace period: try again.
    Retry,
    /// Someone else holds it, or renewal failed for too long: stop leading.
    Lost,
}

/// Pure: what a renewal attempt's result means, `since_ok` after the last successful one. Renewal may fail
/// for two thirds of the Lease before we give up, so a standby (which waits the whole Lease) never leads
/// at the same time.
pub fn renewal(result: &Result<bool, kube::Error>, since_ok: Duration, lease: Duration) -> Renewal {
    match result {
        Ok(true) => Renewal::Held,
        Ok(false) => Renewal::Lost,
        Err(_) if since_ok > lease * 2 / 3 => Renewal::Lost,
        Err(_) => Renewal::Retry,
    }
}

/// How often a candidate tries for the Lease and a leader renews it: a third of the Lease, at least 500 ms.
pub fn retry_period(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(500))
}

/// One replica's part in the election.
pub struct Elector {
    lock: LeaseLock,
    retry: Duration,
}

/// Held leadership: renewed in the background until lost or released.
pub struct Leadership {
    lost: watch::Receiver<bool>,
    renewer: JoinHandle<()>,
}

impl Leadership {
    /// Resolves when the Lease is lost (never, while it is held).
    pub fn lost(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.lost.clone();
        async move {
            // An Err means the renewer ended without a loss (stopped on release): wait forever then.
            if rx.wait_for(|lost| *lost).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

impl Elector {
    pub fn new(lock: LeaseLock) -> Elector {
        let retry = retry_period(lock.duration);
        Elector { lock, retry }
    }

    /// `namespace/name` of the Lease, for messages.
    pub fn lease(&self) -> String {
        format!("{}/{}", self.lock.namespace, self.lock.name)
    }

    /// Standby until this replica holds the Lease (true), or `stop` resolves first (false).
    pub async fn acquire(&self, stop: impl Future<Output = ()>) -> bool {
        tokio::pin!(stop);
        loop {
            match self.lock.try_acquire_or_renew().await {
                Ok(true) => return true,
                Ok(false) => {}
                Err(e) => tracing::warn!(
                    "leader election: cannot read or write Lease {}: {e}",
                    self.lease()
                ),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.retry) => {}
                _ = &mut stop => return false,
            }
        }
    }

    /// Renews the Lease in the background from now on.
    pub fn hold(&self) -> Leadership {
        let (lost_tx, lost) = watch::channel(false);
        let lock = self.lock.clone();
        let retry = self.retry;
        let renewer = tokio::spawn(async move {
            let mut last_ok = Instant::now();
            loop {
                tokio::time::sleep(retry).await;
                let result = lock.try_acquire_or_renew().await;
                match renewal(&result, last_ok.elapsed(), lock.duration) {
                    Renewal::Held => last_ok = Instant::now(),
                    Renewal::Retry => {
                        if let Err(e) = &result {
                            tracing::warn!("cannot renew the Lease: {e}");
                        }
                    }
                    Renewal::Lost => {
                        match &result {
                            Ok(_) => tracing::error!("another replica holds the Lease now"),
                            Err(e) => tracing::error!("gave up renewing the Lease: {e}"),
                        }
                        let _ = lost_tx.send(true);
                        return;
                    }
                }
            }
        });
        Leadership { lost, renewer }
    }

    /// Steps down (after stopping the renewal): a standby takes over at once.
    pub async fn release(&self, leadership: Leadership) {
        drop(leadership);
        match self.lock.release().await {
            Ok(()) => tracing::info!(lease = %self.lease(), "released the leader Lease"),
            Err(e) => tracing::warn!("cannot release the Lease {}: {e}", self.lease()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: Option<&str>, renewed_secs_ago: Option<i64>, duration: i32) -> LeaseSpec {
        let now = Timestamp::from_second(1_000_000).unwrap();
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            renew_time: renewed_secs_ago.map(|s| MicroTime(now - SignedDuration::from_secs(s))),
            lease_duration_seconds: Some(duration),
            ..Default::default()
        }
    }

    #[test]
    fn decisions() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let standby = |h: &str| LeaseDecision::Standby {
            holder: h.to_string(),
        };
        let cases = [
            (spec(Some("me"), Some(1), 15), LeaseDecision::Renew),
            // Our own expired Lease is still ours to renew.
            (spec(Some("me"), Some(100), 15), LeaseDecision::Renew),
            (spec(None, None, 15), LeaseDecision::Acquire),
            (spec(Some(""), Some(1), 15), LeaseDecision::Acquire),
            (spec(Some("other"), Some(1), 15), standby("other")),
            (spec(Some("other"), Some(14), 15), standby("other")),
            (spec(Some("other"), Some(15), 15), LeaseDecision::Acquire),
            (spec(Some("other"), Some(60), 15), LeaseDecision::Acquire),
            (spec(Some("other"), None, 15), LeaseDecision::Acquire),
        ];
        for (s, want) in cases {
            assert_eq!(lease_decision(&s, "me", now), want, "{s:?}");
        }
    }

    #[test]
    fn renewal_gives_up_after_two_thirds_of_the_lease() {
        let lease = Duration::from_secs(15);
        let err = || Err(kube::Error::LinesCodecMaxLineLengthExceeded);
        let s = Duration::from_secs;
        let cases: Vec<(Result<bool, kube::Error>, Duration, Renewal)> = vec![
            (Ok(true), s(0), Renewal::Held),
            (Ok(true), s(60), Renewal::Held),
            (Ok(false), s(0), Renewal::Lost),
            (err(), s(0), Renewal::Retry),
            (err(), s(10), Renewal::Retry),
            (err(), s(11), Renewal::Lost),
        ];
        for (result, since_ok, want) in cases {
            assert_eq!(
                renewal(&result, since_ok, lease),
                want,
                "{result:?} {since_ok:?}"
            );
        }
        assert_eq!(retry_period(lease), s(5));
        assert_eq!(retry_period(s(1)), Duration::from_millis(500));
    }
}
