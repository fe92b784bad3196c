//! The full structural check of a bbolt file, the one `bbolt check` runs, in Rust and bounded in memory.
//!
//! A snapshot's SHA-256 trailer only proves the file is what etcd wrote; etcd computes it over whatever its
//! database held, corruption included. So the database itself is walked: both meta pages, every page
//! reachable from the root bucket (branch, leaf, overflow), no page used twice, the freelist and the
//! reachable pages covering exactly `[0, high-water)`, and every tree's keys in order. Pages are read one at
//! a time through the pager; the only per-page state is two bitsets (128 KiB for a 2 GiB database).

use std::io::{Read, Seek};
use std::path::Path;
use std::rc::Rc;

use super::meta::{Meta, NO_FREELIST};
use super::page::{self, Page, BRANCH, FREELIST, LEAF};
use super::pager::{Metas, Pager};
use super::revision::main_revision;
use super::{Error, Problem};

/// Trees and nested buckets together never get near this; it stops a page cycle from recursing forever.
const MAX_DEPTH: usize = 128;
/// etcd's `meta` bucket key holding the last finished compaction.
const FINISHED_COMPACT: &[u8] = b"finishedCompactRev";

/// What a sound database holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub page_size: u32,
    /// Transaction id of the meta page in use.
    pub txid: u64,
    /// Meta pages with a valid checksum (bbolt opens a file with one).
    pub valid_metas: u8,
    /// Pages the database uses (the high-water mark).
    pub pages: u64,
    /// Pages in use: meta, freelist, branch, leaf and overflow.
    pub reachable_pages: u64,
    /// Pages on the freelist (or, when the freelist is not persisted, the ones nothing reaches).
    pub free_pages: u64,
    /// Whether the file carries a freelist. etcd opens bbolt with `NoFreelistSync`, so its databases do
    /// not: bbolt rebuilds the freelist from the pages nothing reaches, and so does this check.
    pub freelist_persisted: bool,
    /// Buckets, nested ones included.
    pub buckets: u64,
    /// Entries in etcd's `key` bucket (one per revision of a key, tombstones included).
    pub keys: u64,
    pub tombstones: u64,
    /// The store revision, as etcd reads it: the newest revision in `key`, or the finished compaction when
    /// that is higher.
    pub revision: Option<i64>,
}

/// The outcome: sound, or the first problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Sound(Summary),
    Corrupt(Problem),
}

/// Which bucket a tree belongs to, for etcd's own rules on top of bbolt's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Root,
    Key,
    Meta,
    Other,
}

/// One bit per page below the high-water mark.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: u64) -> Bits {
        Bits(vec![0; n.div_ceil(64) as usize])
    }
    fn get(&self, i: u64) -> bool {
        self.0[(i / 64) as usize] & (1 << (i % 64)) != 0
    }
    fn set(&mut self, i: u64) {
        self.0[(i / 64) as usize] |= 1 << (i % 64);
    }
    fn ones(&self) -> u64 {
        self.0.iter().map(|w| u64::from(w.count_ones())).sum()
    }
}

struct Walk<R> {
    db: Pager<R>,
    hwm: u64,
    reachable: Bits,
    free: Bits,
    summary: Summary,
    max_key_revision: Option<i64>,
    compacted: Option<i64>,
}

/// Checks the bbolt database in `src` (etcd's trailer may follow it). An I/O error is an error; anything
/// wrong with the bytes is a [`Verdict::Corrupt`].
pub fn check<R: Read + Seek>(src: R) -> std::io::Result<Verdict> {
    match run(src) {
        Ok(summary) => Ok(Verdict::Sound(summary)),
        Err(Error::Layout(problem)) => Ok(Verdict::Corrupt(problem)),
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Ok(Verdict::Corrupt(Problem {
                page: None,
                what: "the file ends inside a page".into(),
            }))
        }
        Err(Error::Io(e)) => Err(e),
    }
}

/// [`check`] of the file at `path`.
pub fn check_file(path: &Path) -> std::io::Result<Verdict> {
    check(std::fs::File::open(path)?)
}

