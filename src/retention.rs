//! Retention as a pure decision: a list of keys in, the ones to delete out.
//!
//! Only keys that parse as one of this cluster's backups are candidates, so foreign files in the prefix (and
//! other clusters' backups) can never be chosen. Order is by the parsed time and revision, never by string.

use crate::backup::{parse_key, ObjectName};

/// How many backups to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Keep the newest N (N >= 1; `store` refuses 0).
    Newest(usize),
    /// Keep none: the cleanup Job deleting every backup of a removed cluster.
    Nothing,
}

/// What retention decided, as object keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// This cluster's backups that stay, newest first.
    pub keep: Vec<String>,
    /// This cluster's backups to delete, newest first.
    pub delete: Vec<String>,
}

/// Decides which of `cluster`'s backups to delete from a listing of keys under `prefix`.
///
/// `protect` is the key just uploaded: it is never deleted, even if a clock-skewed "newer" backup pushes it
/// out of the newest `keep` (then one extra backup stays rather than losing the one we know is good).
pub fn plan(
    prefix: &str,
    cluster: &str,
    keys: &[String],
    keep: Keep,
    protect: Option<&str>,
) -> Plan {
    let mut ours: Vec<(ObjectName, &String)> = keys
        .iter()
        .filter_map(|key| match parse_key(prefix, key) {
            Some((c, name)) if c == cluster => Some((name, key)),
            _ => None,
        })
        .collect();
    ours.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    ours.dedup_by(|a, b| a.1 == b.1);
    let keep_n = match keep {
        Keep::Newest(n) => n,
        Keep::Nothing => 0,
    };
    let mut plan = Plan::default();
    for (i, (_, key)) in ours.into_iter().enumerate() {
        if i < keep_n || protect == Some(key.as_str()) {
            plan.keep.push(key.clone());
        } else {
            plan.delete.push(key.clone());
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "etcdbak";

    fn k(cluster: &str, name: &str) -> String {
        format!("{P}/{cluster}/{name}")
    }

    const R99998: &str = "20261125T100000.000Z-r99998-aaaaaaaa.db";
    const R99999: &str = "20261125T110000.000Z-r99999-bbbbbbbb.db";
    const R100000: &str = "20261125T120000.000Z-r100000-cccccccc.db";
    const R100001: &str = "20261125T130000.000Z-r100001-dddddddd.db";
    const R100002: &str = "20261125T140000.000Z-r100002-eeeeeeee.db";

    fn five() -> Vec<String> {
        // Deliberately in string order, which is not time order once the revision gains a digit.
        let mut v: Vec<String> = [R99998, R99999, R100000, R100001, R100002]
            .iter()
            .map(|n| k("prod", n))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn keeps_the_newest_by_parsed_time_and_revision() {
        let p = plan(
            P,
            "prod",
            &five(),
            Keep::Newest(3),
            Some(&k("prod", R100002)),
        );
        assert_eq!(
            p.keep,
            [k("prod", R100002), k("prod", R100001), k("prod", R100000)]
        );
        assert_eq!(p.delete, [k("prod", R99999), k("prod", R99998)]);
    }

    #[test]
    fn table() {
        let foreign = [
            format!("{P}/prod/notes.txt"),
            format!("{P}/prod/snapshot.db"),
            format!("{P}/prod/{R99998}.bak"),
            format!("{P}/prod/sub/{R99998}"),
            format!("{P}/{R99998}"),
            format!("other/prod/{R99998}"),
            k("staging", R99998),
        ];
        let mut with_foreign = five();
        with_foreign.extend(foreign.iter().cloned());
        struct Case {
            what: &'static str,
            keys: Vec<String>,
            keep: Keep,
            protect: Option<String>,
            delete: Vec<String>,
        }
        let cases = [
            Case {
                what: "nothing to do under the limit",
                keys: five(),
                keep: Keep::Newest(20),
                protect: None,
                delete: vec![],
            },
            Case {
                what: "exactly at the limit",
                keys: five(),
                keep: Keep::Newest(5),
                protect: None,
                delete: vec![],
            },
            Case {
                what: "foreign keys and other clusters survive",
                keys: with_foreign.clone(),
                keep: Keep::Newest(1),
                protect: Some(k("prod", R100002)),
                delete: vec![
                    k("prod", R100001),
                    k("prod", R100000),
                    k("prod", R99999),
                    k("prod", R99998),
                ],
            },
            Case {
                what: "the just-uploaded key survives even when a skewed clock makes it look old",
                keys: five(),
                keep: Keep::Newest(2),
                protect: Some(k("prod", R99998)),
                delete: vec![k("prod", R100000), k("prod", R99999)],
            },
            Case {
                what: "--all deletes every backup of the cluster and nothing else",
                keys: with_foreign.clone(),
                keep: Keep::Nothing,
                protect: None,
                delete: vec![
                    k("prod", R100002),
                    k("prod", R100001),
                    k("prod", R100000),
                    k("prod", R99999),
                    k("prod", R99998),
                ],
            },
            Case {
                what: "an empty listing",
                keys: vec![],
                keep: Keep::Newest(3),
                protect: None,
                delete: vec![],
            },
            Case {
                what: "duplicate keys in a listing are one backup",
                keys: vec![k("prod", R99998), k("prod", R99998), k("prod", R99999)],
                keep: Keep::Newest(1),
                protect: None,
                delete: vec![k("prod", R99998)],
            },
        ];
        for c in cases {
            let p = plan(P, "prod", &c.keys, c.keep, c.protect.as_deref());
            assert_eq!(p.delete, c.delete, "{}", c.what);
            for f in &foreign {
                assert!(!p.delete.contains(f), "{}: deleted foreign {f}", c.what);
            }
            if let Some(protect) = &c.protect {
                assert!(
                    !p.delete.contains(protect),
                    "{}: deleted the new one",
                    c.what
                );
            }
        }
    }
}
