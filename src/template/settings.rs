//! The Cluster's settings with the config's defaults filled in.

use kube::ResourceExt;

use super::RenderError;
use crate::config::Config;
use crate::crd::Cluster;
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
