//! Cron schedules: `H` expansion (a stable per-cluster hash) and validation. Pure.
//!
//! `H` spreads many clusters over the clock the way Jenkins does, so 1,000 clusters with `H/20 * * * *`
//! do not all stream a snapshot at the same second (the seed's noisy-neighbour disk-IO problem):
//!
//! | field form    | becomes (minute field, hash h)               |
//! |---------------|----------------------------------------------|
//! | `H`           | `h % 60`                                     |
//! | `H/20`        | `(h % 20)-59/20`                             |
//! | `H(0-29)`     | `0 + h % 30`                                 |
//! | `H(0-29)/10`  | `(0 + h % 10)-29/10`                         |
//!
//! The hash is SHA-256 of the cluster name (minute and hour use different bytes of it), so the spread is the
//! same on every controller build and replica; std's `DefaultHasher` is not stable across releases.
//! The result is what Kubernetes' CronJob parser (robfig/cron, standard 5 fields) accepts; croner checks it.

use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use sha2::{Digest, Sha256};

const FIELD_NAMES: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
/// Kubernetes' own shorthands (robfig/cron's descriptors, minus `@every`, which CronJobs reject).
const NICKNAMES: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the schedule is empty: give five cron fields, e.g. \"H * * * *\"")]
    Empty,
    #[error("schedule {schedule:?} has {found} fields: give exactly five (minute hour day-of-month month day-of-week), no seconds or year")]
    FieldCount { schedule: String, found: usize },
    #[error("schedule {schedule:?} uses a time zone prefix: drop the TZ=/CRON_TZ= part (schedules are read in the controller config's timeZone)")]
    TimeZone { schedule: String },
    #[error("schedule {schedule:?} uses H in the {field} field: H is supported only in the minute and hour fields")]
    HashNotAllowed {
        schedule: String,
        field: &'static str,
    },
    #[error("schedule {schedule:?}: {token:?} in the {field} field is not valid H syntax ({problem}); use H, H/n, H(a-b) or H(a-b)/n")]
    BadHash {
        schedule: String,
        field: &'static str,
        token: String,
        problem: String,
    },
    #[error("schedule {schedule:?} uses {what}, which Kubernetes CronJobs do not support: use plain numbers, ranges, lists and steps")]
    Unsupported { schedule: String, what: String },
    #[error(
        "schedule {schedule:?} is not a valid cron expression ({problem}): check the five fields"
    )]
    Invalid { schedule: String, problem: String },
    #[error("schedule {schedule:?} never runs (no date matches it): check the day-of-month and month fields")]
    NeverRuns { schedule: String },
}

/// Replaces `H` in the minute and hour fields with values derived from `cluster`, and checks the result is a
/// five-field cron expression Kubernetes accepts. Fields are re-joined with single spaces.
pub fn expand(schedule: &str, cluster: &str) -> Result<String, ScheduleError> {
    let trimmed = schedule.trim();
    if trimmed.is_empty() {
        return Err(ScheduleError::Empty);
    }
    if trimmed.starts_with("TZ=") || trimmed.starts_with("CRON_TZ=") {
        return Err(ScheduleError::TimeZone {
            schedule: schedule.to_string(),
        });
    }
    if trimmed.starts_with('@') {
        let lower = trimmed.to_ascii_lowercase();
        if NICKNAMES.contains(&lower.as_str()) {
            return Ok(lower);
        }
        return Err(ScheduleError::Unsupported {
            schedule: schedule.to_string(),
            what: format!("{trimmed:?} (known shorthands: {})", NICKNAMES.join(", ")),
        });
    }
    let fields: Vec<&str> = trimmed.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(ScheduleError::FieldCount {
            schedule: schedule.to_string(),
            found: fields.len(),
        });
    }
    let hash = name_hash(cluster);
    let mut out = Vec::with_capacity(5);
    for (i, field) in fields.iter().enumerate() {
        let expanded = match i {
            0 => expand_field(schedule, field, FIELD_NAMES[0], 0, 59, hash[0])?,
            1 => expand_field(schedule, field, FIELD_NAMES[1], 0, 23, hash[1])?,
            _ if has_hash(field) => {
                return Err(ScheduleError::HashNotAllowed {
                    schedule: schedule.to_string(),
                    field: FIELD_NAMES[i],
                })
            }
            _ => (*field).to_string(),
        };
        check_supported(schedule, &expanded)?;
        out.push(expanded);
    }
    let expanded = out.join(" ");
    parse(&expanded).map_err(|problem| ScheduleError::Invalid {
        schedule: schedule.to_string(),
        problem,
    })?;
    // Kubernetes accepts a CronJob that never fires (Feb 30); for a backup schedule that is always a
    // mistake, and it would leave no backups and no interval to alert on (found by fuzz/fuzz_targets/schedule.rs).
    if let Err(ScheduleError::NeverRuns { .. }) = max_interval(&expanded) {
        return Err(ScheduleError::NeverRuns {
            schedule: schedule.to_string(),
        });
    }
    Ok(expanded)
}

