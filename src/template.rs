//! Rendering: Cluster + config -> the desired CronJob, mirrored TLS Secret and cleanup Job. Pure.
//!
//! The Job is built around the admin's templates (config.rs): a `snapshot` init container running
//! `etcdbak snapshot` into the shared `etcd-backup` emptyDir at `/backup`, then the store container with the
//! contract env vars. docs/CONTRACT.md is the admin-facing description of exactly what is built here; change
//! them together.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, PodSecurityContext, PodSpec,
    PodTemplateSpec, SeccompProfile, Secret, SecretVolumeSource, SecurityContext, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::crd::Cluster;
use crate::schedule::{self, ScheduleError};

/// On every rendered object: which Cluster it belongs to (see [`cluster_label_value`]).
pub const LABEL_CLUSTER: &str = "etcdbak.io/cluster";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "etcdbak";
pub const LABEL_NAME: &str = "app.kubernetes.io/name";
/// `backup` (CronJob, its Jobs and pods), `tls` (mirrored Secret) or `cleanup` (cleanup Job).
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
/// Stable hash of the rendered object (without this annotation), so the controller can skip no-op writes.
pub const HASH_ANNOTATION: &str = "etcdbak.io/spec-hash";
/// The Cluster's full name (the label value is shortened when the name is longer than 63 characters).
pub const CLUSTER_ANNOTATION: &str = "etcdbak.io/cluster-name";
/// The Cluster's UID on the cleanup Job: a Job left over from an earlier Cluster of the same name (and so
/// the same deterministic Job name) is not proof that *this* Cluster's backups were cleaned up.
pub const CLUSTER_UID_ANNOTATION: &str = "etcdbak.io/cluster-uid";
/// `namespace/name` of the Secret a mirrored TLS Secret was copied from.
pub const SOURCE_SECRET_ANNOTATION: &str = "etcdbak.io/source-secret";

/// The shared emptyDir between the snapshot init container and the store container (seed contract).
pub const BACKUP_VOLUME: &str = "etcd-backup";
pub const BACKUP_DIR: &str = "/backup";
pub const TMP_VOLUME: &str = "tmp";
pub const TLS_VOLUME: &str = "etcd-tls";
pub const TLS_DIR: &str = "/etc/etcdbak/tls";
pub const SNAPSHOT_CONTAINER: &str = "snapshot";
/// Keys of a client-TLS Secret (the `kubernetes.io/tls` layout plus the CA, as cert-manager writes it).
pub const TLS_KEYS: [&str; 3] = ["ca.crt", "tls.crt", "tls.key"];
/// Default etcd client port when `spec.service.port` is unset.
pub const DEFAULT_ETCD_PORT: u16 = 2379;

/// Env vars the controller sets on the store container (the cleanup container gets all but `ETCDBAK_KEEP`);
/// a template may not set them itself.
pub const RESERVED_ENV: [&str; 8] = [
    "CLUSTER",
    "ETCDBAK_CLUSTER",
    "ETCDBAK_DIR",
    "SNAPSHOT_DIR",
    "SNAPSHOT_FILE",
    "SNAPSHOT_METADATA",
    "KEEP",
    "ETCDBAK_KEEP",
];

const CRON_JOB_NAME_MAX: usize = 52; // the CronJob controller appends "-<11 digits>" to name Jobs
const NAME_MAX: usize = 63;

/// What the controller applies for one Cluster. `Debug` leaves the Secret's data out, so logging a `Desired`
/// cannot leak a private key.
#[derive(Clone, PartialEq)]
pub struct Desired {
    pub cron_job: CronJob,
    /// The mirrored client-TLS Secret; `None` when the Cluster names no `spec.tlsSecret`.
    pub tls_secret: Option<Secret>,
    /// The effective schedule after `H` expansion (for `status.schedule`).
    pub schedule: String,
}

impl std::fmt::Debug for Desired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = self.tls_secret.as_ref().map(|s| {
            let keys: Vec<&String> = s.data.iter().flat_map(|d| d.keys()).collect();
            format!(
                "Secret {:?} (keys {keys:?}, values redacted)",
                s.metadata.name
            )
        });
        f.debug_struct("Desired")
            .field("cron_job", &self.cron_job)
            .field("tls_secret", &secret)
            .field("schedule", &self.schedule)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    #[error("spec.schedule is not usable: {0}")]
    Schedule(#[source] ScheduleError),
    #[error("the controller's defaultSchedule is not usable for this cluster: {0}")]
    DefaultSchedule(#[source] ScheduleError),
    #[error("keep is {0}: set spec.keep between 1 and 10000")]
    InvalidKeep(u32),
    #[error(
        "spec.namespace {0:?} is not a namespace name: give the namespace the etcd cluster runs in"
    )]
    InvalidNamespace(String),
    #[error("{0}: rename the Cluster (its name is the backup prefix and the Jobs' CLUSTER)")]
    InvalidClusterName(String),
    #[error("the Cluster names no etcd endpoint: set spec.endpoints or spec.service")]
    NoEndpoint,
    #[error("the Cluster sets both spec.endpoints and spec.service: keep only one of them")]
    AmbiguousEndpoint,
    #[error("endpoint {0:?} in spec.endpoints is not an http:// or https:// URL: write it as https://host:2379")]
    InvalidEndpoint(String),
    #[error("the TLS Secret {namespace}/{name} named by spec.tlsSecret was not found: create it or fix spec.tlsSecret")]
    TlsSecretNotFound { namespace: String, name: String },
    #[error("the TLS Secret {namespace}/{name} has no {key:?} key: it needs ca.crt, tls.crt and tls.key")]
    TlsKeyMissing {
        namespace: String,
        name: String,
        key: &'static str,
    },
    #[error("the {template} template does not mount the volume etcd-backup at /backup{found}: add `volumeMounts: [{{name: etcd-backup, mountPath: /backup}}]` to it in the controller config")]
    MissingBackupMount {
        template: &'static str,
        found: String,
    },
    #[error("the {template} template sets the env var {name}, which the controller provides: remove it from the template in the controller config")]
    ReservedEnv {
        template: &'static str,
        name: String,
    },
    #[error("the {template} template mounts the volume {volume:?}, which the Job does not have: mount etcd-backup or tmp, or add the volume to pod.extraVolumes in the controller config")]
    UnknownVolume {
        template: &'static str,
        volume: String,
    },
    #[error("the {template} template is named {name:?}, which the snapshot init container already uses: rename it in the controller config")]
    ContainerNameTaken {
        template: &'static str,
        name: String,
    },
}

