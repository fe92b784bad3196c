//! Pages read on demand from a `Read + Seek` source, with a small cache: memory stays bounded whatever
//! the file size (a 2 GiB snapshot is never held in memory).

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::rc::Rc;

use super::meta::{self, Meta, META_PAGE_LEN};
use super::page::{Page, HEADER_LEN};
use super::{Error, Problem};

/// Bytes of pages the cache holds at most.
const CACHE_BYTES: usize = 4 << 20;
/// The largest page (with its overflow) read into memory. etcd refuses requests over its
/// `--max-request-bytes` (1.5 MiB by default), so no real value comes near this; a damaged overflow count
/// is refused instead of allocating it.
pub const MAX_PAGE_BYTES: u64 = 256 << 20;

/// Both meta pages as read, and the one bbolt would use.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // `first` and `second` are for the structural check
pub struct Metas {
    pub first: Result<Meta, meta::HeaderError>,
    pub second: Result<Meta, meta::HeaderError>,
    pub chosen: Meta,
}

pub struct Pager<R> {
    src: R,
    pub page_size: u64,
    /// Bytes in the source (etcd's trailer included, if any).
    pub len: u64,
    cache: HashMap<u64, Rc<Page>>,
    order: VecDeque<u64>,
    cached_bytes: usize,
}

impl<R: Read + Seek> Pager<R> {
    /// Reads both meta pages and picks the one bbolt would open the database with.
    pub fn open(mut src: R) -> Result<(Pager<R>, Metas), Error> {
        let len = src.seek(SeekFrom::End(0))?;
        let mut head = vec![0u8; META_PAGE_LEN.min(len as usize)];
        src.seek(SeekFrom::Start(0))?;
        src.read_exact(&mut head)?;
        // Page 0 tells the page size; the second meta page sits one page further.
        let page_size = meta::identify(&head).map_err(|e| Problem::at(0, e))?;
        let mut second = vec![0u8; META_PAGE_LEN];
        let second = if u64::from(page_size) + META_PAGE_LEN as u64 <= len {
            src.seek(SeekFrom::Start(u64::from(page_size)))?;
            src.read_exact(&mut second)?;
            meta::parse(&second)
        } else {
            Err(meta::HeaderError::Short)
        };
        let first = meta::parse(&head);
        let chosen = meta::pick(first.ok(), second.ok())
            .ok_or_else(|| Problem::at(0, "neither meta page is valid (checksums do not match)"))?;
        let pager = Pager {
            src,
            page_size: u64::from(chosen.page_size),
            len,
            cache: HashMap::new(),
            order: VecDeque::new(),
            cached_bytes: 0,
        };
        Ok((
            pager,
            Metas {
                first,
                second,
                chosen,
            },
        ))
    }

    fn read_at(&mut self, at: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.src.seek(SeekFrom::Start(at))?;
        self.src.read_exact(buf)?;
        Ok(())
    }

    /// Page `pgid` with its overflow pages. `from` names the page that pointed here, for the message.
    pub fn page(&mut self, pgid: u64, from: u64) -> Result<Rc<Page>, Error> {
        if let Some(p) = self.cache.get(&pgid) {
            return Ok(Rc::clone(p));
        }
        let beyond = || {
            Problem::at(
                pgid,
                format!("beyond the end of the file (referenced from page {from})"),
            )
        };
        let at = pgid
            .checked_mul(self.page_size)
            .filter(|at| at.saturating_add(self.page_size) <= self.len)
            .ok_or_else(beyond)?;
        let mut bytes = vec![0u8; self.page_size as usize];
        self.read_at(at, &mut bytes)?;
        let overflow = u64::from(u32::from_le_bytes([
            bytes[12], bytes[13], bytes[14], bytes[15],
        ]));
        if overflow > 0 {
            let total = (overflow + 1) * self.page_size;
            if total > MAX_PAGE_BYTES {
                return Err(Problem::at(pgid, format!("claims {overflow} overflow pages ({total} bytes), more than any etcd value")).into());
            }
            if at + total > self.len {
                return Err(Problem::at(
                    pgid,
                    format!("its {overflow} overflow pages run past the end of the file"),
                )
                .into());
            }
            bytes.resize(total as usize, 0);
            self.read_at(at + self.page_size, &mut bytes[self.page_size as usize..])?;
        }
        debug_assert!(bytes.len() >= HEADER_LEN);
        let page = Rc::new(Page::new(pgid, false, bytes)?);
        self.remember(pgid, &page);
        Ok(page)
    }

    fn remember(&mut self, pgid: u64, page: &Rc<Page>) {
        let size = page.bytes.len();
        if size > CACHE_BYTES / 4 {
            return;
        }
        while self.cached_bytes + size > CACHE_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(p) = self.cache.remove(&old) {
                self.cached_bytes -= p.bytes.len();
            }
        }
        self.cache.insert(pgid, Rc::clone(page));
        self.order.push_back(pgid);
        self.cached_bytes += size;
    }
}
