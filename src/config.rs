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
    pub job: JobConfig,
    pub pod: PodConfig,
    /// The admin's store container: reads `/backup/snapshot.db` and puts it somewhere safe.
    pub store_container: Container,
    /// The admin's cleanup container: deletes every backup of a deleted Cluster.
    pub cleanup_container: Container,
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
}

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
    job: JobConfig,
    #[serde(default)]
    pod: PodConfig,
    #[serde(default)]
    store_container: Option<TemplateSource>,
    #[serde(default)]
    cleanup_container: Option<TemplateSource>,
}

fn default_schedule() -> String {
    "H * * * *".into()
}
fn default_keep() -> u32 {
    20
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

    /// Where the config came from, for messages.
    pub fn origin(&self) -> String {
        match &self.source {
            Some(p) => p.display().to_string(),
            None => "the config".into(),
        }
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
            job_namespace: default_job_namespace(),
            image: default_image(),
            image_pull_policy: default_pull_policy(),
            service_account_name: None,
            time_zone: default_time_zone(),
            s3: S3Config::default(),
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
    let config = Config {
        default_schedule: raw.default_schedule,
        default_keep: raw.default_keep,
        job_namespace: raw.job_namespace,
        image: raw.image,
        image_pull_policy: raw.image_pull_policy,
        service_account_name: raw.service_account_name,
        time_zone: raw.time_zone,
        s3: raw.s3,
        job: raw.job,
        pod: raw.pod,
        store_container,
        cleanup_container,
        source: None,
        template_files,
    };
    validate(&config, file)?;
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
    }
    let t: Templates = serde_yaml::from_str(DEFAULT_CONFIG_YAML)
        .map_err(|e| Error::yaml("the embedded default config", &e))?;
    Ok(if field == "storeContainer" {
        t.store_container
    } else {
        t.cleanup_container
    })
}

fn validate(c: &Config, file: &str) -> Result<(), Error> {
    let invalid = |field: &'static str, problem: String| Error::Invalid {
        file: file.to_string(),
        field,
        problem,
    };
    crate::schedule::expand(&c.default_schedule, "example")
        .map_err(|e| invalid("defaultSchedule", format!("is not usable: {e}")))?;
    if !(1..=10000).contains(&c.default_keep) {
        return Err(invalid(
            "defaultKeep",
            format!("is {}: keep between 1 and 10000 snapshots", c.default_keep),
        ));
    }
    if !is_dns_label(&c.job_namespace) {
        return Err(invalid(
            "jobNamespace",
            format!(
                "{:?} is not a namespace name (lower-case letters, digits and '-', at most 63)",
                c.job_namespace
            ),
        ));
    }
    if c.image.trim().is_empty() {
        return Err(invalid("image", "is empty: name the etcdbak image".into()));
    }
    if !["Always", "IfNotPresent", "Never"].contains(&c.image_pull_policy.as_str()) {
        return Err(invalid(
            "imagePullPolicy",
            format!(
                "is {:?}: use Always, IfNotPresent or Never",
                c.image_pull_policy
            ),
        ));
    }
    if let Some(sa) = &c.service_account_name {
        if !is_dns_subdomain(sa) {
            return Err(invalid(
                "serviceAccountName",
                format!("{sa:?} is not a valid ServiceAccount name"),
            ));
        }
    }
    if c.time_zone.trim().is_empty() {
        return Err(invalid(
            "timeZone",
            "is empty: use an IANA name such as UTC or Europe/Berlin".into(),
        ));
    }
    let j = &c.job;
    for (field, value) in [
        ("job.startingDeadlineSeconds", j.starting_deadline_seconds),
        ("job.activeDeadlineSeconds", j.active_deadline_seconds),
    ] {
        if value < 1 {
            return Err(invalid(
                field,
                format!("is {value}: give at least 1 second"),
            ));
        }
    }
    for (field, value) in [
        (
            "job.successfulJobsHistoryLimit",
            j.successful_jobs_history_limit,
        ),
        ("job.failedJobsHistoryLimit", j.failed_jobs_history_limit),
        ("job.backoffLimit", j.backoff_limit),
        (
            "job.cleanupTtlSecondsAfterFinished",
            j.cleanup_ttl_seconds_after_finished,
        ),
    ] {
        if value < 0 {
            return Err(invalid(field, format!("is {value}: it cannot be negative")));
        }
    }
    for (field, container) in [
        ("storeContainer", &c.store_container),
        ("cleanupContainer", &c.cleanup_container),
    ] {
        if container.name.is_empty() {
            return Err(invalid(
                field,
                "has no name: give the container one, e.g. `name: store`".into(),
            ));
        }
        if !is_dns_label(&container.name) {
            return Err(invalid(
                field,
                format!(
                    "has the name {:?}: a container name is lower-case letters, digits and '-'",
                    container.name
                ),
            ));
        }
    }
    Ok(())
}