fn run<R: Read + Seek>(src: R) -> Result<Summary, Error> {
    let (db, metas) = Pager::open(src)?;
    let m = metas.chosen;
    check_meta(&m, db.len, db.page_size)?;
    let mut walk = Walk {
        db,
        hwm: m.high_water,
        reachable: Bits::new(m.high_water),
        free: Bits::new(m.high_water),
        summary: Summary {
            page_size: m.page_size,
            txid: m.txid,
            valid_metas: valid_metas(&metas),
            pages: m.high_water,
            freelist_persisted: m.freelist != NO_FREELIST,
            ..Summary::default()
        },
        max_key_revision: None,
        compacted: None,
    };
    walk.reachable.set(0);
    walk.reachable.set(1);
    if m.freelist != NO_FREELIST {
        walk.freelist(m.freelist)?;
    }
    let from_meta = if metas.first.ok() == Some(m) { 0 } else { 1 };
    walk.tree(m.root, from_meta, (None, None), 0, Role::Root)?;
    walk.coverage(m.freelist != NO_FREELIST)?;
    Ok(walk.finish())
}

fn valid_metas(metas: &Metas) -> u8 {
    u8::from(metas.first.is_ok()) + u8::from(metas.second.is_ok())
}

/// The chosen meta page must describe a database that fits the file.
fn check_meta(m: &Meta, len: u64, page_size: u64) -> Result<(), Problem> {
    let meta_page = m.txid % 2;
    let fits = m
        .high_water
        .checked_mul(page_size)
        .is_some_and(|b| b <= len);
    if m.high_water < 3 || !fits {
        return Err(Problem::at(
            meta_page,
            format!(
                "high-water mark of {} pages does not fit a {len}-byte file of {page_size}-byte pages",
                m.high_water
            ),
        ));
    }
    if m.root < 2 || m.root >= m.high_water {
        return Err(Problem::at(
            meta_page,
            format!(
                "root bucket page {} is outside [2, {})",
                m.root, m.high_water
            ),
        ));
    }
    if m.freelist != NO_FREELIST && (m.freelist < 2 || m.freelist >= m.high_water) {
        return Err(Problem::at(
            meta_page,
            format!(
                "freelist page {} is outside [2, {})",
                m.freelist, m.high_water
            ),
        ));
    }
    Ok(())
}

/// First key < second, as bytes (bbolt's order).
fn order_problem(
    page: &Page,
    kind: &str,
    i: usize,
    key: &[u8],
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
) -> Option<Problem> {
    let key_hex = hex::encode(key);
    match lo {
        Some(lo) if i == 0 && key < lo => {
            return Some(page.problem(format!(
                "{kind} key 0 ({key_hex}) is below its parent's key {} (keys out of order)",
                hex::encode(lo)
            )))
        }
        Some(lo) if i > 0 && key <= lo => {
            return Some(page.problem(format!(
                "{kind} key {i} ({key_hex}) is not greater than the key before it ({}) (keys out of order)",
                hex::encode(lo)
            )))
        }
        _ => {}
    }
    match hi {
        Some(hi) if key >= hi => Some(page.problem(format!(
            "{kind} key {i} ({key_hex}) is not below the next key in its parent ({}) (keys out of order)",
            hex::encode(hi)
        ))),
        _ => None,
    }
}

/// An etcd revision key: 8-byte big-endian main revision, `_`, 8-byte sub revision, optional `t`.
fn revision_key(key: &[u8]) -> Option<(i64, bool)> {
    let tombstone = match key.len() {
        17 => false,
        18 if key[17] == b't' => true,
        _ => return None,
    };
    if key[8] != b'_' {
        return None;
    }
    Some((main_revision(key)?, tombstone))
}

type Bounds<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

impl<R: Read + Seek> Walk<R> {
    /// Marks page `id` as in use: each page is used once, and never while it is free.
    fn claim(&mut self, id: u64, from: u64) -> Result<(), Problem> {
        if self.reachable.get(id) {
            return Err(Problem::at(
                id,
                format!("referenced twice (again from page {from})"),
            ));
        }
        if self.free.get(id) {
            return Err(Problem::at(
                id,
                format!("reachable from page {from} but also listed as free in the freelist"),
            ));
        }
        self.reachable.set(id);
        Ok(())
    }

