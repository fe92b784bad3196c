//! The point a restore brings a cluster to, as `replay` and `restore-guide` take it: one flag group, so
//! both spell and check it the same way.

use chrono::{DateTime, Utc};

use crate::continuous::chain::Target;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct PointArgs {
    /// Bring the cluster to this moment: every change seen at or before it (RFC 3339, e.g.
    /// 2026-12-02T14:03:59Z).
    #[arg(long, value_parser = parse_time, value_name = "TIME", conflicts_with = "to_revision")]
    pub to: Option<DateTime<Utc>>,
    /// Bring the cluster to this etcd revision: every change up to and including it.
    #[arg(long, value_name = "REVISION", value_parser = clap::value_parser!(i64).range(1..))]
    pub to_revision: Option<i64>,
}

impl PointArgs {
    /// The point asked for, if any (clap refuses both at once).
    pub fn target(&self) -> Option<Target> {
        match (self.to, self.to_revision) {
            (Some(t), _) => Some(Target::Time(t)),
            (None, Some(r)) => Some(Target::Revision(r)),
            (None, None) => None,
        }
    }
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time like 2026-12-02T14:03:59Z ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        point: PointArgs,
    }

    #[test]
    fn a_point_is_a_time_or_a_revision_never_both() {
        let parse = |argv: &[&str]| Cli::try_parse_from(argv).map(|c| c.point.target());
        assert_eq!(parse(&["x"]).ok(), Some(None));
        assert_eq!(
            parse(&["x", "--to-revision", "42"]).ok(),
            Some(Some(Target::Revision(42)))
        );
        let t = DateTime::parse_from_rfc3339("2026-12-02T14:03:59Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse(&["x", "--to", "2026-12-02T15:03:59+01:00"]).ok(),
            Some(Some(Target::Time(t)))
        );
        assert!(parse(&["x", "--to", "2026-12-02T14:03:59Z", "--to-revision", "4"]).is_err());
        assert!(parse(&["x", "--to-revision", "0"]).is_err());
        let e = parse(&["x", "--to", "yesterday"]).expect_err("refused");
        assert!(e.to_string().contains("RFC 3339"), "{e}");
    }
}
