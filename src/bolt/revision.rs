//! The store revision of a snapshot, as `etcdutl snapshot status` reads it.
//!
//! The status call before a snapshot gives only a lower bound (writes land between it and the stream), and
//! the stream itself carries no revision, so the exact value is read from the file: the last key of the
//! `key` bucket is the newest revision (keys are 8-byte big-endian main revision, `_`, sub revision), raised
//! to the finished compaction revision from the `meta` bucket when a compaction removed the newest
//! tombstone, the same rule etcd uses when it opens a backend. Only the pages on the path to those keys
//! are read.

use std::io::{Read, Seek};
use std::path::Path;
use std::rc::Rc;

use super::page::{self, Page, BRANCH, LEAF};
use super::pager::Pager;
use super::Error;

/// Far deeper than any real tree; stops a damaged file from looping.
const MAX_DEPTH: usize = 64;

/// The main revision in an etcd revision key (`<8-byte BE main>_<8-byte BE sub>[t]`).
pub fn main_revision(key: &[u8]) -> Option<i64> {
    let b: [u8; 8] = key.get(..8)?.try_into().ok()?;
    i64::try_from(u64::from_be_bytes(b)).ok()
}

fn not_a_tree(page: &Page) -> Error {
    page.problem(format!("page flags {:#x} inside a tree", page.flags()))
        .into()
}

/// The value stored under `key` in the tree rooted at `page`.
fn get<R: Read + Seek>(
    db: &mut Pager<R>,
    mut page: Rc<Page>,
    key: &[u8],
) -> Result<Option<(u32, Vec<u8>)>, Error> {
    for _ in 0..MAX_DEPTH {
        match page.flags() {
            BRANCH => {
                // The child whose first key is the greatest one not above `key`.
                let mut child = None;
                for i in 0..page.count() {
                    let b = page.branch(i)?;
                    if b.key > key && child.is_some() {
                        break;
                    }
                    child = Some(b.child);
                }
                let Some(pgid) = child else { return Ok(None) };
                page = db.page(pgid, page.id)?;
            }
            LEAF => {
                for i in 0..page.count() {
                    let l = page.leaf(i)?;
                    if l.key == key {
                        return Ok(Some((l.flags, l.value.to_vec())));
                    }
                }
                return Ok(None);
            }
            _ => return Err(not_a_tree(&page)),
        }
    }
    Err(page.problem("tree deeper than any real database").into())
}

/// The greatest key in the tree rooted at `page`.
fn last_key<R: Read + Seek>(
    db: &mut Pager<R>,
    mut page: Rc<Page>,
) -> Result<Option<Vec<u8>>, Error> {
    for _ in 0..MAX_DEPTH {
        let count = page.count();
        if count == 0 {
            return Ok(None);
        }
        match page.flags() {
            BRANCH => {
                let child = page.branch(count - 1)?.child;
                page = db.page(child, page.id)?;
            }
            LEAF => return Ok(Some(page.leaf(count - 1)?.key.to_vec())),
            _ => return Err(not_a_tree(&page)),
        }
    }
    Err(page.problem("tree deeper than any real database").into())
}

/// The root page of the bucket `name` in the tree rooted at `root`: its own page, or its inline page.
fn bucket<R: Read + Seek>(
    db: &mut Pager<R>,
    root: &Rc<Page>,
    name: &[u8],
) -> Result<Option<Rc<Page>>, Error> {
    match get(db, Rc::clone(root), name)? {
        Some((flags, value)) if flags & page::BUCKET_LEAF != 0 => {
            let pgid = page::bucket_root(root.id, &value)?;
            if pgid == 0 {
                return Ok(Some(Rc::new(Page::inline(root.id, &value)?)));
            }
            Ok(Some(db.page(pgid, root.id)?))
        }
        _ => Ok(None),
    }
}

/// The store revision of the database in `src` (etcd's 32-byte trailer may follow; it is never read).
/// `None` when the database holds no revision at all.
pub fn revision<R: Read + Seek>(src: R) -> Result<Option<i64>, Error> {
    let (mut db, metas) = Pager::open(src)?;
    let root = db.page(metas.chosen.root, 0)?;
    let last = match bucket(&mut db, &root, b"key")? {
        Some(keys) => last_key(&mut db, keys)?.and_then(|k| main_revision(&k)),
        None => None,
    };
    let compacted = match bucket(&mut db, &root, b"meta")? {
        Some(meta) => {
            get(&mut db, meta, b"finishedCompactRev")?.and_then(|(_, v)| main_revision(&v))
        }
        None => None,
    };
    Ok(match (last, compacted) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    })
}

/// [`revision`] of the snapshot file at `path`.
pub fn revision_of_file(path: &Path) -> Result<Option<i64>, Error> {
    revision(std::fs::File::open(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_revision_is_big_endian() {
        let mut key = 100_000u64.to_be_bytes().to_vec();
        key.push(b'_');
        key.extend_from_slice(&3u64.to_be_bytes());
        assert_eq!(main_revision(&key), Some(100_000));
        assert_eq!(main_revision(b"short"), None);
    }

    #[test]
    fn refuses_a_file_that_is_not_bbolt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("junk.db");
        std::fs::write(&path, vec![0xabu8; 10_000]).expect("write");
        assert!(revision_of_file(&path).is_err());
    }
}
