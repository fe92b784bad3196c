//! What the apiserver knows about the cluster being restored: the Cluster resource (namespace, Service,
//! CronJob) and its StatefulSet (replicas, headless Service, claim template). Every failure only means fewer
//! facts: the guide then falls back to flags and defaults, and says so in a log line.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::Api;

use super::plan::{KubeFacts, Layout};
use crate::crd::Cluster;

/// How long the guide waits for the apiserver before it goes on with flags and defaults.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the Cluster and its StatefulSet. Never fails: an unreachable apiserver gives no facts.
pub async fn facts(cluster: &str, layout: &Layout) -> KubeFacts {
    let mut facts = KubeFacts::default();
    match tokio::time::timeout(TIMEOUT, fetch(cluster, layout, &mut facts)).await {
        Ok(Ok(())) => tracing::info!(cluster, "read the Cluster resource and its StatefulSet"),
        Ok(Err(e)) => {
            tracing::warn!(cluster, error = %e, "cannot read the Cluster resource; using flags and defaults")
        }
        Err(_) => tracing::warn!(
            cluster,
            "the apiserver did not answer in 10s; using flags and defaults"
        ),
    }
    facts
}

async fn fetch(cluster: &str, layout: &Layout, facts: &mut KubeFacts) -> Result<(), String> {
    let client = kube::Client::try_default()
        .await
        .map_err(|e| e.to_string())?;
    let clusters: Api<Cluster> = Api::all(client.clone());
    let c = clusters.get(cluster).await.map_err(|e| e.to_string())?;
    facts.namespace = Some(c.spec.namespace.clone());
    facts.service = c.spec.service.as_ref().map(|s| s.name.clone());
    facts.cronjob = c
        .status
        .as_ref()
        .and_then(|s| s.cron_job_name.as_ref())
        .and_then(|s| s.split_once('/'))
        .map(|(a, b)| (a.to_string(), b.to_string()));
    let ns = layout.namespace.clone().unwrap_or(c.spec.namespace.clone());
    let sts_name = layout
        .statefulset
        .clone()
        .or(facts.service.clone())
        .unwrap_or_else(|| cluster.to_string());
    let sts: Api<StatefulSet> = Api::namespaced(client, &ns);
    // A missing StatefulSet still leaves the Cluster's facts worth using.
    if let Ok(s) = sts.get(&sts_name).await {
        if let Some(spec) = s.spec {
            facts.statefulset_service = spec.service_name.clone();
            facts.replicas = spec.replicas.and_then(|r| usize::try_from(r).ok());
            facts.volume_claim = spec
                .volume_claim_templates
                .and_then(|t| t.into_iter().next())
                .and_then(|t| t.metadata.name);
        }
    }
    Ok(())
}
