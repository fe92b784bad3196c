//! `etcdbak watch`: the controller, continuously, with leader election and `/metrics`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::reconcile::load_config;
use super::{bounds, environment};
use crate::cli::Result;
use crate::controller::{self, WatchOptions};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
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
    /// faster: the apiserver is the bottleneck. 1 to 1024.
    #[arg(long, env = "ETCDBAK_CONCURRENCY", default_value_t = 64,
          value_parser = clap::value_parser!(u16).range(1..=1024), value_name = "N")]
    pub concurrency: u16,

    /// Name of the coordination.k8s.io Lease the replicas elect a leader with (a DNS-1123 subdomain).
    #[arg(long, env = "ETCDBAK_LEASE_NAME", default_value = "etcdbak", value_parser = bounds::lease_name)]
    pub lease_name: String,

    /// Namespace of the Lease. Defaults to POD_NAMESPACE, else the config's job namespace.
    #[arg(long, env = "ETCDBAK_LEASE_NAMESPACE", value_parser = bounds::namespace)]
    pub lease_namespace: Option<String>,

    /// How long a leader's Lease holds without renewal before a standby takes over. It renews every third
    /// of this and steps down when it could not renew for two thirds. 2s to 10m.
    #[arg(long, env = "ETCDBAK_LEASE_DURATION", default_value = "15s", value_parser = bounds::lease_duration)]
    pub lease_duration: Duration,

    /// This replica's name in the Lease (its holderIdentity). Defaults to POD_NAME, else the hostname.
    #[arg(long, env = "ETCDBAK_LEASE_HOLDER", value_name = "NAME")]
    pub lease_holder: Option<String>,

    /// How often every Cluster is reconciled again without any change (a no-op when all is in place). 1s
    /// to 24h.
    #[arg(long, env = "ETCDBAK_RESYNC", default_value = "10m", value_parser = bounds::resync)]
    pub resync: Duration,

    /// How often the config file is checked for changes. 1s to 1h.
    #[arg(long, env = "ETCDBAK_CONFIG_POLL", default_value = "10s", value_parser = bounds::config_poll)]
    pub config_poll: Duration,
}

pub async fn run(args: Args) -> Result<()> {
    let config = load_config(args.config.as_deref())?;
    let options = WatchOptions {
        config_file: args.config,
        metrics_addr: args.metrics_addr,
        concurrency: args.concurrency,
        lease_name: args.lease_name,
        lease_namespace: args
            .lease_namespace
            .or_else(|| environment::nonempty("POD_NAMESPACE")),
        lease_duration: args.lease_duration,
        identity: environment::replica_identity(args.lease_holder),
        resync: args.resync,
        config_poll: args.config_poll,
    };
    Ok(controller::watch(config, options).await?)
}
