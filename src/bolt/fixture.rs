//! A tiny bbolt writer for tests: lays out pages exactly as bbolt does, with valid meta checksums, so a
//! test can build a sound database or one that is structurally corrupt while every checksum is right.

use super::meta::{fnv1a64, MAGIC, NO_FREELIST, VERSION};
use super::page::{BRANCH, BUCKET_LEAF, FREELIST, HEADER_LEN, LEAF, META};

pub const PAGE: usize = 4096;

/// An etcd revision key.
pub fn rev(main: u64, sub: u64, tombstone: bool) -> Vec<u8> {
    let mut k = main.to_be_bytes().to_vec();
    k.push(b'_');
    k.extend_from_slice(&sub.to_be_bytes());
    if tombstone {
        k.push(b't');
    }
    k
}

fn header(id: u64, flags: u16, count: usize, overflow: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(PAGE);
    p.extend_from_slice(&id.to_le_bytes());
    p.extend_from_slice(&flags.to_le_bytes());
    p.extend_from_slice(&u16::try_from(count).expect("count").to_le_bytes());
    p.extend_from_slice(&overflow.to_le_bytes());
    p
}

/// Pads to whole pages and sets the overflow count in the header.
fn seal(mut p: Vec<u8>) -> Vec<u8> {
    let pages = p.len().div_ceil(PAGE).max(1);
    p.resize(pages * PAGE, 0);
    p[12..16].copy_from_slice(&(pages as u32 - 1).to_le_bytes());
    p
}

/// A leaf page's bytes (elements then data), unpadded: what an inline bucket stores.
pub fn leaf_bytes(id: u64, entries: &[(u32, Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut p = header(id, LEAF, entries.len(), 0);
    let mut data = Vec::new();
    let table = HEADER_LEN + 16 * entries.len();
    for (i, (flags, k, v)) in entries.iter().enumerate() {
        let pos = table + data.len() - (HEADER_LEN + 16 * i);
        for f in [*flags, pos as u32, k.len() as u32, v.len() as u32] {
            p.extend_from_slice(&f.to_le_bytes());
        }
        data.extend_from_slice(k);
        data.extend_from_slice(v);
    }
    p.extend_from_slice(&data);
    p
}

pub fn leaf(id: u64, entries: &[(u32, Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    seal(leaf_bytes(id, entries))
}

pub fn branch(id: u64, children: &[(Vec<u8>, u64)]) -> Vec<u8> {
    let mut p = header(id, BRANCH, children.len(), 0);
    let mut data = Vec::new();
    let table = HEADER_LEN + 16 * children.len();
    for (i, (k, child)) in children.iter().enumerate() {
        let pos = table + data.len() - (HEADER_LEN + 16 * i);
        p.extend_from_slice(&(pos as u32).to_le_bytes());
        p.extend_from_slice(&(k.len() as u32).to_le_bytes());
        p.extend_from_slice(&child.to_le_bytes());
        data.extend_from_slice(k);
    }
    p.extend_from_slice(&data);
    seal(p)
}

pub fn freelist(id: u64, ids: &[u64]) -> Vec<u8> {
    let mut p = if ids.len() >= 0xFFFF {
        let mut p = header(id, FREELIST, 0xFFFF, 0);
        p.extend_from_slice(&(ids.len() as u64).to_le_bytes());
        p
    } else {
        header(id, FREELIST, ids.len(), 0)
    };
    for i in ids {
        p.extend_from_slice(&i.to_le_bytes());
    }
    seal(p)
}

/// A bucket entry for a leaf: its root page, or (root 0) an inline leaf page.
pub fn bucket(name: &[u8], root: u64, inline: Option<Vec<u8>>) -> (u32, Vec<u8>, Vec<u8>) {
    let mut v = root.to_le_bytes().to_vec();
    v.extend_from_slice(&0u64.to_le_bytes());
    v.extend_from_slice(&inline.unwrap_or_default());
    (BUCKET_LEAF, name.to_vec(), v)
}

pub fn kv(k: Vec<u8>, v: &[u8]) -> (u32, Vec<u8>, Vec<u8>) {
    (0, k, v.to_vec())
}

/// A database under construction: pages by id, then the meta fields.
#[derive(Clone)]
pub struct Db {
    pub pages: Vec<Vec<u8>>,
    pub root: u64,
    pub freelist: u64,
    pub txid: u64,
}

impl Db {
    pub fn new() -> Db {
        Db {
            pages: vec![],
            root: 3,
            freelist: 2,
            txid: 8,
        }
    }

    /// Puts `bytes` (whole pages) at page `id`.
    pub fn put(&mut self, id: u64, bytes: Vec<u8>) -> &mut Db {
        let end = id as usize + bytes.len() / PAGE;
        if self.pages.len() < end {
            self.pages.resize(end, vec![0u8; PAGE]);
        }
        for (k, chunk) in bytes.chunks(PAGE).enumerate() {
            self.pages[id as usize + k] = chunk.to_vec();
        }
        self
    }

    pub fn meta(&self, id: u64, txid: u64) -> Vec<u8> {
        let mut p = header(id, META, 0, 0);
        for f in [MAGIC, VERSION, PAGE as u32, 0] {
            p.extend_from_slice(&f.to_le_bytes());
        }
        let hwm = self.pages.len().max(2) as u64;
        for f in [self.root, 0, self.freelist, hwm, txid] {
            p.extend_from_slice(&f.to_le_bytes());
        }
        let sum = fnv1a64(&p[HEADER_LEN..]);
        p.extend_from_slice(&sum.to_le_bytes());
        p.resize(PAGE, 0);
        p
    }

    /// The file: two meta pages as `tx.WriteTo` writes them (page 1 one transaction older), then the rest.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = self.meta(0, self.txid);
        out.extend(self.meta(1, self.txid - 1));
        for p in self.pages.iter().skip(2) {
            out.extend_from_slice(p);
        }
        out
    }

    pub fn without_freelist(&mut self) -> &mut Db {
        self.freelist = NO_FREELIST;
        self
    }
}

/// The database most tests start from (hwm 8):
/// 2 freelist [7], 3 root leaf {key -> 4, meta -> inline {finishedCompactRev: 5}},
/// 4 branch [rev1 -> 5, rev4 -> 6], 5 leaf [rev1, rev2, rev3], 6 leaf [rev4, rev5, rev6 tombstone], 7 free.
pub fn standard() -> Db {
    let mut db = Db::new();
    let meta_inline = leaf_bytes(0, &[kv(b"finishedCompactRev".to_vec(), &rev(5, 0, false))]);
    db.put(2, freelist(2, &[7]))
        .put(
            3,
            leaf(
                3,
                &[
                    bucket(b"key", 4, None),
                    bucket(b"meta", 0, Some(meta_inline)),
                ],
            ),
        )
        .put(
            4,
            branch(4, &[(rev(1, 0, false), 5), (rev(4, 0, false), 6)]),
        )
        .put(
            5,
            leaf(
                5,
                &[
                    kv(rev(1, 0, false), b"a"),
                    kv(rev(2, 0, false), b"b"),
                    kv(rev(3, 0, false), b"c"),
                ],
            ),
        )
        .put(
            6,
            leaf(
                6,
                &[
                    kv(rev(4, 0, false), b"d"),
                    kv(rev(5, 0, false), b"e"),
                    kv(rev(6, 0, true), b"f"),
                ],
            ),
        )
        .put(7, vec![0u8; PAGE]);
    db
}
