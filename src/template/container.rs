//! The admin's container templates, checked and completed, and the env contract they get (docs/CONTRACT.md).

use k8s_openapi::api::core::v1::{Container, EnvVar, VolumeMount};

use super::hardening::hardened_security_context;
use super::RenderError;
use crate::config::Config;
use crate::retention::Policy;

/// The shared emptyDir between the snapshot init container and the store container (seed contract).
pub const BACKUP_VOLUME: &str = "etcd-backup";
pub const BACKUP_DIR: &str = "/backup";
pub const TMP_VOLUME: &str = "tmp";
pub const SNAPSHOT_CONTAINER: &str = "snapshot";

/// Env vars the controller sets on the store container (the cleanup container gets all but the
/// `ETCDBAK_KEEP*` ones); a template may not set them itself.
pub const RESERVED_ENV: [&str; 14] = [
    "CLUSTER",
    "ETCDBAK_CLUSTER",
    "ETCDBAK_DIR",
    "SNAPSHOT_DIR",
    "SNAPSHOT_FILE",
    "SNAPSHOT_METADATA",
    "KEEP",
    "ETCDBAK_KEEP",
    "ETCDBAK_KEEP_HOURLY",
    "ETCDBAK_KEEP_DAILY",
    "ETCDBAK_KEEP_WEEKLY",
    "ETCDBAK_KEEP_MONTHLY",
    "ETCDBAK_KEEP_WITHIN",
    "ETCDBAK_KEEP_MIN",
];

/// The seed contract plus etcdbak's own names for the same values, in a fixed order (templates may refer
/// to them as `$(CLUSTER)` in command and args, which Kubernetes expands only for earlier entries).
///
/// Only the store container gets `ETCDBAK_KEEP*`: `etcdbak prune` (cleanup) reads them as `--keep*`, which
/// conflict with `--all`, so the default cleanup command would refuse to run. Rules that are off are left
/// out, so a Cluster without tiered retention renders exactly as before.
pub(super) fn contract_env(cluster: &str, policy: &Policy, role: Role) -> Vec<EnvVar> {
    let keep = policy.last.to_string();
    let mut out = vec![
        env("CLUSTER", cluster),
        env("ETCDBAK_CLUSTER", cluster),
        env("SNAPSHOT_DIR", BACKUP_DIR),
        env("ETCDBAK_DIR", BACKUP_DIR),
        env(
            "SNAPSHOT_FILE",
            &format!("{BACKUP_DIR}/{}", crate::backup::SNAPSHOT_FILE),
        ),
        env(
            "SNAPSHOT_METADATA",
            &format!("{BACKUP_DIR}/{}", crate::backup::METADATA_FILE),
        ),
        env("KEEP", &keep),
    ];
    if role == Role::Store {
        out.push(env("ETCDBAK_KEEP", &keep));
        out.extend(tier_env(policy));
    }
    out
}

/// `ETCDBAK_KEEP_HOURLY` and the rest, for the rules that are on.
fn tier_env(p: &Policy) -> Vec<EnvVar> {
    let counts = [
        ("ETCDBAK_KEEP_HOURLY", p.hourly),
        ("ETCDBAK_KEEP_DAILY", p.daily),
        ("ETCDBAK_KEEP_WEEKLY", p.weekly),
        ("ETCDBAK_KEEP_MONTHLY", p.monthly),
    ];
    let mut out: Vec<EnvVar> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| env(name, &n.to_string()))
        .collect();
    if !p.within.is_zero() {
        out.push(env("ETCDBAK_KEEP_WITHIN", &p.within.to_string()));
    }
    if p.min > 1 {
        out.push(env("ETCDBAK_KEEP_MIN", &p.min.to_string()));
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Store,
    Cleanup,
    Verify,
}

