//! Reads the store revision out of a snapshot file (a bbolt database), as `etcdutl snapshot status` does.
//!
//! The status call before the snapshot gives only a lower bound (writes land between it and the stream), and
//! the stream itself carries no revision, so the exact value is read from the file: the last key of the `key`
//! bucket is the newest revision (keys are 8-byte big-endian main revision, `_`, sub revision), raised to the
//! finished compaction revision from the `meta` bucket when a compaction removed the newest tombstone, the
//! same rule etcd uses when it opens a backend. Only the pages on the path to those keys are read.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

const PAGE_HEADER_LEN: usize = 16;
const ELEMENT_LEN: usize = 16;
const BRANCH_PAGE: u16 = 0x01;
const LEAF_PAGE: u16 = 0x02;
const BUCKET_LEAF: u32 = 0x01;
const BUCKET_HEADER_LEN: usize = 16;
/// Far deeper than any real tree; stops a damaged file from looping.
const MAX_DEPTH: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum BoltError {
    #[error("reading the snapshot: {0}")]
    Io(#[from] std::io::Error),
    #[error("unexpected bbolt layout: {0}")]
    Layout(String),
}

fn layout(msg: impl Into<String>) -> BoltError {
    BoltError::Layout(msg.into())
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, BoltError> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| layout("short page"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, BoltError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| layout("short page"))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64, BoltError> {
    let s = b.get(at..at + 8).ok_or_else(|| layout("short page"))?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Ok(u64::from_le_bytes(a))
}

/// A page: either read from the file or a bucket's inline page.
struct Page {
    bytes: Vec<u8>,
}

impl Page {
    fn flags(&self) -> Result<u16, BoltError> {
        u16_at(&self.bytes, 8)
    }

    fn count(&self) -> Result<usize, BoltError> {
        u16_at(&self.bytes, 10).map(usize::from)
    }

    fn slice(&self, at: usize, len: usize) -> Result<&[u8], BoltError> {
        self.bytes
            .get(at..at + len)
            .ok_or_else(|| layout("element outside its page"))
    }

    /// Branch element i: (first key of the child, child page id).
    fn branch(&self, i: usize) -> Result<(&[u8], u64), BoltError> {
        let at = PAGE_HEADER_LEN + i * ELEMENT_LEN;
        let pos = u32_at(&self.bytes, at)? as usize;
        let ksize = u32_at(&self.bytes, at + 4)? as usize;
        let pgid = u64_at(&self.bytes, at + 8)?;
        Ok((self.slice(at + pos, ksize)?, pgid))
    }

    /// Leaf element i: (flags, key, value).
    fn leaf(&self, i: usize) -> Result<(u32, &[u8], &[u8]), BoltError> {
        let at = PAGE_HEADER_LEN + i * ELEMENT_LEN;
        let flags = u32_at(&self.bytes, at)?;
        let pos = u32_at(&self.bytes, at + 4)? as usize;
        let ksize = u32_at(&self.bytes, at + 8)? as usize;
        let vsize = u32_at(&self.bytes, at + 12)? as usize;
        let key = self.slice(at + pos, ksize)?;
        let value = self.slice(at + pos + ksize, vsize)?;
        Ok((flags, key, value))
    }
}

struct Db {
    file: File,
    page_size: u64,
    len: u64,
}

impl Db {
    fn page(&self, pgid: u64) -> Result<Page, BoltError> {
        let at = pgid
            .checked_mul(self.page_size)
            .filter(|at| at + self.page_size <= self.len)
            .ok_or_else(|| layout(format!("page {pgid} beyond the end of the file")))?;
        let mut bytes = vec![0u8; self.page_size as usize];
        self.file.read_exact_at(&mut bytes, at)?;
        let overflow = u64::from(u32_at(&bytes, 12)?);
        if overflow > 0 {
            let total = (overflow + 1) * self.page_size;
            if at + total > self.len {
                return Err(layout(format!("page {pgid} overflows the file")));
            }
            bytes.resize(total as usize, 0);
            self.file.read_exact_at(&mut bytes, at)?;
        }
        Ok(Page { bytes })
    }

    /// The page a bucket's root is: its own page, or the inline page stored in the bucket value.
    fn bucket_root(&self, value: &[u8]) -> Result<Page, BoltError> {
        let root = u64_at(value, 0)?;
        if root == 0 {
            let inline = value
                .get(BUCKET_HEADER_LEN..)
                .ok_or_else(|| layout("short inline bucket"))?;
            return Ok(Page {
                bytes: inline.to_vec(),
            });
        }
        self.page(root)
    }

    /// The value stored under `key` in the tree rooted at `page`.
    fn get(&self, mut page: Page, key: &[u8]) -> Result<Option<(u32, Vec<u8>)>, BoltError> {
        for _ in 0..MAX_DEPTH {
            let count = page.count()?;
            match page.flags()? {
                BRANCH_PAGE => {
                    // The child whose first key is the greatest one not above `key`.
                    let mut child = None;
                    for i in 0..count {
                        let (first, pgid) = page.branch(i)?;
                        if first > key && child.is_some() {
                            break;
                        }
                        child = Some(pgid);
                    }
                    let Some(pgid) = child else { return Ok(None) };
                    page = self.page(pgid)?;
                }
                LEAF_PAGE => {
                    for i in 0..count {
                        let (flags, k, v) = page.leaf(i)?;
                        if k == key {
                            return Ok(Some((flags, v.to_vec())));
                        }
                    }
                    return Ok(None);
                }
                other => return Err(layout(format!("page flags {other:#x} inside a tree"))),
            }
        }
        Err(layout("tree deeper than any real database"))
    }

    /// The greatest key in the tree rooted at `page`.
    fn last_key(&self, mut page: Page) -> Result<Option<Vec<u8>>, BoltError> {
        for _ in 0..MAX_DEPTH {
            let count = page.count()?;
            if count == 0 {
                return Ok(None);
            }
            match page.flags()? {
                BRANCH_PAGE => {
                    let (_, pgid) = page.branch(count - 1)?;
                    page = self.page(pgid)?;
                }
                LEAF_PAGE => {
                    let (_, k, _) = page.leaf(count - 1)?;
                    return Ok(Some(k.to_vec()));
                }
                other => return Err(layout(format!("page flags {other:#x} inside a tree"))),
            }
        }
        Err(layout("tree deeper than any real database"))
    }

    fn bucket(&self, root: &Page, name: &[u8]) -> Result<Option<Page>, BoltError> {
        let root = Page {
            bytes: root.bytes.clone(),
        };
        match self.get(root, name)? {
            Some((flags, value)) if flags & BUCKET_LEAF != 0 => Ok(Some(self.bucket_root(&value)?)),
            _ => Ok(None),
        }
    }
}

/// The main revision in an etcd revision key (`<8-byte BE main>_<8-byte BE sub>[t]`).
fn main_revision(key: &[u8]) -> Option<i64> {
    let b: [u8; 8] = key.get(..8)?.try_into().ok()?;
    i64::try_from(u64::from_be_bytes(b)).ok()
}

/// The valid meta page with the highest transaction id, as bbolt picks it: (page size, root bucket page).
fn meta(file: &File, len: u64) -> Result<(u64, u64), BoltError> {
    let mut head = vec![0u8; 4096.min(len as usize)];
    file.read_exact_at(&mut head, 0)?;
    let page_size =
        u64::from(crate::verify::check_bolt_header(&head).map_err(|e| layout(e.to_string()))?);
    let mut best: Option<(u64, u64)> = None;
    for at in [0, page_size] {
        let mut page = vec![0u8; PAGE_HEADER_LEN + 64];
        if at + page.len() as u64 > len {
            continue;
        }
        file.read_exact_at(&mut page, at)?;
        let m = PAGE_HEADER_LEN;
        if u32_at(&page, m)? != 0xED0C_DAED {
            continue;
        }
        let sum = fnv1a64(&page[m..m + 56]);
        if sum != u64_at(&page, m + 56)? {
            continue;
        }
        let root = u64_at(&page, m + 16)?;
        let txid = u64_at(&page, m + 48)?;
        if best.is_none_or(|(t, _)| txid > t) {
            best = Some((txid, root));
        }
    }
    let (_, root) = best.ok_or_else(|| layout("no valid meta page"))?;
    Ok((page_size, root))
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The store revision of the snapshot at `path` (etcd's 32-byte trailer may be present; it is never read).
/// `None` when the database holds no revision at all.
pub fn revision(path: &Path) -> Result<Option<i64>, BoltError> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let (page_size, root_pgid) = meta(&file, len)?;
    let db = Db {
        file,
        page_size,
        len,
    };
    let root = db.page(root_pgid)?;
    let last = match db.bucket(&root, b"key")? {
        Some(keys) => db.last_key(keys)?.and_then(|k| main_revision(&k)),
        None => None,
    };
    let compacted = match db.bucket(&root, b"meta")? {
        Some(meta) => db
            .get(meta, b"finishedCompactRev")?
            .and_then(|(_, v)| main_revision(&v)),
        None => None,
    };
    Ok(match (last, compacted) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    })
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
        assert!(revision(&path).is_err());
    }
}
