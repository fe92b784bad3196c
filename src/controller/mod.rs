//! `etcdbak reconcile` and `etcdbak watch`: Cluster resources -> backup CronJobs, with a cleanup finalizer.
//!
//! One reconcile function ([`reconcile::reconcile`]) serves both: `reconcile` runs it once over every
//! Cluster, `watch` runs it under kube-runtime's Controller while holding the leader Lease.

pub mod decide;
mod http;
pub mod leader;
pub mod reconcile;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{watcher, Controller};
use kube::{Client, Resource, ResourceExt};

use crate::config::{self, Config};
use crate::crd::Cluster;
use crate::exit::Class;
use crate::metrics::Metrics;
use crate::template;
use crate::Result;

pub use reconcile::{error_policy, reconcile, Context, FIELD_MANAGER, FINALIZER};

#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    /// The controller config file (defaults, job namespace, image, store and cleanup templates).
    ///
    /// Without it the built-in defaults are used (see examples/config.yaml for the same as a file).
    #[arg(long, env = "ETCDBAK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print every object that would be applied, as YAML, and change nothing.
    ///
    /// Secret data is shown as key names only.
    #[arg(long, env = "ETCDBAK_DRY_RUN")]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// The controller config file; it is re-read when its content changes (a ConfigMap update), and every
    /// Cluster is reconciled again.
    #[arg(long, env = "ETCDBAK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Where /metrics, /healthz and /readyz are served.
    #[arg(
        long,
        env = "ETCDBAK_METRICS_ADDR",
        default_value = "0.0.0.0:8080",
        value_name = "ADDR"
    )]
    pub metrics_addr: SocketAddr,

    /// How many Clusters are reconciled at once. Each reconcile holds an apiserver connection and its
    /// buffers, so an unbounded number (a thousand Clusters at start-up) costs memory without converging
    /// faster: the apiserver is the bottleneck.
    #[arg(long, env = "ETCDBAK_CONCURRENCY", default_value_t = 64,
          value_parser = clap::value_parser!(u16).range(1..), value_name = "N")]
    pub concurrency: u16,

    /// Name of the coordination.k8s.io Lease the replicas elect a leader with.
    #[arg(long, env = "ETCDBAK_LEASE_NAME", default_value = "etcdbak")]
    pub lease_name: String,

    /// Namespace of the Lease. Defaults to POD_NAMESPACE, else the config's job namespace.
    #[arg(long, env = "ETCDBAK_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// How long a leader's Lease holds without renewal before a standby takes over. It renews every third
    /// of this and steps down when it could not renew for two thirds.
    #[arg(long, env = "ETCDBAK_LEASE_DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    pub lease_duration: Duration,

    /// This replica's name in the Lease. Defaults to POD_NAME, else the hostname.
    #[arg(long, env = "ETCDBAK_IDENTITY")]
    pub identity: Option<String>,

    /// How often every Cluster is reconciled again without any change (a no-op when all is in place).
    #[arg(long, env = "ETCDBAK_RESYNC", default_value = "10m", value_parser = humantime::parse_duration)]
    pub resync: Duration,

    /// How often the config file is checked for changes.
    #[arg(long, env = "ETCDBAK_CONFIG_POLL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub config_poll: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {action}: {source}")]
    Kube {
        action: String,
        #[source]
        source: kube::Error,
    },
    /// The Cluster, its Secret or a template is wrong; the sentence says what to fix.
    #[error("{message}")]
    Invalid {
        reason: &'static str,
        message: String,
    },
    #[error("the cleanup Job {job} failed (attempt {attempt}); retrying in {}: its pod logs say why", humantime::format_duration(*.retry_in))]
    CleanupJobFailed {
        job: String,
        attempt: u32,
        retry_in: Duration,
    },
    #[error("the finalizer step failed: {0}")]
    Finalizer(String),
    #[error("cannot encode a Cluster status: {0}")]
    Status(String),
    #[error("{failed} of {total} Clusters failed to reconcile (see the table above)")]
    ClustersFailed { failed: usize, total: usize },
    #[error("lost the leader Lease {lease}; exiting so that a restart re-joins the election")]
    LeadershipLost { lease: String },
    #[error("cannot serve metrics on {addr}: {source}: choose another --metrics-addr")]
    Serve {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the job namespace changed from {from} to {to}; exiting so that a restart watches the new one")]
    JobNamespaceChanged { from: String, to: String },
}

impl Error {
    pub fn kube(action: impl Into<String>, source: kube::Error) -> Error {
        Error::Kube {
            action: action.into(),
            source,
        }
    }

