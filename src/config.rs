//! The controller's config file (mounted from a ConfigMap): defaults and the admin's container templates.
//!
//! Loading is strict: unknown keys are errors (a typo such as `defaultKep` would otherwise silently fall back
//! to a default), and every error names the file, the line and the field to fix. Template *contents* (the
//! shared-volume mount, reserved env names) are checked at render time instead, so a bad template shows up
//! as a condition and an Event on every Cluster rather than a controller that will not start.
//! docs/CONTRACT.md documents every key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{
    Container, LocalObjectReference, ResourceRequirements, Toleration, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crd::{ObjectLockSpec, RetentionSpec};

mod continuous;
pub use continuous::{parse_interval as parse_segment_interval, ContinuousConfig};
mod destinations;
pub use destinations::{
    lines as destination_lines, secret_env as destination_secret_env, DestinationConfig,
};
mod encoding;
pub use encoding::{effective as effective_encoding, EncodingConfig, EncryptionConfig};
mod object_lock;
pub use object_lock::{effective as effective_object_lock, env as object_lock_env};
mod retention;
mod validate;

/// The embedded default configuration; examples/config.yaml is the single copy, so the docs cannot drift.
pub const DEFAULT_CONFIG_YAML: &str = include_str!("../examples/config.yaml");

/// The controller's configuration, with templates read from their files.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Cron schedule for Clusters without `spec.schedule`; may use `H` (see schedule.rs).
    pub default_schedule: String,
    /// Snapshots kept per cluster when `spec.keep` is unset.
    pub default_keep: u32,
    /// Tiered retention for Clusters without `spec.retention`; its `keepLast` yields to a Cluster's
    /// `spec.keep`.
    pub retention: Option<RetentionSpec>,
    /// Where backup and cleanup Jobs run, and where TLS Secrets are mirrored (the controller's namespace).
    pub job_namespace: String,
    /// The etcdbak image: the snapshot init container, and templates that name no image.
    pub image: String,
    pub image_pull_policy: String,
    /// The Jobs' ServiceAccount; unset means the namespace's `default`. Jobs never get an API token.
    pub service_account_name: Option<String>,
    /// The CronJobs' `timeZone`; schedules (and `max_interval`) are read in it.
    pub time_zone: String,
    /// Object-store settings handed to the store and cleanup containers as `ETCDBAK_S3_*` env vars.
    pub s3: S3Config,
    /// Further destinations (`s3` is the first, `primary`), handed to the store container as
    /// `ETCDBAK_DESTINATIONS` (docs/DESTINATIONS.md).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<DestinationConfig>,
    /// Compression and encryption of the backups, handed to the store container as `ETCDBAK_COMPRESS` and
    /// `ETCDBAK_ENCRYPT_TO`.
    #[serde(flatten)]
    pub encoding: EncodingConfig,
    /// S3 Object Lock on every backup, unless a Cluster names its own; handed to the store container as
    /// `ETCDBAK_OBJECT_LOCK_MODE` and `ETCDBAK_OBJECT_LOCK_RETAIN`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<ObjectLockSpec>,
    pub job: JobConfig,
    pub pod: PodConfig,
    /// The admin's store container: reads `/backup/snapshot.db` and puts it somewhere safe.
    pub store_container: Container,
    /// The admin's cleanup container: deletes every backup of a deleted Cluster.
    pub cleanup_container: Container,
    /// Scheduled verification of each Cluster's newest backup.
    pub verify: VerifyConfig,
    /// The admin's verify container: checks that the Cluster's newest backup is restorable.
    pub verify_container: Container,
    /// Continuous backup: a follower Deployment per opted-in Cluster (docs/CONTINUOUS.md).
    pub continuous: ContinuousConfig,
    /// The admin's follower container: `etcdbak follow`, with the store's S3 credentials.
    pub follower_container: Container,
    /// Where this config came from (for messages); not part of the digest.
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// Template files the config names, resolved; a watcher re-reads the config when one of them changes.
    #[serde(skip)]
    pub template_files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3Config {
    /// e.g. `https://s3.eu-west-1.amazonaws.com` or `http://minio.storage.svc:9000`.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub bucket: Option<String>,
    /// Key prefix inside the bucket; backups land under `<prefix>/<cluster>/`.
    pub prefix: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which MinIO and most in-cluster stores need.
    pub path_style: Option<bool>,
}

