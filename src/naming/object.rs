//! A backup's object name in the bucket: `<UTC time>-r<revision>-<sha prefix><suffix>`, which sorts by time
//! and describes itself. The suffix says what the object is (`.db`, `.db.zst`, `.db.age`, `.db.zst.age`, see
//! [`Format`]); objects from before the pipeline are `.db`.

use chrono::{DateTime, Utc};

pub use crate::pipeline::Format;

/// Length of the SHA-256 prefix in an object name: 32 bits is plenty to tell apart two snapshots taken in the
/// same millisecond, and short enough to read.
pub const SHA_PREFIX_LEN: usize = 8;
/// `20261125T103000.123Z`: fixed width, so a plain `ls` of one cluster's prefix is in time order.
const TIME_FORMAT: &str = "%Y%m%dT%H%M%S%.3fZ";

/// What an object name says about the backup it holds. Ordered by time, then revision (then the hash
/// prefix, only to make the order total): never by the string, whose order breaks when a revision gains a
/// digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectName {
    /// When the snapshot was taken, truncated to milliseconds.
    pub taken_at: DateTime<Utc>,
    /// The etcd store revision in the snapshot.
    pub revision: i64,
    /// The first [`SHA_PREFIX_LEN`] lower-case hex digits of the file's SHA-256.
    pub sha_prefix: String,
    /// What the object holds, from its suffix.
    pub format: Format,
}

impl Ord for ObjectName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let rank = |f: Format| (f.compressed, f.encrypted);
        (
            self.taken_at,
            self.revision,
            &self.sha_prefix,
            rank(self.format),
        )
            .cmp(&(
                other.taken_at,
                other.revision,
                &other.sha_prefix,
                rank(other.format),
            ))
    }
}

impl PartialOrd for ObjectName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl ObjectName {
    /// The same name for an object of another format.
    pub fn with_format(self, format: Format) -> ObjectName {
        ObjectName { format, ..self }
    }

    /// The name for a plain (`.db`) snapshot taken at `taken_at` at `revision`, whose file hashes to
    /// `sha256` (hex); [`ObjectName::with_format`] names its compressed or encrypted object.
    pub fn new(taken_at: DateTime<Utc>, revision: i64, sha256: &str) -> ObjectName {
        let millis = taken_at.timestamp_millis();
        let taken_at = DateTime::<Utc>::from_timestamp_millis(millis).unwrap_or(taken_at);
        let sha_prefix: String = sha256
            .chars()
            .take(SHA_PREFIX_LEN)
            .collect::<String>()
            .to_ascii_lowercase();
        ObjectName {
            taken_at,
            revision: revision.max(0),
            sha_prefix,
            format: Format::PLAIN,
        }
    }

    /// Parses a name of exactly our scheme; anything else (another tool's file, a name with extra text, a
    /// leading zero, an impossible date) is `None`, so it is never listed, pruned or downloaded as ours.
    pub fn parse(name: &str) -> Option<ObjectName> {
        let (stem, format) = Format::split_name(name)?;
        let mut fields = stem.split('-');
        let (time, rev, sha) = (fields.next()?, fields.next()?, fields.next()?);
        if fields.next().is_some() {
            return None;
        }
        // Fixed width: 8 date digits, T, 6 time digits, '.', 3 millisecond digits, Z.
        if time.len() != 20 || !time.is_ascii() {
            return None;
        }
        let taken_at = chrono::NaiveDateTime::parse_from_str(time, TIME_FORMAT)
            .ok()?
            .and_utc();
        let digits = rev.strip_prefix('r')?;
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || (digits.len() > 1 && digits.starts_with('0'))
        {
            return None;
        }
        let revision: i64 = digits.parse().ok()?;
        if sha.len() != SHA_PREFIX_LEN
            || !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return None;
        }
        let parsed = ObjectName {
            taken_at,
            revision,
            sha_prefix: sha.to_string(),
            format,
        };
        // The format is the definition: whatever does not print back identically is not ours.
        (parsed.to_string() == name).then_some(parsed)
    }
}