/// The longest time between two consecutive runs of an expanded schedule, counted in UTC (the default
/// `timeZone`; in a zone with daylight saving a gap can be an hour longer). Alerts use it to decide when a
/// cluster's newest backup is stale.
///
/// Exact, not sampled: a cron's minute and hour fields are independent of the day, so the runs are "every
/// matching day, at the same set of minutes". Days are scanned over 28 years, the Gregorian weekday/leap-year
/// cycle, plus one more year so the gap that wraps around the cycle is seen.
pub fn max_interval(expanded: &str) -> Result<Duration, ScheduleError> {
    let cron = parse(&nickname_to_fields(expanded)).map_err(|problem| ScheduleError::Invalid {
        schedule: expanded.to_string(),
        problem,
    })?;
    let invalid = |e: croner::errors::CronError| ScheduleError::Invalid {
        schedule: expanded.to_string(),
        problem: e.to_string(),
    };
    let mut minutes_of_day = Vec::new();
    for hour in 0..24u32 {
        if !cron.pattern.hour_match(hour).map_err(invalid)? {
            continue;
        }
        for minute in 0..60u32 {
            if cron.pattern.minute_match(minute).map_err(invalid)? {
                minutes_of_day.push(i64::from(hour * 60 + minute));
            }
        }
    }
    let never = || ScheduleError::NeverRuns {
        schedule: expanded.to_string(),
    };
    let (Some(&first), Some(&last)) = (minutes_of_day.first(), minutes_of_day.last()) else {
        return Err(never());
    };
    let mut longest = 24 * 60 - last + first; // across midnight, if consecutive days both match
    for pair in minutes_of_day.windows(2) {
        longest = longest.max(pair[1] - pair[0]);
    }
    // The common case, every day: no need to scan the calendar (reconciles call this for every Cluster).
    let fields = nickname_to_fields(expanded);
    let day_fields: Vec<&str> = fields.split_whitespace().skip(2).collect();
    if day_fields.iter().all(|f| *f == "*" || *f == "?") {
        return Ok(Duration::from_secs(longest as u64 * 60));
    }
    let start = NaiveDate::from_ymd_opt(2001, 1, 1).ok_or_else(never)?;
    let mut previous_day: Option<i64> = None;
    let mut any_day = false;
    for offset in 0..(29 * 366) {
        let Some(date) = start.checked_add_days(chrono::Days::new(offset)) else {
            break;
        };
        let matches = cron.pattern.month_match(date.month()).map_err(invalid)?
            && cron
                .pattern
                .day_match(date.year(), date.month(), date.day())
                .map_err(invalid)?;
        if !matches {
            continue;
        }
        any_day = true;
        let day = offset as i64;
        if let Some(prev) = previous_day {
            longest = longest.max((day - prev) * 24 * 60 - last + first);
        }
        previous_day = Some(day);
    }
    if !any_day {
        return Err(never());
    }
    Ok(Duration::from_secs(longest as u64 * 60))
}