    /// The overflow pages after `page` are its own, below the high-water mark.
    fn claim_overflow(&mut self, page: &Page, from: u64) -> Result<(), Problem> {
        let last = page.id + u64::from(page.overflow());
        if last >= self.hwm {
            return Err(page.problem(format!(
                "its {} overflow pages run past the high-water mark {}",
                page.overflow(),
                self.hwm
            )));
        }
        (page.id + 1..=last).try_for_each(|id| self.claim(id, from))
    }

    /// Reads the page `pgid` that page `from` points to, as a page of one of the given kinds.
    fn fetch(&mut self, pgid: u64, from: u64, kinds: &[u16]) -> Result<Rc<Page>, Error> {
        if pgid >= self.hwm {
            return Err(Problem::at(
                pgid,
                format!(
                    "beyond the high-water mark {} (referenced from page {from})",
                    self.hwm
                ),
            )
            .into());
        }
        if pgid < 2 {
            return Err(Problem::at(
                pgid,
                format!("a meta page, referenced as data from page {from}"),
            )
            .into());
        }
        // Claimed before it is read, so a page reached twice or reached while free is named as that,
        // whatever its bytes hold.
        self.claim(pgid, from)?;
        let page = self.db.page(pgid, from)?;
        if page.header_id() != pgid {
            return Err(page
                .problem(format!("says it is page {}", page.header_id()))
                .into());
        }
        if !kinds.contains(&page.flags()) {
            return Err(page
                .problem(format!(
                    "page flags {:#x} where a {} page belongs (referenced from page {from})",
                    page.flags(),
                    if kinds == [FREELIST] {
                        "freelist"
                    } else {
                        "branch or leaf"
                    }
                ))
                .into());
        }
        self.claim_overflow(&page, from)?;
        Ok(page)
    }

    fn freelist(&mut self, pgid: u64) -> Result<(), Error> {
        let page = self.fetch(pgid, 0, &[FREELIST])?;
        for id in page.freelist_ids()? {
            if id < 2 || id >= self.hwm {
                return Err(page
                    .problem(format!(
                        "the freelist lists page {id}, outside [2, {})",
                        self.hwm
                    ))
                    .into());
            }
            if self.free.get(id) {
                return Err(
                    Problem::at(id, format!("listed twice in the freelist (page {pgid})")).into(),
                );
            }
            if self.reachable.get(id) {
                return Err(Problem::at(
                    id,
                    format!("the freelist page {pgid} lists itself as free"),
                )
                .into());
            }
            self.free.set(id);
        }
        Ok(())
    }

    /// Walks the tree rooted at `pgid`; returns the greatest key in it.
    fn tree(
        &mut self,
        pgid: u64,
        from: u64,
        bounds: Bounds<'_>,
        depth: usize,
        role: Role,
    ) -> Result<Option<Vec<u8>>, Error> {
        if depth > MAX_DEPTH {
            return Err(Problem::at(
                pgid,
                format!("trees nested deeper than {MAX_DEPTH} levels (a page cycle?)"),
            )
            .into());
        }
        let page = self.fetch(pgid, from, &[BRANCH, LEAF])?;
        self.node(&page, bounds, depth, role)
    }

    fn node(
        &mut self,
        page: &Page,
        bounds: Bounds<'_>,
        depth: usize,
        role: Role,
    ) -> Result<Option<Vec<u8>>, Error> {
        match page.flags() {
            BRANCH => self.branch(page, bounds, depth, role),
            LEAF => self.leaf(page, bounds, depth, role),
            other => Err(page
                .problem(format!("page flags {other:#x} inside a tree"))
                .into()),
        }
    }

