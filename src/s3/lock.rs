//! S3 Object Lock (WORM) as etcdbak uses it, pure: the mode and retention period `store` asks for, the
//! headers that ask for it, the retention period's spelling, and what the store's answers say about a
//! bucket's and an object's lock. The requests themselves are in `s3::versions`.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How strictly a locked object is held. Neither lets the store's own credentials delete a locked version:
/// governance can be lifted by a principal with `s3:BypassGovernanceRetention` (which etcdbak never
/// sends), compliance by nobody until the date passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Governance,
    Compliance,
}

impl LockMode {
    /// The value of `x-amz-object-lock-mode`.
    pub fn header(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }
}

impl std::fmt::Display for LockMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LockMode::Governance => "governance",
            LockMode::Compliance => "compliance",
        })
    }
}

impl std::str::FromStr for LockMode {
    type Err = String;

    /// `governance` or `compliance`, in any case (S3 spells them upper-case).
    fn from_str(s: &str) -> Result<LockMode, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "governance" => Ok(LockMode::Governance),
            "compliance" => Ok(LockMode::Compliance),
            _ => Err(format!(
                "{s:?} is not an Object Lock mode: use governance or compliance"
            )),
        }
    }
}

/// The lock `store` puts on every backup it writes: a mode and how long from the upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectLock {
    pub mode: LockMode,
    pub retain: Duration,
}

/// The longest retention period accepted: 100 years (S3's own bucket default allows 100 years too).
pub const MAX_RETAIN: Duration = Duration::from_secs(100 * 365 * 86400);

impl ObjectLock {
    /// The retain-until date of an object created at `now`, to the second (S3 keeps seconds).
    pub fn retain_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let secs = i64::try_from(self.retain.as_secs()).unwrap_or(i64::MAX);
        let until = chrono::TimeDelta::try_seconds(secs)
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        DateTime::from_timestamp(until.timestamp(), 0).unwrap_or(until)
    }

    /// Headers for the requests that create an object (a single PUT, or starting a multipart upload).
    pub fn create_headers(&self, now: DateTime<Utc>) -> Vec<(&'static str, String)> {
        vec![
            ("x-amz-object-lock-mode", self.mode.header().to_string()),
            (
                "x-amz-object-lock-retain-until-date",
                rfc3339(self.retain_until(now)),
            ),
        ]
    }
}

impl Hold {
    /// A lock that ends no earlier than this one's date, for an object written at `now` (a verification
    /// record locked as long as its backup); `None` without a mode or a date still ahead.
    pub fn as_lock_from(&self, now: DateTime<Utc>) -> Option<ObjectLock> {
        let (mode, until) = (self.mode?, self.until?);
        let ms = until.signed_duration_since(now).num_milliseconds();
        // Rounded up to the second, so the new lock never ends before the one it follows.
        let secs = u64::try_from(ms).ok().filter(|ms| *ms > 0)?.div_ceil(1000);
        Some(ObjectLock {
            mode,
            retain: Duration::from_secs(secs),
        })
    }
}

/// A date as S3 takes and gives it: RFC 3339 in UTC, to the second.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A retention period as the flags, the config and the Cluster spell it: days, hours, minutes and seconds
/// in that order (`30d`, `12h`, `1d12h`, `90s`), from one second to 100 years.
pub fn parse_retain(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "{s:?} is not a retention period like 30d, 12h or 1d12h (d, h, m, s, in that order)"
        )
    };
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let (mut total, mut last_rank) = (0u64, 0);
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let unit = rest[digits..].chars().next().ok_or_else(bad)?;
        let (rank, secs) = match unit {
            'd' => (1, 86400),
            'h' => (2, 3600),
            'm' => (3, 60),
            's' => (4, 1),
            _ => return Err(bad()),
        };
        if rank <= last_rank {
            return Err(bad());
        }
        last_rank = rank;
        total = n
            .checked_mul(secs)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        rest = &rest[digits + 1..];
    }
    let retain = Duration::from_secs(total);
    if retain.is_zero() || retain > MAX_RETAIN {
        return Err(format!(
            "the retention period {s:?} is outside 1s to 36500d"
        ));
    }
    Ok(retain)
}

/// What holds one object version back from deletion, as its HEAD says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hold {
    pub mode: Option<LockMode>,
    /// `x-amz-object-lock-retain-until-date`; `None` when the version has no retention.
    pub until: Option<DateTime<Utc>>,
    /// `x-amz-object-lock-legal-hold: ON`: held until someone lifts it, whatever the date.
    pub legal_hold: bool,
}

/// Why a version cannot be deleted at `now`, if it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
    Until(DateTime<Utc>),
    LegalHold,
}

impl std::fmt::Display for Locked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Locked::Until(t) => write!(f, "locked until {}", t.format("%Y-%m-%d %H:%M:%S UTC")),
            Locked::LegalHold => f.write_str("under legal hold"),
        }
    }
}

