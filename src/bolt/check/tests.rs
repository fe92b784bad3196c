use std::io::Cursor;

use super::*;
use crate::bolt::fixture::{
    self, branch, bucket, freelist, kv, leaf, leaf_bytes, rev, standard, Db, PAGE,
};

fn verdict(db: &Db) -> Verdict {
    check(Cursor::new(db.bytes())).expect("in-memory read")
}

fn problem(db: &Db) -> Problem {
    match verdict(db) {
        Verdict::Corrupt(p) => p,
        Verdict::Sound(s) => panic!("accepted a corrupt database: {s:?}"),
    }
}

#[test]
fn a_sound_database_is_summarised() {
    let Verdict::Sound(s) = verdict(&standard()) else {
        panic!("refused a sound database")
    };
    assert_eq!(
        s,
        Summary {
            page_size: PAGE as u32,
            txid: 8,
            valid_metas: 2,
            pages: 8,
            reachable_pages: 7,
            free_pages: 1,
            freelist_persisted: true,
            buckets: 2,
            keys: 6,
            tombstones: 1,
            revision: Some(6),
        }
    );
}

#[test]
fn the_trailer_after_the_database_is_ignored() {
    let mut bytes = standard().bytes();
    bytes.extend_from_slice(&[0xee; 32]);
    assert!(matches!(check(Cursor::new(bytes)), Ok(Verdict::Sound(_))));
}

#[test]
fn the_compaction_raises_the_revision_when_it_is_higher() {
    let mut db = standard();
    let meta_inline = leaf_bytes(0, &[kv(b"finishedCompactRev".to_vec(), &rev(9, 0, false))]);
    db.put(
        3,
        leaf(
            3,
            &[
                bucket(b"key", 4, None),
                bucket(b"meta", 0, Some(meta_inline)),
            ],
        ),
    );
    let Verdict::Sound(s) = verdict(&db) else {
        panic!("refused")
    };
    assert_eq!(s.revision, Some(9));
}

#[test]
fn one_valid_meta_page_is_enough_as_for_bbolt() {
    let mut bytes = standard().bytes();
    bytes[PAGE + HEADER_LEN_FOR_TEST + 48] ^= 0xff; // meta 1's txid, so its checksum fails
    let Ok(Verdict::Sound(s)) = check(Cursor::new(bytes)) else {
        panic!("refused")
    };
    assert_eq!((s.valid_metas, s.txid), (1, 8));
}

const HEADER_LEN_FOR_TEST: usize = crate::bolt::page::HEADER_LEN;

#[test]
fn the_newer_meta_page_is_the_one_used() {
    let mut db = standard();
    // Meta 1 one transaction newer, pointing at a different (sound) root: only it decides the walk.
    db.put(
        7,
        leaf(
            7,
            &[bucket(
                b"key",
                0,
                Some(leaf_bytes(0, &[kv(rev(42, 0, false), b"x")])),
            )],
        ),
    );
    db.put(2, freelist(2, &[3, 4, 5, 6]));
    let mut bytes = db.bytes();
    let mut newer = Db {
        root: 7,
        ..Db::new()
    };
    newer.pages = db.pages.clone();
    bytes[PAGE..2 * PAGE].copy_from_slice(&newer.meta(1, 9));
    let Ok(Verdict::Sound(s)) = check(Cursor::new(bytes)) else {
        panic!("refused")
    };
    assert_eq!((s.txid, s.revision, s.keys), (9, Some(42), 1));
}

struct Case {
    what: &'static str,
    db: Db,
    page: Option<u64>,
    says: &'static str,
}

