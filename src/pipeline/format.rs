//! What a stored object is: its name suffix, its compression level and the `pipeline` string in its metadata.
//!
//! All pure and strict: a suffix or pipeline string that is not exactly one of the known forms is refused, so
//! an object etcdbak did not write is never mistaken for a backup.

use std::fmt;
use std::str::FromStr;

/// The zstd level used when none is given, chosen by measurement on a Kubernetes-shaped database
/// (docs/BENCHMARKS.md, "Compressible data"): level 1 compressed Pod-like data better than level 3 (4.79x
/// against 4.69x) and half again as fast (311 against 203 MB/s on one core), with less memory; on
/// incompressible data the levels tie.
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// Highest accepted level. Levels 20-22 ("ultra") need windows up to 128 MiB to decode, which breaks the
/// bounded-memory promise of `download` and of the standard `zstd -d` without `--memory`.
pub const MAX_ZSTD_LEVEL: i32 = 19;

/// How the plaintext is compressed before (optional) encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Zstd { level: i32 },
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Zstd {
            level: DEFAULT_ZSTD_LEVEL,
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::Zstd { level } => write!(f, "zstd:{level}"),
        }
    }
}

/// Why a compression setting was refused; the message names the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("compression {value:?} is not valid: expected none, zstd or zstd:LEVEL with LEVEL 1-{MAX_ZSTD_LEVEL}")]
pub struct BadCompression {
    pub value: String,
}

impl FromStr for Compression {
    type Err = BadCompression;

    /// `none`, `zstd` (the default level) or `zstd:LEVEL`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadCompression {
            value: s.to_string(),
        };
        match s {
            "none" => return Ok(Compression::None),
            "zstd" => return Ok(Compression::default()),
            _ => {}
        }
        let level = s.strip_prefix("zstd:").ok_or_else(bad)?;
        // Digits only: `i32::from_str` would also take "+3".
        if level.is_empty() || !level.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let level: i32 = level.parse().map_err(|_| bad())?;
        if !(1..=MAX_ZSTD_LEVEL).contains(&level) {
            return Err(bad());
        }
        Ok(Compression::Zstd { level })
    }
}

/// What kind of object a backup is, as its name says. The level is not part of it: it does not change how
/// the object is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Format {
    pub compressed: bool,
    pub encrypted: bool,
}

impl Format {
    /// The snapshot file as `etcdctl snapshot save` wrote it; every object before the pipeline existed.
    pub const PLAIN: Format = Format {
        compressed: false,
        encrypted: false,
    };
    pub const ZSTD: Format = Format {
        compressed: true,
        encrypted: false,
    };
    pub const AGE: Format = Format {
        compressed: false,
        encrypted: true,
    };
    pub const ZSTD_AGE: Format = Format {
        compressed: true,
        encrypted: true,
    };
    /// Longest suffix first, so [`Format::split_name`] never takes `.db` out of `.db.zst`.
    pub const ALL: [Format; 4] = [Format::ZSTD_AGE, Format::ZSTD, Format::AGE, Format::PLAIN];

    /// The object-name suffix, in pipeline order (compress, then encrypt), as the `zstd` and `age` tools name
    /// their outputs.
    pub const fn suffix(self) -> &'static str {
        match (self.compressed, self.encrypted) {
            (false, false) => ".db",
            (true, false) => ".db.zst",
            (false, true) => ".db.age",
            (true, true) => ".db.zst.age",
        }
    }

    /// The format whose suffix is exactly `suffix` (case-sensitive, no other spellings).
    pub fn from_suffix(suffix: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.suffix() == suffix)
    }

    /// Splits an object name into its stem and format: `a.db.zst` -> (`a`, ZSTD). `None` when the name ends in
    /// no known suffix or the stem is empty.
    pub fn split_name(name: &str) -> Option<(&str, Format)> {
        Format::ALL.into_iter().find_map(|f| {
            let stem = name.strip_suffix(f.suffix())?;
            (!stem.is_empty()).then_some((stem, f))
        })
    }
}

/// What was done to the plaintext: the `pipeline` metadata value (`none`, `zstd:3`, `age`, `zstd:3+age`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pipeline {
    pub compression: Compression,
    pub encrypted: bool,
}

impl Pipeline {
    pub const fn format(self) -> Format {
        Format {
            compressed: matches!(self.compression, Compression::Zstd { .. }),
            encrypted: self.encrypted,
        }
    }
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.compression, self.encrypted) {
            (Compression::None, false) => f.write_str("none"),
            (Compression::None, true) => f.write_str("age"),
            (c, false) => write!(f, "{c}"),
            (c, true) => write!(f, "{c}+age"),
        }
    }
}

