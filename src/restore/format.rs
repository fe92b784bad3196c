//! What kind of object a backup is, as its name says: the snapshot as etcd wrote it (`.db`), compressed
//! with zstd (`.db.zst`), encrypted to age recipients (`.db.age`), or both, compressed first
//! (`.db.zst.age`). The runbook's download step depends on it; nothing else in a restore does.

/// A backup object's format, from its name's suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupFormat {
    /// `.db`: the file `etcdctl snapshot save` writes, byte for byte (every backup before compression).
    Plain,
    /// `.db.zst`: that file compressed with zstd.
    Zstd,
    /// `.db.age`: that file encrypted in the age format to X25519 recipients.
    Age,
    /// `.db.zst.age`: compressed with zstd, then encrypted with age.
    ZstdAge,
}

impl BackupFormat {
    /// Longest suffix first, so `.db` never matches the end of `.db.zst`'s stem.
    const ALL: [BackupFormat; 4] = [
        BackupFormat::ZstdAge,
        BackupFormat::Zstd,
        BackupFormat::Age,
        BackupFormat::Plain,
    ];

    /// The object-name suffix, in pipeline order, as the `zstd` and `age` tools name their outputs.
    pub const fn suffix(self) -> &'static str {
        match self {
            BackupFormat::Plain => ".db",
            BackupFormat::Zstd => ".db.zst",
            BackupFormat::Age => ".db.age",
            BackupFormat::ZstdAge => ".db.zst.age",
        }
    }

    /// The format of the object at `key`, or `None` when its name ends in no backup suffix.
    pub fn of_key(key: &str) -> Option<BackupFormat> {
        Self::ALL.into_iter().find(|f| key.ends_with(f.suffix()))
    }

    pub const fn compressed(self) -> bool {
        matches!(self, BackupFormat::Zstd | BackupFormat::ZstdAge)
    }

    pub const fn encrypted(self) -> bool {
        matches!(self, BackupFormat::Age | BackupFormat::ZstdAge)
    }
}

#[cfg(test)]
mod tests {
    use super::BackupFormat::{self, *};

    #[test]
    fn the_suffix_names_the_format() {
        let table: [(&str, Option<BackupFormat>); 8] = [
            ("p/c/20261125T103000.123Z-r4711-0123abcd.db", Some(Plain)),
            ("p/c/20261125T103000.123Z-r4711-0123abcd.db.zst", Some(Zstd)),
            ("p/c/20261125T103000.123Z-r4711-0123abcd.db.age", Some(Age)),
            (
                "p/c/20261125T103000.123Z-r4711-0123abcd.db.zst.age",
                Some(ZstdAge),
            ),
            ("p/c/x.db.age.zst", None),
            ("p/c/x.zst", None),
            ("p/c/x.db.gz", None),
            ("p/c/x.DB", None),
        ];
        for (key, want) in table {
            assert_eq!(BackupFormat::of_key(key), want, "{key}");
        }
        for f in BackupFormat::ALL {
            assert_eq!(BackupFormat::of_key(&format!("a{}", f.suffix())), Some(f));
        }
    }

    #[test]
    fn compression_and_encryption_follow_the_suffix() {
        assert!(!Plain.compressed() && !Plain.encrypted());
        assert!(Zstd.compressed() && !Zstd.encrypted());
        assert!(!Age.compressed() && Age.encrypted());
        assert!(ZstdAge.compressed() && ZstdAge.encrypted());
    }
}