/// 16 bytes of SHA-256 over the cluster name: the first 8 pick minutes, the next 8 hours, so the two fields
/// spread independently.
fn name_hash(cluster: &str) -> [u64; 2] {
    let digest = Sha256::digest(cluster.as_bytes());
    let mut minute = [0u8; 8];
    let mut hour = [0u8; 8];
    minute.copy_from_slice(&digest[0..8]);
    hour.copy_from_slice(&digest[8..16]);
    [u64::from_be_bytes(minute), u64::from_be_bytes(hour)]
}

fn expand_field(
    schedule: &str,
    field: &str,
    name: &'static str,
    min: u32,
    max: u32,
    hash: u64,
) -> Result<String, ScheduleError> {
    if !has_hash(field) {
        return Ok(field.to_string());
    }
    let parts: Result<Vec<String>, ScheduleError> = field
        .split(',')
        .map(|token| {
            if token.contains('H') || token.contains('h') {
                expand_token(token, min, max, hash).map_err(|problem| ScheduleError::BadHash {
                    schedule: schedule.to_string(),
                    field: name,
                    token: token.to_string(),
                    problem,
                })
            } else {
                Ok(token.to_string())
            }
        })
        .collect();
    Ok(parts?.join(","))
}

/// One comma-separated item of a field that contains `H`.
fn expand_token(token: &str, min: u32, max: u32, hash: u64) -> Result<String, String> {
    let Some(rest) = token.strip_prefix('H') else {
        return Err("H must come first and be upper case".into());
    };
    let (range, rest) = if let Some(inner) = rest.strip_prefix('(') {
        let Some(close) = inner.find(')') else {
            return Err("missing closing parenthesis".into());
        };
        let (lo, hi) = inner[..close]
            .split_once('-')
            .ok_or("the range must be a-b")?;
        let lo: u32 = lo
            .trim()
            .parse()
            .map_err(|_| format!("{lo:?} is not a number"))?;
        let hi: u32 = hi
            .trim()
            .parse()
            .map_err(|_| format!("{hi:?} is not a number"))?;
        if lo > hi || lo < min || hi > max {
            return Err(format!(
                "the range must lie within {min}-{max}, low to high"
            ));
        }
        ((lo, hi), &inner[close + 1..])
    } else {
        ((min, max), rest)
    };
    let (lo, hi) = range;
    let span = u64::from(hi - lo + 1);
    if rest.is_empty() {
        return Ok((u64::from(lo) + hash % span).to_string());
    }
    let Some(step) = rest.strip_prefix('/') else {
        return Err(format!("unexpected {rest:?} after H"));
    };
    let step: u32 = step
        .parse()
        .map_err(|_| format!("the step {step:?} is not a number"))?;
    if step == 0 || u64::from(step) > span {
        return Err(format!("the step must be between 1 and {span}"));
    }
    let start = lo + (hash % u64::from(step)) as u32;
    Ok(format!("{start}-{hi}/{step}"))
}

/// Whether a field uses `H` (or a lower-case `h`, to reject it clearly), ignoring the H in `THU`.
fn has_hash(field: &str) -> bool {
    strip_names(field).contains('H')
}

/// The field, upper-cased, without month and weekday names.
fn strip_names(field: &str) -> String {
    let mut rest = field.to_ascii_uppercase();
    for name in [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", "SUN",
        "MON", "TUE", "WED", "THU", "FRI", "SAT",
    ] {
        rest = rest.replace(name, "");
    }
    rest
}

/// Rejects what croner accepts but Kubernetes' cron parser does not (L, W, #, stray letters).
fn check_supported(schedule: &str, field: &str) -> Result<(), ScheduleError> {
    match strip_names(field)
        .chars()
        .find(|c| !(c.is_ascii_digit() || "*,/-?".contains(*c)))
    {
        None => Ok(()),
        Some(c) => Err(ScheduleError::Unsupported {
            schedule: schedule.to_string(),
            what: format!("{c:?} in {field:?}"),
        }),
    }
}