impl RenderError {
    /// CamelCase, for condition reasons and Event reasons.
    pub fn reason(&self) -> &'static str {
        match self {
            RenderError::Schedule(_) | RenderError::DefaultSchedule(_) => "InvalidSchedule",
            RenderError::InvalidKeep(_) => "InvalidKeep",
            RenderError::InvalidNamespace(_) => "InvalidNamespace",
            RenderError::InvalidClusterName(_) => "InvalidClusterName",
            RenderError::NoEndpoint => "NoEndpoint",
            RenderError::AmbiguousEndpoint => "AmbiguousEndpoint",
            RenderError::InvalidEndpoint(_) => "InvalidEndpoint",
            RenderError::TlsSecretNotFound { .. } => "TlsSecretNotFound",
            RenderError::TlsKeyMissing { .. } => "TlsSecretIncomplete",
            RenderError::MissingBackupMount { .. } => "TemplateMissingBackupMount",
            RenderError::ReservedEnv { .. } => "TemplateReservedEnv",
            RenderError::UnknownVolume { .. } => "TemplateUnknownVolume",
            RenderError::ContainerNameTaken { .. } => "TemplateNameConflict",
        }
    }

    /// True when the admin's config (not the Cluster) has to change: every Cluster fails the same way.
    pub fn blames_config(&self) -> bool {
        matches!(
            self,
            RenderError::DefaultSchedule(_)
                | RenderError::MissingBackupMount { .. }
                | RenderError::ReservedEnv { .. }
                | RenderError::UnknownVolume { .. }
                | RenderError::ContainerNameTaken { .. }
        )
    }
}

/// `etcdbak-<cluster>`, shortened to 52 characters (CronJob's limit) with a hash suffix when needed.
pub fn cron_job_name(cluster: &str) -> String {
    object_name("etcdbak-", cluster, CRON_JOB_NAME_MAX)
}

/// `etcdbak-cleanup-<cluster>`: deterministic, so a restarted controller finds the Job it already created.
pub fn cleanup_job_name(cluster: &str) -> String {
    object_name("etcdbak-cleanup-", cluster, NAME_MAX)
}

/// `etcdbak-tls-<cluster>`: the mirrored client-TLS Secret in the job namespace.
pub fn tls_secret_name(cluster: &str) -> String {
    object_name("etcdbak-tls-", cluster, NAME_MAX)
}

/// The `etcdbak.io/cluster` label value: the name itself, or a shortened name plus hash past 63 characters.
pub fn cluster_label_value(cluster: &str) -> String {
    if cluster.len() <= NAME_MAX {
        return cluster.to_string();
    }
    let hash = short_hash(cluster);
    let head = cluster[..NAME_MAX - hash.len() - 1].trim_end_matches(['-', '.']);
    format!("{head}-{hash}")
}

/// Label selector for everything rendered for one Cluster.
pub fn cluster_selector(cluster: &str) -> String {
    format!("{LABEL_CLUSTER}={}", cluster_label_value(cluster))
}

/// Label selector for everything etcdbak renders.
pub fn managed_selector() -> String {
    format!("{LABEL_MANAGED_BY}={MANAGED_BY}")
}

/// Cluster names are DNS subdomains (dots allowed, up to 253); pod and Job names are safer as DNS labels.
/// Dots become dashes, and whenever the name had to change a hash of the original keeps names distinct
/// (`a.b` and `a-b` must not share a CronJob).
fn object_name(prefix: &str, cluster: &str, max: usize) -> String {
    let sanitized: String = cluster
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    let full = format!("{prefix}{sanitized}");
    if sanitized == cluster && full.len() <= max {
        return full;
    }
    let hash = short_hash(cluster);
    let room = max.saturating_sub(prefix.len() + hash.len() + 1);
    let head = sanitized[..sanitized.len().min(room)].trim_matches('-');
    if head.is_empty() {
        format!("{prefix}{hash}")
    } else {
        format!("{prefix}{head}-{hash}")
    }
}

fn short_hash(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..4])
}

/// Comma-separated client URLs for `ETCDBAK_ENDPOINTS`: `spec.endpoints`, or the Service's cluster DNS name.
pub fn endpoints(cluster: &Cluster) -> Result<String, RenderError> {
    let spec = &cluster.spec;
    match (&spec.endpoints, &spec.service) {
        (Some(_), Some(_)) => Err(RenderError::AmbiguousEndpoint),
        (None, None) => Err(RenderError::NoEndpoint),
        (Some(list), None) => {
            if list.is_empty() {
                return Err(RenderError::NoEndpoint);
            }
            for e in list {
                let host = e
                    .strip_prefix("https://")
                    .or_else(|| e.strip_prefix("http://"))
                    .unwrap_or("");
                if host.is_empty() || host.contains([',', ' ', '\t', '\n']) {
                    return Err(RenderError::InvalidEndpoint(e.clone()));
                }
            }
            Ok(list.join(","))
        }
        (None, Some(svc)) => {
            let scheme = if svc.insecure.unwrap_or(false) {
                "http"
            } else {
                "https"
            };
            let port = svc.port.unwrap_or(DEFAULT_ETCD_PORT);
            Ok(format!(
                "{scheme}://{}.{}.svc:{port}",
                svc.name, spec.namespace
            ))
        }
    }
}

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

