//! The structural check on arbitrary pages: never panics, gives the same verdict twice, and on every
//! database it calls sound the revision lookup (`bolt::revision`) agrees with the walk.
//!
//! The input is the pages after two valid meta pages of 512 bytes (root page 3, freelist page 2, the
//! high-water mark at the input's last whole page), so the fuzzer explores trees, buckets, freelists and
//! overflow instead of fighting the meta checksum.
#![no_main]

use std::io::Cursor;

use etcdbak::bolt::{self, meta, Verdict};
use libfuzzer_sys::fuzz_target;

const PAGE: usize = 512;

fn meta_page(id: u64, txid: u64, hwm: u64) -> Vec<u8> {
    let mut p = Vec::with_capacity(PAGE);
    p.extend_from_slice(&id.to_le_bytes());
    p.extend_from_slice(&0x04u16.to_le_bytes());
    p.extend_from_slice(&[0; 6]);
    for f in [meta::MAGIC, meta::VERSION, PAGE as u32, 0] {
        p.extend_from_slice(&f.to_le_bytes());
    }
    for f in [3u64, 0, 2, hwm, txid] {
        p.extend_from_slice(&f.to_le_bytes());
    }
    let sum = meta::fnv1a64(&p[16..]);
    p.extend_from_slice(&sum.to_le_bytes());
    p.resize(PAGE, 0);
    p
}

fuzz_target!(|data: &[u8]| {
    let pages = data.len() / PAGE;
    let hwm = 2 + pages as u64;
    let mut file = meta_page(0, 9, hwm);
    file.extend(meta_page(1, 8, hwm));
    file.extend_from_slice(&data[..pages * PAGE]);
    let first = bolt::check(Cursor::new(&file)).expect("in memory");
    let again = bolt::check(Cursor::new(&file)).expect("in memory");
    assert_eq!(first, again, "the verdict must not depend on the cache");
    if let Verdict::Sound(summary) = first {
        let looked_up = bolt::revision(Cursor::new(&file)).expect("a sound database reads");
        assert_eq!(looked_up, summary.revision, "lookup and walk disagree");
    }
});