fn nickname_to_fields(expanded: &str) -> String {
    match expanded.trim() {
        "@yearly" | "@annually" => "0 0 1 1 *".into(),
        "@monthly" => "0 0 1 * *".into(),
        "@weekly" => "0 0 * * 0".into(),
        "@daily" | "@midnight" => "0 0 * * *".into(),
        "@hourly" => "0 * * * *".into(),
        other => other.to_string(),
    }
}

fn parse(expanded: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(&nickname_to_fields(expanded))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_table() {
        // Hash-independent cases: the outcome does not depend on the cluster name.
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("0 * * * *", Ok("0 * * * *")),
            ("  */5   * * * *  ", Ok("*/5 * * * *")),
            ("30 2 * * MON-FRI", Ok("30 2 * * MON-FRI")),
            ("0 0 * * THU", Ok("0 0 * * THU")),
            ("0 0 ? * MON", Ok("0 0 ? * MON")),
            ("0 0 * MAR,AUG tue-thu", Ok("0 0 * MAR,AUG tue-thu")),
            ("@daily", Ok("@daily")),
            ("@HOURLY", Ok("@hourly")),
            ("", Err("is empty")),
            ("* * * *", Err("has 4 fields")),
            ("0 * * * * *", Err("has 6 fields")),
            ("TZ=UTC 0 * * * *", Err("time zone")),
            ("@every 5m", Err("do not support")),
            ("0 0 H * *", Err("H in the day-of-month field")),
            ("0 0 * * H", Err("H in the day-of-week field")),
            ("H/0 * * * *", Err("step must be between 1 and 60")),
            ("H/61 * * * *", Err("step must be between 1 and 60")),
            ("H(30-70) * * * *", Err("within 0-59")),
            ("H(9-3) * * * *", Err("within 0-59")),
            ("H(0-29 * * * *", Err("closing parenthesis")),
            ("H(a-b) * * * *", Err("not a number")),
            ("Hx * * * *", Err("unexpected")),
            ("h * * * *", Err("upper case")),
            ("0 0 L * *", Err("do not support")),
            ("0 0 * * 5#3", Err("do not support")),
            ("61 * * * *", Err("not a valid cron expression")),
            ("0 25 * * *", Err("not a valid cron expression")),
            ("0 0 32 * *", Err("not a valid cron expression")),
        ];
        for (input, want) in cases {
            let got = expand(input, "some-cluster");
            match (want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(g, w, "{input:?}"),
                (Err(w), Err(e)) => {
                    assert!(e.to_string().contains(w), "{input:?}: {e} lacks {w:?}")
                }
                _ => panic!("{input:?}: want {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn hash_forms_stay_in_their_ranges() {
        for i in 0..500 {
            let name = format!("cluster-{i}");
            let minute: u32 = expand("H * * * *", &name)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!(minute < 60);
            let hour: u32 = expand("0 H * * *", &name)
                .unwrap()
                .split(' ')
                .nth(1)
                .unwrap()
                .parse()
                .unwrap();
            assert!(hour < 24);
            let windowed: u32 = expand("H(0-29) * * * *", &name)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!(windowed <= 29);
            let stepped = expand("H(10-29)/10 H(1-5) * * *", &name).unwrap();
            let (range, step) = stepped.split(' ').next().unwrap().split_once('/').unwrap();
            assert_eq!(step, "10");
            let start: u32 = range.split_once('-').unwrap().0.parse().unwrap();
            assert!((10..20).contains(&start), "{stepped}");
            assert!(range.ends_with("-29"), "{stepped}");
            let hour: u32 = stepped.split(' ').nth(1).unwrap().parse().unwrap();
            assert!((1..=5).contains(&hour), "{stepped}");
        }
    }

    #[test]
    fn expansion_is_stable_and_per_cluster() {
        // Pinned: these must never change between releases, or every CronJob would be rewritten on upgrade.
        assert_eq!(
            expand("H H * * *", "prod-etcd").unwrap(),
            expand("H H * * *", "prod-etcd").unwrap()
        );
        insta::assert_yaml_snapshot!(["prod-etcd", "staging-etcd", "a", "tenant-42.events"]
            .iter()
            .map(|c| format!("{c}: {}", expand("H H/6 * * *", c).unwrap()))
            .collect::<Vec<_>>());
        let distinct: std::collections::BTreeSet<String> = (0..50)
            .map(|i| expand("H H * * *", &format!("c{i}")).unwrap())
            .collect();
        assert!(
            distinct.len() > 40,
            "names should spread, got {}",
            distinct.len()
        );
    }

    #[test]
    fn a_thousand_clusters_spread_over_the_minutes() {
        let mut per_minute = [0u32; 60];
        for i in 0..1000 {
            let expanded = expand("H/20 * * * *", &format!("tenant-{i}-etcd")).unwrap();
            let cron = parse(&expanded).unwrap();
            for (minute, count) in per_minute.iter_mut().enumerate() {
                if cron.pattern.minute_match(minute as u32).unwrap() {
                    *count += 1;
                }
            }
        }
        // Each cluster runs 3 times an hour: 3,000 runs over 60 minutes, 50 per minute on average.
        assert_eq!(per_minute.iter().sum::<u32>(), 3000);
        let mean = 50.0;
        let max = *per_minute.iter().max().unwrap() as f64;
        let min = *per_minute.iter().min().unwrap() as f64;
        assert!(
            max <= 2.0 * mean,
            "busiest minute holds {max} runs: {per_minute:?}"
        );
        assert!(
            min >= mean / 2.0,
            "quietest minute holds {min} runs: {per_minute:?}"
        );
    }

    #[test]
    fn max_interval_table() {
        let cases: &[(&str, u64)] = &[
            ("* * * * *", 1),
            ("*/20 * * * *", 20),
            ("7-59/20 * * * *", 20),
            ("5 * * * *", 60),
            ("0,10 * * * *", 50),
            ("0 */6 * * *", 6 * 60),
            ("30 2 * * *", 24 * 60),
            ("0 1,23 * * *", 22 * 60),
            ("0 0 * * 1-5", 3 * 24 * 60),
            ("0 0 * * 0", 7 * 24 * 60),
            ("@weekly", 7 * 24 * 60),
            ("@hourly", 60),
            ("0 0 31 * *", 61 * 24 * 60),
            ("0 0 1 1 *", 366 * 24 * 60),
        ];
        for (schedule, minutes) in cases {
            assert_eq!(
                max_interval(schedule).unwrap(),
                Duration::from_secs(minutes * 60),
                "{schedule}"
            );
        }
        // Feb 29 comes every 4 years (1461 days); 2100 is outside the scanned window.
        assert_eq!(
            max_interval("0 0 29 2 *").unwrap(),
            Duration::from_secs(1461 * 24 * 3600)
        );
        assert!(matches!(
            max_interval("0 0 30 2 *"),
            Err(ScheduleError::NeverRuns { .. })
        ));
        assert!(matches!(
            expand("H 0 31 2 *", "c"),
            Err(ScheduleError::NeverRuns { .. })
        ));
        assert!(matches!(
            max_interval("nonsense"),
            Err(ScheduleError::Invalid { .. })
        ));
    }

    #[test]
    fn docs_contract_examples_are_true() {
        // docs/CONTRACT.md §6 shows these expansions for a cluster named orders-etcd.
        let doc = include_str!("../docs/CONTRACT.md");
        for (input, output) in [
            ("H * * * *", "55 * * * *"),
            ("H/20 * * * *", "15-59/20 * * * *"),
            ("H(0-29) 2 * * *", "25 2 * * *"),
            ("H(0-29)/10 * * * *", "5-29/10 * * * *"),
            ("0 H * * *", "0 11 * * *"),
        ] {
            assert_eq!(expand(input, "orders-etcd").unwrap(), output);
            let line = format!("`{input}` → `{output}`");
            assert!(doc.contains(&line), "docs/CONTRACT.md lacks {line}");
        }
    }
}