/// The backup CronJob and, when the Cluster uses TLS, the mirrored Secret its Jobs mount.
///
/// `source_tls` is the Secret `spec.tlsSecret` in `spec.namespace` as read by the controller (`None`: not
/// found). The owner references need the Cluster's UID; a Cluster that has none (never stored in an
/// apiserver, as in an offline dry run) renders without them.
pub fn render_backup(
    cluster: &Cluster,
    source_tls: Option<&Secret>,
    config: &Config,
) -> Result<Desired, RenderError> {
    let name = cluster.name_any();
    // `etcdbak store` refuses such a name, so a CronJob for it would fail on every run while the Cluster
    // looked scheduled. The CRD's CEL rule catches it first; this covers a CRD installed without it.
    crate::backup::validate_cluster_name(&name).map_err(RenderError::InvalidClusterName)?;
    if !crate::config::is_dns_label(&cluster.spec.namespace) {
        return Err(RenderError::InvalidNamespace(
            cluster.spec.namespace.clone(),
        ));
    }
    let schedule = effective_schedule(cluster, config)?;
    let keep = effective_keep(cluster, config)?;
    let endpoints = endpoints(cluster)?;
    let tls_secret = match &cluster.spec.tls_secret {
        None => None,
        Some(source_name) => Some(mirror_tls_secret(cluster, source_name, source_tls, config)?),
    };

    let contract = contract_env(&name, keep, Role::Store);
    let store = template_container(
        &config.store_container,
        "store",
        &contract,
        &s3_env(config),
        config,
        true,
    )?;

    let mut snapshot_env = vec![
        env("ETCDBAK_ENDPOINTS", &endpoints),
        env("ETCDBAK_CLUSTER", &name),
        env("ETCDBAK_DIR", BACKUP_DIR),
    ];
    let mut snapshot_mounts = vec![
        mount(BACKUP_VOLUME, BACKUP_DIR, false),
        mount(TMP_VOLUME, "/tmp", false),
    ];
    if tls_secret.is_some() {
        for (var, key) in [
            ("ETCDBAK_CACERT", "ca.crt"),
            ("ETCDBAK_CERT", "tls.crt"),
            ("ETCDBAK_KEY", "tls.key"),
        ] {
            snapshot_env.push(env(var, &format!("{TLS_DIR}/{key}")));
        }
        snapshot_mounts.push(mount(TLS_VOLUME, TLS_DIR, true));
    }
    snapshot_env.push(env("HOME", "/tmp"));
    let snapshot = Container {
        name: SNAPSHOT_CONTAINER.into(),
        image: Some(config.image.clone()),
        image_pull_policy: Some(config.image_pull_policy.clone()),
        command: Some(vec!["etcdbak".into(), "snapshot".into()]),
        env: Some(snapshot_env),
        volume_mounts: Some(snapshot_mounts),
        resources: Some(config.job.resources.clone()),
        security_context: Some(hardened_security_context(None)),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        ..Default::default()
    };

    let mut volumes = base_volumes(config);
    if tls_secret.is_some() {
        volumes.push(Volume {
            name: TLS_VOLUME.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(tls_secret_name(&name)),
                // Group-readable so fsGroup (not root) can read the key; nobody else can.
                default_mode: Some(0o440),
                ..Default::default()
            }),
            ..Default::default()
        });
    }

    let labels = labels(&name, "backup");
    let pod = pod_template(&labels, config, Some(vec![snapshot]), vec![store], volumes);
    let mut cron_job = CronJob {
        metadata: object_meta(cluster, cron_job_name(&name), config, &labels, true),
        spec: Some(CronJobSpec {
            schedule: schedule.clone(),
            time_zone: Some(config.time_zone.clone()),
            concurrency_policy: Some("Forbid".into()),
            starting_deadline_seconds: Some(config.job.starting_deadline_seconds),
            successful_jobs_history_limit: Some(config.job.successful_jobs_history_limit),
            failed_jobs_history_limit: Some(config.job.failed_jobs_history_limit),
            suspend: Some(cluster.spec.suspend.unwrap_or(false)),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                spec: Some(JobSpec {
                    backoff_limit: Some(config.job.backoff_limit),
                    active_deadline_seconds: Some(config.job.active_deadline_seconds),
                    template: pod,
                    ..Default::default()
                }),
            },
        }),
        status: None,
    };
    stamp_hash(&mut cron_job);

    Ok(Desired {
        cron_job,
        tls_secret,
        schedule,
    })
}

/// The cleanup Job for a deleted Cluster: the cleanup template with the same env, no snapshot.
///
/// Deliberately not owned by the Cluster: the Cluster is about to disappear, and the Job (with its logs)
/// must outlive it; `ttlSecondsAfterFinished` removes it later. It carries the Cluster's UID in
/// [`CLUSTER_UID_ANNOTATION`].
pub fn render_cleanup_job(cluster: &Cluster, config: &Config) -> Result<Job, RenderError> {
    let name = cluster.name_any();
    // A Cluster whose keep is invalid must still be deletable: cleanup deletes everything anyway.
    let keep = effective_keep(cluster, config).unwrap_or(config.default_keep);
    let contract = contract_env(&name, keep, Role::Cleanup);
    let cleanup = template_container(
        &config.cleanup_container,
        "cleanup",
        &contract,
        &s3_env(config),
        config,
        false,
    )?;
    let labels = labels(&name, "cleanup");
    let pod = pod_template(&labels, config, None, vec![cleanup], base_volumes(config));
    let mut metadata = object_meta(cluster, cleanup_job_name(&name), config, &labels, false);
    if let Some(uid) = &cluster.metadata.uid {
        metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(CLUSTER_UID_ANNOTATION.into(), uid.clone());
    }
    let mut job = Job {
        metadata,
        spec: Some(JobSpec {
            backoff_limit: Some(config.job.backoff_limit),
            active_deadline_seconds: Some(config.job.active_deadline_seconds),
            ttl_seconds_after_finished: Some(config.job.cleanup_ttl_seconds_after_finished),
            template: pod,
            ..Default::default()
        }),
        status: None,
    };
    stamp_hash(&mut job);
    Ok(job)
}

fn mirror_tls_secret(
    cluster: &Cluster,
    source_name: &str,
    source: Option<&Secret>,
    config: &Config,
) -> Result<Secret, RenderError> {
    let name = cluster.name_any();
    let namespace = &cluster.spec.namespace;
    let Some(source) = source else {
        return Err(RenderError::TlsSecretNotFound {
            namespace: namespace.clone(),
            name: source_name.to_string(),
        });
    };
    let mut data = BTreeMap::new();
    for key in TLS_KEYS {
        let value = source
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone())
            .or_else(|| {
                source
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .map(|s| s.clone().into_bytes())
            })
            .filter(|v| !v.is_empty());
        let Some(value) = value else {
            return Err(RenderError::TlsKeyMissing {
                namespace: namespace.clone(),
                name: source_name.to_string(),
                key,
            });
        };
        data.insert(key.to_string(), ByteString(value));
    }
    let mut metadata = object_meta(
        cluster,
        tls_secret_name(&name),
        config,
        &labels(&name, "tls"),
        true,
    );
    metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(
            SOURCE_SECRET_ANNOTATION.into(),
            format!("{namespace}/{source_name}"),
        );
    let mut secret = Secret {
        metadata,
        type_: Some("kubernetes.io/tls".into()),
        data: Some(data),
        immutable: None,
        string_data: None,
    };
    stamp_hash(&mut secret);
    Ok(secret)
}

