//! Where backups live in the bucket: `<prefix>/<cluster>/<object name>`.
//!
//! Two spellings of a prefix exist and each has its own name here: the *bare* prefix (no slashes at either
//! end, `""` for the bucket root), which is how a prefix is stored and compared, and the *root* prefix
//! (the bare one plus exactly one trailing slash, or `""`), which is what a listing of every cluster's
//! backups starts with.

use super::dns::validate_cluster_name;
use super::object::ObjectName;

/// The prefix without leading or trailing slashes (`""` means the bucket root).
pub fn bare_prefix(prefix: &str) -> &str {
    prefix.trim_matches('/')
}

/// Where every backup of every cluster lives: `<prefix>/` (or `""`, the bucket root). `"etcd"`, `"etcd/"`
/// and `"/etcd/"` all give `"etcd/"`.
pub fn root_prefix(prefix: &str) -> String {
    let p = bare_prefix(prefix);
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    }
}

/// Where one cluster's backups live: `<prefix>/<cluster>/`.
pub fn cluster_prefix(prefix: &str, cluster: &str) -> String {
    format!("{}{cluster}/", root_prefix(prefix))
}

/// The object key for a backup.
pub fn object_key(prefix: &str, cluster: &str, name: &ObjectName) -> String {
    format!("{}{name}", cluster_prefix(prefix, cluster))
}

/// What `etcdbak verify` appends to a sound backup's key for its verification record. The record sits
/// beside its backup, so the one listing retention already makes says which backups are verified, and its
/// name never parses as a backup.
pub const VERIFIED_SUFFIX: &str = ".verified";

/// The key of `backup_key`'s verification record.
pub fn verified_record_key(backup_key: &str) -> String {
    format!("{backup_key}{VERIFIED_SUFFIX}")
}

/// The backup a verification record speaks for, if `key` is a record of one of our backups under
/// `prefix`: its cluster and the backup's key.
pub fn verified_backup_of<'a>(prefix: &str, key: &'a str) -> Option<(String, &'a str)> {
    let backup = key.strip_suffix(VERIFIED_SUFFIX)?;
    let (cluster, _) = parse_key(prefix, backup)?;
    Some((cluster, backup))
}

/// Splits `<prefix>/<cluster>/<name>` into a valid cluster name and a parsed object name; `None` for
/// anything else (other prefixes, deeper paths, foreign names).
pub fn parse_key(prefix: &str, key: &str) -> Option<(String, ObjectName)> {
    let rest = key.strip_prefix(&root_prefix(prefix))?;
    let (cluster, name) = rest.split_once('/')?;
    validate_cluster_name(cluster).ok()?;
    let name = ObjectName::parse(name)?;
    Some((cluster.to_string(), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verification_record_names_its_backup_and_is_never_one() {
        let backup = "etcd/prod/20261125T103000.000Z-r42-0123abcd.db.zst";
        let record = verified_record_key(backup);
        assert_eq!(record, format!("{backup}.verified"));
        assert_eq!(parse_key("etcd", &record), None);
        assert_eq!(
            verified_backup_of("etcd", &record),
            Some(("prod".to_string(), backup))
        );
        for foreign in [
            backup,
            "etcd/prod/notes.txt.verified",
            "other/prod/20261125T103000.000Z-r42-0123abcd.db.verified",
            "etcd/prod/20261125T103000.000Z-r42-0123abcd.db.verified.verified",
        ] {
            assert_eq!(verified_backup_of("etcd", foreign), None, "{foreign}");
        }
    }

    #[test]
    fn prefixes_have_a_bare_and_a_root_spelling() {
        for (input, bare, root) in [
            ("", "", ""),
            ("/", "", ""),
            ("etcd", "etcd", "etcd/"),
            ("/etcd/", "etcd", "etcd/"),
            ("a/b", "a/b", "a/b/"),
            ("a/b//", "a/b", "a/b/"),
        ] {
            assert_eq!(bare_prefix(input), bare, "{input}");
            assert_eq!(root_prefix(input), root, "{input}");
        }
    }

    #[test]
    fn keys_are_prefix_cluster_name() {
        let name = ObjectName::parse("20261125T103000.123Z-r7-1a2b3c4d.db").expect("ours");
        let cases = [
            (
                "etcdbak",
                "etcdbak/prod/20261125T103000.123Z-r7-1a2b3c4d.db",
            ),
            (
                "/etcdbak/",
                "etcdbak/prod/20261125T103000.123Z-r7-1a2b3c4d.db",
            ),
            ("a/b", "a/b/prod/20261125T103000.123Z-r7-1a2b3c4d.db"),
            ("", "prod/20261125T103000.123Z-r7-1a2b3c4d.db"),
        ];
        for (prefix, want) in cases {
            let key = object_key(prefix, "prod", &name);
            assert_eq!(key, want);
            assert_eq!(
                parse_key(prefix, &key),
                Some(("prod".to_string(), name.clone()))
            );
        }
    }

    #[test]
    fn parse_key_refuses_what_is_not_a_backup() {
        let p = "etcdbak";
        let n = "20261125T103000.123Z-r7-1a2b3c4d.db";
        for key in [
            format!("other/prod/{n}"),
            format!("etcdbak/{n}"),
            format!("etcdbak/prod/sub/{n}"),
            format!("etcdbak/Prod/{n}"),
            format!("etcdbak//{n}"),
            "etcdbak/prod/notes.txt".to_string(),
            format!("etcdbakx/prod/{n}"),
        ] {
            assert_eq!(parse_key(p, &key), None, "{key} parsed as a backup");
        }
    }
}