    pub fn class(&self) -> Class {
        match self {
            Error::Kube {
                source: kube::Error::Api(s),
                ..
            } if s.code == 401 || s.code == 403 => Class::Auth,
            Error::Invalid { .. } => Class::Config,
            _ => Class::Failure,
        }
    }

    /// The `reason` label of `etcdbak_reconcile_errors_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "KubeApi",
            Error::Invalid { reason, .. } => reason,
            Error::CleanupJobFailed { .. } => "CleanupJobFailed",
            Error::Finalizer(_) => "Finalizer",
            Error::Status(_) => "Status",
            Error::ClustersFailed { .. } => "ClustersFailed",
            Error::LeadershipLost { .. } => "LeadershipLost",
            Error::Serve { .. } => "Serve",
            Error::JobNamespaceChanged { .. } => "JobNamespaceChanged",
        }
    }
}

fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(config::default_config()),
    }
}

async fn connect() -> Result<Client> {
    Client::try_default().await.map_err(|e| {
        Error::kube(
            "connect to the Kubernetes API (set KUBECONFIG, or run in a pod with a service account)",
            e,
        )
        .into()
    })
}

fn identity(explicit: Option<&str>) -> String {
    if let Some(id) = explicit {
        return id.to_string();
    }
    if let Ok(pod) = std::env::var("POD_NAME") {
        if !pod.is_empty() {
            return pod;
        }
    }
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| format!("etcdbak-{}", std::process::id()))
}

fn recorder(client: Client, instance: String) -> Recorder {
    Recorder::new(
        client,
        Reporter {
            controller: "etcdbak".to_string(),
            instance: Some(instance),
        },
    )
}

pub async fn run_reconcile(args: ReconcileArgs) -> Result<()> {
    let config = load_config(args.config.as_deref())?;
    let client = connect().await?;
    let api: Api<Cluster> = Api::all(client.clone());
    let clusters = api
        .list(&ListParams::default())
        .await
        .map_err(|e| Error::kube("list Clusters", e))?
        .items;
    if args.dry_run {
        return dry_run(&client, config, clusters).await;
    }
    let metrics = Arc::new(Metrics::new());
    let ctx = Arc::new(Context::new(
        client.clone(),
        config,
        recorder(client.clone(), identity(None)),
        metrics,
        Duration::from_secs(600),
    ));

    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["CLUSTER", "RESULT", "SCHEDULE", "CRONJOB", "DETAIL"]);
    let total = clusters.len();
    let mut failed = 0;
    for cluster in clusters {
        let name = cluster.name_any();
        let mut obj = Arc::new(cluster);
        let mut result = reconcile(obj.clone(), ctx.clone()).await;
        // A new Cluster's first reconcile only adds the finalizer (so it is in place before the CronJob
        // exists); one pass should still leave the CronJob behind.
        let added_finalizer = result.is_ok()
            && obj.meta().deletion_timestamp.is_none()
            && !obj.finalizers().iter().any(|f| f == FINALIZER);
        if added_finalizer {
            match api.get(&name).await {
                Ok(fresh) => {
                    obj = Arc::new(fresh);
                    result = reconcile(obj.clone(), ctx.clone()).await;
                }
                Err(e) => result = Err(Error::kube(format!("read Cluster {name} back"), e)),
            }
        }
        let fresh = api.get_opt(&name).await.ok().flatten();
        let status = fresh
            .as_ref()
            .and_then(|c| c.status.clone())
            .unwrap_or_default();
        let (outcome, detail) = match &result {
            Ok(_) => (
                "ok",
                ctx.note(&name).unwrap_or_else(|| "up to date".to_string()),
            ),
            Err(e) => {
                failed += 1;
                ("FAILED", e.to_string())
            }
        };
        table.add_row([
            name,
            outcome.to_string(),
            status.schedule.unwrap_or_default(),
            status.cron_job_name.unwrap_or_default(),
            detail,
        ]);
    }
    if total == 0 {
        println!("no Cluster resources found");
    } else {
        println!("{table}");
    }
    if failed > 0 {
        return Err(Error::ClustersFailed { failed, total }.into());
    }
    Ok(())
}

