//! The retention flags `store` and `prune` share, and their check into a [`Policy`].

use crate::retention::{Policy, Within, DEFAULT_KEEP};

/// The tiered retention policy (keep-last, hourly, daily, weekly, monthly, within, under a floor).
///
/// Every field is optional so `prune` can tell "nothing said" (a usage error: it never deletes on a
/// default) from a policy; `--keep` still means 20 when unset, so `--keep-daily 7` alone adds dailies to
/// today's newest 20 rather than silently dropping them.
/// Every retention count: 0 to 10000, the controller config's and the CRD's bound (more is a typo).
fn keep_count() -> clap::builder::RangedU64ValueParser<u32> {
    clap::builder::RangedU64ValueParser::new().range(0..=10000)
}

#[derive(Debug, Clone, Default, clap::Args)]
#[group(id = "retention", multiple = true)]
pub struct RetentionArgs {
    /// Keep the newest N backups (by time and revision) [default: 20]. 0 is allowed only when another
    /// --keep-* rule keeps something.
    #[arg(long, env = "ETCDBAK_KEEP", value_name = "N", value_parser = keep_count())]
    pub keep: Option<u32>,
    /// Also keep the newest backup of each of the N most recent hours that have one (UTC).
    #[arg(long, env = "ETCDBAK_KEEP_HOURLY", value_name = "N", value_parser = keep_count())]
    pub keep_hourly: Option<u32>,
    /// Also keep the newest backup of each of the N most recent days that have one (UTC).
    #[arg(long, env = "ETCDBAK_KEEP_DAILY", value_name = "N", value_parser = keep_count())]
    pub keep_daily: Option<u32>,
    /// Also keep the newest backup of each of the N most recent ISO weeks that have one.
    #[arg(long, env = "ETCDBAK_KEEP_WEEKLY", value_name = "N", value_parser = keep_count())]
    pub keep_weekly: Option<u32>,
    /// Also keep the newest backup of each of the N most recent months that have one.
    #[arg(long, env = "ETCDBAK_KEEP_MONTHLY", value_name = "N", value_parser = keep_count())]
    pub keep_monthly: Option<u32>,
    /// Also keep every backup taken within this span of the newest one: 7d, 36h, 1y2m3d4h (m is months,
    /// as restic takes it), or a humantime span of whole hours such as 2weeks.
    #[arg(long, env = "ETCDBAK_KEEP_WITHIN", value_parser = parse_within, value_name = "DURATION")]
    pub keep_within: Option<Within>,
    /// Never leave fewer than N backups, whatever the rules say (at least one always stays).
    #[arg(long, env = "ETCDBAK_KEEP_MIN", value_name = "N", value_parser = keep_count())]
    pub keep_min: Option<u32>,
}

impl RetentionArgs {
    /// Whether any retention flag (or its env var) was given.
    pub fn any(&self) -> bool {
        let r = self;
        r.keep.is_some()
            || r.keep_hourly.is_some()
            || r.keep_daily.is_some()
            || r.keep_weekly.is_some()
            || r.keep_monthly.is_some()
            || r.keep_within.is_some()
            || r.keep_min.is_some()
    }

    /// The policy the flags describe; one that keeps nothing by its rules is a usage error naming the flags.
    pub fn policy(&self) -> super::Result<Policy> {
        let policy = Policy {
            last: self.keep.unwrap_or(DEFAULT_KEEP),
            hourly: self.keep_hourly.unwrap_or(0),
            daily: self.keep_daily.unwrap_or(0),
            weekly: self.keep_weekly.unwrap_or(0),
            monthly: self.keep_monthly.unwrap_or(0),
            within: self.keep_within.unwrap_or_default(),
            min: self.keep_min.unwrap_or(1),
        };
        policy.validate().map_err(|_| {
            super::Error::Usage(crate::exit::Usage(
                "--keep 0 keeps nothing: give --keep N (N >= 1) or another rule (--keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-within)".into(),
            ))
        })?;
        Ok(policy)
    }
}

/// `keep-within`: restic's calendar units first (so `2m` is two months), then a humantime span of whole
/// hours (retention buckets are no finer than an hour).
pub fn parse_within(s: &str) -> Result<Within, String> {
    if let Ok(w) = s.parse::<Within>() {
        return Ok(w);
    }
    let bad = || format!("{s:?} is not a span like 7d, 36h, 1y2m3d4h or 2weeks");
    let d = humantime::parse_duration(s.trim()).map_err(|_| bad())?;
    let hours = d.as_secs() / 3600;
    if d.subsec_nanos() != 0 || d.as_secs() % 3600 != 0 || hours == 0 {
        return Err(format!(
            "{s:?} is not a whole number of hours (use 7d, 36h or 1y2m3d4h)"
        ));
    }
    let days = u32::try_from(hours / 24).map_err(|_| bad())?;
    Ok(Within {
        days,
        hours: (hours % 24) as u32,
        ..Within::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keep_is_todays_newest_n() {
        let only = RetentionArgs {
            keep: Some(5),
            ..RetentionArgs::default()
        };
        assert_eq!(only.policy().expect("policy"), Policy::newest(5));
        assert_eq!(
            RetentionArgs::default().policy().expect("default"),
            Policy::newest(DEFAULT_KEEP)
        );
        assert!(!RetentionArgs::default().any());
    }

    #[test]
    fn keep_zero_needs_another_rule() {
        let zero = RetentionArgs {
            keep: Some(0),
            ..RetentionArgs::default()
        };
        let e = zero.policy().expect_err("keeps nothing");
        assert_eq!(e.class(), crate::exit::Class::Usage);
        assert!(e.to_string().contains("--keep"), "{e}");
        let daily = RetentionArgs {
            keep_daily: Some(7),
            ..zero
        };
        let p = daily.policy().expect("dailies");
        assert_eq!((p.last, p.daily), (0, 7));
    }

    #[test]
    fn within_takes_restic_units_then_whole_humantime_hours() {
        let w = |days, hours| Within {
            days,
            hours,
            ..Within::default()
        };
        assert_eq!(parse_within("7d"), Ok(w(7, 0)));
        assert_eq!(parse_within("36h"), Ok(w(0, 36)));
        assert_eq!(parse_within("2weeks"), Ok(w(14, 0)));
        assert_eq!(parse_within("1day 12h"), Ok(w(1, 12)));
        assert_eq!(parse_within("2m").map(|w| w.months), Ok(2));
        for bad in ["", "7", "30min", "1.5h", "d7", "-1d", "0s"] {
            assert!(parse_within(bad).is_err(), "{bad:?} accepted");
        }
    }
}
