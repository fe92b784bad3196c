//! Tiered retention (grandfather-father-son, as restic and rustic do it) and the floor under it.
//!
//! Backups are walked newest first. `keep-last N` keeps the N newest; `keep-hourly/daily/weekly/monthly N`
//! keep the newest backup of each of the N most recent hours, days, ISO weeks or months that have one
//! (buckets by the backup's parsed UTC time, never by the clock of the machine running retention);
//! `keep-within` keeps everything taken within that span of the newest backup, as restic measures it, so a
//! cluster whose backups stopped does not lose them to the passing of time. Then the floor, which no policy
//! crosses: the backup just uploaded stays, the newest verified backup stays, and at least `keep-min` (never
//! fewer than one) backups stay.

use chrono::{DateTime, Datelike, Months, TimeDelta, Timelike, Utc};

use crate::naming::ObjectName;

/// A span for `keep-within`, in calendar units as restic takes it (`1y2m3d4h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Within {
    pub years: u32,
    pub months: u32,
    pub days: u32,
    pub hours: u32,
}

impl Within {
    /// The earliest time still within the span before `newest`.
    fn since(&self, newest: DateTime<Utc>) -> DateTime<Utc> {
        let months = Months::new(self.years.saturating_mul(12).saturating_add(self.months));
        let t = newest
            .checked_sub_months(months)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let span = TimeDelta::try_days(i64::from(self.days))
            .and_then(|d| d.checked_add(&TimeDelta::try_hours(i64::from(self.hours))?));
        span.and_then(|s| t.checked_sub_signed(s))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    pub fn is_zero(&self) -> bool {
        *self == Within::default()
    }
}

impl std::fmt::Display for Within {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts = [
            (self.years, 'y'),
            (self.months, 'm'),
            (self.days, 'd'),
            (self.hours, 'h'),
        ];
        let mut any = false;
        for (n, unit) in parts.into_iter().filter(|(n, _)| *n > 0) {
            write!(f, "{n}{unit}")?;
            any = true;
        }
        if !any {
            f.write_str("0h")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Within {
    type Err = String;

    /// `1y2m3d4h`, any subset in that order (`7d`, `36h`, `1y`).
    fn from_str(s: &str) -> Result<Within, String> {
        let bad = || format!("{s:?} is not a span like 7d, 36h or 1y2m3d4h");
        let mut w = Within::default();
        let mut rest = s.trim();
        let mut last = 0;
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
            let n: u32 = rest[..digits].parse().map_err(|_| bad())?;
            let unit = rest[digits..].chars().next().ok_or_else(bad)?;
            let (rank, field) = match unit {
                'y' => (1, &mut w.years),
                'm' => (2, &mut w.months),
                'd' => (3, &mut w.days),
                'h' => (4, &mut w.hours),
                _ => return Err(bad()),
            };
            if rank <= last {
                return Err(bad());
            }
            (last, *field) = (rank, n);
            rest = &rest[digits + 1..];
        }
        Ok(w)
    }
}

/// Which backups to keep. `Policy::default()` is today's "keep the newest 20".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Policy {
    pub last: u32,
    pub hourly: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub within: Within,
    /// Never leave fewer backups than this (at least one is always left).
    pub min: u32,
}

/// The newest N: the default policy.
pub const DEFAULT_KEEP: u32 = 20;

impl Default for Policy {
    fn default() -> Self {
        Policy::newest(DEFAULT_KEEP)
    }
}

impl Policy {
    /// Keep the newest `n`, nothing else.
    pub fn newest(n: u32) -> Policy {
        Policy {
            last: n,
            hourly: 0,
            daily: 0,
            weekly: 0,
            monthly: 0,
            within: Within::default(),
            min: 1,
        }
    }

    /// A policy must keep something by its own rules: one that keeps nothing is a typo, not a wish (the
    /// cleanup Job deletes every backup with `--all`, not with an empty policy).
    pub fn validate(&self) -> Result<(), String> {
        let rules = [
            self.last,
            self.hourly,
            self.daily,
            self.weekly,
            self.monthly,
        ];
        if rules.iter().all(|n| *n == 0) && self.within.is_zero() {
            return Err("the retention policy keeps nothing: set keep-last, keep-hourly, keep-daily, keep-weekly, keep-monthly or keep-within".into());
        }
        Ok(())
    }
}

/// The rules that are on, as the flags spell them (`keep-last 2, keep-daily 3, keep-min 1`), for logs.
impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts = [
            ("keep-last", self.last),
            ("keep-hourly", self.hourly),
            ("keep-daily", self.daily),
            ("keep-weekly", self.weekly),
            ("keep-monthly", self.monthly),
        ];
        let mut parts: Vec<String> = counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(rule, n)| format!("{rule} {n}"))
            .collect();
        if !self.within.is_zero() {
            parts.push(format!("keep-within {}", self.within));
        }
        parts.push(format!("keep-min {}", self.min.max(1)));
        f.write_str(&parts.join(", "))
    }
}

