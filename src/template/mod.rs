//! Rendering: Cluster + config -> the desired CronJob, mirrored TLS Secret and cleanup Job. Pure.
//!
//! The Job is built around the admin's templates (config.rs): a `snapshot` init container running
//! `etcdbak snapshot` into the shared `etcd-backup` emptyDir at `/backup`, then the store container with the
//! contract env vars. docs/CONTRACT.md is the admin-facing description of exactly what is built here; change
//! them together.
//!
//! One concern per file: [`labels`] (labels, annotations, the spec hash), `endpoint` (where etcd is, and the client-TLS mount),
//! `settings` (effective schedule, keep and tiered retention), `container` (the admin's templates and the env contract),
//! `hardening` (security contexts), `pod` (pod template and volumes), `tls` (the mirrored Secret), and the
//! objects themselves: `cron_job`, `verify`, `follower` (the continuous-backup Deployment) and `cleanup`. Object names are [`crate::naming`]'s.

mod cleanup;
mod container;
mod cron_job;
mod cron_spec;
mod endpoint;
mod error;
mod follower;
mod hardening;
pub mod labels;
mod pod;
mod settings;
mod tls;
mod verify;

pub use cleanup::render_cleanup_job;
pub use container::{BACKUP_DIR, BACKUP_VOLUME, RESERVED_ENV, SNAPSHOT_CONTAINER, TMP_VOLUME};
pub use cron_job::{render_backup, Desired};
pub use endpoint::{endpoints, DEFAULT_ETCD_PORT, TLS_DIR, TLS_VOLUME};
pub use error::RenderError;
pub use follower::{render_follower, FOLLOWER_ENV};
pub use labels::{
    cluster_selector, component_selector, spec_hash, CLUSTER_ANNOTATION, CLUSTER_UID_ANNOTATION,
    HASH_ANNOTATION, LABEL_CLUSTER, LABEL_COMPONENT, LABEL_MANAGED_BY, LABEL_NAME, MANAGED_BY,
    SOURCE_SECRET_ANNOTATION, TLS_HASH_ANNOTATION,
};
pub use settings::{
    effective_continuous, effective_keep, effective_retention, effective_schedule,
    effective_verify_schedule,
};
pub use tls::TLS_KEYS;
pub use verify::render_verify;

#[cfg(test)]
mod tests;
