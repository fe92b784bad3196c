//! One bbolt page as bytes: its header, and the branch, leaf and freelist elements inside it.
//!
//! Every offset comes from the file, so every access is bounds-checked and a bad one is a [`Problem`]
//! naming the page, never a panic.

use super::Problem;

/// Page header: id u64, flags u16, count u16, overflow u32.
pub const HEADER_LEN: usize = 16;
/// Branch element (pos, ksize u32, pgid u64) and leaf element (flags, pos, ksize, vsize u32): both 16.
const ELEMENT_LEN: usize = 16;
pub const BRANCH: u16 = 0x01;
pub const LEAF: u16 = 0x02;
pub const META: u16 = 0x04;
pub const FREELIST: u16 = 0x10;
/// Leaf element flag: the value is a nested bucket.
pub const BUCKET_LEAF: u32 = 0x01;
/// A bucket value starts with its root page id and sequence; an inline bucket's page follows.
pub const BUCKET_HEADER_LEN: usize = 16;

/// A page read from the file, or a bucket's inline page (then `id` is the page holding it).
#[derive(Debug, Clone)]
pub struct Page {
    pub id: u64,
    pub inline: bool,
    pub bytes: Vec<u8>,
}

/// Branch element: the first key of a child and the child's page id.
pub struct Branch<'a> {
    pub key: &'a [u8],
    pub child: u64,
}

/// Leaf element: a key and its value, or a nested bucket.
pub struct Leaf<'a> {
    pub flags: u32,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

impl Leaf<'_> {
    pub fn is_bucket(&self) -> bool {
        self.flags & BUCKET_LEAF != 0
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

pub fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(s))
}

impl Page {
    /// `bytes` must hold at least a page header; the pager and the inline-bucket reader make sure of it.
    pub fn new(id: u64, inline: bool, bytes: Vec<u8>) -> Result<Page, Problem> {
        if bytes.len() < HEADER_LEN {
            return Err(Problem::at(id, "page shorter than its header"));
        }
        Ok(Page { id, inline, bytes })
    }

    pub fn problem(&self, what: impl std::fmt::Display) -> Problem {
        if self.inline {
            Problem::at(self.id, format!("inline bucket: {what}"))
        } else {
            Problem::at(self.id, what)
        }
    }

    /// The id the page says it has (bbolt writes it; it must match where the page sits).
    pub fn header_id(&self) -> u64 {
        u64_at(&self.bytes, 0).unwrap_or(u64::MAX)
    }

    pub fn flags(&self) -> u16 {
        u16_at(&self.bytes, 8).unwrap_or(0)
    }

    pub fn count(&self) -> usize {
        usize::from(u16_at(&self.bytes, 10).unwrap_or(0))
    }

    pub fn overflow(&self) -> u32 {
        u32_at(&self.bytes, 12).unwrap_or(0)
    }

    fn element(&self, i: usize) -> Result<(usize, u32, u32, u64), Problem> {
        let at = HEADER_LEN + i * ELEMENT_LEN;
        let fields = || -> Option<(u32, u32, u64)> {
            Some((
                u32_at(&self.bytes, at)?,
                u32_at(&self.bytes, at + 4)?,
                u64_at(&self.bytes, at + 8)?,
            ))
        };
        let (a, b, c) = fields().ok_or_else(|| {
            self.problem(format!(
                "element {i} of {} lies beyond the page's {} bytes",
                self.count(),
                self.bytes.len()
            ))
        })?;
        Ok((at, a, b, c))
    }

    fn slice(&self, i: usize, from: usize, len: usize) -> Result<&[u8], Problem> {
        from.checked_add(len)
            .and_then(|end| self.bytes.get(from..end))
            .ok_or_else(|| {
                self.problem(format!(
                    "element {i} points outside the page ({len} bytes at offset {from} of {})",
                    self.bytes.len()
                ))
            })
    }

    /// Branch element `i`.
    pub fn branch(&self, i: usize) -> Result<Branch<'_>, Problem> {
        let (at, pos, ksize, child) = self.element(i)?;
        let key = self.slice(i, at + pos as usize, ksize as usize)?;
        Ok(Branch { key, child })
    }

    /// Leaf element `i`.
    pub fn leaf(&self, i: usize) -> Result<Leaf<'_>, Problem> {
        let (at, flags, pos, sizes) = self.element(i)?;
        // The last u64 of a leaf element is two u32s: key size, then value size.
        let ksize = (sizes & 0xffff_ffff) as usize;
        let vsize = (sizes >> 32) as usize;
        let start = at + pos as usize;
        let key = self.slice(i, start, ksize)?;
        let value = self.slice(i, start + ksize, vsize)?;
        Ok(Leaf { flags, key, value })
    }

    /// The page ids a freelist page lists (a count of 0xFFFF means the real count is the first id).
    pub fn freelist_ids(&self) -> Result<Vec<u64>, Problem> {
        let (skip, count) = match self.count() {
            0xFFFF => {
                let n = u64_at(&self.bytes, HEADER_LEN).unwrap_or(u64::MAX);
                (1usize, usize::try_from(n).unwrap_or(usize::MAX))
            }
            n => (0, n),
        };
        let room = (self.bytes.len() - HEADER_LEN) / 8;
        if count > room.saturating_sub(skip) {
            return Err(self.problem(format!(
                "freelist claims {count} ids, its pages hold at most {}",
                room.saturating_sub(skip)
            )));
        }
        Ok((skip..skip + count)
            .filter_map(|k| u64_at(&self.bytes, HEADER_LEN + 8 * k))
            .collect())
    }

    /// A nested bucket's inline page, stored after the bucket header in the leaf value.
    pub fn inline(holder: u64, value: &[u8]) -> Result<Page, Problem> {
        let bytes = value
            .get(BUCKET_HEADER_LEN..)
            .filter(|b| b.len() >= HEADER_LEN)
            .ok_or_else(|| Problem::at(holder, "inline bucket shorter than a page header"))?;
        Page::new(holder, true, bytes.to_vec())
    }
}

/// A bucket value's root page id (0: the bucket is inline).
pub fn bucket_root(holder: u64, value: &[u8]) -> Result<u64, Problem> {
    u64_at(value, 0).ok_or_else(|| Problem::at(holder, "bucket value shorter than its header"))
}