impl Hold {
    /// Reads the lock headers of a HEAD answer (header names lower-case). Unreadable dates count as no
    /// date, so a store's odd answer never blocks retention forever; S3 refuses the delete then anyway.
    pub fn from_headers<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Hold {
        let mut hold = Hold::default();
        for (name, value) in headers {
            match name {
                "x-amz-object-lock-mode" => hold.mode = value.parse().ok(),
                "x-amz-object-lock-retain-until-date" => {
                    hold.until = DateTime::parse_from_rfc3339(value.trim())
                        .ok()
                        .map(|t| t.with_timezone(&Utc));
                }
                "x-amz-object-lock-legal-hold" => {
                    hold.legal_hold = value.trim().eq_ignore_ascii_case("on");
                }
                _ => {}
            }
        }
        hold
    }

    /// Whether the version is still locked at `now`: a legal hold, or a retain-until date still ahead.
    pub fn locked_at(&self, now: DateTime<Utc>) -> Option<Locked> {
        if self.legal_hold {
            return Some(Locked::LegalHold);
        }
        self.until.filter(|t| *t > now).map(Locked::Until)
    }
}

/// The later of two reasons to stay (a legal hold outlasts any date).
pub fn later(a: Option<Locked>, b: Option<Locked>) -> Option<Locked> {
    match (a, b) {
        (Some(Locked::LegalHold), _) | (_, Some(Locked::LegalHold)) => Some(Locked::LegalHold),
        (Some(Locked::Until(x)), Some(Locked::Until(y))) => Some(Locked::Until(x.max(y))),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Whether a `GET ?object-lock` answer says Object Lock is enabled on the bucket.
pub fn bucket_lock_enabled(body: &str) -> bool {
    xml_text(body, "ObjectLockEnabled").is_some_and(|v| v == "Enabled")
}

/// Whether a `GET ?versioning` answer says versioning is on or suspended: either way the bucket keeps
/// versions a plain DELETE would leave behind.
pub fn versioning_on(body: &str) -> bool {
    xml_text(body, "Status").is_some_and(|v| v == "Enabled" || v == "Suspended")
}

/// One version (or delete marker) of a key, from a ListObjectVersions answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub key: String,
    pub version_id: String,
    pub delete_marker: bool,
}

/// The versions and delete markers of exactly `key` in a ListObjectVersions answer (a prefix listing
/// also holds longer keys, such as the backup's `.verified` record).
pub fn versions_of(body: &str, key: &str) -> Vec<Version> {
    let mut out = Vec::new();
    for (tag, delete_marker) in [("Version", false), ("DeleteMarker", true)] {
        for block in xml_blocks(body, tag) {
            let (Some(k), Some(id)) = (xml_text(block, "Key"), xml_text(block, "VersionId")) else {
                continue;
            };
            if k == key {
                out.push(Version {
                    key: k,
                    version_id: id,
                    delete_marker,
                });
            }
        }
    }
    out
}

/// Where the next page of a truncated ListObjectVersions answer starts: its key and version-id markers.
pub fn next_page(body: &str) -> Option<(String, String)> {
    if xml_text(body, "IsTruncated").is_none_or(|v| v != "true") {
        return None;
    }
    let key = xml_text(body, "NextKeyMarker")?;
    Some((
        key,
        xml_text(body, "NextVersionIdMarker").unwrap_or_default(),
    ))
}

/// The contents of every `<tag>…</tag>` in `body`.
fn xml_blocks<'a>(body: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        out.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    out
}

