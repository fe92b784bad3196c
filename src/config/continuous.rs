//! Continuous backup in the config file: whether Clusters follow their etcd by default, how often a segment
//! closes, and the identity the follower runs as. A Cluster's `spec.continuous` overrides the first two.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `continuous` block. Off by default: docs/CONTRACT.md says why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ContinuousConfig {
    pub enabled: bool,
    /// How long a change may wait before its segment is stored (`etcdbak follow --interval`).
    pub interval: String,
    /// The followers' ServiceAccount. Unlike the Jobs, a follower gets an API token: it renews its Lease
    /// (`get`, `create`, `update` on leases in the job namespace is all it needs).
    pub service_account_name: Option<String>,
}

impl Default for ContinuousConfig {
    fn default() -> Self {
        ContinuousConfig {
            enabled: false,
            interval: "20s".into(),
            service_account_name: None,
        }
    }
}

/// The most a follower may wait before closing a segment, and the least: what `etcdbak follow` accepts.
pub const INTERVAL_RANGE: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(3600);

/// Parses an interval (`20s`, `1m`) and checks it is one `etcdbak follow` takes. `Err` says what is wrong.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| format!("{s:?}: {e}"))?;
    if !INTERVAL_RANGE.contains(&d) {
        return Err(format!("{s:?} is outside 1s to 1h"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_bounded_like_the_follower_flag() {
        assert_eq!(parse_interval("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_interval(" 1m "), Ok(Duration::from_secs(60)));
        assert!(parse_interval("500ms")
            .unwrap_err()
            .contains("outside 1s to 1h"));
        assert!(parse_interval("2h").unwrap_err().contains("outside"));
        assert!(parse_interval("soon").is_err());
    }

    #[test]
    fn continuous_backup_is_off_unless_asked_for() {
        let c = ContinuousConfig::default();
        assert!(!c.enabled);
        assert_eq!(parse_interval(&c.interval), Ok(Duration::from_secs(20)));
    }
}
