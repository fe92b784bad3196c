//! `etcdbak watch`: serve /metrics, wait for the leader Lease, then run the reconcile under kube-runtime's
//! Controller until a signal, a lost Lease or a changed job namespace ends it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{watcher, Controller, Predicate, PredicateConfig, WatchStreamExt};
use kube::{Client, Resource, ResourceExt};
use tokio::sync::watch;

use super::config_watch::{self, ConfigWatch};
use super::leader::{Elector, LeaseLock};
use super::{connect, error_policy, http, reconcile, recorder, Context, Error};
use crate::config::Config;
use crate::crd::Cluster;
use crate::metrics::Metrics;
use crate::template;

/// How often the metrics of Clusters that vanished without a last reconcile are dropped.
const PRUNE_PERIOD: Duration = Duration::from_secs(30);

/// Everything `etcdbak watch` is told, validated by the command line.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Re-read when its content changes; `None`: the built-in defaults, never reloaded.
    pub config_file: Option<PathBuf>,
    pub metrics_addr: SocketAddr,
    /// Clusters reconciled at once (at least 1).
    pub concurrency: u16,
    pub lease_name: String,
    /// `None`: the config's job namespace (the command line has already tried POD_NAMESPACE).
    pub lease_namespace: Option<String>,
    pub lease_duration: Duration,
    /// This replica's name in the Lease and its Events (the command line defaults it to POD_NAME, else
    /// the hostname).
    pub identity: String,
    pub resync: Duration,
    pub config_poll: Duration,
}

/// The Cluster an object was rendered for, as the namespace-less key the Controller queues Clusters
/// under: the cluster-name annotation every rendered object carries, or the cluster label, which is all
/// the Jobs a CronJob creates carry.
pub fn cluster_ref<K: Resource>(obj: &K) -> Option<ObjectRef<Cluster>> {
    let meta = obj.meta();
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(template::CLUSTER_ANNOTATION))
        .or_else(|| meta.labels.as_ref()?.get(template::LABEL_CLUSTER))
        .map(|name| ObjectRef::new(name))
}

/// Waits until `rx` reads true (a shutdown flag).
async fn flag_set(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|set| *set).await;
}

fn lease_namespace(explicit: Option<&str>, job_ns: &str) -> String {
    explicit.unwrap_or(job_ns).to_string()
}

/// Stops on SIGTERM/SIGINT (sets `stop`), serves /metrics, /healthz and /readyz until then, and turns
/// ready once the apiserver answered (a standby is ready too: it serves metrics and can take over).
async fn serve(
    client: &Client,
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    stop: &watch::Sender<bool>,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    let signal_stop = stop.clone();
    tokio::spawn(async move {
        crate::shutdown::signal().await;
        tracing::info!("shutdown signal received");
        let _ = signal_stop.send(true);
    });
    let health = Arc::new(http::Health {
        metrics,
        ready: Default::default(),
    });
    let server = http::serve(addr, health.clone(), flag_set(stop.subscribe())).await?;
    let server = tokio::spawn(server);
    tracing::info!(addr = %addr, "serving /metrics, /healthz, /readyz");
    client
        .apiserver_version()
        .await
        .map_err(|e| Error::kube("reach the Kubernetes API", e))?;
    health.ready.store(true, Ordering::Relaxed);
    Ok(server)
}