/// The seed contract plus etcdbak's own names for the same values, in a fixed order (templates may refer
/// to them as `$(CLUSTER)` in command and args, which Kubernetes expands only for earlier entries).
///
/// The cleanup container gets no `ETCDBAK_KEEP`: `etcdbak prune` reads it as `--keep`, which conflicts with
/// `--all`, so the default cleanup command would refuse to run.
fn contract_env(cluster: &str, keep: u32, role: Role) -> Vec<EnvVar> {
    let keep = keep.to_string();
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
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Store,
    Cleanup,
}

/// Defaults a template may override with its own entry of the same name.
fn s3_env(config: &Config) -> Vec<EnvVar> {
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

/// The admin's container, checked and completed: contract env first, overridable defaults next, the
/// template's own env last; image, pull policy, resources and security settings filled where unset; a
/// writable /tmp because the root filesystem is read-only.
fn template_container(
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

/// A template's own settings win; every field it leaves unset gets the locked-down value.
fn hardened_security_context(own: Option<SecurityContext>) -> SecurityContext {
    let mut sc = own.unwrap_or_default();
    sc.allow_privilege_escalation.get_or_insert(false);
    sc.read_only_root_filesystem.get_or_insert(true);
    sc.run_as_non_root.get_or_insert(true);
    sc.privileged.get_or_insert(false);
    sc.capabilities.get_or_insert_with(|| Capabilities {
        drop: Some(vec!["ALL".into()]),
        add: None,
    });
    sc.seccomp_profile.get_or_insert_with(runtime_default);
    sc
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        localhost_profile: None,
    }
}

fn base_volumes(config: &Config) -> Vec<Volume> {
    let mut volumes = vec![
        Volume {
            name: BACKUP_VOLUME.into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
        Volume {
            name: TMP_VOLUME.into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
    ];
    volumes.extend(config.pod.extra_volumes.iter().cloned());
    volumes
}

fn pod_template(
    labels: &BTreeMap<String, String>,
    config: &Config,
    init_containers: Option<Vec<Container>>,
    containers: Vec<Container>,
    volumes: Vec<Volume>,
) -> PodTemplateSpec {
    let p = &config.pod;
    let mut pod_labels = p.labels.clone();
    pod_labels.extend(labels.clone());
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels),
            annotations: (!p.annotations.is_empty()).then(|| p.annotations.clone()),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            service_account_name: config.service_account_name.clone(),
            // Backup pods never talk to the Kubernetes API.
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(p.run_as_user),
                run_as_group: Some(p.run_as_group),
                fs_group: Some(p.fs_group),
                seccomp_profile: Some(runtime_default()),
                ..Default::default()
            }),
            init_containers,
            containers,
            volumes: Some(volumes),
            node_selector: (!p.node_selector.is_empty()).then(|| p.node_selector.clone()),
            tolerations: (!p.tolerations.is_empty()).then(|| p.tolerations.clone()),
            priority_class_name: p.priority_class_name.clone(),
            image_pull_secrets: (!p.image_pull_secrets.is_empty())
                .then(|| p.image_pull_secrets.clone()),
            ..Default::default()
        }),
    }
}

fn labels(cluster: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_CLUSTER.to_string(), cluster_label_value(cluster)),
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (LABEL_NAME.to_string(), "etcdbak".to_string()),
        (LABEL_COMPONENT.to_string(), component.to_string()),
    ])
}

fn object_meta(
    cluster: &Cluster,
    name: String,
    config: &Config,
    labels: &BTreeMap<String, String>,
    owned: bool,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(config.job_namespace().to_string()),
        labels: Some(labels.clone()),
        annotations: Some(BTreeMap::from([(
            CLUSTER_ANNOTATION.to_string(),
            cluster.name_any(),
        )])),
        owner_references: if owned {
            cluster.controller_owner_ref(&()).map(|r| vec![r])
        } else {
            None
        },
        ..Default::default()
    }
}

/// Hashes the object as rendered (without the hash annotation) and records it in the annotation.
fn stamp_hash<K: Resource + Serialize>(object: &mut K) {
    if let Some(a) = object.meta_mut().annotations.as_mut() {
        a.remove(HASH_ANNOTATION);
    }
    let hash = spec_hash(object);
    object
        .meta_mut()
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(HASH_ANNOTATION.into(), hash);
}