/// Defaults a template may override with its own entry of the same name.
pub(super) fn s3_env(config: &Config) -> Vec<EnvVar> {
    let s3 = &config.s3;
    let mut out = vec![env("HOME", "/tmp")];
    for (name, value) in [
        ("ETCDBAK_S3_ENDPOINT", s3.endpoint.clone()),
        ("ETCDBAK_S3_REGION", s3.region.clone()),
        ("ETCDBAK_S3_BUCKET", s3.bucket.clone()),
        ("ETCDBAK_S3_PREFIX", s3.prefix.clone()),
        (
            "ETCDBAK_S3_PATH_STYLE",
            s3.path_style.map(|b| b.to_string()),
        ),
    ] {
        if let Some(value) = value {
            out.push(env(name, &value));
        }
    }
    out
}

/// A template may mount only the Job's volumes, and the store container must mount the backup at /backup.
fn check_mounts(
    mounts: &[VolumeMount],
    which: &'static str,
    config: &Config,
    needs_backup_mount: bool,
) -> Result<(), RenderError> {
    let known: Vec<&str> = [BACKUP_VOLUME, TMP_VOLUME]
        .into_iter()
        .chain(config.pod.extra_volumes.iter().map(|v| v.name.as_str()))
        .collect();
    if let Some(bad) = mounts.iter().find(|m| !known.contains(&m.name.as_str())) {
        return Err(RenderError::UnknownVolume {
            template: which,
            volume: bad.name.clone(),
        });
    }
    if needs_backup_mount
        && !mounts
            .iter()
            .any(|m| m.name == BACKUP_VOLUME && m.mount_path.trim_end_matches('/') == BACKUP_DIR)
    {
        let found = match mounts.iter().find(|m| m.name == BACKUP_VOLUME) {
            Some(m) => format!(" (it mounts it at {})", m.mount_path),
            None => String::new(),
        };
        return Err(RenderError::MissingBackupMount {
            template: which,
            found,
        });
    }
    Ok(())
}

/// The admin's container, checked and completed: contract env first, overridable defaults next, the
/// template's own env last; image, pull policy, resources and security settings filled where unset; a
/// writable /tmp because the root filesystem is read-only.
pub(super) fn template_container(
    template: &Container,
    which: &'static str,
    contract: &[EnvVar],
    defaults: &[EnvVar],
    config: &Config,
    needs_backup_mount: bool,
) -> Result<Container, RenderError> {
    let mut c = template.clone();
    if c.name == SNAPSHOT_CONTAINER {
        return Err(RenderError::ContainerNameTaken {
            template: which,
            name: c.name,
        });
    }
    let own_env = c.env.take().unwrap_or_default();
    if let Some(bad) = own_env
        .iter()
        .find(|e| contract.iter().any(|c| c.name == e.name))
    {
        return Err(RenderError::ReservedEnv {
            template: which,
            name: bad.name.clone(),
        });
    }
    let mut mounts = c.volume_mounts.take().unwrap_or_default();
    check_mounts(&mounts, which, config, needs_backup_mount)?;
    if !mounts
        .iter()
        .any(|m| m.mount_path.trim_end_matches('/') == "/tmp")
    {
        mounts.push(mount(TMP_VOLUME, "/tmp", false));
    }
    c.volume_mounts = Some(mounts);

    let mut envs: Vec<EnvVar> = contract.to_vec();
    envs.extend(
        defaults
            .iter()
            .filter(|d| !own_env.iter().any(|e| e.name == d.name))
            .cloned(),
    );
    envs.extend(own_env);
    c.env = Some(envs);

    if c.image.as_deref().is_none_or(str::is_empty) {
        c.image = Some(config.image.clone());
        if c.image_pull_policy.is_none() {
            c.image_pull_policy = Some(config.image_pull_policy.clone());
        }
    }
    if c.resources.is_none() {
        c.resources = Some(config.job.resources.clone());
    }
    if c.termination_message_policy.is_none() {
        c.termination_message_policy = Some("FallbackToLogsOnError".into());
    }
    c.security_context = Some(hardened_security_context(c.security_context.take()));
    Ok(c)
}

pub(super) fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

pub(super) fn mount(volume: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}
