//! `etcdbak snapshot`: its flags, help text, and the run that turns them into [`crate::snapshot::Options`].

use std::path::PathBuf;
use std::time::Duration;

use crate::snapshot;

// Paragraphs are single lines: clap wraps them to the terminal width.
const AFTER_HELP: &str = "\
Which member: every endpoint is asked for its status; the snapshot is streamed from a healthy follower with the highest applied index (keeping the load off the leader), or from the leader when no follower is healthy. A member is healthy when it answers, has a leader, is not a learner and has no alarm (NOSPACE, CORRUPT).

What lands in --dir: snapshot.db is what `etcdctl snapshot save` writes, etcd's SHA-256 trailer included, so `etcdutl snapshot restore` accepts it without --skip-hash-check; snapshot.json describes it (cluster, member, revision, sizes, sha256, time, versions). Both are written as .snapshot.db.part and .snapshot.json.part, fsynced and checked, and only then renamed, snapshot.json last: whoever sees snapshot.json sees a complete snapshot. A snapshot left in --dir by an earlier run is removed first, and a failed, timed-out or interrupted (Ctrl-C, SIGTERM) run leaves no file under a final name. Files are created with mode 0600: they hold every secret in the cluster.

Exit codes: 2 bad flags, 3 no endpoint reachable or no healthy member, 4 TLS failure (the message names the file to check), 5 corrupt snapshot stream, 1 anything else (disk errors name the path).

Examples:
  etcdbak snapshot --cluster prod --endpoints https://10.0.0.1:2379,https://10.0.0.2:2379 \\
      --cacert ca.crt --cert client.crt --key client.key --dir /backup
  ETCDBAK_ENDPOINTS=http://127.0.0.1:2379 CLUSTER=dev etcdbak snapshot --dir ./backup";

#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// etcd client URLs, comma-separated or repeated. Every one is asked for its status and the snapshot
    /// comes from one healthy member. A URL without a scheme gets https:// when --cacert is set, else
    /// http://.
    #[arg(
        long,
        env = "ETCDBAK_ENDPOINTS",
        value_delimiter = ',',
        required = true,
        value_name = "URL"
    )]
    pub endpoints: Vec<String>,
    #[command(flatten)]
    pub tls: super::etcd_tls::EtcdTlsArgs,
    /// How long each endpoint gets to connect and answer its status (e.g. 5s, 1m).
    #[arg(long, env = "ETCDBAK_DIAL_TIMEOUT", default_value = "5s", value_parser = super::bounds::connect_timeout, value_name = "DURATION")]
    pub dial_timeout: Duration,
    /// Limit for the whole run, streaming included. Generous on purpose: an 8 GiB database over a slow link
    /// takes many minutes, and a too-short limit only produces failed backups.
    #[arg(long, env = "ETCDBAK_TIMEOUT", default_value = "30m", value_parser = super::bounds::run_timeout, value_name = "DURATION")]
    pub timeout: Duration,
    /// Directory to write snapshot.db and snapshot.json into (created if missing).
    #[arg(
        long,
        env = "ETCDBAK_DIR",
        default_value = "/backup",
        value_name = "DIR"
    )]
    pub dir: PathBuf,
    /// Name of the etcd cluster, recorded in snapshot.json (the store step files backups under it). Falls
    /// back to the CLUSTER environment variable (the store-container contract) when ETCDBAK_CLUSTER is unset.
    #[arg(long, env = "ETCDBAK_CLUSTER", value_name = "NAME")]
    pub cluster: Option<String>,
}

/// The domain's options for these flags (`follow` takes the same ones).
pub(super) fn options(args: Args) -> snapshot::Options {
    snapshot::Options {
        endpoints: args.endpoints,
        cacert: args.tls.cacert,
        cert: args.tls.cert,
        key: args.tls.key,
        dial_timeout: args.dial_timeout,
        timeout: args.timeout,
        dir: args.dir,
        cluster: args.cluster,
        cluster_env: std::env::var("CLUSTER").ok(),
        progress: super::progress::reporter(),
    }
}

pub async fn run(args: Args) -> super::Result<()> {
    Ok(snapshot::run(options(args)).await?)
}
