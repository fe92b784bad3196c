//! Property tests: random sound databases are sound and summarised right; redirecting any one page
//! reference is always caught; no byte pattern makes the check panic.

use std::io::Cursor;

use proptest::prelude::*;

use super::*;
use crate::bolt::fixture::{branch, bucket, freelist, kv, leaf, rev, Db, PAGE};

/// A random sound database: `n` revisions split into leaves of `chunks` keys, a branch over them when
/// there is more than one leaf, and free pages; page ids are assigned in the (shuffled) `order`.
#[derive(Clone)]
struct Random {
    db: Db,
    keys: u64,
    tombstones: u64,
    /// (page holding a child reference, byte offset of the child id in the file) for every reference.
    refs: Vec<(u64, usize)>,
}

impl std::fmt::Debug for Random {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} keys, {} pages, root {}, freelist {}",
            self.keys,
            self.db.pages.len(),
            self.db.root,
            self.db.freelist
        )
    }
}

fn build(n: usize, chunks: &[usize], tombstone_every: usize, order: &[u64]) -> Random {
    let keys: Vec<Vec<u8>> = (1..=n as u64)
        .map(|r| {
            rev(
                r,
                0,
                tombstone_every > 0 && r as usize % tombstone_every == 0,
            )
        })
        .collect();
    let mut leaves = vec![];
    let mut rest = &keys[..];
    for c in chunks.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (now, later) = rest.split_at((*c).min(rest.len()));
        leaves.push(now.to_vec());
        rest = later;
    }
    let has_branch = leaves.len() > 1;
    // Ids: order[0] freelist, order[1] root, [order[2] branch], then leaves, then free pages.
    // Ids the layout does not use are the free pages, so every id below the high-water mark is accounted for.
    let mut ids = order.iter().copied();
    let mut next = || ids.next().expect("enough ids");
    let (fl_id, root_id) = (next(), next());
    let branch_id = if has_branch { Some(next()) } else { None };
    let leaf_ids: Vec<u64> = leaves.iter().map(|_| next()).collect();
    let free_ids: Vec<u64> = ids.collect();
    let mut db = Db::new();
    db.root = root_id;
    db.freelist = fl_id;
    let key_root = branch_id.unwrap_or(leaf_ids[0]);
    db.put(root_id, leaf(root_id, &[bucket(b"key", key_root, None)]));
    // The key bucket's root id: after the header, one element, and the 3-byte name "key".
    let mut refs = vec![(root_id, root_id as usize * PAGE + 16 + 16 + 3)];
    for (id, ks) in leaf_ids.iter().zip(&leaves) {
        let entries: Vec<_> = ks.iter().map(|k| kv(k.clone(), b"v")).collect();
        db.put(*id, leaf(*id, &entries));
    }
    if let Some(b) = branch_id {
        let children: Vec<(Vec<u8>, u64)> = leaves
            .iter()
            .zip(&leaf_ids)
            .map(|(ks, id)| (ks[0].clone(), *id))
            .collect();
        db.put(b, branch(b, &children));
        refs.extend((0..children.len()).map(|i| (b, b as usize * PAGE + 16 + 16 * i + 8)));
    }
    db.put(fl_id, freelist(fl_id, &free_ids));
    for id in &free_ids {
        db.put(*id, vec![0u8; PAGE]);
    }
    let tombstones = keys.iter().filter(|k| k.len() == 18).count() as u64;
    Random {
        db,
        keys: n as u64,
        tombstones,
        refs,
    }
}

fn random() -> impl Strategy<Value = Random> {
    (
        1usize..1500,
        prop::collection::vec(20usize..60, 1..8),
        0usize..7,
        0usize..20,
    )
        .prop_flat_map(|(n, chunks, t, free)| {
            let leaves = n.div_ceil(*chunks.iter().min().unwrap_or(&20));
            let ids: Vec<u64> = (2..2 + 3 + leaves as u64 + free as u64).collect();
            Just(ids)
                .prop_shuffle()
                .prop_map(move |order| build(n, &chunks, t, &order))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_sound_databases_are_sound(r in random()) {
        let v = check(Cursor::new(r.db.bytes())).expect("read");
        let Verdict::Sound(s) = v else { panic!("refused: {v:?}") };
        prop_assert_eq!(s.keys, r.keys);
        prop_assert_eq!(s.tombstones, r.tombstones);
        prop_assert_eq!(s.revision, Some(r.keys as i64));
        prop_assert_eq!(s.reachable_pages + s.free_pages, s.pages);
    }

    #[test]
    fn redirecting_any_reference_is_caught(r in random(), pick in any::<prop::sample::Index>(), to in 0u64..400) {
        let mut bytes = r.db.bytes();
        let (_, at) = r.refs[pick.index(r.refs.len())];
        let old = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        prop_assume!(to != old);
        bytes[at..at + 8].copy_from_slice(&to.to_le_bytes());
        let v = check(Cursor::new(bytes)).expect("read");
        prop_assert!(matches!(v, Verdict::Corrupt(_)), "redirect {old} -> {to} accepted");
    }

    #[test]
    fn no_bytes_make_it_panic(r in random(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16)) {
        let mut bytes = r.db.bytes();
        let len = bytes.len();
        for (at, b) in flips {
            // Past the meta pages, whose checksum would refuse the file before the walk.
            let i = 2 * PAGE + at.index(len - 2 * PAGE);
            bytes[i] = b;
        }
        let _ = check(Cursor::new(bytes)).expect("read");
    }
}