impl FromStr for Pipeline {
    type Err = ();

    /// Exactly the strings [`Pipeline`]'s `Display` writes; `zstd` without a level is refused here because
    /// the recorded value always names it.
    fn from_str(s: &str) -> Result<Self, ()> {
        let (compression, encrypted) = match s {
            "none" => return Ok(Pipeline::new(Compression::None, false)),
            "age" => return Ok(Pipeline::new(Compression::None, true)),
            _ => match s.strip_suffix("+age") {
                Some(c) => (c, true),
                None => (s, false),
            },
        };
        if !compression.starts_with("zstd:") {
            return Err(());
        }
        let compression: Compression = compression.parse().map_err(|_| ())?;
        Ok(Pipeline::new(compression, encrypted))
    }
}

impl Pipeline {
    pub const fn new(compression: Compression, encrypted: bool) -> Pipeline {
        Pipeline {
            compression,
            encrypted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_parses_exactly_the_documented_forms() {
        let table: &[(&str, Option<Compression>)] = &[
            ("none", Some(Compression::None)),
            ("zstd", Some(Compression::default())),
            ("zstd:1", Some(Compression::Zstd { level: 1 })),
            ("zstd:19", Some(Compression::Zstd { level: 19 })),
            ("zstd:0", None),
            ("zstd:20", None),
            ("zstd:-1", None),
            ("zstd:+3", None),
            ("zstd:", None),
            ("zstd:3 ", None),
            ("ZSTD", None),
            ("gzip", None),
            ("", None),
        ];
        for (text, want) in table {
            assert_eq!(text.parse::<Compression>().ok(), *want, "{text:?}");
        }
    }

    #[test]
    fn compression_is_on_by_default_and_display_round_trips() {
        assert_eq!(
            Compression::default(),
            Compression::Zstd {
                level: DEFAULT_ZSTD_LEVEL
            }
        );
        for c in [Compression::None, Compression::Zstd { level: 7 }] {
            assert_eq!(c.to_string().parse::<Compression>(), Ok(c));
        }
    }

    #[test]
    fn a_bad_compression_names_the_value_and_the_accepted_forms() {
        let err = "zstd:99".parse::<Compression>().unwrap_err().to_string();
        assert!(
            err.contains("\"zstd:99\"") && err.contains("zstd:LEVEL"),
            "{err}"
        );
    }

    #[test]
    fn suffixes_are_strict_and_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::from_suffix(f.suffix()), Some(f));
        }
        for bad in [
            ".db.age.zst",
            ".DB",
            ".db.zstd",
            ".zst",
            ".db.gz",
            "",
            "db",
            ".db ",
        ] {
            assert_eq!(Format::from_suffix(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn split_name_takes_the_longest_known_suffix() {
        let table: &[(&str, Option<(&str, Format)>)] = &[
            ("a.db", Some(("a", Format::PLAIN))),
            ("a.db.zst", Some(("a", Format::ZSTD))),
            ("a.db.age", Some(("a", Format::AGE))),
            ("a.db.zst.age", Some(("a", Format::ZSTD_AGE))),
            (
                "x/20260101T000000Z-r5-abc.db.zst",
                Some(("x/20260101T000000Z-r5-abc", Format::ZSTD)),
            ),
            ("a.db.age.zst", None),
            (".db", None),
            (".db.zst", None),
            ("a.zst", None),
            ("a.db.zst.age.bak", None),
        ];
        for (name, want) in table {
            assert_eq!(Format::split_name(name), *want, "{name:?}");
        }
    }

    #[test]
    fn pipeline_strings_round_trip_and_match_their_format() {
        let table = [
            ("none", Format::PLAIN),
            ("zstd:3", Format::ZSTD),
            ("age", Format::AGE),
            ("zstd:3+age", Format::ZSTD_AGE),
            ("zstd:19+age", Format::ZSTD_AGE),
        ];
        for (text, format) in table {
            let p: Pipeline = text.parse().unwrap_or_else(|()| panic!("{text:?}"));
            assert_eq!(p.to_string(), text);
            assert_eq!(p.format(), format, "{text:?}");
        }
        for bad in [
            "",
            "zstd",
            "zstd+age",
            "age+zstd:3",
            "none+age",
            "zstd:0",
            "zstd:3+age+age",
            "gzip:3",
        ] {
            assert!(bad.parse::<Pipeline>().is_err(), "{bad:?}");
        }
    }
}