/// The text of the first `<tag>…</tag>`, XML entities decoded.
fn xml_text(body: &str, tag: &str) -> Option<String> {
    let text = xml_blocks(body, tag).into_iter().next()?.trim();
    Some(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn retention_periods_parse_in_order_within_bounds() {
        for (s, secs) in [
            ("30d", 30 * 86400),
            ("12h", 12 * 3600),
            ("1d12h", 86400 + 12 * 3600),
            ("90s", 90),
            ("3s", 3),
            (" 2m ", 120),
            ("36500d", 36500 * 86400),
        ] {
            assert_eq!(parse_retain(s), Ok(Duration::from_secs(secs)), "{s}");
        }
        for bad in [
            "", "0s", "0d", "30", "d", "12h1d", "1w", "1y", "36501d", "-1d", "1d1d",
        ] {
            assert!(parse_retain(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn modes_parse_the_way_users_and_s3_spell_them() {
        assert_eq!("governance".parse(), Ok(LockMode::Governance));
        assert_eq!("COMPLIANCE".parse(), Ok(LockMode::Compliance));
        assert!("legal"
            .parse::<LockMode>()
            .unwrap_err()
            .contains("governance or compliance"));
    }

    #[test]
    fn the_create_headers_carry_the_mode_and_the_date_to_the_second() {
        let lock = ObjectLock {
            mode: LockMode::Compliance,
            retain: Duration::from_secs(30 * 86400),
        };
        let now = at("2026-12-03T09:15:42.718Z");
        assert_eq!(
            lock.create_headers(now),
            vec![
                ("x-amz-object-lock-mode", "COMPLIANCE".to_string()),
                (
                    "x-amz-object-lock-retain-until-date",
                    "2027-01-02T09:15:42Z".to_string()
                ),
            ]
        );
    }

    #[test]
    fn a_hold_is_read_from_head_headers_and_judged_at_a_time() {
        let hold = Hold::from_headers([
            ("x-amz-object-lock-mode", "GOVERNANCE"),
            (
                "x-amz-object-lock-retain-until-date",
                "2026-12-03T10:00:00Z",
            ),
            ("x-amz-version-id", "v1"),
        ]);
        assert_eq!(hold.mode, Some(LockMode::Governance));
        let until = at("2026-12-03T10:00:00Z");
        assert_eq!(
            hold.locked_at(at("2026-12-03T09:59:59Z")),
            Some(Locked::Until(until))
        );
        assert_eq!(hold.locked_at(until), None, "expires at its date");
        assert_eq!(
            Locked::Until(until).to_string(),
            "locked until 2026-12-03 10:00:00 UTC"
        );
        let held = Hold::from_headers([("x-amz-object-lock-legal-hold", "ON")]);
        assert_eq!(held.locked_at(until), Some(Locked::LegalHold));
        assert_eq!(Hold::from_headers([]).locked_at(until), None);
        let odd = Hold::from_headers([("x-amz-object-lock-retain-until-date", "soon")]);
        assert_eq!(odd.locked_at(until), None);
    }

    #[test]
    fn the_later_reason_wins() {
        let (a, b) = (
            Locked::Until(at("2026-12-03T10:00:00Z")),
            Locked::Until(at("2026-12-04T10:00:00Z")),
        );
        assert_eq!(later(Some(a), Some(b)), Some(b));
        assert_eq!(later(Some(b), None), Some(b));
        assert_eq!(later(None, None), None);
        assert_eq!(
            later(Some(a), Some(Locked::LegalHold)),
            Some(Locked::LegalHold)
        );
    }

    #[test]
    fn bucket_lock_and_versioning_are_read_from_their_xml() {
        let on = r#"<?xml version="1.0" encoding="UTF-8"?><ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>"#;
        assert!(bucket_lock_enabled(on));
        assert!(!bucket_lock_enabled(
            "<ObjectLockConfiguration></ObjectLockConfiguration>"
        ));
        let versioning = |status: &str| {
            format!("<VersioningConfiguration><Status>{status}</Status></VersioningConfiguration>")
        };
        assert!(versioning_on(&versioning("Enabled")) && versioning_on(&versioning("Suspended")));
        assert!(!versioning_on("<VersioningConfiguration/>"));
    }

    #[test]
    fn versions_of_one_key_are_picked_from_a_prefix_listing() {
        let body = r#"<ListVersionsResult><IsTruncated>false</IsTruncated>
<Version><Key>p/c/a.db</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest></Version>
<Version><Key>p/c/a.db</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest></Version>
<Version><Key>p/c/a.db.verified</Key><VersionId>v9</VersionId></Version>
<DeleteMarker><Key>p/c/a.db</Key><VersionId>m1</VersionId></DeleteMarker>
</ListVersionsResult>"#;
        let v = versions_of(body, "p/c/a.db");
        let ids: Vec<(&str, bool)> = v
            .iter()
            .map(|v| (v.version_id.as_str(), v.delete_marker))
            .collect();
        assert_eq!(ids, [("v2", false), ("v1", false), ("m1", true)]);
        assert_eq!(next_page(body), None);
        let truncated = "<IsTruncated>true</IsTruncated><NextKeyMarker>p/c/a.db</NextKeyMarker><NextVersionIdMarker>v1</NextVersionIdMarker>";
        assert_eq!(next_page(truncated), Some(("p/c/a.db".into(), "v1".into())));
        let escaped = "<Version><Key>a&amp;b</Key><VersionId>x</VersionId></Version>";
        assert_eq!(versions_of(escaped, "a&b").len(), 1);
    }

    #[test]
    fn a_record_is_locked_no_shorter_than_its_backup() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T10:00:00.400Z")
            .expect("t")
            .with_timezone(&Utc);
        let until = DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        let hold = Hold {
            mode: Some(LockMode::Compliance),
            until: Some(until),
            legal_hold: false,
        };
        let lock = hold.as_lock_from(now).expect("locked");
        assert_eq!(lock.mode, LockMode::Compliance);
        assert!(lock.retain_until(now) >= until);
        assert!(lock.retain_until(now) <= until + chrono::Duration::seconds(1));
        assert_eq!(hold.as_lock_from(until), None, "expired");
        let no_mode = Hold { mode: None, ..hold };
        assert_eq!(no_mode.as_lock_from(now), None);
    }
}
