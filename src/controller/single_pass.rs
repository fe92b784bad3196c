//! `etcdbak reconcile`: one pass of the reconcile over every Cluster, or a dry run that renders what would
//! be applied and changes nothing. The command line prints the results.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::{Client, Resource, ResourceExt};

use super::{reconcile::desired, reconcile_cluster, recorder, Context, Error, FINALIZER};
use crate::config::Config;
use crate::crd::Cluster;
use crate::metrics::Metrics;
use crate::template;

/// The idle resync a one-shot pass would requeue with; nothing waits for it.
const ONE_SHOT_RESYNC: Duration = Duration::from_secs(600);

/// One Cluster's line in the pass's table.
#[derive(Debug, Clone, PartialEq)]
pub struct PassRow {
    pub cluster: String,
    /// The reconcile's error, if it failed.
    pub error: Option<String>,
    pub schedule: String,
    pub cron_job: String,
    /// What it did ("up to date", "applied CronJob, status") or why it failed.
    pub detail: String,
}

/// All Clusters, for both modes.
pub async fn list_clusters(client: &Client) -> Result<Vec<Cluster>, Error> {
    let api: Api<Cluster> = Api::all(client.clone());
    Ok(api
        .list(&ListParams::default())
        .await
        .map_err(|e| Error::kube("list Clusters", e))?
        .items)
}

/// `instance` names this process in the Events it records (the command line finds it).
fn context(client: &Client, config: Config, instance: &str) -> Context {
    Context::new(
        client.clone(),
        config,
        recorder(client.clone(), instance.to_string()),
        Arc::new(Metrics::new()),
        ONE_SHOT_RESYNC,
    )
}

/// Reconciles every Cluster once, `concurrency` at a time as `watch` does, rows in name order. A new
/// Cluster's first reconcile only adds the finalizer (so it is in place before the CronJob exists); one
/// pass still leaves the CronJob behind.
pub async fn reconcile_all(
    client: &Client,
    config: Config,
    instance: &str,
    concurrency: usize,
) -> Result<Vec<PassRow>, Error> {
    use futures::StreamExt as _;
    let clusters = list_clusters(client).await?;
    let api: Api<Cluster> = Api::all(client.clone());
    let ctx = Arc::new(context(client, config, instance));
    let mut rows: Vec<PassRow> = futures::stream::iter(clusters)
        .map(|cluster| pass_one(&api, &ctx, cluster))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    rows.sort_by(|a, b| a.cluster.cmp(&b.cluster));
    Ok(rows)
}

/// One Cluster's pass, and what its status says afterwards.
async fn pass_one(api: &Api<Cluster>, ctx: &Arc<Context>, cluster: Cluster) -> PassRow {
    let name = cluster.name_any();
    let obj = Arc::new(cluster);
    let mut result = reconcile_cluster(obj.clone(), ctx).await;
    let added_finalizer = result.is_ok()
        && obj.meta().deletion_timestamp.is_none()
        && !obj.finalizers().iter().any(|f| f == FINALIZER);
    if added_finalizer {
        result = match api.get(&name).await {
            Ok(fresh) => reconcile_cluster(Arc::new(fresh), ctx).await,
            Err(e) => Err(Error::kube(format!("read Cluster {name} back"), e)),
        };
    }
    let status = api
        .get_opt(&name)
        .await
        .ok()
        .flatten()
        .and_then(|c| c.status)
        .unwrap_or_default();
    let (error, detail) = match &result {
        Ok(outcome) => (
            None,
            outcome.note.clone().unwrap_or_else(|| "up to date".into()),
        ),
        Err(e) => (Some(e.to_string()), e.to_string()),
    };
    PassRow {
        cluster: name,
        error,
        schedule: status.schedule.unwrap_or_default(),
        cron_job: status.cron_job_name.unwrap_or_default(),
        detail,
    }
}

/// Secret values never leave the process: keep the keys, blank the values.
pub fn redact(mut secret: Secret) -> Secret {
    if let Some(data) = secret.data.as_mut() {
        for v in data.values_mut() {
            *v = k8s_openapi::ByteString(Vec::new());
        }
    }
    if let Some(data) = secret.string_data.as_mut() {
        for v in data.values_mut() {
            v.clear();
        }
    }
    secret
}

fn push_yaml<T: serde::Serialize>(out: &mut String, obj: &T) {
    match serde_yaml::to_string(obj) {
        Ok(y) => {
            let _ = write!(out, "---\n{y}");
        }
        // Still on stderr, as the log: the dry run's stdout stays parseable YAML.
        Err(e) => tracing::warn!(error = %e, "cannot print an object as YAML"),
    }
}

/// What a dry run renders: YAML documents with a comment line per Cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct DryRun {
    pub text: String,
    /// Clusters that could not be rendered, of `total`.
    pub failed: usize,
    pub total: usize,
}

/// Renders every Cluster's objects, changing nothing.
pub async fn dry_run(client: &Client, config: Config, instance: &str) -> Result<DryRun, Error> {
    let clusters = list_clusters(client).await?;
    let ctx = context(client, config, instance);
    let config = ctx.config();
    let mut out = String::new();
    let mut failed = 0;
    for cluster in &clusters {
        let name = cluster.name_any();
        if cluster.meta().deletion_timestamp.is_some() {
            match template::render_cleanup_job(cluster, &config) {
                Ok(job) => {
                    let _ = writeln!(out, "# Cluster {name} is being deleted: its cleanup Job");
                    push_yaml(&mut out, &job);
                }
                Err(e) => {
                    failed += 1;
                    let _ = writeln!(out, "# Cluster {name}: {e}");
                }
            }
            continue;
        }
        match desired(cluster, &config, &ctx).await {
            Ok(d) => {
                let _ = writeln!(out, "# Cluster {name}: schedule \"{}\"", d.schedule);
                if let Some(s) = d.tls_secret {
                    push_yaml(&mut out, &redact(s));
                }
                push_yaml(&mut out, &d.cron_job);
                if let Some(verify) = &d.verify_cron_job {
                    push_yaml(&mut out, verify);
                }
            }
            Err(e) => {
                failed += 1;
                let _ = writeln!(out, "# Cluster {name}: {e}");
            }
        }
    }
    Ok(DryRun {
        text: out,
        failed,
        total: clusters.len(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    #[test]
    fn redaction_keeps_keys_and_drops_values() {
        let secret = Secret {
            data: Some(BTreeMap::from([(
                "tls.key".to_string(),
                ByteString(b"private".to_vec()),
            )])),
            string_data: Some(BTreeMap::from([("ca.crt".to_string(), "ca".to_string())])),
            ..Default::default()
        };
        let r = redact(secret);
        assert_eq!(r.data.unwrap()["tls.key"].0, Vec::<u8>::new());
        assert_eq!(r.string_data.unwrap()["ca.crt"], "");
        let mut out = String::new();
        push_yaml(&mut out, &redact(Secret::default()));
        assert!(out.starts_with("---\n"), "{out}");
    }
}
