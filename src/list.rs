//! `etcdbak list`: the backups in the bucket as a table or JSON, newest first, each with the chain of
//! continuous-backup segments that carries it forward. Rendering is pure; the command line fetches and
//! prints.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use serde::Serialize;

use crate::backup::Backup;
use crate::continuous::chain::{self, Base, Reach};
use crate::exit::Class;
use crate::naming::segment::SegmentName;

/// A backup as `list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    #[serde(flatten)]
    pub backup: Backup,
    /// How far its chain of segments reaches; only for clusters with continuous backups (any segment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Reach>,
    /// Its S3 Object Lock, when the bucket has Object Lock and the object carries a retention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<Lock>,
}

/// An object's retention as `list` shows it: the mode and the date until which it cannot be deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lock {
    /// `governance` or `compliance`.
    pub mode: String,
    pub retain_until: DateTime<Utc>,
}

/// Sets each backup's lock from `locks` (by key); a key not in it stays without one.
pub fn with_locks(mut listed: Vec<Listed>, locks: &HashMap<String, Lock>) -> Vec<Listed> {
    for l in &mut listed {
        l.lock = locks.get(&l.backup.key).cloned();
    }
    listed
}

/// `governance until 2026-12-25 10:00`, with `(expired)` once the date has passed.
fn lock_cell(lock: &Lock, now: DateTime<Utc>) -> String {
    let mut text = format!(
        "{} until {}",
        lock.mode,
        lock.retain_until.format("%Y-%m-%d %H:%M")
    );
    if lock.retain_until <= now {
        text.push_str(" (expired)");
    }
    text
}

/// Each backup with its chain's reach among its own cluster's `segments` (`(cluster, segment)` pairs).
pub fn with_chains(backups: Vec<Backup>, segments: Vec<(String, SegmentName)>) -> Vec<Listed> {
    let mut by_cluster: HashMap<String, Vec<SegmentName>> = HashMap::new();
    for (cluster, s) in segments {
        by_cluster.entry(cluster).or_default().push(s);
    }
    let by_cluster: HashMap<String, Vec<SegmentName>> = by_cluster
        .into_iter()
        .map(|(c, v)| (c, chain::ordered(v)))
        .collect();
    backups
        .into_iter()
        .map(|b| {
            let chain = by_cluster
                .get(&b.cluster)
                .map(|segs| chain::reach(&Base::from(&b), segs));
            Listed {
                backup: b,
                chain,
                lock: None,
            }
        })
        .collect()
}

/// How `list` shows backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A table for people.
    Table,
    /// A JSON array for scripts; field names are stable.
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot render JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    pub fn class(&self) -> Class {
        match self {
            // Nothing the user typed can cause it: it is a bug or an exhausted machine, not a usage error.
            Error::Json(_) => Class::Failure,
        }
    }
}

/// What `list` prints on stdout for `backups` (non-empty for a table; see [`nothing_found`]).
pub fn render(backups: &[Listed], format: Format, now: DateTime<Utc>) -> Result<String, Error> {
    match format {
        Format::Json => Ok(serde_json::to_string_pretty(backups)?),
        Format::Table => Ok(render_table(backups, now).to_string()),
    }
}

/// The line a table listing prints on stderr when it found nothing.
pub fn nothing_found(cluster: Option<&str>, bucket: &str, root_prefix: &str) -> String {
    let scope = match cluster {
        Some(c) => format!("cluster \"{c}\""),
        None => "any cluster".into(),
    };
    format!("no backups of {scope} under s3://{bucket}/{root_prefix}")
}

