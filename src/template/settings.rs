//! The Cluster's settings with the config's defaults filled in.

use k8s_openapi::api::core::v1::EnvVar;
use kube::ResourceExt;

use super::container::env;
use super::RenderError;
use crate::config::Config;
use crate::crd::Cluster;
use crate::retention::Policy;
use crate::schedule;

/// The effective schedule: `spec.schedule` or the config default, with `H` expanded for this cluster.
pub fn effective_schedule(cluster: &Cluster, config: &Config) -> Result<String, RenderError> {
    let name = cluster.name_any();
    match &cluster.spec.schedule {
        Some(s) => schedule::expand(s, &name).map_err(RenderError::Schedule),
        None => {
            schedule::expand(&config.default_schedule, &name).map_err(RenderError::DefaultSchedule)
        }
    }
}

/// The effective retention: `spec.keep` or the config default.
pub fn effective_keep(cluster: &Cluster, config: &Config) -> Result<u32, RenderError> {
    let keep = cluster.spec.keep.unwrap_or(config.default_keep);
    if !(1..=10000).contains(&keep) {
        return Err(RenderError::InvalidKeep(keep));
    }
    Ok(keep)
}

/// The effective tiered retention. `spec.retention` replaces the config's `retention` block as a whole
/// (a Cluster asking for dailies does not inherit the config's hourlies), and keep-last is taken, first
/// set wins, from `spec.retention.keepLast`, `spec.keep`, the config's `retention.keepLast`, `defaultKeep`.
pub fn effective_retention(cluster: &Cluster, config: &Config) -> Result<Policy, RenderError> {
    let keep = effective_keep(cluster, config)?;
    let (block, field) = match (&cluster.spec.retention, &config.retention) {
        (Some(own), _) => (own.clone(), "spec.retention"),
        (None, Some(default)) => {
            let mut block = default.clone();
            if cluster.spec.keep.is_some() {
                block.keep_last = Some(keep);
            }
            (block, "the controller config's retention")
        }
        (None, None) => return Ok(Policy::newest(keep)),
    };
    block
        .policy(keep)
        .map_err(|e| RenderError::InvalidRetention(format!("{field} {e}")))
}

/// Scheduled verification for this Cluster: `spec.verify` over the config's `verify`. `None` when it is
/// turned off; otherwise the schedule with `H` expanded for this cluster.
pub fn effective_verify_schedule(
    cluster: &Cluster,
    config: &Config,
) -> Result<Option<String>, RenderError> {
    let own = cluster.spec.verify.clone().unwrap_or_default();
    if !own.enabled.unwrap_or(config.verify.enabled) {
        return Ok(None);
    }
    let schedule = own.schedule.as_deref().unwrap_or(&config.verify.schedule);
    schedule::expand(schedule, &cluster.name_any())
        .map(Some)
        .map_err(RenderError::VerifySchedule)
}

/// Continuous backup for this Cluster: `spec.continuous` over the config's `continuous`. `None` when it is
/// off; otherwise the segment interval as `etcdbak follow --interval` takes it.
pub fn effective_continuous(
    cluster: &Cluster,
    config: &Config,
) -> Result<Option<String>, RenderError> {
    let own = cluster.spec.continuous.clone().unwrap_or_default();
    if !own.enabled.unwrap_or(config.continuous.enabled) {
        return Ok(None);
    }
    let interval = own
        .interval
        .as_deref()
        .unwrap_or(&config.continuous.interval);
    crate::config::parse_segment_interval(interval).map_err(RenderError::InvalidInterval)?;
    Ok(Some(interval.trim().to_string()))
}

/// The store container's `ETCDBAK_COMPRESS` and `ETCDBAK_ENCRYPT_TO`: the Cluster's compression or the
/// config's, and the config's recipients plus the Cluster's.
pub fn encoding_env(cluster: &Cluster, config: &Config) -> Result<Vec<EnvVar>, RenderError> {
    let extra = cluster
        .spec
        .encryption
        .as_ref()
        .map(|e| e.recipients.as_slice())
        .unwrap_or_default();
    let e = crate::config::effective_encoding(
        &config.encoding,
        cluster.spec.compression.as_deref(),
        extra,
    )
    .map_err(RenderError::InvalidEncoding)?;
    let mut out = vec![env("ETCDBAK_COMPRESS", &e.compression)];
    if !e.recipients.is_empty() {
        out.push(env("ETCDBAK_ENCRYPT_TO", &e.recipients));
    }
    Ok(out)
}

/// The store container's `ETCDBAK_OBJECT_LOCK_MODE` and `ETCDBAK_OBJECT_LOCK_RETAIN`: the Cluster's
/// `objectLock` or the config's; none when backups are not locked.
pub fn object_lock_env(cluster: &Cluster, config: &Config) -> Result<Vec<EnvVar>, RenderError> {
    let lock = crate::config::effective_object_lock(
        config.object_lock.as_ref(),
        cluster.spec.object_lock.as_ref(),
    )
    .map_err(RenderError::InvalidObjectLock)?;
    Ok(lock
        .map(|l| {
            crate::config::object_lock_env(l)
                .iter()
                .map(|(name, value)| env(name, value))
                .collect()
        })
        .unwrap_or_default())
}

/// The store container's further destinations (the config's `destinations`): `ETCDBAK_DESTINATIONS`, and
/// each destination's keys from its own Secret as `ETCDBAK_DEST_<NAME>_AWS_*`; nothing without any.
pub fn destinations_env(config: &Config) -> Vec<EnvVar> {
    use k8s_openapi::api::core::v1::{EnvVarSource, SecretKeySelector};
    let mut out: Vec<EnvVar> = crate::config::destination_lines(&config.destinations)
        .map(|lines| env("ETCDBAK_DESTINATIONS", &lines))
        .into_iter()
        .collect();
    for (name, secret, key) in crate::config::destination_secret_env(&config.destinations) {
        out.push(EnvVar {
            name,
            value: None,
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret,
                    key: key.into(),
                    optional: None,
                }),
                ..Default::default()
            }),
        });
    }
    out
}