pub(crate) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses() {
        let c = Config::from_yaml(DEFAULT_CONFIG_YAML, None).unwrap();
        assert_eq!(c.default_keep, 20);
        assert_eq!(c, default_config());
        assert_eq!(
            c.store_container.command.as_deref().unwrap()[..2],
            ["etcdbak", "store"]
        );
        assert_eq!(
            c.cleanup_container.command.as_deref().unwrap(),
            ["etcdbak", "prune", "--all"]
        );
    }

    #[test]
    fn minimal_config_gets_defaults_and_builtin_templates() {
        let c = Config::from_yaml("{}", None).unwrap();
        assert_eq!(c.default_schedule, "H * * * *");
        assert_eq!(c.default_keep, 20);
        assert_eq!(c.job_namespace(), "etcdbak");
        assert_eq!(c.time_zone, "UTC");
        assert_eq!(c.job.backoff_limit, 2);
        assert_eq!(c.store_container, default_config().store_container);
        assert_eq!(c.cleanup_container, default_config().cleanup_container);
    }

    #[test]
    fn digest_is_stable_and_sees_changes() {
        let a = default_config();
        let mut b = a.clone();
        assert_eq!(a.digest(), b.digest());
        assert_eq!(a.digest().len(), 16);
        b.store_container.args = Some(vec!["--verbose".into()]);
        assert_ne!(a.digest(), b.digest());
        let mut c = a.clone();
        c.source = Some("/elsewhere.yaml".into());
        assert_eq!(
            a.digest(),
            c.digest(),
            "where the file lives is not a change"
        );
    }

    #[test]
    fn errors_name_the_file_line_and_field() {
        let cases: &[(&str, &[&str])] = &[
            (
                "defaultKep: 5\n",
                &["the config line 1", "unknown field `defaultKep`"],
            ),
            ("defaultKeep: 0\n", &["defaultKeep is 0"]),
            ("defaultKeep: many\n", &["line 1", "defaultKeep"]),
            (
                "defaultSchedule: '* * *'\n",
                &["defaultSchedule is not usable", "has 3 fields"],
            ),
            ("jobNamespace: Backups\n", &["jobNamespace \"Backups\""]),
            (
                "imagePullPolicy: Sometimes\n",
                &["imagePullPolicy", "IfNotPresent"],
            ),
            ("job:\n  backoffLimit: -1\n", &["job.backoffLimit is -1"]),
            (
                "job:\n  backofLimit: 1\n",
                &["line 2", "unknown field `backofLimit`"],
            ),
            ("s3:\n  bucket: [a]\n", &["line 2", "bucket"]),
            (
                "storeContainer:\n  name: store\n  image: x\n  env: nope\n",
                &["line 4", "the config"],
            ),
            (
                "storeContainer:\n  image: x\n",
                &["storeContainer has no name"],
            ),
            (
                "storeContainer:\n  name: Store_1\n",
                &["storeContainer has the name \"Store_1\""],
            ),
            ("storeContainer: store.yaml\n", &["not read from a file"]),
            ("a: [\n", &["the config line", "fix the YAML"]),
        ];
        for (yaml, wants) in cases {
            let e = Config::from_yaml(yaml, None).unwrap_err().to_string();
            for want in *wants {
                assert!(e.contains(want), "{yaml:?}: {e:?} lacks {want:?}");
            }
            assert_eq!(Config::from_yaml(yaml, None).unwrap_err().class().code(), 7);
        }
    }

    #[test]
    fn template_files_resolve_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("t")).unwrap();
        std::fs::write(
            dir.path().join("t/store.yaml"),
            "name: upload\nimage: amazon/aws-cli:2\ncommand: [sh, -c, 'true']\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("config.yaml"),
            "storeContainer: t/store.yaml\n",
        )
        .unwrap();
        let c = Config::load(&dir.path().join("config.yaml")).unwrap();
        assert_eq!(c.store_container.name, "upload");
        assert_eq!(
            c.source.as_deref(),
            Some(dir.path().join("config.yaml").as_path())
        );
        assert_eq!(
            c.files(),
            [
                dir.path().join("config.yaml"),
                dir.path().join("t/store.yaml")
            ]
        );

        // A broken template file is reported with its own path and line.
        std::fs::write(dir.path().join("t/store.yaml"), "name: upload\nimage: [\n").unwrap();
        let e = Config::load(&dir.path().join("config.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("t/store.yaml line"), "{e}");

        std::fs::write(
            dir.path().join("config.yaml"),
            "cleanupContainer: missing.yaml\n",
        )
        .unwrap();
        let e = Config::load(&dir.path().join("config.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cleanupContainer template file") && e.contains("missing.yaml"),
            "{e}"
        );

        let e = Config::load(&dir.path().join("nope.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cannot read the config file") && e.contains("nope.yaml"),
            "{e}"
        );
    }
}
