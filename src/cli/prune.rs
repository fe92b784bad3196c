//! `etcdbak prune`: its flags, and the run that turns them into [`crate::store::prune::Options`].

use std::time::Duration;

use super::retention::RetentionArgs;
use super::s3::{check_cluster, S3Args};
use crate::retention::Keep;
use crate::store::prune;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub destinations: super::destination::ReadArgs,
    /// The cluster whose backups to prune.
    #[arg(long, env = "ETCDBAK_CLUSTER", value_name = "NAME")]
    pub cluster: String,
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// Delete every backup of the cluster and abort its unfinished uploads (the cleanup Job after a
    /// Cluster is deleted), in every destination (--add-destination) unless --destination names one; a
    /// destination that fails does not stop the others, and the run then fails naming it. Files that do
    /// not follow etcdbak's naming scheme are never touched. Refused
    /// together with any --keep* flag or ETCDBAK_KEEP* env var (the controller sets none on cleanup).
    /// Whatever an S3 Object Lock still holds stays and is printed as kept, with its date; on a versioned
    /// bucket every version of what goes is deleted.
    #[arg(long, conflicts_with = "retention")]
    pub all: bool,
    /// Print every backup with what retention would do and why it stays ("locked until …" for one an S3
    /// Object Lock holds); delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also abort the cluster's unfinished multipart uploads older than this (with --all: every one); 1m to
    /// 30d.
    #[arg(long, env = "ETCDBAK_STALE_UPLOAD_AGE", default_value = "2h",
          value_parser = super::bounds::stale_upload_age, value_name = "DURATION")]
    pub stale_upload_age: Duration,
}

/// `--all` or a retention policy; neither is a usage error that says how to choose.
fn keep(all: bool, retention: &RetentionArgs) -> super::Result<Keep> {
    if all {
        return Ok(Keep::Nothing);
    }
    if !retention.any() {
        return Err(super::Error::Usage(crate::exit::Usage(
            "say how much to keep: --keep N and/or --keep-hourly/--keep-daily/--keep-weekly/--keep-monthly/--keep-within, or --all (delete every backup of the cluster)".into(),
        )));
    }
    Ok(Keep::Tiered(retention.policy()?))
}

pub async fn run(args: Args) -> super::Result<()> {
    check_cluster(&args.cluster)?;
    let opts = prune::Options {
        keep: keep(args.all, &args.retention)?,
        cluster: args.cluster.clone(),
        dry_run: args.dry_run,
        stale_upload_age: args.stale_upload_age,
    };
    // The cleanup Job's `--all` empties every destination, unless one is named.
    if args.all && args.destinations.destination.is_none() {
        return run_every(&args, &opts).await;
    }
    let client = args.destinations.client(&args.s3).await?;
    let mut report = prune::Report::default();
    let outcome = prune::run(&client, &opts, &mut report).await;
    // What was done is shown even when a later step failed.
    render(&report, "");
    Ok(outcome?)
}

/// `prune --all` in every destination; each one's lines prefixed with its name when there are several.
async fn run_every(args: &Args, opts: &prune::Options) -> super::Result<()> {
    let first = args.s3.resolved().await?;
    let targets = args.destinations.all.all(&args.s3, first).await?;
    let several = targets.ready.len() + targets.unready.len() > 1;
    let (reports, outcome) =
        crate::store::cleanup::run_each(&targets.ready, targets.unready, opts).await;
    for (dest, report) in targets.ready.iter().zip(&reports) {
        let prefix = match several {
            true => format!("destination {:?}: ", dest.name),
            false => String::new(),
        };
        render(report, &prefix);
    }
    Ok(outcome?)
}

/// The report on stdout: the dry run's table and counts, or one line per deleted backup, each line after
/// `prefix` (which destination, when there are several).
fn render(report: &prune::Report, prefix: &str) {
    if let Some(dry) = &report.dry_run {
        if !prefix.is_empty() {
            println!("{}", prefix.trim_end());
        }
        println!(
            "{}",
            crate::retention::render::dry_run_table(&dry.decisions)
        );
        println!(
            "{prefix}would delete {} of {} backups, deleted nothing",
            dry.would_delete,
            dry.decisions.len()
        );
        for key in &dry.would_abort {
            println!("{prefix}would abort the unfinished upload of {key}");
        }
    }
    for deleted in &report.deleted {
        println!("{prefix}deleted {} ({})", deleted.key, deleted.why);
    }
    for kept in &report.locked {
        println!("{prefix}kept {} ({})", kept.key, kept.why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_or_keep_must_be_said() {
        let none = RetentionArgs::default();
        assert_eq!(keep(true, &none).expect("all"), Keep::Nothing);
        let three = RetentionArgs {
            keep: Some(3),
            ..RetentionArgs::default()
        };
        let p = crate::retention::Policy::newest(3);
        assert_eq!(keep(false, &three).expect("keep"), Keep::Tiered(p));
        let e = keep(false, &none).expect_err("neither");
        assert_eq!(e.class(), crate::exit::Class::Usage);
        assert!(e.to_string().contains("--keep N"), "{e}");
    }
}