/// The table `etcdbak list` prints (pure, so it is snapshot-tested). The CHAIN column appears when some
/// cluster in the listing has continuous backups, the LOCK column when some backup is locked.
pub fn render_table(listed: &[Listed], now: DateTime<Utc>) -> Table {
    let chains = listed.iter().any(|l| l.chain.is_some());
    let locks = listed.iter().any(|l| l.lock.is_some());
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec![
        "CLUSTER",
        "TAKEN AT (UTC)",
        "AGE",
        "REVISION",
        "SIZE",
        "PLAINTEXT",
        "ENCRYPTED",
        "VERIFIED",
    ];
    if chains {
        header.push("CHAIN");
    }
    if locks {
        header.push("LOCK");
    }
    header.push("KEY");
    table.set_header(header);
    for l in listed {
        let b = &l.backup;
        let mut row = vec![
            Cell::new(&b.cluster),
            Cell::new(b.taken_at.format("%Y-%m-%d %H:%M:%S")),
            Cell::new(age(now, b.taken_at)).set_alignment(CellAlignment::Right),
            Cell::new(b.revision).set_alignment(CellAlignment::Right),
            Cell::new(human_bytes(b.size_bytes)).set_alignment(CellAlignment::Right),
            Cell::new(b.plaintext_bytes.map_or_else(|| "?".into(), human_bytes))
                .set_alignment(CellAlignment::Right),
            Cell::new(if b.encrypted { "age" } else { "no" }),
            Cell::new(if b.verified { "yes" } else { "no" }),
        ];
        if chains {
            row.push(Cell::new(
                l.chain
                    .as_ref()
                    .map_or_else(String::new, |r| chain_cell(r, now)),
            ));
        }
        if locks {
            let cell = l
                .lock
                .as_ref()
                .map_or_else(String::new, |k| lock_cell(k, now));
            row.push(Cell::new(cell));
        }
        row.push(Cell::new(&b.key));
        table.add_row(row);
    }
    table
}

/// `to r5900 in 37 segments (12s ago)`, and the revisions missing where the chain stops short.
fn chain_cell(r: &Reach, now: DateTime<Utc>) -> String {
    let mut text = match r.at {
        None => "no segments".to_string(),
        Some(at) => format!(
            "to r{} in {} segment{} ({} ago)",
            r.revision,
            r.segments,
            if r.segments == 1 { "" } else { "s" },
            age(now, at)
        ),
    };
    if let Some(g) = r.gap_after {
        text.push_str(&format!(", GAP r{}..r{}", g.from, g.to));
    }
    text
}

