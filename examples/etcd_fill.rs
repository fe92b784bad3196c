//! Bench data generator: fills a real etcd with Kubernetes-shaped data until its database reaches a size.
//!
//!   cargo run --release --example etcd_fill -- --endpoints http://127.0.0.1:2379 --size 1GiB
//!
//! The etcd must allow that size: start it with `--quota-backend-bytes` above the target (scripts/bench uses
//! 8 GiB). Re-running tops up instead of rewriting, so a cached data dir is reused. Prints one JSON line.

use std::time::Duration;

use clap::Parser;
use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};

#[path = "../tests/common/fill.rs"]
mod fill;

#[derive(Debug, Parser)]
#[command(about = "Fill a real etcd with Kubernetes-shaped data up to a database size")]
struct Args {
    /// etcd client URLs, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    endpoints: Vec<String>,
    /// Target database size as etcd reports it (e.g. 256MiB, 1GiB, 2GiB).
    #[arg(long, default_value = "256MiB")]
    size: String,
    /// Transactions in flight at once (each up to 128 puts and 1 MiB).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Seed for the pseudo-random data.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
    /// Key prefix.
    #[arg(long, default_value = "/registry")]
    prefix: String,
    /// Write Pod-like JSON objects (compressible, as real apiserver data is) instead of random text.
    #[arg(long)]
    manifests: bool,
    /// CA bundle for an https endpoint.
    #[arg(long)]
    cacert: Option<std::path::PathBuf>,
    /// Client certificate for mTLS.
    #[arg(long, requires = "key")]
    cert: Option<std::path::PathBuf>,
    /// Client key for mTLS.
    #[arg(long, requires = "cert")]
    key: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let target = fill::parse_size(&args.size)
        .ok_or_else(|| format!("--size {:?}: expected e.g. 256MiB, 1GiB", args.size))?;
    let mut opts = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(60));
    if args.cacert.is_some() || args.cert.is_some() {
        let mut tls = TlsOptions::new();
        if let Some(ca) = &args.cacert {
            tls = tls.ca_certificate(Certificate::from_pem(std::fs::read(ca)?));
        }
        if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
            tls = tls.identity(Identity::from_pem(
                std::fs::read(cert)?,
                std::fs::read(key)?,
            ));
        }
        opts = opts.with_tls(tls);
    }
    let client = Client::connect(&args.endpoints, Some(opts)).await?;
    let report = fill::fill(
        &client,
        &fill::FillOptions {
            target_db_bytes: target,
            concurrency: args.concurrency,
            seed: args.seed,
            prefix: args.prefix,
            manifests: args.manifests,
        },
    )
    .await?;
    println!(
        "{{\"keys\":{},\"valueBytesWritten\":{},\"dbSize\":{},\"revision\":{},\"seconds\":{:.1}}}",
        report.keys,
        report.value_bytes,
        report.db_size,
        report.revision,
        report.elapsed.as_secs_f64()
    );
    Ok(())
}
