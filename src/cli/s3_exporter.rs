//! `etcdbak s3-exporter`: its flags, and the run that turns them into [`crate::exporter::Options`].

use std::net::SocketAddr;
use std::time::Duration;

use super::s3::S3Args;
use crate::exporter::{self, probe};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to serve `/metrics`, `/probe` and `/healthz` on.
    #[arg(long, env = "ETCDBAK_EXPORTER_LISTEN", default_value = "0.0.0.0:9340")]
    pub listen: SocketAddr,
    /// The bucket and prefix `/metrics` watches (every `<prefix>/<cluster>/`); `/probe` takes its bucket and
    /// prefix from the query, within --probe-allow. The exporter only lists (unless --read-metadata): list
    /// permission is enough.
    #[command(flatten)]
    pub s3: Box<S3Args>,
    /// Give up on one bucket listing after this long (it is then reported as `s3_list_success 0`).
    #[arg(long, env = "ETCDBAK_EXPORTER_TIMEOUT", default_value = "30s", value_parser = super::bounds::stall_timeout)]
    pub list_timeout: Duration,
    /// What `/probe?bucket=B&prefix=P` may list, as BUCKET (all of it) or BUCKET/PREFIX (that prefix and
    /// below); repeat or comma-separate. Default: --bucket with --prefix, what /metrics watches. Any other
    /// bucket or prefix is refused with 403: the listing runs with the exporter's credentials.
    #[arg(long, env = "ETCDBAK_EXPORTER_PROBE_ALLOW", value_delimiter = ',',
          value_parser = probe::Allowed::parse, value_name = "BUCKET[/PREFIX]")]
    pub probe_allow: Vec<probe::Allowed>,
    /// How long a `/probe` result is reused for the same bucket and prefix: each probe is a full listing,
    /// so a caller probing in a loop costs one listing per this period.
    #[arg(long, env = "ETCDBAK_EXPORTER_PROBE_CACHE", default_value = "30s",
          value_parser = super::bounds::stall_timeout, value_name = "DURATION")]
    pub probe_cache: Duration,
    /// Also HEAD each cluster's newest backup (once per backup, a bounded number per scrape) for the
    /// snapshot's size before compression and encryption: `s3_last_modified_object_plaintext_size_bytes`,
    /// the dashboard's compression ratio. A HEAD needs GetObject on the prefix, which lets these keys
    /// download the backups too: off by default, so list permission stays enough.
    #[arg(long, env = "ETCDBAK_EXPORTER_READ_METADATA", default_value_t = false, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true,
          value_parser = clap::builder::BoolishValueParser::new(), value_name = "BOOL")]
    pub read_metadata: bool,
}

pub async fn run(args: Args) -> super::Result<()> {
    let s3 = args.s3.resolved().await.map_err(exporter::Error::from)?;
    let allowed = match args.probe_allow.is_empty() {
        true => vec![probe::Allowed {
            bucket: s3.bucket.clone(),
            prefix: s3.prefix.trim_matches('/').to_string(),
        }],
        false => args.probe_allow,
    };
    let opts = exporter::Options {
        listen: args.listen,
        s3,
        list_timeout: args.list_timeout,
        probe_scope: probe::Scope::new(allowed),
        probe_cache: args.probe_cache,
        read_metadata: args.read_metadata,
    };
    Ok(exporter::run(opts).await?)
}