    fn branch(
        &mut self,
        page: &Page,
        (lo, hi): Bounds<'_>,
        depth: usize,
        role: Role,
    ) -> Result<Option<Vec<u8>>, Error> {
        let count = page.count();
        if count == 0 {
            return Err(page.problem("branch page with no elements").into());
        }
        let mut running: Option<Vec<u8>> = lo.map(<[u8]>::to_vec);
        for i in 0..count {
            let elem = page.branch(i)?;
            if let Some(p) = order_problem(page, "branch", i, elem.key, running.as_deref(), hi) {
                return Err(p.into());
            }
            let next = if i + 1 < count {
                Some(page.branch(i + 1)?.key)
            } else {
                hi
            };
            let max = self.tree(elem.child, page.id, (Some(elem.key), next), depth + 1, role)?;
            running = Some(max.unwrap_or_else(|| elem.key.to_vec()));
        }
        Ok(running)
    }

    fn leaf(
        &mut self,
        page: &Page,
        (lo, hi): Bounds<'_>,
        depth: usize,
        role: Role,
    ) -> Result<Option<Vec<u8>>, Error> {
        let mut running: Option<&[u8]> = lo;
        for i in 0..page.count() {
            let elem = page.leaf(i)?;
            if let Some(p) = order_problem(page, "leaf", i, elem.key, running, hi) {
                return Err(p.into());
            }
            if elem.is_bucket() {
                self.bucket(page, elem.key, elem.value, depth, role)?;
            } else {
                self.entry(page, i, elem.key, elem.value, role)?;
            }
            running = Some(elem.key);
        }
        Ok(running.map(<[u8]>::to_vec))
    }

    fn bucket(
        &mut self,
        page: &Page,
        name: &[u8],
        value: &[u8],
        depth: usize,
        parent: Role,
    ) -> Result<(), Error> {
        self.summary.buckets += 1;
        let role = match (parent, name) {
            (Role::Root, b"key") => Role::Key,
            (Role::Root, b"meta") => Role::Meta,
            _ => Role::Other,
        };
        let root = page::bucket_root(page.id, value)?;
        if root != 0 {
            self.tree(root, page.id, (None, None), depth + 1, role)?;
            return Ok(());
        }
        let inline = Page::inline(page.id, value)?;
        if inline.flags() != LEAF {
            return Err(inline
                .problem(format!(
                    "page flags {:#x}, an inline bucket must be a leaf",
                    inline.flags()
                ))
                .into());
        }
        self.leaf(&inline, (None, None), depth + 1, role)?;
        Ok(())
    }

    /// etcd's rules for plain entries: the root holds only buckets, `key` only revisions.
    fn entry(
        &mut self,
        page: &Page,
        i: usize,
        key: &[u8],
        value: &[u8],
        role: Role,
    ) -> Result<(), Problem> {
        match role {
            Role::Root => {
                return Err(page.problem(format!(
                    "the root bucket holds a plain key {i} ({}), not a bucket",
                    hex::encode(key)
                )))
            }
            Role::Key => {
                let (rev, tombstone) = revision_key(key).ok_or_else(|| {
                    page.problem(format!(
                        "key bucket key {i} ({}) is not an etcd revision",
                        hex::encode(key)
                    ))
                })?;
                self.summary.keys += 1;
                self.summary.tombstones += u64::from(tombstone);
                self.max_key_revision = self.max_key_revision.max(Some(rev));
            }
            Role::Meta if key == FINISHED_COMPACT => self.compacted = main_revision(value),
            Role::Meta | Role::Other => {}
        }
        Ok(())
    }

    /// Every page below the high-water mark is in use or free, never neither (both is caught on the way).
    fn coverage(&mut self, freelist_persisted: bool) -> Result<(), Problem> {
        if !freelist_persisted {
            return Ok(());
        }
        for id in 2..self.hwm {
            if !self.reachable.get(id) && !self.free.get(id) {
                return Err(Problem::at(
                    id,
                    "neither reachable nor in the freelist (a leaked page)",
                ));
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Summary {
        self.summary.reachable_pages = self.reachable.ones();
        self.summary.free_pages = self.hwm - self.summary.reachable_pages;
        self.summary.revision = match (self.max_key_revision, self.compacted) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.summary
    }
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
