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

/// Env vars the controller sets on template containers; a template may not set them itself.
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

/// What the controller applies for one Cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub cron_job: CronJob,
    /// The mirrored client-TLS Secret; `None` when the Cluster names no `spec.tlsSecret`.
    pub tls_secret: Option<Secret>,
    /// The effective schedule after `H` expansion (for `status.schedule`).
    pub schedule: String,
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

    let contract = contract_env(&name, keep);
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
    let contract = contract_env(&name, keep);
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
fn contract_env(cluster: &str, keep: u32) -> Vec<EnvVar> {
    let keep = keep.to_string();
    vec![
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
        env("ETCDBAK_KEEP", &keep),
    ]
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
        .find(|e| RESERVED_ENV.contains(&e.name.as_str()))
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
