//! Flag values that must lie within bounds, as clap value parsers. A zero or absurd duration is refused
//! where it is given: `--resync 0s` or `--config-poll 0s` would spin, `--stale-upload-age 0s` would abort a
//! concurrent run's live upload, and a Lease name the apiserver refuses would only fail at the first
//! election. Each bound is wide enough for every real use (tests run the controller with 1-4 s periods).

use std::time::Duration;

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
const MINUTE: u64 = 60;
const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// A humantime duration between `min` and `max` inclusive; the error names the range.
fn within(s: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|_| format!("{s:?} is not a duration like 30s, 10m or 2h"))?;
    if d < min || d > max {
        return Err(format!(
            "{s:?} is outside {} to {}",
            humantime::format_duration(min),
            humantime::format_duration(max)
        ));
    }
    Ok(d)
}

/// `watch --resync`: 1s to 1 day.
pub fn resync(s: &str) -> Result<Duration, String> {
    within(s, secs(1), secs(DAY))
}

/// `watch --config-poll`: 1s to 1 hour.
pub fn config_poll(s: &str) -> Result<Duration, String> {
    within(s, secs(1), secs(HOUR))
}

/// `watch --lease-duration`: 2s (it renews every third) to 10 minutes.
pub fn lease_duration(s: &str) -> Result<Duration, String> {
    within(s, secs(2), secs(10 * MINUTE))
}

/// `store`/`prune --stale-upload-age`: at least a minute, so `0s` cannot take every concurrent upload for
/// a stale one (the default, 2h, is what protects a long one; the help says to keep it above the longest
/// upload); at most 30 days.
pub fn stale_upload_age(s: &str) -> Result<Duration, String> {
    within(s, secs(MINUTE), secs(30 * DAY))
}

/// `snapshot --dial-timeout` and `--s3-connect-timeout`: 100ms to 10 minutes.
pub fn connect_timeout(s: &str) -> Result<Duration, String> {
    within(s, Duration::from_millis(100), secs(10 * MINUTE))
}

/// `snapshot --timeout`, the limit of a whole run: 1ms (a test's way to fail at once) to 7 days.
pub fn run_timeout(s: &str) -> Result<Duration, String> {
    within(s, Duration::from_millis(1), secs(7 * DAY))
}

/// `--s3-request-timeout`: 1s to 1 day (one part on a slow link takes minutes).
pub fn request_timeout(s: &str) -> Result<Duration, String> {
    within(s, secs(1), secs(DAY))
}

/// `--s3-stall-timeout` and `s3-exporter --list-timeout`: 1s to 1 hour.
pub fn stall_timeout(s: &str) -> Result<Duration, String> {
    within(s, secs(1), secs(HOUR))
}

/// A Lease name: a DNS-1123 subdomain, as the apiserver requires.
pub fn lease_name(s: &str) -> Result<String, String> {
    match crate::naming::is_dns_subdomain(s) {
        true => Ok(s.to_string()),
        false => Err(format!(
            "{s:?} is not a Lease name (lower-case letters, digits, '-' and '.', at most 253)"
        )),
    }
}

/// A namespace: a DNS-1123 label.
pub fn namespace(s: &str) -> Result<String, String> {
    match crate::naming::is_dns_label(s) {
        true => Ok(s.to_string()),
        false => Err(format!(
            "{s:?} is not a namespace name (lower-case letters, digits and '-', at most 63)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_outside_their_bounds_are_refused() {
        type Parser = fn(&str) -> Result<Duration, String>;
        let table: [(&str, Parser, &[&str], &[&str]); 8] = [
            (
                "resync",
                resync,
                &["1s", "10m", "24h"],
                &["0s", "500ms", "25h"],
            ),
            ("config-poll", config_poll, &["1s", "10s"], &["0s", "2h"]),
            (
                "lease-duration",
                lease_duration,
                &["2s", "15s"],
                &["1s", "1h"],
            ),
            (
                "stale-upload-age",
                stale_upload_age,
                &["1m", "2h", "30d"],
                &["0s", "59s", "31d"],
            ),
            (
                "dial-timeout",
                connect_timeout,
                &["100ms", "5s"],
                &["0s", "1h"],
            ),
            ("timeout", run_timeout, &["1ms", "30m"], &["0s", "8d"]),
            ("request-timeout", request_timeout, &["10m"], &["0s", "2d"]),
            ("stall-timeout", stall_timeout, &["2s", "5m"], &["0s", "2h"]),
        ];
        for (flag, parse, good, bad) in table {
            for s in good {
                assert!(parse(s).is_ok(), "{flag} {s}: {:?}", parse(s));
            }
            for s in bad.iter().chain(&["", "soon", "-1s"]) {
                let e = parse(s).expect_err(&format!("{flag} {s} accepted"));
                assert!(e.contains(&format!("{s:?}")), "{flag}: {e}");
            }
        }
    }

    #[test]
    fn lease_names_and_namespaces_follow_dns_rules() {
        assert_eq!(lease_name("etcdbak.leader"), Ok("etcdbak.leader".into()));
        for bad in ["", "Etcdbak", "a_b", "-a", &"a".repeat(254)] {
            assert!(lease_name(bad).is_err(), "{bad}");
        }
        assert_eq!(namespace("etcdbak"), Ok("etcdbak".into()));
        for bad in ["", "a.b", "Kube", &"a".repeat(64)] {
            assert!(namespace(bad).is_err(), "{bad}");
        }
    }
}
