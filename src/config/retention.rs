//! The config file's `retention` block: read strictly (a typo such as `keepDialy` is an error, as every
//! other key is), then held as the Cluster's own [`RetentionSpec`] so both are judged by one rule.

use serde::Deserialize;

use crate::crd::RetentionSpec;

/// `retention:` as written. A separate type because the CRD's copy must accept what the apiserver sends,
/// while the config file refuses unknown keys.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RawRetention {
    keep_last: Option<u32>,
    keep_hourly: Option<u32>,
    keep_daily: Option<u32>,
    keep_weekly: Option<u32>,
    keep_monthly: Option<u32>,
    keep_within: Option<String>,
    keep_min: Option<u32>,
}

impl From<RawRetention> for RetentionSpec {
    fn from(r: RawRetention) -> Self {
        RetentionSpec {
            keep_last: r.keep_last,
            keep_hourly: r.keep_hourly,
            keep_daily: r.keep_daily,
            keep_weekly: r.keep_weekly,
            keep_monthly: r.keep_monthly,
            keep_within: r.keep_within,
            keep_min: r.keep_min,
        }
    }
}

/// The block must describe a usable policy on its own (with `defaultKeep` as its keep-last fallback), and
/// its counts stay within the CRD's bounds.
pub(super) fn check(r: &RetentionSpec, default_keep: u32) -> Result<(), String> {
    let counts = [
        r.keep_last,
        r.keep_hourly,
        r.keep_daily,
        r.keep_weekly,
        r.keep_monthly,
        r.keep_min,
    ];
    if counts.iter().flatten().any(|n| *n > 10000) {
        return Err("has a count above 10000".into());
    }
    r.policy(default_keep).map(|_| ())
}