/// One more CronJob per Cluster that runs the verify container: on by default, daily, because a backup
/// nobody has restored is a hope. A Cluster's `spec.verify` overrides either field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct VerifyConfig {
    pub enabled: bool,
    /// Cron schedule; may use `H` (see schedule.rs).
    pub schedule: String,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            enabled: true,
            schedule: "H 4 * * *".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct JobConfig {
    /// A run missed by more than this (controller-manager down, Forbid overlap) is skipped, not run late.
    pub starting_deadline_seconds: i64,
    pub successful_jobs_history_limit: i32,
    pub failed_jobs_history_limit: i32,
    /// Pod retries per run; a failed snapshot is retried, the next schedule slot comes anyway.
    pub backoff_limit: i32,
    /// A Job running longer than this is killed (a hung etcd or S3 must not block the next runs forever).
    pub active_deadline_seconds: i64,
    /// Finished cleanup Jobs are deleted after this long; long enough to read their logs.
    pub cleanup_ttl_seconds_after_finished: i32,
    /// Requests and limits for the snapshot container, and for template containers that set none.
    pub resources: ResourceRequirements,
}

impl Default for JobConfig {
    fn default() -> Self {
        let q = |s: &str| Quantity(s.to_string());
        JobConfig {
            starting_deadline_seconds: 300,
            successful_jobs_history_limit: 3,
            failed_jobs_history_limit: 3,
            backoff_limit: 2,
            active_deadline_seconds: 3600,
            cleanup_ttl_seconds_after_finished: 86400,
            resources: ResourceRequirements {
                requests: Some(BTreeMap::from([
                    ("cpu".to_string(), q("100m")),
                    ("memory".to_string(), q("128Mi")),
                ])),
                limits: Some(BTreeMap::from([("memory".to_string(), q("512Mi"))])),
                ..Default::default()
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PodConfig {
    /// Non-root identity for every container (the image need not declare a numeric USER).
    pub run_as_user: i64,
    pub run_as_group: i64,
    /// Makes the mirrored TLS Secret (mode 0440) readable by `runAsUser`.
    pub fs_group: i64,
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
    pub priority_class_name: Option<String>,
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Extra pod volumes templates may mount (e.g. a CA bundle for the object store).
    pub extra_volumes: Vec<Volume>,
    /// Extra labels and annotations on the Job pods (e.g. for network policies or cost tracking).
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Run the Job pods in the node's network namespace, for clusters without a pod network (their etcd
    /// and object store are then only reachable on the node's addresses).
    pub host_network: bool,
    /// The `sizeLimit` of the `etcd-backup` emptyDir the snapshot is written to; at least the largest
    /// database (etcd's quota; 8 GiB is its suggested maximum). `null` for no limit.
    pub backup_volume_size_limit: Option<Quantity>,
}

/// Room for etcd's suggested maximum quota (8 GiB) and snapshot.json.
pub const DEFAULT_BACKUP_VOLUME_SIZE_LIMIT: &str = "10Gi";

impl Default for PodConfig {
    fn default() -> Self {
        PodConfig {
            run_as_user: 65532,
            run_as_group: 65532,
            fs_group: 65532,
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            priority_class_name: None,
            image_pull_secrets: Vec::new(),
            extra_volumes: Vec::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            host_network: false,
            backup_volume_size_limit: Some(Quantity(DEFAULT_BACKUP_VOLUME_SIZE_LIMIT.into())),
        }
    }
}

/// The file as written: templates are inline container mappings or paths relative to the config file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_schedule")]
    default_schedule: String,
    #[serde(default = "default_keep")]
    default_keep: u32,
    #[serde(default)]
    retention: Option<retention::RawRetention>,
    #[serde(default = "default_job_namespace")]
    job_namespace: String,
    #[serde(default = "default_image")]
    image: String,
    #[serde(default = "default_pull_policy")]
    image_pull_policy: String,
    #[serde(default)]
    service_account_name: Option<String>,
    #[serde(default = "default_time_zone")]
    time_zone: String,
    #[serde(default)]
    s3: S3Config,
    #[serde(default)]
    destinations: Vec<DestinationConfig>,
    #[serde(default = "default_compression")]
    compression: String,
    #[serde(default)]
    encryption: EncryptionConfig,
    #[serde(default)]
    object_lock: Option<ObjectLockSpec>,
    #[serde(default)]
    job: JobConfig,
    #[serde(default)]
    pod: PodConfig,
    #[serde(default)]
    store_container: Option<TemplateSource>,
    #[serde(default)]
    cleanup_container: Option<TemplateSource>,
    #[serde(default)]
    verify: VerifyConfig,
    #[serde(default)]
    verify_container: Option<TemplateSource>,
    #[serde(default)]
    continuous: ContinuousConfig,
    #[serde(default)]
    follower_container: Option<TemplateSource>,
}

fn default_schedule() -> String {
    "H * * * *".into()
}
fn default_keep() -> u32 {
    20
}
fn default_compression() -> String {
    EncodingConfig::default().compression
}
fn default_job_namespace() -> String {
    "etcdbak".into()
}
fn default_image() -> String {
    concat!("ghcr.io/etcdbak/etcdbak:", env!("CARGO_PKG_VERSION")).into()
}
fn default_pull_policy() -> String {
    "IfNotPresent".into()
}
fn default_time_zone() -> String {
    "UTC".into()
}

#[derive(Debug)]
enum TemplateSource {
    Inline(Box<Container>),
    File(String),
}

// Hand-written so an inline template is deserialized straight from the YAML stream: errors inside it keep
// their line numbers (an untagged enum or a detour through serde_yaml::Value would lose them).
impl<'de> Deserialize<'de> for TemplateSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TemplateSource;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a container mapping, or the path of a file holding one")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TemplateSource, E> {
                Ok(TemplateSource::File(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TemplateSource, A::Error> {
                Container::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|c| TemplateSource::Inline(Box::new(c)))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}{}: {message}: fix the YAML there", at(*line, *column))]
    Yaml {
        file: String,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    #[error("cannot read the {field} template file {} (relative paths are resolved from the config file's directory): {source}", path.display())]
    TemplateRead {
        field: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {field} {problem}")]
    Invalid {
        file: String,
        field: &'static str,
        problem: String,
    },
}

fn at(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" line {l} column {c}"),
        (Some(l), None) => format!(" line {l}"),
        _ => String::new(),
    }
}

impl Error {
    pub fn class(&self) -> crate::exit::Class {
        crate::exit::Class::Config
    }

    fn yaml(file: &str, e: &serde_yaml::Error) -> Error {
        let location = e.location();
        // serde_yaml appends " at line L column C" itself; the sentence already says where.
        let mut message = e.to_string();
        if let Some(i) = message.find(" at line ") {
            message.truncate(i);
        }
        Error::Yaml {
            file: file.to_string(),
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message,
        }
    }
}

impl Config {
    /// Reads the config file; template paths in it are relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config = parse(&text, &path.display().to_string(), Some(base))?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses config text. Template file paths need `base_dir`; without it only inline templates work.
    pub fn from_yaml(text: &str, base_dir: Option<&Path>) -> Result<Config, Error> {
        parse(text, "the config", base_dir)
    }

    /// A stable hash of everything that shapes the rendered objects (template file contents included), so a
    /// watcher can tell a real change from a touched file. 16 hex digits of SHA-256.
    pub fn digest(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(&Sha256::digest(&json)[..8])
    }

    pub fn job_namespace(&self) -> &str {
        &self.job_namespace
    }

    /// The config file and the template files it names: everything a watcher should watch.
    pub fn files(&self) -> Vec<PathBuf> {
        self.source
            .iter()
            .chain(self.template_files.iter())
            .cloned()
            .collect()
    }
}

/// The embedded default (examples/config.yaml), for demos and dry runs.
pub fn default_config() -> Config {
    // examples/config.yaml is compiled in and a unit test parses it, so this cannot fail at run time; the
    // fallback keeps src/ free of expect().
    Config::from_yaml(DEFAULT_CONFIG_YAML, None).unwrap_or_else(|e| {
        tracing::error!("the embedded default config is invalid: {e}");
        Config {
            default_schedule: default_schedule(),
            default_keep: default_keep(),
            retention: None,
            job_namespace: default_job_namespace(),
            image: default_image(),
            image_pull_policy: default_pull_policy(),
            service_account_name: None,
            time_zone: default_time_zone(),
            s3: S3Config::default(),
            destinations: Vec::new(),
            encoding: EncodingConfig::default(),
            object_lock: None,
            job: JobConfig::default(),
            pod: PodConfig::default(),
            store_container: Container {
                name: "store".into(),
                ..Default::default()
            },
            cleanup_container: Container {
                name: "cleanup".into(),
                ..Default::default()
            },
            verify: VerifyConfig::default(),
            verify_container: Container {
                name: "verify".into(),
                ..Default::default()
            },
            continuous: ContinuousConfig::default(),
            follower_container: Container {
                name: "follower".into(),
                ..Default::default()
            },
            source: None,
            template_files: Vec::new(),
        }
    })
}

fn parse(text: &str, file: &str, base_dir: Option<&Path>) -> Result<Config, Error> {
    let raw: RawConfig = serde_yaml::from_str(text).map_err(|e| Error::yaml(file, &e))?;
    let mut template_files = Vec::new();
    let store_container = resolve_template(
        raw.store_container,
        "storeContainer",
        file,
        base_dir,
        &mut template_files,
    )?;
    let cleanup_container = resolve_template(
        raw.cleanup_container,
        "cleanupContainer",
        file,
        base_dir,
        &mut template_files,
    )?;
    let verify_container = resolve_template(
        raw.verify_container,
        "verifyContainer",
        file,
        base_dir,
        &mut template_files,
    )?;
    let follower_container = resolve_template(
        raw.follower_container,
        "followerContainer",
        file,
        base_dir,
        &mut template_files,
    )?;
    let config = Config {
        default_schedule: raw.default_schedule,
        default_keep: raw.default_keep,
        retention: raw.retention.map(RetentionSpec::from),
        job_namespace: raw.job_namespace,
        image: raw.image,
        image_pull_policy: raw.image_pull_policy,
        service_account_name: raw.service_account_name,
        time_zone: raw.time_zone,
        s3: raw.s3,
        destinations: raw.destinations,
        encoding: EncodingConfig {
            compression: raw.compression,
            encryption: raw.encryption,
        },
        object_lock: raw.object_lock,
        job: raw.job,
        pod: raw.pod,
        store_container,
        cleanup_container,
        verify: raw.verify,
        verify_container,
        continuous: raw.continuous,
        follower_container,
        source: None,
        template_files,
    };
    validate::validate(&config, file)?;
    Ok(config)
}

fn resolve_template(
    source: Option<TemplateSource>,
    field: &'static str,
    file: &str,
    base_dir: Option<&Path>,
    files: &mut Vec<PathBuf>,
) -> Result<Container, Error> {
    match source {
        Some(TemplateSource::Inline(c)) => Ok(*c),
        Some(TemplateSource::File(rel)) => {
            let Some(base) = base_dir else {
                return Err(Error::Invalid {
                    file: file.to_string(),
                    field,
                    problem: format!(
                        "names the file {rel:?}, but this config was not read from a file: give the container inline"
                    ),
                });
            };
            let path = base.join(&rel);
            files.push(path.clone());
            let text = std::fs::read_to_string(&path).map_err(|source| Error::TemplateRead {
                field,
                path: path.clone(),
                source,
            })?;
            serde_yaml::from_str(&text).map_err(|e| Error::yaml(&path.display().to_string(), &e))
        }
        None => builtin_template(field),
    }
}

/// A config that leaves a template out gets the one from examples/config.yaml.
fn builtin_template(field: &'static str) -> Result<Container, Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Templates {
        store_container: Container,
        cleanup_container: Container,
        verify_container: Container,
        follower_container: Container,
    }
    let t: Templates = serde_yaml::from_str(DEFAULT_CONFIG_YAML)
        .map_err(|e| Error::yaml("the embedded default config", &e))?;
    Ok(match field {
        "storeContainer" => t.store_container,
        "verifyContainer" => t.verify_container,
        "followerContainer" => t.follower_container,
        _ => t.cleanup_container,
    })
}

#[cfg(test)]
mod tests;