/// Runs until stopped: `Ok` on a signal (the Lease handed over), an error when the Lease was lost or the
/// job namespace changed (a restart re-joins the election or watches the new namespace).
pub async fn watch(config: Config, opts: WatchOptions) -> Result<(), Error> {
    let client = connect().await?;
    let me = opts.identity.clone();
    let lease_ns = lease_namespace(opts.lease_namespace.as_deref(), config.job_namespace());
    let metrics = Arc::new(Metrics::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let server = serve(&client, opts.metrics_addr, metrics.clone(), &stop_tx).await?;

    let lock = LeaseLock::new(
        client.clone(),
        &lease_ns,
        &opts.lease_name,
        &me,
        opts.lease_duration,
    );
    let elector = Elector::new(lock);
    tracing::info!(identity = %me, lease = %elector.lease(), "waiting to become leader");
    if !elector.acquire(flag_set(stop_rx.clone())).await {
        let _ = server.await;
        return Ok(());
    }
    tracing::info!(identity = %me, lease = %elector.lease(), "became leader");
    metrics.set_leader(true);
    let leadership = elector.hold();
    let ctx = Arc::new(Context::new(
        client.clone(),
        config,
        recorder(client.clone(), me),
        metrics.clone(),
        opts.resync,
    ));
    let mut config_watch =
        config_watch::spawn(opts.config_file.clone(), opts.config_poll, ctx.clone());
    let stop = {
        let (stop, lost) = (flag_set(stop_rx.clone()), leadership.lost());
        let ns = ConfigWatch::namespace_changed(config_watch.namespace_changed.clone());
        async move {
            tokio::select! {
                _ = stop => {}
                _ = lost => {}
                _ = ns => {}
            }
        }
    };
    let reload = std::mem::replace(
        &mut config_watch.reload,
        futures::channel::mpsc::channel(1).1,
    );
    run_controller(&client, ctx, opts.concurrency, reload, stop).await;
    metrics.set_leader(false);

    let _ = stop_tx.send(true);
    let result = if leadership.is_lost() {
        Err(Error::LeadershipLost {
            lease: elector.lease(),
        })
    } else {
        // Graceful stop or a new job namespace: hand the Lease over now rather than after it expires.
        elector.release(leadership).await;
        config_watch.take_error().map_or(Ok(()), Err)
    };
    let _ = server.await;
    result
}

/// What of a Cluster a reconcile acts on: its spec (the generation), its finalizers and deletion (which
/// bumps the generation), labels and annotations; not its status, which only the controller writes.
fn what_reconcile_reads(c: &Cluster) -> Option<u64> {
    use kube::runtime::predicates::{annotations, finalizers, generation, labels};
    generation
        .combine(finalizers)
        .combine(labels)
        .combine(annotations)
        .hash_property(c)
}

/// From now on each scrape counts the backlog from the Controller's own cache (its queue is not exposed).
fn count_backlog(metrics: &Metrics, store: reflector::Store<Cluster>) {
    metrics.count_backlog_with(Some(Box::new(move || {
        super::backlog::not_converged(store.state().iter().map(|c| c.as_ref()))
    })));
}

/// The Clusters' watch stream, reflected into the Controller's cache, with only the changes a reconcile
/// acts on passed on to the queue.
fn cluster_events(
    client: &Client,
    writer: reflector::store::Writer<Cluster>,
) -> impl futures::Stream<Item = Result<Cluster, watcher::Error>> {
    // The cache keeps every Cluster for the whole run, and managedFields are most of a small object:
    // nothing here reads them, so they are dropped before the object is stored.
    watcher(
        Api::<Cluster>::all(client.clone()),
        watcher::Config::default().any_semantic(),
    )
    .default_backoff()
    .modify(|c| c.managed_fields_mut().clear())
    .reflect(writer)
    .applied_objects()
    // The cache above sees every change; the queue only what a reconcile acts on, so our own status
    // patches do not come back as reconciles. Deletion bumps the generation; adding a finalizer changes
    // the finalizers.
    .predicate_filter(what_reconcile_reads, PredicateConfig::default())
}

/// The Controller itself, until `stop` resolves.
async fn run_controller(
    client: &Client,
    ctx: Arc<Context>,
    concurrency: u16,
    reload: futures::channel::mpsc::Receiver<()>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let job_ns = ctx.config().job_namespace().to_string();
    let owned = watcher::Config::default().labels(template::LABEL_CLUSTER);
    let (reader, writer) = reflector::store();
    let clusters = cluster_events(client, writer);
    let controller = Controller::for_stream(clusters, reader)
        .with_config(kube::runtime::controller::Config::default().concurrency(concurrency));
    let metrics = ctx.metrics.clone();
    count_backlog(&metrics, controller.store());
    // Clusters can vanish without a last reconcile (a finalizer removed by hand): drop their series.
    let pruner = {
        let store = controller.store();
        let metrics = ctx.metrics.clone();
        tokio::spawn(async move {
            if store.wait_until_ready().await.is_err() {
                return;
            }
            loop {
                tokio::time::sleep(PRUNE_PERIOD).await;
                let live = store.state().iter().map(|c| c.name_any()).collect();
                metrics.retain_clusters(&live);
            }
        })
    };
    let leases = tokio::spawn(super::continuous::watch_leases(
        client.clone(),
        job_ns.clone(),
        ctx.metrics.clone(),
    ));
    // Not `owns()`: it keys an owner by the child's namespace, and a cluster-scoped Cluster then gets two
    // queue keys (`ns/name` from its CronJob, `name` from itself), which lets two reconciles of one
    // Cluster run at once. Every trigger here maps to the same namespace-less key. The owned kinds are
    // triggers only, and a trigger needs only labels and annotations: metadata-only watches make every
    // event smaller. The mirrored Secrets are not watched: the controller may not list Secrets in the job
    // namespace (the S3 keys live there), and the CronJob records which mirror is current.
    controller
        .watches(
            Api::<PartialObjectMeta<CronJob>>::namespaced(client.clone(), &job_ns),
            owned.clone(),
            |cj| cluster_ref(&cj),
        )
        .watches(
            Api::<PartialObjectMeta<Job>>::namespaced(client.clone(), &job_ns),
            owned,
            |job| cluster_ref(&job),
        )
        .reconcile_all_on(reload)
        .graceful_shutdown_on(stop)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((obj, _)) => tracing::debug!(cluster = %obj.name, "reconciled"),
                Err(kube::runtime::controller::Error::ReconcilerFailed(e, obj)) => {
                    tracing::debug!(cluster = %obj.name, "reconcile failed: {e}")
                }
                Err(e) => tracing::warn!("controller: {e}"),
            }
        })
        .await;
    metrics.count_backlog_with(None);
    pruner.abort();
    leases.abort();
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::batch::v1::Job;

    use super::*;

    #[test]
    fn only_what_a_reconcile_acts_on_queues_one() {
        let mut c = Cluster::new("orders", crate::crd::ClusterSpec::in_namespace("orders"));
        c.metadata.generation = Some(1);
        let base = what_reconcile_reads(&c);
        let mut status_only = c.clone();
        status_only.status = Some(crate::crd::ClusterStatus {
            last_error: Some("x".into()),
            ..Default::default()
        });
        status_only.metadata.resource_version = Some("2".into());
        assert_eq!(
            what_reconcile_reads(&status_only),
            base,
            "our own status patch"
        );
        let changes: [fn(&mut Cluster); 4] = [
            |c| c.metadata.generation = Some(2),
            |c| c.metadata.finalizers = Some(vec![crate::controller::FINALIZER.into()]),
            |c| c.metadata.labels = Some(BTreeMap::from([("a".into(), "b".into())])),
            |c| c.metadata.annotations = Some(BTreeMap::from([("a".into(), "b".into())])),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut changed = c.clone();
            change(&mut changed);
            assert_ne!(
                what_reconcile_reads(&changed),
                base,
                "change {i} must queue a reconcile"
            );
        }
    }

    #[test]
    fn objects_map_back_to_their_cluster() {
        let mut job = Job::default();
        assert_eq!(cluster_ref(&job), None, "a foreign Job triggers nothing");
        job.metadata.labels = Some(BTreeMap::from([(
            template::LABEL_CLUSTER.to_string(),
            "orders".to_string(),
        )]));
        assert_eq!(cluster_ref(&job), Some(ObjectRef::new("orders")));
        job.metadata.annotations = Some(BTreeMap::from([(
            template::CLUSTER_ANNOTATION.to_string(),
            "billing".to_string(),
        )]));
        assert_eq!(
            cluster_ref(&job),
            Some(ObjectRef::new("billing")),
            "the annotation wins"
        );
        assert_eq!(cluster_ref(&job).unwrap().namespace, None);
    }

    #[test]
    fn the_lease_namespace_is_explicit_first() {
        assert_eq!(lease_namespace(Some("leases"), "etcdbak"), "leases");
        assert_eq!(lease_namespace(None, "etcdbak"), "etcdbak");
    }
}
