//! Leader election over a coordination.k8s.io Lease, as client-go's leaderelection does it: the holder
//! renews `renewTime`; anyone may take a Lease whose `renewTime + leaseDurationSeconds` has passed; writes
//! carry the resourceVersion they read, so two candidates cannot both win.

use std::time::Duration;

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
pub fn decide(spec: &LeaseSpec, me: &str, now: Timestamp) -> LeaseDecision {
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
        let decision = decide(&spec, &self.identity, now);
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
            assert_eq!(decide(&s, "me", now), want, "{s:?}");
        }
    }
}