/// `1.5 MiB`-style sizes.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The two largest units of an age: `45s`, `12m 5s`, `3h 20m`, `2d 4h`. A future time (clock skew) is `0s`.
pub fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = now.signed_duration_since(then).num_seconds().max(0);
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn sizes_are_human() {
        let cases = [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (354 * 1024 * 1024, "354.0 MiB"),
            (3 << 30, "3.0 GiB"),
        ];
        for (n, want) in cases {
            assert_eq!(human_bytes(n), want);
        }
    }

    #[test]
    fn ages_show_two_units() {
        let now = t("2026-11-25T12:00:00Z");
        let cases = [
            ("2026-11-25T12:00:00Z", "0s"),
            ("2026-11-25T12:00:05Z", "0s"),
            ("2026-11-25T11:59:15Z", "45s"),
            ("2026-11-25T11:47:55Z", "12m 5s"),
            ("2026-11-25T08:40:00Z", "3h 20m"),
            ("2026-11-23T08:00:00Z", "2d 4h"),
        ];
        for (then, want) in cases {
            assert_eq!(age(now, t(then)), want, "{then}");
        }
    }

    fn listed() -> Vec<Listed> {
        with_chains(backups(), Vec::new())
    }

    fn backups() -> Vec<Backup> {
        let mut v: Vec<Backup> = [
            (
                "etcdbak/prod/20261125T110000.000Z-r99999-aaaaaaaa.db",
                354 << 20,
            ),
            (
                "etcdbak/prod/20261125T113000.250Z-r100000-bbbbbbbb.db",
                355 << 20,
            ),
            (
                "etcdbak/staging/20261124T090000.000Z-r42-cccccccc.db",
                20480,
            ),
            (
                "etcdbak/staging/20261124T100000.000Z-r50-dddddddd.db.zst.age",
                4096,
            ),
            (
                "etcdbak/staging/20261124T110000.000Z-r60-eeeeeeee.db.zst",
                3072,
            ),
        ]
        .iter()
        .filter_map(|(k, s)| Backup::from_key("etcdbak", k, *s))
        .collect();
        // As `list` fills it in from the objects' metadata.
        for b in &mut v {
            if b.plaintext_bytes.is_none() && b.revision == 50 {
                b.plaintext_bytes = Some(20480);
            }
            // As `list` finds it from a verification record in the listing.
            b.verified = b.revision == 99999;
        }
        crate::backup::sort_newest_first(&mut v);
        v
    }

    #[test]
    fn table_lists_newest_first() {
        let table = render_table(&listed(), t("2026-11-25T12:00:00Z"));
        insta::assert_snapshot!(table.to_string());
    }

    fn segment(first: i64, last: i64, closed: &str) -> (String, SegmentName) {
        let closed_at = t(closed);
        let name = SegmentName {
            first,
            last,
            closed_at,
            compressed: true,
            encrypted: false,
        };
        ("prod".to_string(), name)
    }

    /// prod has continuous backups with a hole after r100400; staging has none.
    fn with_segments() -> Vec<Listed> {
        let segments = vec![
            segment(100001, 100200, "2026-11-25T11:30:20Z"),
            segment(100201, 100400, "2026-11-25T11:30:40Z"),
            segment(100601, 100700, "2026-11-25T11:59:40Z"),
        ];
        with_chains(backups(), segments)
    }

    #[test]
    fn chains_show_how_far_each_backup_reaches_and_where_they_break() {
        let listed = with_segments();
        let prod: Vec<_> = listed
            .iter()
            .filter(|l| l.backup.cluster == "prod")
            .collect();
        let reach = |i: usize| prod[i].chain.clone().expect("prod has segments");
        assert_eq!((reach(0).revision, reach(0).segments), (100400, 2));
        assert_eq!(
            reach(0).gap_after,
            Some(chain::Gap {
                from: 100401,
                to: 100600
            })
        );
        assert_eq!(
            (reach(1).revision, reach(1).segments),
            (99999, 0),
            "r99999's chain needs r100000, which no segment holds"
        );
        assert!(listed
            .iter()
            .filter(|l| l.backup.cluster == "staging")
            .all(|l| l.chain.is_none()));
        let table = render_table(&listed, t("2026-11-25T12:00:00Z"));
        insta::assert_snapshot!(table.to_string());
        insta::assert_snapshot!(serde_json::to_string_pretty(&listed[..2]).expect("json"));
    }

    #[test]
    fn an_empty_listing_names_where_it_looked() {
        assert_eq!(
            nothing_found(Some("prod"), "backups", "etcdbak/"),
            "no backups of cluster \"prod\" under s3://backups/etcdbak/"
        );
        assert_eq!(
            nothing_found(None, "b", ""),
            "no backups of any cluster under s3://b/"
        );
        assert_eq!(
            Error::Json(serde_json::from_str::<u8>("x").unwrap_err()).class(),
            Class::Failure
        );
    }

    #[test]
    fn json_field_names_are_stable() {
        insta::assert_snapshot!(serde_json::to_string_pretty(&listed()).expect("json"));
    }

    #[test]
    fn locks_show_their_mode_and_date_and_when_they_expired() {
        let lock = |mode: &str, until: &str| Lock {
            mode: mode.into(),
            retain_until: t(until),
        };
        let mut locks = HashMap::new();
        let keys: Vec<String> = listed().iter().map(|l| l.backup.key.clone()).collect();
        locks.insert(keys[0].clone(), lock("compliance", "2026-12-25T11:30:00Z"));
        locks.insert(keys[1].clone(), lock("governance", "2026-11-25T11:00:00Z"));
        let listed = with_locks(listed(), &locks);
        assert!(listed[2].lock.is_none());
        let table = render_table(&listed, t("2026-11-25T12:00:00Z"));
        insta::assert_snapshot!(table.to_string());
        insta::assert_snapshot!(serde_json::to_string_pretty(&listed[..2]).expect("json"));
        // Without any lock the table has no LOCK column (listings of unlocked buckets stay as they were).
        let plain = render_table(
            &with_locks(listed.clone(), &HashMap::new()),
            t("2026-11-25T12:00:00Z"),
        );
        assert!(!plain.to_string().contains("LOCK"));
    }
}