fn cases() -> Vec<Case> {
    [
        cases_references(),
        cases_order(),
        cases_freelist(),
        cases_layout(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Pages referenced twice, while free, or beyond the end.
fn cases_references() -> Vec<Case> {
    let mut v = vec![];
    let mut db = standard();
    db.put(
        4,
        branch(4, &[(rev(1, 0, false), 5), (rev(4, 0, false), 7)]),
    );
    db.put(2, freelist(2, &[6, 7]));
    v.push(Case {
        what: "a branch points to a page also in the freelist",
        db,
        page: Some(7),
        says: "also listed as free",
    });

    let mut db = standard();
    db.put(
        4,
        branch(4, &[(rev(1, 0, false), 5), (rev(4, 0, false), 5)]),
    );
    db.put(2, freelist(2, &[6, 7]));
    v.push(Case {
        what: "two branches point to the same page",
        db,
        page: Some(5),
        says: "referenced twice (again from page 4)",
    });

    let mut db = standard();
    db.put(
        5,
        leaf(
            5,
            &[
                kv(rev(1, 0, false), b"a"),
                kv(rev(3, 0, false), b"c"),
                kv(rev(2, 0, false), b"b"),
            ],
        ),
    );
    v.push(Case {
        what: "unordered keys in a leaf",
        db,
        page: Some(5),
        says: "leaf key 2",
    });

    let mut db = standard();
    db.put(
        6,
        leaf(6, &[kv(rev(2, 5, false), b"d"), kv(rev(5, 0, false), b"e")]),
    );
    v.push(Case {
        what: "a leaf's keys below the previous sibling's",
        db,
        page: Some(6),
        says: "keys out of order",
    });

    let mut db = standard();
    db.put(
        4,
        branch(4, &[(rev(4, 0, false), 6), (rev(1, 0, false), 5)]),
    );
    v.push(Case {
        what: "unordered keys in a branch",
        db,
        page: Some(6),
        says: "keys out of order",
    });

    v
}

/// Keys out of order, and keys etcd cannot read.
fn cases_order() -> Vec<Case> {
    let mut v = vec![];
    let mut db = standard();
    db.put(
        4,
        branch(4, &[(rev(1, 0, false), 5), (rev(4, 0, false), 9)]),
    );
    db.put(2, freelist(2, &[6, 7]));
    v.push(Case {
        what: "a page id beyond the high-water mark",
        db,
        page: Some(9),
        says: "beyond the high-water mark 8",
    });

    let mut db = standard();
    db.put(2, freelist(2, &[]));
    v.push(Case {
        what: "a page neither used nor free",
        db,
        page: Some(7),
        says: "neither reachable nor in the freelist",
    });

    let mut db = standard();
    db.put(2, freelist(2, &[7, 7]));
    v.push(Case {
        what: "a page freed twice",
        db,
        page: Some(7),
        says: "listed twice in the freelist",
    });

    let mut db = standard();
    db.put(2, freelist(2, &[7, 12]));
    v.push(Case {
        what: "the freelist lists a page past the end",
        db,
        page: Some(2),
        says: "outside [2, 8)",
    });

    let mut db = standard();
    db.put(2, freelist(2, &[2, 7]));
    v.push(Case {
        what: "the freelist lists itself",
        db,
        page: Some(2),
        says: "lists itself as free",
    });

    let mut db = standard();
    db.put(
        4,
        branch(4, &[(rev(1, 0, false), 5), (rev(4, 0, false), 4)]),
    );
    db.put(2, freelist(2, &[6, 7]));
    v.push(Case {
        what: "a branch pointing at itself (a cycle)",
        db,
        page: Some(4),
        says: "referenced twice",
    });

    v
}

/// The freelist against the pages in use.
fn cases_freelist() -> Vec<Case> {
    let mut v = vec![];
    let mut db = standard();
    let mut wrong = leaf(5, &[kv(rev(1, 0, false), b"a")]);
    wrong[0] = 6;
    db.put(5, wrong);
    v.push(Case {
        what: "a page that says it is another",
        db,
        page: Some(5),
        says: "says it is page 6",
    });

    let mut db = standard();
    db.put(
        5,
        leaf(
            5,
            &[
                kv(rev(1, 0, false), b"a"),
                kv(b"\0\0\0\0\0\0\0\x01zz".to_vec(), b"b"),
            ],
        ),
    );
    v.push(Case {
        what: "a key-bucket key that is not a revision",
        db,
        page: Some(5),
        says: "is not an etcd revision",
    });

    let mut db = standard();
    db.put(
        4,
        branch(4, &[(rev(1, 0, false), 5), (rev(4, 0, false), 2)]),
    );
    db.put(2, freelist(2, &[6, 7]));
    v.push(Case {
        what: "a branch pointing at the freelist page",
        db,
        page: Some(2),
        says: "referenced twice (again from page 4)",
    });

    let mut db = standard();
    db.put(
        4,
        branch(4, &[(rev(1, 0, false), 5), (rev(4, 0, false), 7)]),
    );
    db.put(2, freelist(2, &[6]));
    db.put(7, freelist(7, &[]));
    v.push(Case {
        what: "a branch pointing at a page of another kind",
        db,
        page: Some(7),
        says: "page flags 0x10 where a branch or leaf page belongs",
    });

    let mut db = standard();
    db.put(4, branch(4, &[]));
    db.put(2, freelist(2, &[5, 6, 7]));
    v.push(Case {
        what: "an empty branch page",
        db,
        page: Some(4),
        says: "branch page with no elements",
    });

    v
}

/// Pages whose own bytes are wrong.
fn cases_layout() -> Vec<Case> {
    let mut v = vec![];
    let mut db = standard();
    db.put(
        3,
        leaf(3, &[bucket(b"key", 4, None), kv(b"meta".to_vec(), b"x")]),
    );
    v.push(Case {
        what: "a plain key in the root bucket",
        db,
        page: Some(3),
        says: "not a bucket",
    });

    let mut db = standard();
    let mut big = leaf(6, &[kv(rev(4, 0, false), &vec![7u8; PAGE + 100])]);
    assert_eq!(big.len(), 2 * PAGE);
    big[12] = 1;
    db.put(6, big);
    db.put(2, freelist(2, &[7]));
    v.push(Case {
        what: "an overflow page that is also free",
        db,
        page: Some(7),
        says: "also listed as free",
    });

    let mut db = standard();
    let mut elem = leaf(5, &[kv(rev(1, 0, false), b"a")]);
    elem[HEADER_LEN_FOR_TEST + 8..HEADER_LEN_FOR_TEST + 12].copy_from_slice(&5000u32.to_le_bytes());
    db.put(5, elem);
    v.push(Case {
        what: "an element pointing outside its page",
        db,
        page: Some(5),
        says: "points outside the page",
    });

    let mut db = standard();
    db.put(
        3,
        leaf(
            3,
            &[
                bucket(b"key", 4, None),
                bucket(b"meta", 0, Some(branch(0, &[])[..64].to_vec())),
            ],
        ),
    );
    v.push(Case {
        what: "an inline bucket that is not a leaf",
        db,
        page: Some(3),
        says: "inline bucket",
    });

    let mut db = standard();
    db.root = 20;
    v.push(Case {
        what: "a root page past the high-water mark",
        db,
        page: Some(0),
        says: "root bucket page 20",
    });

    v
}

#[test]
fn structural_corruption_with_valid_checksums_is_caught_and_located() {
    for c in cases() {
        let p = problem(&c.db);
        assert_eq!(p.page, c.page, "{}: {p}", c.what);
        assert!(p.to_string().contains(c.says), "{}: {p}", c.what);
        assert!(
            p.to_string()
                .starts_with(&format!("page {}", c.page.unwrap_or(0))),
            "{}: {p}",
            c.what
        );
    }
}

#[test]
fn a_database_without_a_persisted_freelist_counts_unreached_pages_as_free() {
    let mut db = standard();
    db.without_freelist();
    db.put(2, vec![0u8; PAGE]);
    let Verdict::Sound(s) = verdict(&db) else {
        panic!("refused")
    };
    assert_eq!(
        (s.reachable_pages, s.free_pages, s.freelist_persisted),
        (6, 2, false)
    );
}

#[test]
fn a_truncated_file_is_corrupt_not_an_io_error() {
    let bytes = standard().bytes();
    for len in [100, PAGE + 10, 5 * PAGE + 1] {
        let v = check(Cursor::new(bytes[..len].to_vec())).expect("in-memory read");
        assert!(matches!(v, Verdict::Corrupt(_)), "{len}: {v:?}");
    }
}

#[test]
fn a_big_freelist_uses_the_overflow_count() {
    // 70,000 free pages: more than a u16 count holds.
    let mut db = standard();
    let n = 70_000u64;
    let ids: Vec<u64> = (8..8 + n).collect();
    let fl = freelist(2, &ids);
    let fl_pages = (fl.len() / PAGE) as u64;
    // Move the freelist past the data so it does not overlap pages 3..7.
    let at = 8 + n;
    let mut fl = freelist(at, &ids);
    fl[0..8].copy_from_slice(&at.to_le_bytes());
    db.put(2, vec![0u8; PAGE]);
    db.put(at, fl);
    db.freelist = at;
    // Page 2 and 7 are now free as well.
    let mut ids = ids;
    ids.extend([2, 7]);
    let mut fl = freelist(at, &ids);
    assert_eq!(fl.len() / PAGE, fl_pages as usize);
    fl[12..16].copy_from_slice(&((fl_pages - 1) as u32).to_le_bytes());
    db.put(at, fl);
    let Verdict::Sound(s) = verdict(&db) else {
        panic!("refused: {}", problem(&db))
    };
    assert_eq!(s.free_pages, n + 2);
    let _ = fixture::rev(0, 0, false);
}
