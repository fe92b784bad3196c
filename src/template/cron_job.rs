//! The backup CronJob: a `snapshot` init container running `etcdbak snapshot` into the shared `etcd-backup`
//! emptyDir at `/backup`, then the admin's store container with the contract env vars.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::{CronJob, JobSpec};
use k8s_openapi::api::core::v1::{Container, Secret};
use kube::ResourceExt;

use super::container::{
    contract_env, env, mount, s3_env, template_container, Role, BACKUP_DIR, BACKUP_VOLUME,
    SNAPSHOT_CONTAINER, TMP_VOLUME,
};
use super::cron_spec::cron_job;
use super::endpoint::{endpoints, etcd_client, tls_volume};
use super::follower::render_follower;
use super::hardening::hardened_security_context;
use super::labels::{labels, object_meta, HASH_ANNOTATION, TLS_HASH_ANNOTATION};
use super::pod::{base_volumes, pod_template};
use super::settings::{
    destinations_env, effective_retention, effective_schedule, encoding_env, object_lock_env,
};
use super::tls::mirror_tls_secret;
use super::verify::render_verify;
use super::RenderError;
use crate::config::Config;
use crate::crd::Cluster;
use crate::naming;

/// What the controller applies for one Cluster. `Debug` leaves the Secret's data out, so logging a `Desired`
/// cannot leak a private key.
#[derive(Clone, PartialEq)]
pub struct Desired {
    pub cron_job: CronJob,
    /// The mirrored client-TLS Secret; `None` when the Cluster names no `spec.tlsSecret`.
    pub tls_secret: Option<Secret>,
    /// The effective schedule after `H` expansion (for `status.schedule`).
    pub schedule: String,
    /// The verification CronJob; `None` when verification is turned off for this Cluster.
    pub verify_cron_job: Option<CronJob>,
    /// The continuous-backup follower; `None` when continuous backup is off for this Cluster.
    pub follower: Option<Deployment>,
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
            .field("verify_cron_job", &self.verify_cron_job)
            .field("follower", &self.follower)
            .finish()
    }
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
    naming::validate_cluster_name(&name).map_err(RenderError::InvalidClusterName)?;
    if !naming::is_dns_label(&cluster.spec.namespace) {
        return Err(RenderError::InvalidNamespace(
            cluster.spec.namespace.clone(),
        ));
    }
    let schedule = effective_schedule(cluster, config)?;
    let retention = effective_retention(cluster, config)?;
    let endpoints = endpoints(cluster)?;
    let tls_secret = match &cluster.spec.tls_secret {
        None => None,
        Some(source_name) => Some(mirror_tls_secret(cluster, source_name, source_tls, config)?),
    };
    // Defaults, so an admin's own store template may choose otherwise (and an alien one just ignores them).
    let mut store_defaults = s3_env(config);
    store_defaults.extend(encoding_env(cluster, config)?);
    store_defaults.extend(object_lock_env(cluster, config)?);
    store_defaults.extend(destinations_env(config));
    let store = template_container(
        &config.store_container,
        "store",
        &contract_env(&name, &retention, Role::Store),
        &store_defaults,
        config,
        true,
    )?;
    let tls = tls_secret.is_some();
    let snapshot = snapshot_container(&name, &endpoints, tls, config);
    let mut volumes = base_volumes(config);
    if tls {
        volumes.push(tls_volume(&name));
    }
    let labels = labels(&name, "backup");
    let pod = pod_template(&labels, config, Some(vec![snapshot]), vec![store], volumes);
    let job = JobSpec {
        backoff_limit: Some(config.job.backoff_limit),
        active_deadline_seconds: Some(config.job.active_deadline_seconds),
        template: pod,
        ..Default::default()
    };
    let mut metadata = object_meta(cluster, naming::cron_job_name(&name), config, &labels, true);
    if let Some(hash) = tls_secret
        .as_ref()
        .and_then(|s| s.annotations().get(HASH_ANNOTATION))
    {
        metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(TLS_HASH_ANNOTATION.into(), hash.clone());
    }
    let suspend = cluster.spec.suspend.unwrap_or(false);
    let cron_job = cron_job(metadata, &labels, &schedule, suspend, job, config);
    Ok(Desired {
        cron_job,
        tls_secret,
        schedule,
        verify_cron_job: render_verify(cluster, config)?,
        follower: render_follower(cluster, &endpoints, tls, config)?,
    })
}

/// The init container that takes the snapshot into `/backup`.
fn snapshot_container(cluster: &str, endpoints: &str, tls: bool, config: &Config) -> Container {
    let (mut snapshot_env, mut snapshot_mounts) = etcd_client(endpoints, tls);
    snapshot_env.splice(
        1..1,
        [
            env("ETCDBAK_CLUSTER", cluster),
            env("ETCDBAK_DIR", BACKUP_DIR),
        ],
    );
    snapshot_mounts.splice(
        0..0,
        [
            mount(BACKUP_VOLUME, BACKUP_DIR, false),
            mount(TMP_VOLUME, "/tmp", false),
        ],
    );
    snapshot_env.push(env("HOME", "/tmp"));
    Container {
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
    }
}
