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
    let p = plan_deletions(
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

fn foreign() -> Vec<String> {
    vec![
        format!("{P}/prod/notes.txt"),
        format!("{P}/prod/snapshot.db"),
        format!("{P}/prod/{R99998}.bak"),
        format!("{P}/prod/sub/{R99998}"),
        format!("{P}/{R99998}"),
        format!("other/prod/{R99998}"),
        k("staging", R99998),
    ]
}

fn with_foreign() -> Vec<String> {
    let mut v = five();
    v.extend(foreign());
    v
}

struct Case {
    what: &'static str,
    keys: Vec<String>,
    keep: Keep,
    protect: Option<String>,
    delete: Vec<String>,
}

fn limit_cases() -> Vec<Case> {
    vec![
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
            keys: with_foreign(),
            keep: Keep::Newest(1),
            protect: Some(k("prod", R100002)),
            delete: vec![
                k("prod", R100001),
                k("prod", R100000),
                k("prod", R99999),
                k("prod", R99998),
            ],
        },
    ]
}

fn floor_cases() -> Vec<Case> {
    vec![
        Case {
            what: "the just-uploaded key survives even when a skewed clock makes it look old",
            keys: five(),
            keep: Keep::Newest(2),
            protect: Some(k("prod", R99998)),
            delete: vec![k("prod", R100000), k("prod", R99999)],
        },
        Case {
            what: "--all deletes every backup of the cluster and nothing else",
            keys: with_foreign(),
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
    ]
}

#[test]
fn table() {
    let foreign = foreign();
    let cases = limit_cases().into_iter().chain(floor_cases());
    for c in cases {
        let p = plan_deletions(P, "prod", &c.keys, c.keep, c.protect.as_deref());
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

/// A backup of `prod` taken at `t` (`2026-11-25T13:00`), revision `rev`.
fn at(t: &str, rev: i64) -> ListedKey {
    let taken_at = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M")
        .expect("test time")
        .and_utc();
    let name = crate::naming::ObjectName {
        taken_at,
        revision: rev,
        sha_prefix: format!("{rev:08x}"),
        // Mixed formats: old `.db` and new `.db.zst` objects in one bucket.
        format: if rev % 2 == 0 {
            crate::pipeline::Format::PLAIN
        } else {
            crate::pipeline::Format::ZSTD
        },
    };
    ListedKey {
        key: crate::naming::object_key(P, "prod", &name),
        name,
    }
}

/// The revisions kept, newest first, each with its reasons.
fn kept(policy: &Policy, backups: &[ListedKey], floor: &Floor<'_>) -> Vec<(i64, Vec<KeepReason>)> {
    apply(policy, backups, floor)
        .into_iter()
        .filter(|(_, r)| !r.is_empty())
        .map(|(b, r)| (b.name.revision, r))
        .collect()
}

fn hourly_for_days(days: u32) -> Vec<ListedKey> {
    (0..days * 24)
        .map(|h| {
            let t = format!("2026-11-{:02}T{:02}:00", 1 + h / 24, h % 24);
            at(&t, i64::from(h) + 1)
        })
        .collect()
}

#[test]
fn grandfather_father_son_keeps_the_newest_of_each_bucket() {
    use KeepReason::*;
    // 2026-11-01 is a Sunday; 10 days of hourly backups, revisions 1..=240.
    let backups = hourly_for_days(10);
    let policy = Policy {
        last: 2,
        hourly: 3,
        daily: 3,
        weekly: 2,
        monthly: 2,
        ..Policy::newest(0)
    };
    let k = kept(&policy, &backups, &Floor::default());
    assert_eq!(
        k,
        vec![
            (240, vec![Last, Hourly, Daily, Weekly, Monthly]),
            (239, vec![Last, Hourly]),
            (238, vec![Hourly]),
            (216, vec![Daily]),
            // Sunday 2026-11-08 23:00 is the newest of ISO week 45; November is the only month.
            (192, vec![Daily, Weekly]),
        ]
    );
}

#[test]
fn monthly_and_weekly_buckets_follow_the_calendar() {
    use KeepReason::*;
    let backups = [
        at("2025-12-31T23:00", 1),
        at("2026-01-01T00:00", 2),
        at("2026-11-28T10:00", 3), // Saturday, ISO week 48
        at("2026-11-29T10:00", 4), // Sunday, still week 48
        at("2026-11-30T10:00", 5), // Monday, week 49
    ];
    let weekly = Policy {
        weekly: 3,
        ..Policy::newest(0)
    };
    assert_eq!(
        kept(&weekly, &backups, &Floor::default()),
        vec![(5, vec![Weekly]), (4, vec![Weekly]), (2, vec![Weekly])],
        "2025-12-31 and 2026-01-01 are both in ISO week 1 of 2026"
    );
    let monthly = Policy {
        monthly: 3,
        ..Policy::newest(0)
    };
    assert_eq!(
        kept(&monthly, &backups, &Floor::default()),
        vec![(5, vec![Monthly]), (2, vec![Monthly]), (1, vec![Monthly])]
    );
}

#[test]
fn keep_within_is_measured_from_the_newest_backup_not_the_clock() {
    let backups = hourly_for_days(10);
    let policy = Policy {
        within: "1d6h".parse().expect("span"),
        ..Policy::newest(0)
    };
    let k = kept(&policy, &backups, &Floor::default());
    // Newest at 11-10 23:00: everything from 11-09 17:00 on, 31 backups.
    assert_eq!(k.len(), 31);
    assert_eq!(k.last().map(|(r, _)| *r), Some(240 - 30));
}

#[test]
fn the_floor_holds_whatever_the_policy_says() {
    use KeepReason::*;
    let backups = hourly_for_days(1);
    let verified = vec![backups[3].key.clone(), backups[1].key.clone()];
    let floor = Floor {
        just_uploaded: Some(&backups[0].key),
        verified: &verified,
    };
    let policy = Policy {
        last: 1,
        min: 4,
        ..Policy::newest(0)
    };
    assert_eq!(
        kept(&policy, &backups, &floor),
        vec![
            (24, vec![Last]),
            // The floor's own keeps count towards keep-min: one more makes four.
            (23, vec![Minimum]),
            (4, vec![NewestVerified]),
            (1, vec![JustUploaded]),
        ]
    );
    // keep-min 0 still leaves one backup.
    let none = Policy {
        min: 0,
        ..Policy::newest(0)
    };
    assert_eq!(
        kept(&none, &backups, &Floor::default()),
        vec![(24, vec![Minimum])]
    );
}

#[test]
fn an_empty_policy_is_refused() {
    assert!(Policy::newest(0).validate().is_err());
    assert!(Policy::default().validate().is_ok());
    assert_eq!(Policy::default().last, 20);
    let within = Policy {
        within: "2d".parse().expect("span"),
        ..Policy::newest(0)
    };
    assert!(within.validate().is_ok());
}

#[test]
fn spans_parse_as_restic_writes_them() {
    let ok = [
        ("7d", (0, 0, 7, 0), "7d"),
        ("36h", (0, 0, 0, 36), "36h"),
        ("1y2m3d4h", (1, 2, 3, 4), "1y2m3d4h"),
        ("1y4h", (1, 0, 0, 4), "1y4h"),
    ];
    for (s, (years, months, days, hours), shown) in ok {
        let w: Within = s.parse().expect(s);
        assert_eq!(
            w,
            Within {
                years,
                months,
                days,
                hours
            },
            "{s}"
        );
        assert_eq!(w.to_string(), shown);
    }
    for bad in ["", "7", "d", "3d1y", "1w", "1d1d", "-1d", "1.5d"] {
        assert!(bad.parse::<Within>().is_err(), "{bad:?} accepted");
    }
}

#[test]
fn tiered_plan_keeps_foreign_keys_out() {
    let mut keys = with_foreign();
    keys.sort();
    let policy = Policy {
        daily: 1,
        ..Policy::newest(0)
    };
    let p = plan_deletions(P, "prod", &keys, Keep::Tiered(policy), None);
    assert_eq!(p.keep, [k("prod", R100002)]);
    assert_eq!(p.delete.len(), 4);
    assert!(p.delete.iter().all(|d| !foreign().contains(d)));
}

#[test]
fn a_policy_and_a_deletion_are_described_as_the_flags_spell_them() {
    let p = Policy {
        last: 2,
        daily: 3,
        within: "7d".parse().expect("span"),
        ..Policy::newest(0)
    };
    assert_eq!(
        p.to_string(),
        "keep-last 2, keep-daily 3, keep-within 7d, keep-min 1"
    );
    assert_eq!(
        crate::retention::why_deleted(&Keep::Tiered(p)),
        "kept by no rule of keep-last 2, keep-daily 3, keep-within 7d, keep-min 1"
    );
    assert_eq!(Policy::newest(20).to_string(), "keep-last 20, keep-min 1");
}

/// `etcdbak verify`'s records in the same listing: the newest verified backup stays whatever the policy
/// says, and a record goes with its backup (or when its backup is already gone), never another cluster's.
#[test]
fn the_newest_verified_backup_stays_and_records_go_with_their_backups() {
    let record = |cluster: &str, name: &str| crate::naming::verified_record_key(&k(cluster, name));
    let stray = record("prod", "20261124T000000.000Z-r5-ffffffff.db");
    let others = record("staging", R99998);
    let listing = |verified: &[&str]| {
        let mut keys = five();
        keys.extend(verified.iter().map(|n| record("prod", n)));
        keys.extend([stray.clone(), others.clone()]);
        keys
    };
    let old_only = plan_deletions(P, "prod", &listing(&[R99998]), Keep::Newest(2), None);
    assert_eq!(
        old_only.keep,
        [k("prod", R100002), k("prod", R100001), k("prod", R99998)]
    );
    assert_eq!(old_only.decisions[4].1, [KeepReason::NewestVerified]);
    assert_eq!(old_only.records, std::slice::from_ref(&stray));

    let both = plan_deletions(
        P,
        "prod",
        &listing(&[R99998, R100001]),
        Keep::Newest(2),
        None,
    );
    assert_eq!(both.keep, [k("prod", R100002), k("prod", R100001)]);
    assert_eq!(both.records, [record("prod", R99998), stray.clone()]);

    let all = plan_deletions(P, "prod", &listing(&[R99998, R100001]), Keep::Nothing, None);
    assert!(all.keep.is_empty());
    assert_eq!(
        all.records,
        [record("prod", R99998), record("prod", R100001), stray]
    );
    assert!(!all.delete.contains(&others) && !all.records.contains(&others));
}

#[test]
fn a_lock_keeps_what_the_policy_would_delete_and_its_record() {
    let keys = five();
    let mut p = plan_deletions(P, "prod", &keys, Keep::Newest(2), None);
    assert_eq!(
        p.delete,
        [k("prod", R100000), k("prod", R99999), k("prod", R99998)]
    );
    let until = chrono::DateTime::parse_from_rfc3339("2026-12-24T00:00:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let held = [
        (k("prod", R99999), KeepReason::LockedUntil(until)),
        (k("prod", R100002), KeepReason::LegalHold),
    ];
    hold(&mut p, P, &held);
    assert_eq!(p.delete, [k("prod", R100000), k("prod", R99998)]);
    assert_eq!(
        p.keep,
        [k("prod", R100002), k("prod", R100001), k("prod", R99999)]
    );
    let reasons = |key: &str| {
        p.decisions
            .iter()
            .find(|(b, _)| b.key == key)
            .map(|(_, r)| r.clone())
            .expect("decided")
    };
    assert_eq!(
        reasons(&k("prod", R99999)),
        [KeepReason::LockedUntil(until)]
    );
    // A backup kept by a rule keeps that reason alone.
    assert_eq!(reasons(&k("prod", R100002)), [KeepReason::Last]);
    assert_eq!(
        KeepReason::LockedUntil(until).to_string(),
        "locked until 2026-12-24 00:00:00 UTC"
    );
}

#[test]
fn a_locked_backups_record_stays_with_it() {
    let record = format!("{}{}", k("prod", R99999), crate::naming::VERIFIED_SUFFIX);
    let mut keys = five();
    keys.push(record.clone());
    keys.push(format!(
        "{}{}",
        k("prod", R100002),
        crate::naming::VERIFIED_SUFFIX
    ));
    let mut p = plan_deletions(P, "prod", &keys, Keep::Newest(1), None);
    assert!(p.records.contains(&record), "{p:?}");
    hold(&mut p, P, &[(k("prod", R99999), KeepReason::LegalHold)]);
    assert!(!p.records.contains(&record), "{p:?}");
    assert!(p.keep.contains(&k("prod", R99999)));
}
