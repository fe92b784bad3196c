//! A segment's key: `<prefix>/<cluster>/segments/<first revision>-<last revision>-<UTC time><suffix>`,
//! e.g. `etcd/prod/segments/r1201-r1377-20261202T140000.000Z.seg.zst`. The name alone says which revisions
//! the segment holds and when it was closed, so a chain is built from one listing without reading any
//! object. Segments live one level below the cluster's backups, where no reader of full backups looks.

use chrono::{DateTime, Utc};

use super::{cluster_prefix, root_prefix, validate_cluster_name};
use crate::pipeline::Format;

/// The folder under a cluster's prefix that holds its segments.
pub const FOLDER: &str = "segments";
const TIME_FORMAT: &str = "%Y%m%dT%H%M%S%.3fZ";

/// What a segment's name says. Ordered by revision range, never by string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentName {
    pub first: i64,
    pub last: i64,
    pub closed_at: DateTime<Utc>,
    pub compressed: bool,
    pub encrypted: bool,
}

impl SegmentName {
    pub fn format(&self) -> Format {
        Format {
            compressed: self.compressed,
            encrypted: self.encrypted,
        }
    }

    fn suffix(&self) -> &'static str {
        match (self.compressed, self.encrypted) {
            (false, false) => ".seg",
            (true, false) => ".seg.zst",
            (false, true) => ".seg.age",
            (true, true) => ".seg.zst.age",
        }
    }

    /// Parses exactly this scheme; anything else is `None` and never read, chained or pruned as a segment.
    pub fn parse(name: &str) -> Option<SegmentName> {
        let (stem, compressed, encrypted) = [
            (".seg.zst.age", true, true),
            (".seg.zst", true, false),
            (".seg.age", false, true),
            (".seg", false, false),
        ]
        .into_iter()
        .find_map(|(s, c, e)| Some((name.strip_suffix(s)?, c, e)))?;
        let mut parts = stem.splitn(3, '-');
        let first = revision(parts.next()?)?;
        let last = revision(parts.next()?)?;
        let time = parts.next()?;
        let closed_at = chrono::NaiveDateTime::parse_from_str(time, TIME_FORMAT)
            .ok()?
            .and_utc();
        let name = SegmentName {
            first,
            last,
            closed_at,
            compressed,
            encrypted,
        };
        (first <= last && name.to_string() == format!("{stem}{}", name.suffix())).then_some(name)
    }
}

fn revision(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('r')?;
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !(digits.len() > 1 && digits.starts_with('0'));
    ok.then(|| digits.parse().ok()).flatten().filter(|&r| r > 0)
}

impl std::fmt::Display for SegmentName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "r{}-r{}-{}{}",
            self.first,
            self.last,
            self.closed_at.format(TIME_FORMAT),
            self.suffix()
        )
    }
}

/// Where one cluster's segments live: `<prefix>/<cluster>/segments/`.
pub fn segments_prefix(prefix: &str, cluster: &str) -> String {
    format!("{}{FOLDER}/", cluster_prefix(prefix, cluster))
}

pub fn segment_key(prefix: &str, cluster: &str, name: &SegmentName) -> String {
    format!("{}{name}", segments_prefix(prefix, cluster))
}

/// The cluster and segment a key names, if it is one of ours under `prefix`.
pub fn parse_segment_key(prefix: &str, key: &str) -> Option<(String, SegmentName)> {
    let rest = key.strip_prefix(&root_prefix(prefix))?;
    let (cluster, rest) = rest.split_once('/')?;
    validate_cluster_name(cluster).ok()?;
    let name = rest.strip_prefix(FOLDER)?.strip_prefix('/')?;
    Some((cluster.to_string(), SegmentName::parse(name)?))
}

/// The segments among one listing's `(key, size)` objects, with their cluster (of `cluster`, or of every
/// cluster).
pub fn in_listing(
    prefix: &str,
    objects: &[(String, u64)],
    cluster: Option<&str>,
) -> Vec<(String, SegmentName)> {
    objects
        .iter()
        .filter_map(|(key, _)| parse_segment_key(prefix, key))
        .filter(|(c, _)| cluster.is_none_or(|want| c == want))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn names_round_trip_for_every_format() {
        for (c, e) in [(false, false), (true, false), (false, true), (true, true)] {
            let name = SegmentName {
                first: 1201,
                last: 1377,
                closed_at: at("2026-12-02T14:00:00.250Z"),
                compressed: c,
                encrypted: e,
            };
            let key = segment_key("etcd/", "prod", &name);
            assert!(key.starts_with("etcd/prod/segments/r1201-r1377-20261202T140000.250Z.seg"));
            assert_eq!(parse_segment_key("etcd", &key), Some(("prod".into(), name)));
        }
    }

    #[test]
    fn foreign_and_malformed_names_are_not_segments() {
        for bad in [
            "etcd/prod/segments/r1201-r1377-20261202T140000.250Z.db",
            "etcd/prod/segments/r01-r2-20261202T140000.250Z.seg",
            "etcd/prod/segments/r3-r2-20261202T140000.250Z.seg",
            "etcd/prod/segments/r0-r2-20261202T140000.250Z.seg",
            "etcd/prod/segments/r1-r2-20261202T140000Z.seg",
            "etcd/prod/r1-r2-20261202T140000.250Z.seg",
            "etcd/Prod/segments/r1-r2-20261202T140000.250Z.seg",
            "other/prod/segments/r1-r2-20261202T140000.250Z.seg",
        ] {
            assert_eq!(parse_segment_key("etcd", bad), None, "{bad}");
        }
    }
}
