//! Property tests over random backup histories.

use proptest::prelude::*;

use super::*;
use crate::naming::ObjectName;

fn backup(minutes: i64, rev: i64) -> ListedKey {
    let base = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("base")
        .to_utc();
    let name = ObjectName {
        taken_at: base + chrono::TimeDelta::minutes(minutes),
        revision: rev,
        sha_prefix: format!("{:08x}", rev),
        // Mixed formats: old `.db` and new `.db.zst` objects in one bucket.
        format: if rev % 2 == 0 {
            crate::pipeline::Format::PLAIN
        } else {
            crate::pipeline::Format::ZSTD
        },
    };
    ListedKey {
        key: crate::naming::object_key("etcdbak", "prod", &name),
        name,
    }
}

/// Up to 300 backups spread over about a year, some in the same hour.
fn history() -> impl Strategy<Value = Vec<ListedKey>> {
    prop::collection::vec(0i64..525_600, 0..300).prop_map(|mins| {
        mins.into_iter()
            .enumerate()
            .map(|(i, m)| backup(m, i as i64 + 1))
            .collect()
    })
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        0u32..5,
        0u32..30,
        0u32..15,
        0u32..8,
        0u32..13,
        0u32..5,
        0u32..60,
        0u32..10,
    )
        .prop_map(
            |(last, hourly, daily, weekly, monthly, days, hours, min)| Policy {
                last,
                hourly,
                daily,
                weekly,
                monthly,
                within: Within {
                    years: 0,
                    months: 0,
                    days,
                    hours,
                },
                min,
            },
        )
}

fn kept_keys(d: &[(ListedKey, Vec<KeepReason>)]) -> Vec<String> {
    d.iter()
        .filter(|(_, r)| !r.is_empty())
        .map(|(b, _)| b.key.clone())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_newest_backup_always_survives(h in history(), p in policy()) {
        let d = apply(&p, &h, &Floor::default());
        if let Some(newest) = h.iter().max_by(|a, b| a.name.cmp(&b.name)) {
            prop_assert!(kept_keys(&d).contains(&newest.key));
        }
    }

    #[test]
    fn the_floor_holds(h in history(), p in policy(), v in prop::collection::vec(any::<prop::sample::Index>(), 0..5), up in any::<prop::sample::Index>()) {
        prop_assume!(!h.is_empty());
        let verified: Vec<String> = v.iter().map(|i| h[i.index(h.len())].key.clone()).collect();
        let uploaded = h[up.index(h.len())].key.clone();
        let floor = Floor { just_uploaded: Some(&uploaded), verified: &verified };
        let d = apply(&p, &h, &floor);
        let kept = kept_keys(&d);
        prop_assert!(kept.len() >= (p.min.max(1) as usize).min(h.len()));
        prop_assert!(kept.contains(&uploaded));
        let newest_verified = h.iter().filter(|b| verified.contains(&b.key)).max_by(|a, b| a.name.cmp(&b.name));
        if let Some(nv) = newest_verified {
            prop_assert!(kept.contains(&nv.key));
        }
    }

    #[test]
    fn running_it_twice_deletes_nothing_the_first_run_kept(h in history(), p in policy(), v in prop::collection::vec(any::<prop::sample::Index>(), 0..3)) {
        let verified: Vec<String> = if h.is_empty() { vec![] } else { v.iter().map(|i| h[i.index(h.len())].key.clone()).collect() };
        let floor = Floor { just_uploaded: None, verified: &verified };
        let first = apply(&p, &h, &floor);
        let survivors: Vec<ListedKey> = first.iter().filter(|(_, r)| !r.is_empty()).map(|(b, _)| b.clone()).collect();
        let second = apply(&p, &survivors, &floor);
        prop_assert_eq!(kept_keys(&second), kept_keys(&first));
    }

    #[test]
    fn the_listing_order_does_not_matter(h in history(), p in policy(), seed in any::<u64>()) {
        let mut shuffled = h.clone();
        // A deterministic shuffle from the seed (Fisher-Yates with an LCG).
        let mut s = seed | 1;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        shuffled.extend(h.iter().take(3).cloned()); // duplicates in a listing too
        prop_assert_eq!(apply(&p, &h, &Floor::default()), apply(&p, &shuffled, &Floor::default()));
    }
}