/// Secret values never leave the process: keep the keys, blank the values.
fn redact(mut secret: Secret) -> Secret {
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

fn print_yaml<T: serde::Serialize>(obj: &T) {
    match serde_yaml::to_string(obj) {
        Ok(y) => print!("---\n{y}"),
        Err(e) => eprintln!("# cannot print as YAML: {e}"),
    }
}

async fn dry_run(client: &Client, config: Config, clusters: Vec<Cluster>) -> Result<()> {
    let ctx = Context::new(
        client.clone(),
        config,
        recorder(client.clone(), identity(None)),
        Arc::new(Metrics::new()),
        Duration::from_secs(600),
    );
    let config = ctx.config();
    let mut failed = 0;
    let total = clusters.len();
    for cluster in &clusters {
        let name = cluster.name_any();
        if cluster.meta().deletion_timestamp.is_some() {
            match template::render_cleanup_job(cluster, &config) {
                Ok(job) => {
                    println!("# Cluster {name} is being deleted: its cleanup Job");
                    print_yaml(&job);
                }
                Err(e) => {
                    failed += 1;
                    println!("# Cluster {name}: {e}");
                }
            }
            continue;
        }
        match reconcile::desired(cluster, &config, &ctx).await {
            Ok(d) => {
                println!("# Cluster {name}: schedule \"{}\"", d.schedule);
                if let Some(s) = d.tls_secret {
                    print_yaml(&redact(s));
                }
                print_yaml(&d.cron_job);
            }
            Err(e) => {
                failed += 1;
                println!("# Cluster {name}: {e}");
            }
        }
    }
    if failed > 0 {
        return Err(Error::ClustersFailed { failed, total }.into());
    }
    Ok(())
}

/// The Cluster an object was rendered for (the cluster-name annotation every rendered object carries), as
/// the namespace-less key the Controller queues Clusters under.
fn cluster_ref<K: Resource>(obj: &K) -> Option<ObjectRef<Cluster>> {
    obj.meta()
        .annotations
        .as_ref()?
        .get(template::CLUSTER_ANNOTATION)
        .map(|name| ObjectRef::new(name))
}

/// Waits until `rx` reads true (a shutdown or leadership-loss flag).
async fn flag_set(mut rx: tokio::sync::watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

pub async fn run_watch(args: WatchArgs) -> Result<()> {
    let config = load_config(args.config.as_deref())?;
    let client = connect().await?;
    let me = identity(args.identity.as_deref());
    let job_ns = config.job_namespace().to_string();
    let lease_ns = args
        .lease_namespace
        .clone()
        .or_else(|| {
            std::env::var("POD_NAMESPACE")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| job_ns.clone());
    let metrics = Arc::new(Metrics::new());

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    {
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            crate::shutdown::signal().await;
            tracing::info!("shutdown signal received");
            let _ = stop_tx.send(true);
        });
    }

    let health = Arc::new(http::Health {
        metrics: metrics.clone(),
        ready: Default::default(),
    });
    let server = http::serve(args.metrics_addr, health.clone(), flag_set(stop_rx.clone())).await?;
    let server = tokio::spawn(server);
    tracing::info!(addr = %args.metrics_addr, "serving /metrics, /healthz, /readyz");

    client
        .apiserver_version()
        .await
        .map_err(|e| Error::kube("reach the Kubernetes API", e))?;
    health.ready.store(true, Ordering::Relaxed);

    let lock = leader::LeaseLock::new(
        client.clone(),
        &lease_ns,
        &args.lease_name,
        &me,
        args.lease_duration,
    );
    let lease_ref = format!("{lease_ns}/{}", args.lease_name);
    let retry = (args.lease_duration / 3).max(Duration::from_millis(500));

    // Standby until we hold the Lease (or are told to stop).
    tracing::info!(identity = %me, lease = %lease_ref, "waiting to become leader");
    loop {
        if *stop_rx.borrow() {
            let _ = server.await;
            return Ok(());
        }
        match lock.try_acquire_or_renew().await {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!("leader election: cannot read or write Lease {lease_ref}: {e}")
            }
        }
        let mut rx = stop_rx.clone();
        tokio::select! {
            _ = tokio::time::sleep(retry) => {}
            _ = rx.changed() => {}
        }
    }
    tracing::info!(identity = %me, lease = %lease_ref, "became leader");
    metrics.set_leader(true);

    // Renew; flag a loss when renewal has failed for two thirds of the Lease.
    let (lost_tx, lost_rx) = tokio::sync::watch::channel(false);
    let renewer = {
        let lock_api_client = client.clone();
        let lease_ns = lease_ns.clone();
        let lease_name = args.lease_name.clone();
        let me = me.clone();
        let duration = args.lease_duration;
        let mut stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            let lock =
                leader::LeaseLock::new(lock_api_client, &lease_ns, &lease_name, &me, duration);
            let deadline = duration * 2 / 3;
            let mut last_ok = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(retry) => {}
                    _ = stop_rx.changed() => return,
                }
                match lock.try_acquire_or_renew().await {
                    Ok(true) => last_ok = tokio::time::Instant::now(),
                    Ok(false) => {
                        tracing::error!("another replica holds the Lease now");
                        let _ = lost_tx.send(true);
                        return;
                    }
                    Err(e) => {
                        tracing::warn!("cannot renew the Lease: {e}");
                        if last_ok.elapsed() > deadline {
                            let _ = lost_tx.send(true);
                            return;
                        }
                    }
                }
            }
        })
    };

    let initial_digest = config.digest();
    let ctx = Arc::new(Context::new(
        client.clone(),
        config,
        recorder(client.clone(), me.clone()),
        metrics.clone(),
        args.resync,
    ));

    // Config changes: poll the file's digest (a ConfigMap update swaps a symlink, which inotify on the
    // file itself misses) and reconcile every Cluster when it changed.
    let (reload_tx, reload_rx) = futures::channel::mpsc::channel::<()>(1);
    let (ns_tx, ns_rx) = tokio::sync::watch::channel(false);
    let ns_change: Arc<std::sync::Mutex<Option<Error>>> = Arc::default();
    if let Some(path) = args.config.clone() {
        let ctx = ctx.clone();
        let poll = args.config_poll;
        let mut digest = initial_digest;
        let job_ns = job_ns.clone();
        let ns_change = ns_change.clone();
        let mut reload_tx = reload_tx;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(poll).await;
                match Config::load(&path) {
                    Ok(new) => {
                        let d = new.digest();
                        if d == digest {
                            continue;
                        }
                        digest = d;
                        if new.job_namespace() != job_ns {
                            *ns_change.lock().unwrap_or_else(|e| e.into_inner()) =
                                Some(Error::JobNamespaceChanged {
                                    from: job_ns.clone(),
                                    to: new.job_namespace().to_string(),
                                });
                            let _ = ns_tx.send(true);
                            return;
                        }
                        tracing::info!(config = %path.display(), "config changed: reconciling every Cluster");
                        ctx.set_config(new);
                        let _ = reload_tx.try_send(());
                    }
                    Err(e) => tracing::error!(
                        config = %path.display(),
                        "the changed config is invalid, keeping the previous one: {e}"
                    ),
                }
            }
        });
    } else {
        drop(reload_tx);
    }

    let clusters: Api<Cluster> = Api::all(client.clone());
    let owned = watcher::Config::default().labels(template::LABEL_CLUSTER);
    let stop = {
        let (stop_rx, lost_rx, ns_rx) = (stop_rx.clone(), lost_rx.clone(), ns_rx.clone());
        async move {
            tokio::select! {
                _ = flag_set(stop_rx) => {}
                _ = flag_set(lost_rx) => {}
                _ = flag_set(ns_rx) => {}
            }
        }
    };
    let controller = Controller::new(clusters, watcher::Config::default().any_semantic())
        .with_config(kube::runtime::controller::Config::default().concurrency(args.concurrency));
    // Clusters can vanish without a last reconcile (a finalizer removed by hand): drop their series.
    let pruner = {
        let store = controller.store();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            if store.wait_until_ready().await.is_err() {
                return;
            }
            loop {
                tokio::time::sleep(Duration::from_secs(30)).await;
                let live = store.state().iter().map(|c| c.name_any()).collect();
                metrics.retain_clusters(&live);
            }
        })
    };
    // Not `owns()`: it keys an owner by the child's namespace, and a cluster-scoped Cluster then gets two
    // queue keys (`ns/name` from its CronJob, `name` from itself), which lets two reconciles of one
    // Cluster run at once. Every trigger here maps to the same namespace-less key.
    controller
        .watches(
            Api::<CronJob>::namespaced(client.clone(), &job_ns),
            owned.clone(),
            |cj: CronJob| cluster_ref(&cj),
        )
        .watches(
            Api::<Secret>::namespaced(client.clone(), &job_ns),
            owned.clone(),
            |s: Secret| cluster_ref(&s),
        )
        .watches(
            Api::<Job>::namespaced(client.clone(), &job_ns),
            owned,
            |job: Job| cluster_ref(&job),
        )
        .reconcile_all_on(reload_rx)
        .graceful_shutdown_on(stop)
        .run(reconcile, error_policy, ctx.clone())
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

    metrics.set_leader(false);
    let lost = *lost_rx.borrow();
    renewer.abort();
    pruner.abort();
    if lost {
        let _ = stop_tx.send(true);
        let _ = server.await;
        return Err(Error::LeadershipLost { lease: lease_ref }.into());
    }
    let ns_changed = ns_change.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(e) = ns_changed {
        let _ = stop_tx.send(true);
        let _ = lock.release().await;
        let _ = server.await;
        return Err(e.into());
    }
    // Graceful stop: hand the Lease over now rather than after it expires.
    if let Err(e) = lock.release().await {
        tracing::warn!("cannot release the Lease {lease_ref}: {e}");
    } else {
        tracing::info!(lease = %lease_ref, "released the leader Lease");
    }
    let _ = server.await;
    Ok(())
}
