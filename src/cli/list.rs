//! `etcdbak list`: its flags, and the run that fetches the backups and prints them.

use std::collections::HashMap;

use super::output::{Output, OutputArgs};
use super::s3::{check_cluster, S3Args};
use crate::list::{self, Format};
use crate::s3::lock::Hold;

/// `list`'s JSON fields, under its long help (the output format is shared with `verify`).
pub const AFTER_HELP: &str = "\
With -o json it prints a JSON array; the field names are stable: cluster, key, takenAt, revision, \
sizeBytes (the stored size), sha256Prefix, compressed, encrypted, plaintextBytes (absent when unknown), \
verified (etcdbak verify found it sound), and for clusters with continuous backups chain: segments, \
revision (the newest a restore from it reaches), at (its last segment's close time), gapAfter {from, to} \
(the revisions missing where the chain stops short), and on a bucket with Object Lock lock: mode \
(governance or compliance), retainUntil.";

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub destinations: super::destination::ReadArgs,
    /// Only this cluster's backups (default: every cluster under --prefix).
    #[arg(long, env = "ETCDBAK_CLUSTER", value_name = "NAME")]
    pub cluster: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(args: Args) -> super::Result<()> {
    if let Some(c) = &args.cluster {
        check_cluster(c)?;
    }
    let client = args.destinations.client(&args.s3).await?;
    let cluster = args.cluster.as_deref();
    // One listing gives the backups and the segments of their chains.
    let objects = client.list_keys(cluster).await?;
    let mut backups = crate::backup::from_listing(&client.prefix, &objects, cluster);
    crate::store::fill_plaintext_sizes(&client, &mut backups).await;
    let segments = crate::naming::segment::in_listing(&client.prefix, &objects, cluster);
    let keys: Vec<String> = backups.iter().map(|b| b.key.clone()).collect();
    let locks = crate::store::locks::retentions(&client, &keys).await;
    let listed = list::with_locks(list::with_chains(backups, segments), &shown(locks));
    let format = match args.output.output {
        Output::Table => Format::Table,
        Output::Json => Format::Json,
    };
    if format == Format::Table && listed.is_empty() {
        let root = crate::naming::root_prefix(&client.prefix);
        eprintln!(
            "{}",
            list::nothing_found(args.cluster.as_deref(), &client.bucket_name, &root)
        );
        return Ok(());
    }
    println!("{}", list::render(&listed, format, chrono::Utc::now())?);
    Ok(())
}

/// The locks as `list` shows them: the mode and the date (a HEAD without both was left out).
fn shown(locks: HashMap<String, Hold>) -> HashMap<String, list::Lock> {
    locks
        .into_iter()
        .filter_map(|(key, hold)| {
            let lock = list::Lock {
                mode: hold.mode?.to_string(),
                retain_until: hold.until?,
            };
            Some((key, lock))
        })
        .collect()
}