/// Why a backup is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeepReason {
    Last,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Within,
    /// The backup this run just uploaded (it is kept even when a skewed clock makes it look old).
    JustUploaded,
    NewestVerified,
    /// Kept only so that `keep-min` backups remain.
    Minimum,
    /// S3 Object Lock holds it until then: no rule can delete it yet.
    LockedUntil(DateTime<Utc>),
    /// An S3 legal hold keeps it until someone lifts the hold.
    LegalHold,
}

impl std::fmt::Display for KeepReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let KeepReason::LockedUntil(t) = self {
            return write!(f, "locked until {}", t.format("%Y-%m-%d %H:%M:%S UTC"));
        }
        f.write_str(match self {
            KeepReason::Last => "last",
            KeepReason::Hourly => "hourly",
            KeepReason::Daily => "daily",
            KeepReason::Weekly => "weekly",
            KeepReason::Monthly => "monthly",
            KeepReason::Within => "within",
            KeepReason::JustUploaded => "just uploaded",
            KeepReason::NewestVerified => "newest verified",
            KeepReason::Minimum => "keep-min",
            KeepReason::LockedUntil(_) => "locked",
            KeepReason::LegalHold => "legal hold",
        })
    }
}

/// One backup of one cluster, as retention sees it: a listed key and the object name parsed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedKey {
    pub key: String,
    pub name: ObjectName,
}

/// What the floor protects, from the caller: the backup just uploaded, and which backups passed
/// verification.
#[derive(Debug, Clone, Default)]
pub struct Floor<'a> {
    pub just_uploaded: Option<&'a str>,
    pub verified: &'a [String],
}

/// A bucket: (year, month or ISO week, day, hour), or a backup's position for `keep-last`.
type Bucket = (i32, u32, u32, u32);

/// A rule that keeps the newest backup in each of its `count` most recent buckets.
struct Bucketed {
    reason: KeepReason,
    left: u32,
    last: Option<Bucket>,
    bucket: fn(&DateTime<Utc>, usize) -> Bucket,
}

fn bucket_rules(p: &Policy) -> Vec<Bucketed> {
    let rule = |reason, left, bucket| Bucketed {
        reason,
        left,
        last: None,
        bucket,
    };
    vec![
        // Every backup is its own bucket: the newest `last`.
        rule(KeepReason::Last, p.last, |_, i| (0, 0, 0, i as u32)),
        rule(KeepReason::Hourly, p.hourly, |t, _| {
            (t.year(), t.month(), t.day(), t.hour())
        }),
        rule(KeepReason::Daily, p.daily, |t, _| {
            (t.year(), t.month(), t.day(), 0)
        }),
        rule(KeepReason::Weekly, p.weekly, |t, _| {
            let w = t.iso_week();
            (w.year(), w.week(), 0, 0)
        }),
        rule(KeepReason::Monthly, p.monthly, |t, _| {
            (t.year(), t.month(), 0, 0)
        }),
    ]
}

/// Sorts newest first by parsed time and revision (then key, so the order is total) and drops duplicates.
pub(crate) fn newest_first(backups: &[ListedKey]) -> Vec<ListedKey> {
    let mut v = backups.to_vec();
    v.sort_by(|a, b| b.name.cmp(&a.name).then_with(|| a.key.cmp(&b.key)));
    v.dedup_by(|a, b| a.key == b.key);
    v
}

/// Decides, for each backup (newest first), why it is kept; an empty list means it is deleted.
pub fn apply(
    policy: &Policy,
    backups: &[ListedKey],
    floor: &Floor<'_>,
) -> Vec<(ListedKey, Vec<KeepReason>)> {
    let sorted = newest_first(backups);
    let mut rules = bucket_rules(policy);
    let since = sorted.first().map(|b| policy.within.since(b.name.taken_at));
    let mut out: Vec<(ListedKey, Vec<KeepReason>)> = Vec::with_capacity(sorted.len());
    for (i, b) in sorted.into_iter().enumerate() {
        let mut reasons = vec![];
        for r in rules.iter_mut().filter(|r| r.left > 0) {
            let bucket = (r.bucket)(&b.name.taken_at, i);
            if r.last != Some(bucket) {
                r.last = Some(bucket);
                r.left -= 1;
                reasons.push(r.reason);
            }
        }
        if !policy.within.is_zero() && since.is_some_and(|s| b.name.taken_at >= s) {
            reasons.push(KeepReason::Within);
        }
        out.push((b, reasons));
    }
    apply_floor(policy, floor, &mut out);
    out
}

fn apply_floor(policy: &Policy, floor: &Floor<'_>, out: &mut [(ListedKey, Vec<KeepReason>)]) {
    if let Some(key) = floor.just_uploaded {
        if let Some((_, r)) = out.iter_mut().find(|(b, _)| b.key == key) {
            r.push(KeepReason::JustUploaded);
        }
    }
    if let Some((_, r)) = out
        .iter_mut()
        .find(|(b, _)| floor.verified.contains(&b.key))
    {
        r.push(KeepReason::NewestVerified);
    }
    let min = policy.min.max(1) as usize;
    let mut kept = out.iter().filter(|(_, r)| !r.is_empty()).count();
    for (_, r) in out.iter_mut() {
        if kept >= min {
            break;
        }
        if r.is_empty() {
            r.push(KeepReason::Minimum);
            kept += 1;
        }
    }
}
