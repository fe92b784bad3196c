//! `etcdbak verify`: its flags, and the run that turns them into [`store::verify_backup::Options`] and
//! renders the report (a table or JSON); the workflow itself is [`store::verify_backup::run`].

use std::path::PathBuf;

use crate::cli::output::{Output, OutputArgs};
use crate::cli::s3::S3Args;
use crate::continuous::check::{self, ChainReport};
use crate::store::verify_backup as verify;
use crate::verify::backup::{render_table, Report};

pub const LONG_ABOUT: &str = "\
Prove a backup restorable: its SHA-256, etcd's trailer, the whole bbolt database and its revision.

A sound backup gets a verification record beside it in the bucket (its key plus .verified), which
`list` shows and retention honours: store and prune never delete the newest backup that has one. A
corrupt backup loses its record. Writing and removing the record needs PutObject and DeleteObject on the
cluster's prefix; when either fails, verify prints the verdict and then fails (exit 6), so the
Cluster's BackupVerified condition and the alerts show it.

For a cluster with continuous backups it then checks the backup's chain: every segment that carries it
forward is read end to end (digest, size, events, no revision missing) and the chain must not stop at a
hole while newer segments exist. A broken chain fails the run like a corrupt backup.

With -o json it prints a JSON array; the field names are stable: key, result, problem, keys, revision,
dbSize, seconds, and etcdutl (agrees or disagrees) with --with-etcdutl; with continuous backups chain: base,
segments, reaches, events, problem.";

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub destinations: super::destination::ReadArgs,
    #[command(flatten)]
    pub which: super::which::WhichArgs,
    /// Where the backup is downloaded to while it is checked (removed afterwards); it needs room for one
    /// backup. Default: the system's temporary directory.
    #[arg(long, env = "ETCDBAK_VERIFY_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub identity: super::identity::IdentityArgs,
    /// After the Rust check passes, also run etcd's own `etcdutl snapshot status` and `snapshot restore`
    /// (into a scratch data dir beside the download, removed afterwards) and require etcdutl's revision
    /// to be the Rust check's. etcdutl must be on PATH.
    #[arg(long)]
    pub with_etcdutl: bool,
}

pub async fn run(args: Args) -> super::Result<()> {
    let which = args.which.which()?;
    let identities = args.identity.identities()?;
    let client = args.destinations.client(&args.s3).await?;
    let opts = verify::Options {
        which,
        dir: args.dir.unwrap_or_else(std::env::temp_dir),
        identities: identities.clone(),
        with_etcdutl: args.with_etcdutl,
    };
    let verified = verify::run(&client, &opts).await?;
    let report = &verified.report;
    let chain = match report.sound() {
        Ok(()) => chain_of(&client, report, identities).await?,
        Err(_) => None,
    };
    render(report, chain.as_ref(), args.output.output)?;
    report.sound()?;
    if let Some(c) = &chain {
        c.sound()?;
    }
    Ok(verified.recorded?)
}

/// The chain check of the verified backup, for a cluster with continuous backups.
async fn chain_of(
    client: &crate::s3::Client,
    report: &Report,
    identities: Option<std::sync::Arc<crate::pipeline::Identities>>,
) -> super::Result<Option<ChainReport>> {
    let Some((cluster, _)) = crate::naming::parse_key(&client.prefix, &report.key) else {
        return Ok(None);
    };
    Ok(check::check_chain(client, &cluster, &report.key, identities).await?)
}

/// The report as JSON: the backup's fields, and the chain's when there is one.
#[derive(serde::Serialize)]
struct Json<'a> {
    #[serde(flatten)]
    report: &'a Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain: Option<&'a ChainReport>,
}

fn render(report: &Report, chain: Option<&ChainReport>, output: Output) -> super::Result<()> {
    match output {
        Output::Json => {
            let json = serde_json::to_string_pretty(&[Json { report, chain }])
                .map_err(|e| super::Error::io("encoding the report", std::io::Error::other(e)))?;
            println!("{json}");
        }
        Output::Table => {
            println!("{}", render_table(std::slice::from_ref(report)));
            if let Some(c) = chain {
                println!("{}", chain_line(c));
            }
        }
    }
    Ok(())
}

/// One line under the table: how far the chain reaches, or why it cannot be trusted.
fn chain_line(c: &ChainReport) -> String {
    match &c.problem {
        None => format!(
            "chain: sound, {} segments with {} changes reach revision {}",
            c.segments, c.events, c.reaches
        ),
        Some(p) => format!("chain: BROKEN after {} segments: {p}", c.segments),
    }
}
