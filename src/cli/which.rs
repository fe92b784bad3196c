//! Which stored backup a command reads (`download`, `verify`): one flag pair, defined once, so
//! `--cluster` and `--key` mean the same in both.

use super::s3::check_cluster;
use crate::store::download::Which;

#[derive(Debug, Clone, clap::Args)]
pub struct WhichArgs {
    /// The cluster whose newest backup to use (with --key: the cluster the key's file name belongs to).
    #[arg(long, env = "ETCDBAK_CLUSTER", value_name = "NAME")]
    pub cluster: Option<String>,
    /// A specific backup: the full key as `etcdbak list` shows it, or just its file name with --cluster.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
}

impl WhichArgs {
    /// The backup these flags name; a usage error when they name none.
    pub fn which(self) -> super::Result<Which> {
        if let Some(c) = &self.cluster {
            check_cluster(c)?;
        }
        match (self.key, self.cluster) {
            (Some(key), cluster) => Ok(Which::Key { key, cluster }),
            (None, Some(cluster)) => Ok(Which::Newest { cluster }),
            (None, None) => Err(super::Error::Usage(crate::exit::Usage(
                "say which backup: --cluster NAME (its newest backup) or --key KEY (as `etcdbak list` shows it)"
                    .into(),
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cluster: Option<&str>, key: Option<&str>) -> WhichArgs {
        WhichArgs {
            cluster: cluster.map(str::to_string),
            key: key.map(str::to_string),
        }
    }

    #[test]
    fn a_key_wins_over_the_newest_and_keeps_its_cluster() {
        let w = args(Some("prod"), Some("x.db")).which();
        assert!(
            matches!(w, Ok(Which::Key { key, cluster: Some(c) }) if key == "x.db" && c == "prod")
        );
        let w = args(Some("prod"), None).which();
        assert!(matches!(w, Ok(Which::Newest { cluster }) if cluster == "prod"));
    }

    #[test]
    fn naming_nothing_or_a_bad_cluster_is_a_usage_error() {
        assert!(
            matches!(args(None, None).which(), Err(super::super::Error::Usage(m)) if m.0.contains("--cluster NAME"))
        );
        assert!(matches!(
            args(Some("Bad/Name"), None).which(),
            Err(super::super::Error::Usage(_))
        ));
    }
}
