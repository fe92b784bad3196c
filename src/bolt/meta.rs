//! The two meta pages at the start of a bbolt file: which one bbolt trusts, and where the tree starts.

use super::page::HEADER_LEN;

pub const MAGIC: u32 = 0xED0C_DAED;
pub const VERSION: u32 = 2;
/// The meta struct after the page header: magic, version, pageSize, flags (4 x u32), root bucket
/// (2 x u64), freelist, pgid, txid (3 x u64), then the checksum over all of that.
const CHECKSUMMED_LEN: usize = 16 + 16 + 24;
/// Page header plus the whole meta struct: the least a meta page must hold.
pub const META_PAGE_LEN: usize = HEADER_LEN + CHECKSUMMED_LEN + 8;
/// `meta.freelist` when bbolt was told not to persist the freelist (`NoFreelistSync`).
pub const NO_FREELIST: u64 = u64::MAX;

/// One parsed meta page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub page_size: u32,
    /// Page id of the root bucket's root page.
    pub root: u64,
    /// Page id of the freelist, or [`NO_FREELIST`].
    pub freelist: u64,
    /// High-water mark: the number of pages the database uses.
    pub high_water: u64,
    pub txid: u64,
}

/// Why bytes are not a bbolt meta page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("file shorter than a meta page")]
    Short,
    #[error("wrong magic number")]
    Magic,
    #[error("unsupported bbolt version")]
    Version,
    #[error("implausible page size {0}")]
    PageSize(u32),
    #[error("meta page checksums do not match")]
    Checksum,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// FNV-1a 64, bbolt's meta checksum.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Magic, version and a page size bbolt could have written; the checksum is checked by [`parse`].
pub fn identify(page: &[u8]) -> Result<u32, HeaderError> {
    if page.len() < META_PAGE_LEN {
        return Err(HeaderError::Short);
    }
    let m = HEADER_LEN;
    if u32_at(page, m) != MAGIC {
        return Err(HeaderError::Magic);
    }
    if u32_at(page, m + 4) != VERSION {
        return Err(HeaderError::Version);
    }
    let page_size = u32_at(page, m + 8);
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(HeaderError::PageSize(page_size));
    }
    Ok(page_size)
}

/// Parses a meta page (at least [`META_PAGE_LEN`] bytes from the start of the page), checksum included.
pub fn parse(page: &[u8]) -> Result<Meta, HeaderError> {
    let page_size = identify(page)?;
    let m = HEADER_LEN;
    if fnv1a64(&page[m..m + CHECKSUMMED_LEN]) != u64_at(page, m + CHECKSUMMED_LEN) {
        return Err(HeaderError::Checksum);
    }
    Ok(Meta {
        page_size,
        root: u64_at(page, m + 16),
        freelist: u64_at(page, m + 32),
        high_water: u64_at(page, m + 40),
        txid: u64_at(page, m + 48),
    })
}

/// The meta bbolt opens the database with: the valid one with the highest transaction id.
pub fn pick(first: Option<Meta>, second: Option<Meta>) -> Option<Meta> {
    match (first, second) {
        (Some(a), Some(b)) => Some(if b.txid > a.txid { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Checks the meta pages at the start of a database (`head` holds its first bytes): page 0 must carry
/// bbolt's magic, version and a sane page size, and one of the two meta pages a valid checksum, because
/// bbolt itself opens a file when either is valid. Returns the page size.
pub fn check_header(head: &[u8]) -> Result<u32, HeaderError> {
    let page_size = identify(head)?;
    if parse(head).is_ok() {
        return Ok(page_size);
    }
    let second = page_size as usize;
    match head.get(second..) {
        Some(page) if page.len() >= META_PAGE_LEN && parse(page).is_ok() => Ok(page_size),
        _ => Err(HeaderError::Checksum),
    }
}
