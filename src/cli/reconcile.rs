//! `etcdbak reconcile`: one controller pass over every Cluster, or a dry run.

use std::path::{Path, PathBuf};

use crate::cli::Result;
use crate::config::{self, Config};
use crate::controller;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
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

    #[command(flatten)]
    pub concurrency: Concurrency,
}

/// How many Clusters are reconciled at once: `watch` and `reconcile` share the flag.
#[derive(Debug, Clone, clap::Args)]
pub struct Concurrency {
    /// How many Clusters are reconciled at once. Each reconcile holds an apiserver connection and its
    /// buffers, so an unbounded number (a thousand Clusters at start-up) costs memory without converging
    /// faster: the apiserver is the bottleneck. 1 to 1024.
    #[arg(long, env = "ETCDBAK_CONCURRENCY", default_value_t = 64,
          value_parser = clap::value_parser!(u16).range(1..=1024), value_name = "N")]
    pub concurrency: u16,
}

/// The config file, or the built-in defaults without one.
pub fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(config::default_config()),
    }
}

pub async fn run(args: Args) -> Result<()> {
    let config = load_config(args.config.as_deref())?;
    let client = controller::connect().await?;
    let instance = super::environment::replica_identity(None);
    if args.dry_run {
        let run = controller::dry_run(&client, config, &instance).await?;
        print!("{}", run.text);
        return failed_clusters(run.failed, run.total);
    }
    let concurrency = usize::from(args.concurrency.concurrency);
    let rows = controller::reconcile_all(&client, config, &instance, concurrency).await?;
    if rows.is_empty() {
        println!("no Cluster resources found");
        return Ok(());
    }
    println!("{}", table(&rows));
    let failed = rows.iter().filter(|r| r.error.is_some()).count();
    failed_clusters(failed, rows.len())
}

fn failed_clusters(failed: usize, total: usize) -> Result<()> {
    if failed > 0 {
        return Err(controller::Error::ClustersFailed { failed, total }.into());
    }
    Ok(())
}

fn table(rows: &[controller::PassRow]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["CLUSTER", "RESULT", "SCHEDULE", "CRONJOB", "DETAIL"]);
    for r in rows {
        let outcome = if r.error.is_some() { "FAILED" } else { "ok" };
        table.add_row([
            r.cluster.as_str(),
            outcome,
            r.schedule.as_str(),
            r.cron_job.as_str(),
            r.detail.as_str(),
        ]);
    }
    table
}
