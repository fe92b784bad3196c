//! The command line: one `Cli` built from each domain module's own argument struct.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::exit::Class;

pub mod assets;
pub mod bounds;
pub mod crd;
pub mod destination;
pub mod download;
pub mod environment;
pub mod error;
pub mod etcd_tls;
pub mod follow;
pub mod identity;
pub mod list;
pub mod lock;
pub mod log;
pub mod output;
pub mod pick;
pub mod point;
pub mod progress;
pub mod prune;
pub mod reconcile;
pub mod replay;
pub mod restore_guide;
pub mod retention;
pub mod s3;
pub mod s3_exporter;
pub mod settings;
pub mod snapshot;
pub mod store;
pub mod verify;
pub mod watch;
pub mod which;

pub use error::{Error, Result};

const ABOUT: &str = "Keeps etcd clusters backed up to S3, and guides their restore.";

const LONG_ABOUT: &str = "\
Keeps etcd clusters backed up to S3, and guides their restore.

A backup is two steps, run as the init and store containers of a Kubernetes Job or by hand:
  etcdbak snapshot   take a verified snapshot of one etcd cluster into a directory
  etcdbak store      upload it to S3, verify the upload, then apply retention

Around them:
  etcdbak list           show the backups in the bucket, newest first
  etcdbak prune          apply retention on its own (or delete every backup of a cluster)
  etcdbak download       fetch a backup and check its SHA-256
  etcdbak verify         prove a backup restorable: hashes, the whole database's structure, its revision
  etcdbak restore-guide  print a filled-in restore runbook for one cluster
  etcdbak follow         continuous backup: follow one cluster's changes into segments
  etcdbak replay         bring a restored cluster forward to a revision or a moment
  etcdbak reconcile      one pass of the controller: Cluster resources -> backup CronJobs
  etcdbak watch          the same reconcile, run continuously in-cluster
  etcdbak crd            print the Cluster CustomResourceDefinition
  etcdbak s3-exporter    serve each cluster's newest backup time and size as Prometheus metrics

Flags that configure a command can also be set from the ETCDBAK_* variable each --help shows.
S3 credentials are never flags. They come from the AWS chain, first match wins: AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY, web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), container credentials
(AWS_CONTAINER_CREDENTIALS_FULL_URI), the shared credentials file (AWS_PROFILE), and instance metadata
only with ETCDBAK_IMDS=true. Temporary credentials are refreshed before they expire (etcdbak store --help).

Exit codes: 0 ok, 1 failure, 2 usage, 3 etcd unavailable, 4 TLS or access denied,
5 corrupt snapshot, 6 object store failure, 7 invalid config or template.";

#[derive(Debug, Parser)]
#[command(name = "etcdbak", version, about = ABOUT, long_about = LONG_ABOUT, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub log: log::LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Take a verified snapshot of an etcd cluster into a directory (the Job's init container).
    Snapshot(snapshot::Args),
    /// Upload a snapshot to S3, verify it, then apply retention (the default store container).
    #[command(long_about = store::LONG_ABOUT)]
    Store(store::Args),
    /// Apply retention to one cluster's backups, or delete them all (the cleanup Job).
    Prune(prune::Args),
    /// List backups in the bucket, newest first.
    #[command(after_long_help = list::AFTER_HELP)]
    List(list::Args),
    /// Download a backup and check its SHA-256 before anyone restores it.
    Download(download::Args),
    /// Prove a backup restorable: its SHA-256, etcd's trailer, the whole bbolt database and its revision.
    #[command(long_about = verify::LONG_ABOUT)]
    Verify(verify::Args),
    /// Print a filled-in, numbered restore runbook for one cluster.
    RestoreGuide(restore_guide::Args),
    /// Follow one cluster's changes into segments beside its full backups (continuous backup).
    #[command(long_about = follow::LONG_ABOUT)]
    Follow(follow::Args),
    /// Bring a restored cluster forward to a revision or a moment from its segments.
    #[command(long_about = replay::LONG_ABOUT)]
    Replay(replay::Args),
    /// One reconcile pass: every Cluster resource -> its backup CronJob.
    Reconcile(reconcile::Args),
    /// Run the controller continuously (in-cluster, with leader election).
    Watch(watch::Args),
    /// Print the Cluster CustomResourceDefinition as YAML.
    Crd,
    /// Serve S3 backup metrics (s3_exporter-compatible) for every cluster's backup prefix.
    S3Exporter(s3_exporter::Args),
    /// Regenerate the shell completions and man pages shipped in completions/ and man/.
    #[command(hide = true)]
    GenerateAssets {
        /// The repository root to write completions/ and man/ into.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Class::Usage.code()
            } else {
                0
            };
        }
    };
    cli.log.init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Class::Failure.code();
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {}", with_hint(&e));
            e.class().code()
        }
    }
}

/// [`chain`], then what to check on the command line, when the error is one a flag can fix.
pub fn with_hint(e: &(dyn std::error::Error + 'static)) -> String {
    let line = chain(e);
    match error::hint(e) {
        Some(h) => format!("{line}: {h}"),
        None => line,
    }
}

pub use crate::exit::chain;

pub async fn run(command: Command) -> Result<()> {
    match command {
        Command::Snapshot(args) => snapshot::run(args).await,
        Command::Store(args) => store::run(args).await,
        Command::Prune(args) => prune::run(args).await,
        Command::List(args) => list::run(args).await,
        Command::Download(args) => download::run(args).await,
        Command::Verify(args) => verify::run(args).await,
        Command::RestoreGuide(args) => restore_guide::run(args).await,
        Command::Follow(args) => follow::run(args).await,
        Command::Replay(args) => replay::run(args).await,
        Command::Reconcile(args) => reconcile::run(args).await,
        Command::Watch(args) => watch::run(args).await,
        Command::Crd => crd::run(),
        Command::S3Exporter(args) => s3_exporter::run(args).await,
        Command::GenerateAssets { out } => assets::generate(&out),
    }
}