impl std::fmt::Display for ObjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-r{}-{}{}",
            self.taken_at.format(TIME_FORMAT),
            self.revision,
            self.sha_prefix,
            self.format.suffix()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test time")
            .with_timezone(&Utc)
    }

    #[test]
    fn names_a_snapshot_by_time_revision_and_hash() {
        let cases = [
            (
                "2026-11-25T10:30:00.123456Z",
                100000,
                "1A2B3C4D5e6f",
                "20261125T103000.123Z-r100000-1a2b3c4d.db",
            ),
            (
                "2026-01-02T03:04:05Z",
                1,
                "00000000ffff",
                "20260102T030405.000Z-r1-00000000.db",
            ),
            (
                "2026-01-02T03:04:05.999999Z",
                99999,
                "abcdef0123",
                "20260102T030405.999Z-r99999-abcdef01.db",
            ),
        ];
        for (time, rev, sha, want) in cases {
            let name = ObjectName::new(t(time), rev, sha);
            assert_eq!(name.to_string(), want);
            assert_eq!(
                ObjectName::parse(want),
                Some(name),
                "{want} does not round-trip"
            );
        }
    }

    #[test]
    fn parses_only_exactly_our_scheme() {
        let good = "20261125T103000.123Z-r100000-1a2b3c4d.db";
        assert!(ObjectName::parse(good).is_some());
        let foreign = [
            "",
            "snapshot.db",
            "README.md",
            "20261125T103000.123Z-r100000-1a2b3c4d",
            "20261125T103000.123Z-r100000-1a2b3c4d.db.part",
            "x20261125T103000.123Z-r100000-1a2b3c4d.db",
            "20261125T103000.123Z-r100000-1a2b3c4d-x.db",
            "20261125T103000Z-r100000-1a2b3c4d.db",
            "20261125T103000.12Z-r100000-1a2b3c4d.db",
            "20261125T103000.123-r100000-1a2b3c4d.db",
            "20261325T103000.123Z-r100000-1a2b3c4d.db",
            "20260230T103000.123Z-r100000-1a2b3c4d.db",
            "20261125T253000.123Z-r100000-1a2b3c4d.db",
            "20261125T103000.123Z-100000-1a2b3c4d.db",
            "20261125T103000.123Z-r0100000-1a2b3c4d.db",
            "20261125T103000.123Z-r-5-1a2b3c4d.db",
            "20261125T103000.123Z-r+5-1a2b3c4d.db",
            "20261125T103000.123Z-r-1a2b3c4d.db",
            "20261125T103000.123Z-r99999999999999999999-1a2b3c4d.db",
            "20261125T103000.123Z-r100000-1A2B3C4D.db",
            "20261125T103000.123Z-r100000-1a2b3c4.db",
            "20261125T103000.123Z-r100000-1a2b3c4d5.db",
            "20261125T103000.123Z-r100000-1a2b3g4d.db",
            "20261125t103000.123z-r100000-1a2b3c4d.db",
            "２0261125T103000.123Z-r100000-1a2b3c4d.db",
        ];
        for name in foreign {
            assert_eq!(ObjectName::parse(name), None, "{name:?} parsed as ours");
        }
        assert!(ObjectName::parse("20261125T103000.123Z-r0-1a2b3c4d.db").is_some());
    }

    #[test]
    fn parses_every_format_suffix_strictly() {
        let stem = "20261125T103000.123Z-r7-1a2b3c4d";
        for format in Format::ALL {
            let name = format!("{stem}{}", format.suffix());
            let parsed = ObjectName::parse(&name).expect("ours");
            assert_eq!(parsed.format, format, "{name}");
            assert_eq!(parsed.to_string(), name);
        }
        for bad in [
            ".db.age.zst",
            ".db.zstd",
            ".zst",
            ".db.gz",
            ".DB.ZST",
            ".db.zst.age.part",
        ] {
            let name = format!("{stem}{bad}");
            assert_eq!(ObjectName::parse(&name), None, "{name:?} parsed as ours");
        }
    }

    #[test]
    fn mixed_formats_order_by_time_and_revision() {
        let old_plain = ObjectName::parse("20261125T103000.000Z-r99999-aaaaaaaa.db").expect("ours");
        let new_zst =
            ObjectName::parse("20261125T103000.000Z-r100000-aaaaaaaa.db.zst").expect("ours");
        let newest_age =
            ObjectName::parse("20261125T103000.001Z-r5-aaaaaaaa.db.zst.age").expect("ours");
        assert!(old_plain < new_zst && new_zst < newest_age);
    }

    #[test]
    fn orders_by_parsed_time_and_revision_not_by_string() {
        // A string sort puts r100000 before r99999 ("1" < "9"); the parsed order must not.
        let older = ObjectName::parse("20261125T103000.000Z-r99999-aaaaaaaa.db").expect("ours");
        let newer = ObjectName::parse("20261125T103000.000Z-r100000-aaaaaaaa.db").expect("ours");
        assert!(older.to_string() > newer.to_string());
        assert!(older < newer);
        // Time wins over revision (a restored cluster may start again at a lower revision).
        let later_lower_rev =
            ObjectName::parse("20261125T103000.001Z-r5-aaaaaaaa.db").expect("ours");
        assert!(later_lower_rev > newer);
    }
}