/// 16 hex digits of SHA-256 over the object's JSON (k8s-openapi serializes fields in a fixed order and
/// maps as BTreeMaps, so equal objects hash equal).
pub fn spec_hash<K: Serialize>(object: &K) -> String {
    let json = serde_json::to_vec(object).unwrap_or_default();
    hex::encode(&Sha256::digest(&json)[..8])
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn mount(volume: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{default_config, Config};
    use crate::crd::{ClusterSpec, ServiceRef};

    fn cluster(name: &str) -> Cluster {
        let mut c = Cluster::new(
            name,
            ClusterSpec {
                namespace: "orders".into(),
                endpoints: None,
                service: Some(ServiceRef {
                    name: "orders-etcd-client".into(),
                    port: None,
                    insecure: None,
                }),
                tls_secret: Some("orders-etcd-client-tls".into()),
                schedule: Some("H/30 * * * *".into()),
                keep: Some(48),
                suspend: None,
            },
        );
        c.metadata.uid = Some("6f1c0b7e-2b1d-4a8e-9c3f-0d6a1e2b3c4d".into());
        c
    }

    fn tls_source() -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("orders-etcd-client-tls".into()),
                namespace: Some("orders".into()),
                ..Default::default()
            },
            data: Some(BTreeMap::from([
                ("ca.crt".to_string(), ByteString(b"test-ca".to_vec())),
                ("tls.crt".to_string(), ByteString(b"test-cert".to_vec())),
                ("tls.key".to_string(), ByteString(b"test-key".to_vec())),
                ("unrelated".to_string(), ByteString(b"not copied".to_vec())),
            ])),
            type_: Some("kubernetes.io/tls".into()),
            ..Default::default()
        }
    }

    fn pod_spec(cron_job: &CronJob) -> &PodSpec {
        cron_job
            .spec
            .as_ref()
            .unwrap()
            .job_template
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
    }

    fn env_of(c: &Container) -> Vec<(String, String)> {
        c.env
            .iter()
            .flatten()
            .map(|e| {
                let v = match (&e.value, &e.value_from) {
                    (Some(v), _) => v.clone(),
                    (None, Some(_)) => "<from>".into(),
                    _ => String::new(),
                };
                (e.name.clone(), v)
            })
            .collect()
    }

    #[test]
    fn typical_cluster_renders_as_snapshotted() {
        let config = default_config();
        let desired = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
        insta::assert_yaml_snapshot!("cron_job", desired.cron_job);
        insta::assert_yaml_snapshot!("tls_secret", desired.tls_secret);
        let cleanup = render_cleanup_job(&cluster("orders-etcd"), &config).unwrap();
        insta::assert_yaml_snapshot!("cleanup_job", cleanup);
        assert_eq!(
            desired.schedule,
            desired.cron_job.spec.as_ref().unwrap().schedule
        );
    }

    #[test]
    fn backup_job_follows_the_contract() {
        let config = default_config();
        let desired = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
        let cj = &desired.cron_job;
        let spec = cj.spec.as_ref().unwrap();
        assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
        assert_eq!(spec.suspend, Some(false));
        assert_eq!(spec.time_zone.as_deref(), Some("UTC"));
        assert!(
            spec.schedule.ends_with("-59/30 * * * *"),
            "{}",
            spec.schedule
        );
        assert_eq!(cj.metadata.namespace.as_deref(), Some("etcdbak"));
        let owner = &cj.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("Cluster", "orders-etcd")
        );
        assert_eq!(owner.controller, Some(true));

        let pod = pod_spec(cj);
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.automount_service_account_token, Some(false));
        let init = &pod.init_containers.as_ref().unwrap()[0];
        assert_eq!(init.name, "snapshot");
        assert_eq!(init.command.as_deref().unwrap(), ["etcdbak", "snapshot"]);
        let init_env = env_of(init);
        for want in [
            (
                "ETCDBAK_ENDPOINTS",
                "https://orders-etcd-client.orders.svc:2379",
            ),
            ("ETCDBAK_CLUSTER", "orders-etcd"),
            ("ETCDBAK_DIR", "/backup"),
            ("ETCDBAK_CACERT", "/etc/etcdbak/tls/ca.crt"),
            ("ETCDBAK_CERT", "/etc/etcdbak/tls/tls.crt"),
            ("ETCDBAK_KEY", "/etc/etcdbak/tls/tls.key"),
        ] {
            assert!(
                init_env.contains(&(want.0.into(), want.1.into())),
                "{want:?} in {init_env:?}"
            );
        }
        let store = &pod.containers[0];
        let store_env = env_of(store);
        for want in [
            ("CLUSTER", "orders-etcd"),
            ("ETCDBAK_CLUSTER", "orders-etcd"),
            ("SNAPSHOT_DIR", "/backup"),
            ("SNAPSHOT_FILE", "/backup/snapshot.db"),
            ("SNAPSHOT_METADATA", "/backup/snapshot.json"),
            ("KEEP", "48"),
            ("ETCDBAK_KEEP", "48"),
            ("ETCDBAK_S3_BUCKET", "etcd-backups"),
            ("AWS_ACCESS_KEY_ID", "<from>"),
        ] {
            assert!(
                store_env.contains(&(want.0.into(), want.1.into())),
                "{want:?} in {store_env:?}"
            );
        }
        let names: Vec<&str> = store_env.iter().map(|(n, _)| n.as_str()).collect();
        let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(
            names.len(),
            unique.len(),
            "duplicate env names break server-side apply: {names:?}"
        );
        for c in [init, store] {
            let sc = c.security_context.as_ref().unwrap();
            assert_eq!(sc.run_as_non_root, Some(true));
            assert_eq!(sc.read_only_root_filesystem, Some(true));
            assert_eq!(sc.allow_privilege_escalation, Some(false));
            assert_eq!(
                sc.capabilities.as_ref().unwrap().drop.as_deref().unwrap(),
                ["ALL"]
            );
            assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
            assert!(c.resources.as_ref().unwrap().limits.is_some());
            assert!(c
                .volume_mounts
                .iter()
                .flatten()
                .any(|m| m.mount_path == "/tmp"));
            assert!(c
                .volume_mounts
                .iter()
                .flatten()
                .any(|m| m.name == BACKUP_VOLUME && m.mount_path == BACKUP_DIR));
        }
        let tls = desired.tls_secret.as_ref().unwrap();
        assert_eq!(
            tls.metadata.name.as_deref(),
            Some("etcdbak-tls-orders-etcd")
        );
        assert_eq!(tls.metadata.namespace.as_deref(), Some("etcdbak"));
        assert_eq!(
            tls.data.as_ref().unwrap().keys().collect::<Vec<_>>(),
            ["ca.crt", "tls.crt", "tls.key"],
            "only the TLS keys are mirrored"
        );
        assert!(tls.metadata.owner_references.is_some());
    }

    #[test]
    fn cleanup_job_is_labelled_not_owned_and_expires() {
        let config = default_config();
        let job = render_cleanup_job(&cluster("orders-etcd"), &config).unwrap();
        assert_eq!(
            job.metadata.name.as_deref(),
            Some("etcdbak-cleanup-orders-etcd")
        );
        assert_eq!(job.metadata.owner_references, None);
        let labels = job.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[LABEL_CLUSTER], "orders-etcd");
        assert_eq!(labels[LABEL_MANAGED_BY], "etcdbak");
        let annotations = job.metadata.annotations.as_ref().unwrap();
        assert_eq!(
            annotations[CLUSTER_UID_ANNOTATION],
            "6f1c0b7e-2b1d-4a8e-9c3f-0d6a1e2b3c4d"
        );
        let spec = job.spec.as_ref().unwrap();
        assert_eq!(spec.ttl_seconds_after_finished, Some(86400));
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.init_containers, None, "cleanup takes no snapshot");
        let c = &pod.containers[0];
        assert_eq!(c.command.as_deref().unwrap(), ["etcdbak", "prune", "--all"]);
        let e = env_of(c);
        assert!(e.contains(&("CLUSTER".into(), "orders-etcd".into())));
        assert!(e.contains(&("ETCDBAK_CLUSTER".into(), "orders-etcd".into())));
        assert!(e.contains(&("ETCDBAK_S3_BUCKET".into(), "etcd-backups".into())));
        // `etcdbak prune` reads ETCDBAK_KEEP as --keep, which conflicts with --all.
        assert!(!e.iter().any(|(n, _)| n == "ETCDBAK_KEEP"), "{e:?}");
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let d = render_backup(
            &cluster("orders-etcd"),
            Some(&tls_source()),
            &default_config(),
        )
        .unwrap();
        let text = format!("{d:?}");
        assert!(text.contains("tls.key"), "{text}");
        for secret in ["test-key", "test-cert", "dGVzdC1rZXk", "116, 101, 115, 116"] {
            assert!(!text.contains(secret), "Debug shows {secret}");
        }
    }

    #[test]
    fn reserved_env_lists_the_contract() {
        let mut store: Vec<String> = contract_env("c", 1, Role::Store)
            .into_iter()
            .map(|e| e.name)
            .collect();
        store.sort();
        let mut reserved: Vec<String> = RESERVED_ENV.iter().map(|s| s.to_string()).collect();
        reserved.sort();
        assert_eq!(store, reserved);
    }

    #[test]
    fn cleanup_renders_even_when_the_cluster_is_otherwise_broken() {
        let mut c = cluster("orders-etcd");
        c.spec.schedule = Some("not a schedule".into());
        c.spec.keep = Some(0);
        c.spec.service = None;
        let job = render_cleanup_job(&c, &default_config()).unwrap();
        assert!(
            env_of(&job.spec.unwrap().template.spec.unwrap().containers[0])
                .contains(&("KEEP".into(), "20".into()))
        );
    }

    #[test]
    fn names_stay_dns_safe_and_within_limits() {
        let long = "a".repeat(60);
        let cases: &[(&str, &str, &str, &str)] = &[
            // cluster, cron job, cleanup job, tls secret
            (
                "orders-etcd",
                "etcdbak-orders-etcd",
                "etcdbak-cleanup-orders-etcd",
                "etcdbak-tls-orders-etcd",
            ),
            (
                "tenant-42.events",
                "etcdbak-tenant-42-events-e3b6c9f4",
                "etcdbak-cleanup-tenant-42-events-e3b6c9f4",
                "etcdbak-tls-tenant-42-events-e3b6c9f4",
            ),
        ];
        for (cluster, cron, cleanup, tls) in cases {
            let got = (
                cron_job_name(cluster),
                cleanup_job_name(cluster),
                tls_secret_name(cluster),
            );
            // Hash suffixes are pinned only by shape; the exact digits are checked by stability below.
            if cluster.contains('.') {
                for (g, w) in [(&got.0, cron), (&got.1, cleanup), (&got.2, tls)] {
                    assert_eq!(g[..g.len() - 8], w[..w.len() - 8], "{cluster}");
                }
            } else {
                assert_eq!(
                    got,
                    (cron.to_string(), cleanup.to_string(), tls.to_string())
                );
            }
        }
        let at_limit = "c".repeat(52 - "etcdbak-".len());
        assert_eq!(cron_job_name(&at_limit), format!("etcdbak-{at_limit}"));
        let over = "c".repeat(52 - "etcdbak-".len() + 1);
        for (name, max) in [
            (cron_job_name(&over), 52),
            (cron_job_name(&long), 52),
            (cleanup_job_name(&long), 63),
            (tls_secret_name(&long), 63),
            (cron_job_name(&"x.".repeat(120)), 52),
            (cluster_label_value(&"y".repeat(200)), 63),
        ] {
            assert!(name.len() <= max, "{name} longer than {max}");
            assert!(
                crate::config::is_dns_label(&name),
                "{name} is not a DNS label"
            );
        }
        assert_ne!(
            cron_job_name("a.b"),
            cron_job_name("a-b"),
            "sanitising must not merge names"
        );
        assert_ne!(
            cron_job_name(&format!("{long}1")),
            cron_job_name(&format!("{long}2"))
        );
        assert_eq!(cron_job_name(&long), cron_job_name(&long));
        assert_eq!(cluster_label_value("orders-etcd"), "orders-etcd");
        assert_eq!(cluster_label_value("tenant.events"), "tenant.events");
        assert_eq!(
            cluster_selector("orders-etcd"),
            "etcdbak.io/cluster=orders-etcd"
        );
    }

    #[test]
    fn endpoint_derivation() {
        let svc = |name: &str, port: Option<u16>, insecure: Option<bool>| {
            Some(ServiceRef {
                name: name.into(),
                port,
                insecure,
            })
        };
        let list = |l: &[&str]| Some(l.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        type Case = (
            Option<Vec<String>>,
            Option<ServiceRef>,
            Result<&'static str, &'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                None,
                svc("etcd", None, None),
                Ok("https://etcd.orders.svc:2379"),
            ),
            (
                None,
                svc("etcd", Some(12379), None),
                Ok("https://etcd.orders.svc:12379"),
            ),
            (
                None,
                svc("etcd", None, Some(true)),
                Ok("http://etcd.orders.svc:2379"),
            ),
            (list(&["https://a:2379"]), None, Ok("https://a:2379")),
            (
                list(&["https://a:2379", "https://b:2379", "http://10.0.0.3:2379"]),
                None,
                Ok("https://a:2379,https://b:2379,http://10.0.0.3:2379"),
            ),
            (None, None, Err("NoEndpoint")),
            (list(&[]), None, Err("NoEndpoint")),
            (
                list(&["https://a:2379"]),
                svc("etcd", None, None),
                Err("AmbiguousEndpoint"),
            ),
            (list(&["a:2379"]), None, Err("InvalidEndpoint")),
            (list(&["https://"]), None, Err("InvalidEndpoint")),
            (
                list(&["https://a:2379,https://b:2379"]),
                None,
                Err("InvalidEndpoint"),
            ),
        ];
        for (endpoints_in, service, want) in cases {
            let mut c = cluster("orders-etcd");
            c.spec.endpoints = endpoints_in.clone();
            c.spec.service = service.clone();
            let got = endpoints(&c).map_err(|e| e.reason());
            assert_eq!(
                got.as_deref().map_err(|e| *e),
                want,
                "{endpoints_in:?} {service:?}"
            );
        }
    }

    #[test]
    fn errors_say_what_to_fix() {
        let config = default_config();
        let with = |f: &dyn Fn(&mut Cluster, &mut Config, &mut Option<Secret>)| {
            let mut c = cluster("orders-etcd");
            let mut cfg = config.clone();
            let mut tls = Some(tls_source());
            f(&mut c, &mut cfg, &mut tls);
            render_backup(&c, tls.as_ref(), &cfg).unwrap_err()
        };
        type Mutate = Box<dyn Fn(&mut Cluster, &mut Config, &mut Option<Secret>)>;
        let cases: Vec<(Mutate, &str, &str)> = vec![
            (
                Box::new(|c, _, _| c.spec.schedule = Some("0 0 H * *".into())),
                "InvalidSchedule",
                "spec.schedule is not usable",
            ),
            (
                Box::new(|c, cfg, _| {
                    c.spec.schedule = None;
                    cfg.default_schedule = "99 * * * *".into();
                }),
                "InvalidSchedule",
                "defaultSchedule",
            ),
            (
                Box::new(|c, _, _| c.spec.keep = Some(0)),
                "InvalidKeep",
                "spec.keep",
            ),
            (
                Box::new(|c, _, _| c.metadata.name = Some("orders.etcd".into())),
                "InvalidClusterName",
                "may contain only lower-case letters",
            ),
            (
                Box::new(|c, _, _| c.spec.namespace = "Orders".into()),
                "InvalidNamespace",
                "spec.namespace \"Orders\"",
            ),
            (
                Box::new(|_, _, tls| *tls = None),
                "TlsSecretNotFound",
                "orders/orders-etcd-client-tls",
            ),
            (
                Box::new(|_, _, tls| {
                    tls.as_mut()
                        .unwrap()
                        .data
                        .as_mut()
                        .unwrap()
                        .remove("ca.crt");
                }),
                "TlsSecretIncomplete",
                "no \"ca.crt\" key",
            ),
            (
                Box::new(|_, cfg, _| cfg.store_container.volume_mounts = None),
                "TemplateMissingBackupMount",
                "does not mount the volume etcd-backup at /backup",
            ),
            (
                Box::new(|_, cfg, _| {
                    cfg.store_container.volume_mounts.as_mut().unwrap()[0].mount_path =
                        "/data".into()
                }),
                "TemplateMissingBackupMount",
                "(it mounts it at /data)",
            ),
            (
                Box::new(|_, cfg, _| {
                    cfg.store_container
                        .env
                        .get_or_insert_with(Vec::new)
                        .push(env("KEEP", "3"))
                }),
                "TemplateReservedEnv",
                "sets the env var KEEP",
            ),
            (
                Box::new(|_, cfg, _| {
                    cfg.store_container
                        .volume_mounts
                        .as_mut()
                        .unwrap()
                        .push(mount("ca-bundle", "/etc/ssl/custom", true))
                }),
                "TemplateUnknownVolume",
                "\"ca-bundle\"",
            ),
            (
                Box::new(|_, cfg, _| cfg.store_container.name = "snapshot".into()),
                "TemplateNameConflict",
                "rename it",
            ),
        ];
        for (mutate, reason, text) in cases {
            let e = with(&*mutate);
            assert_eq!(e.reason(), reason, "{e}");
            assert!(e.to_string().contains(text), "{e:?} lacks {text:?}");
            assert!(
                !e.to_string().contains("test-key"),
                "secrets never reach messages"
            );
        }
    }

    #[test]
    fn template_settings_win_over_defaults_but_not_over_the_contract() {
        let mut config = default_config();
        let store = &mut config.store_container;
        store.image = Some("minio/mc:latest".into());
        store
            .env
            .get_or_insert_with(Vec::new)
            .push(env("ETCDBAK_S3_BUCKET", "other"));
        store.security_context = Some(SecurityContext {
            run_as_user: Some(1000),
            read_only_root_filesystem: Some(false),
            ..Default::default()
        });
        store.resources = Some(Default::default());
        config.pod.extra_volumes.push(Volume {
            name: "ca-bundle".into(),
            config_map: Some(Default::default()),
            ..Default::default()
        });
        config
            .store_container
            .volume_mounts
            .as_mut()
            .unwrap()
            .push(mount("ca-bundle", "/etc/ssl/custom", true));
        let desired = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
        let pod = pod_spec(&desired.cron_job);
        let c = &pod.containers[0];
        assert_eq!(c.image.as_deref(), Some("minio/mc:latest"));
        assert_eq!(
            c.image_pull_policy, None,
            "the template's own image keeps its own policy"
        );
        let e = env_of(c);
        assert_eq!(
            e.iter().filter(|(n, _)| n == "ETCDBAK_S3_BUCKET").count(),
            1
        );
        assert!(e.contains(&("ETCDBAK_S3_BUCKET".into(), "other".into())));
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.run_as_user, Some(1000));
        assert_eq!(sc.read_only_root_filesystem, Some(false));
        assert_eq!(
            sc.allow_privilege_escalation,
            Some(false),
            "unset fields are still locked down"
        );
        assert!(pod
            .volumes
            .as_ref()
            .unwrap()
            .iter()
            .any(|v| v.name == "ca-bundle"));
    }

    #[test]
    fn variations_render_as_expected() {
        let config = default_config();
        // Suspend is passed through.
        let mut c = cluster("orders-etcd");
        c.spec.suspend = Some(true);
        let d = render_backup(&c, None, &config);
        assert!(d.is_err(), "tls secret still required");
        let d = render_backup(&c, Some(&tls_source()), &config).unwrap();
        assert_eq!(d.cron_job.spec.as_ref().unwrap().suspend, Some(true));

        // No TLS: no secret, no TLS volume or env.
        let mut c = cluster("plain-etcd");
        c.spec.tls_secret = None;
        c.spec.service = None;
        c.spec.endpoints = Some(vec!["http://etcd.plain.svc:2379".into()]);
        let d = render_backup(&c, None, &config).unwrap();
        assert_eq!(d.tls_secret, None);
        let pod = pod_spec(&d.cron_job);
        assert!(!pod
            .volumes
            .as_ref()
            .unwrap()
            .iter()
            .any(|v| v.name == TLS_VOLUME));
        assert!(!env_of(&pod.init_containers.as_ref().unwrap()[0])
            .iter()
            .any(|(n, _)| n.starts_with("ETCDBAK_CACERT")));

        // Defaults apply when the Cluster overrides nothing.
        let mut c = cluster("orders-etcd");
        c.spec.schedule = None;
        c.spec.keep = None;
        let d = render_backup(&c, Some(&tls_source()), &config).unwrap();
        assert_eq!(
            d.schedule.split(' ').skip(1).collect::<Vec<_>>(),
            ["*", "*", "*", "*"]
        );
        assert!(
            env_of(&pod_spec(&d.cron_job).containers[0]).contains(&("KEEP".into(), "20".into()))
        );

        // Without a UID (never stored in an apiserver) there is nothing to own the objects.
        let mut c = cluster("orders-etcd");
        c.metadata.uid = None;
        let d = render_backup(&c, Some(&tls_source()), &config).unwrap();
        assert_eq!(d.cron_job.metadata.owner_references, None);

        // stringData (a Secret read from a file) is mirrored like data.
        let mut src = tls_source();
        let data = src.data.take().unwrap();
        src.string_data = Some(
            data.into_iter()
                .map(|(k, v)| (k, String::from_utf8(v.0).unwrap()))
                .collect(),
        );
        let d = render_backup(&cluster("orders-etcd"), Some(&src), &config).unwrap();
        assert_eq!(
            d.tls_secret.unwrap().data.unwrap()["tls.key"].0,
            b"test-key"
        );
    }

    #[test]
    fn spec_hash_is_stable_and_tracks_changes() {
        let config = default_config();
        let a = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
        let b = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
        let hash = |d: &Desired| {
            d.cron_job.metadata.annotations.as_ref().unwrap()[HASH_ANNOTATION].clone()
        };
        assert_eq!(hash(&a), hash(&b));
        assert_eq!(hash(&a).len(), 16);
        let mut c = cluster("orders-etcd");
        c.spec.keep = Some(7);
        let changed = render_backup(&c, Some(&tls_source()), &config).unwrap();
        assert_ne!(hash(&a), hash(&changed));
        // Re-stamping an already stamped object gives the same hash (the annotation is not hashed).
        let mut again = a.cron_job.clone();
        stamp_hash(&mut again);
        assert_eq!(again, a.cron_job);
        let mut rotated = tls_source();
        rotated
            .data
            .as_mut()
            .unwrap()
            .insert("tls.key".into(), ByteString(b"new-key".to_vec()));
        let r = render_backup(&cluster("orders-etcd"), Some(&rotated), &config).unwrap();
        let secret_hash = |d: &Desired| {
            d.tls_secret
                .as_ref()
                .unwrap()
                .metadata
                .annotations
                .as_ref()
                .unwrap()[HASH_ANNOTATION]
                .clone()
        };
        assert_ne!(
            secret_hash(&a),
            secret_hash(&r),
            "a rotated certificate must be re-mirrored"
        );
        assert_eq!(
            hash(&a),
            hash(&r),
            "the CronJob itself does not change on rotation"
        );
    }

    #[test]
    fn every_example_parses_and_renders() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let sample: Cluster =
            serde_yaml::from_str(&std::fs::read_to_string(examples.join("cluster.yaml")).unwrap())
                .unwrap();
        assert_eq!(sample.spec.namespace, "orders");
        let mut sample = sample;
        sample.metadata.uid = Some("uid-1".into());
        let custom: Container = serde_yaml::from_str(
            &std::fs::read_to_string(examples.join("store-template-custom.yaml")).unwrap(),
        )
        .unwrap();
        let mut configs = vec![];
        for entry in std::fs::read_dir(&examples).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with("config") {
                configs.push((name, Config::load(&path).unwrap()));
            }
        }
        assert!(configs.len() >= 2, "{configs:?}");

        // The credentials Secret example is the one the default templates reference, key for key.
        let creds: Secret = serde_yaml::from_str(
            &std::fs::read_to_string(examples.join("s3-credentials-secret.yaml")).unwrap(),
        )
        .unwrap();
        let default = default_config();
        assert_eq!(
            creds.metadata.namespace.as_deref(),
            Some(default.job_namespace())
        );
        for template in [
            &default.store_container,
            &default.cleanup_container,
            &custom,
        ] {
            for e in template.env.iter().flatten() {
                if let Some(r) = e
                    .value_from
                    .as_ref()
                    .and_then(|v| v.secret_key_ref.as_ref())
                {
                    assert_eq!(Some(&r.name), creds.metadata.name.as_ref());
                    assert!(
                        creds.string_data.as_ref().unwrap().contains_key(&r.key),
                        "{}",
                        r.key
                    );
                }
            }
        }
        for (name, config) in &configs {
            let d = render_backup(&sample, Some(&tls_source()), config)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            render_cleanup_job(&sample, config).unwrap_or_else(|e| panic!("{name}: {e}"));
            crate::schedule::max_interval(&d.schedule).unwrap();
            if name == "config-custom-store.yaml" {
                let store = &pod_spec(&d.cron_job).containers[0];
                assert_eq!(store.image, custom.image);
                assert!(env_of(store).contains(&("CLUSTER".into(), "orders-etcd".into())));
            }
        }
    }

    #[test]
    fn contract_doc_covers_env_reasons_and_exit_codes() {
        let doc = include_str!("../docs/CONTRACT.md");
        for name in RESERVED_ENV {
            assert!(
                doc.contains(&format!("| `{name}` |")),
                "docs/CONTRACT.md lacks env {name}"
            );
        }
        let schedule_error = ScheduleError::Empty;
        let all = [
            RenderError::Schedule(schedule_error.clone()),
            RenderError::DefaultSchedule(schedule_error),
            RenderError::InvalidKeep(0),
            RenderError::InvalidNamespace(String::new()),
            RenderError::InvalidClusterName(String::new()),
            RenderError::NoEndpoint,
            RenderError::AmbiguousEndpoint,
            RenderError::InvalidEndpoint(String::new()),
            RenderError::TlsSecretNotFound {
                namespace: String::new(),
                name: String::new(),
            },
            RenderError::TlsKeyMissing {
                namespace: String::new(),
                name: String::new(),
                key: "ca.crt",
            },
            RenderError::MissingBackupMount {
                template: "store",
                found: String::new(),
            },
            RenderError::ReservedEnv {
                template: "store",
                name: String::new(),
            },
            RenderError::UnknownVolume {
                template: "store",
                volume: String::new(),
            },
            RenderError::ContainerNameTaken {
                template: "store",
                name: String::new(),
            },
        ];
        for e in &all {
            assert!(
                doc.contains(&format!("`{}`", e.reason())),
                "docs/CONTRACT.md lacks reason {}",
                e.reason()
            );
        }
        use crate::exit::Class;
        for code in [
            Class::Failure,
            Class::Usage,
            Class::EtcdUnavailable,
            Class::Auth,
            Class::CorruptSnapshot,
            Class::Storage,
            Class::Config,
        ]
        .map(Class::code)
        {
            assert!(
                doc.contains(&format!("| {code} |")),
                "docs/CONTRACT.md lacks exit code {code}"
            );
        }
        for key in [
            "defaultSchedule",
            "defaultKeep",
            "jobNamespace",
            "storeContainer",
            "cleanupContainer",
        ] {
            assert!(
                doc.contains(&format!("`{key}`")),
                "docs/CONTRACT.md lacks config key {key}"
            );
        }
    }
}
