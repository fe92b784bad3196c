//! `etcdbak s3-exporter`: its flags, and the run that turns them into [`crate::exporter::Options`].

use std::net::SocketAddr;
use std::time::Duration;

use super::s3::S3Args;
use crate::exporter;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to serve `/metrics`, `/probe` and `/healthz` on.
    #[arg(long, env = "ETCDBAK_EXPORTER_LISTEN", default_value = "0.0.0.0:9340")]
    pub listen: SocketAddr,
    /// The bucket and prefix `/metrics` watches (every `<prefix>/<cluster>/`); `/probe` takes its bucket and
    /// prefix from the query instead. The exporter only lists: read-only credentials are enough.
    #[command(flatten)]
    pub s3: Box<S3Args>,
    /// Give up on one bucket listing after this long (it is then reported as `s3_list_success 0`).
    #[arg(long, env = "ETCDBAK_EXPORTER_TIMEOUT", default_value = "30s", value_parser = super::bounds::stall_timeout)]
    pub list_timeout: Duration,
}

pub async fn run(args: Args) -> super::Result<()> {
    let opts = exporter::Options {
        listen: args.listen,
        s3: args.s3.resolved().await.map_err(exporter::Error::from)?,
        list_timeout: args.list_timeout,
    };
    Ok(exporter::run(opts).await?)
}
