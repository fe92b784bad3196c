//! Verification of a snapshot file on disk, before anything trusts it.
//!
//! An etcd snapshot as `etcdctl snapshot save` writes it is a bbolt database followed by a 32-byte SHA-256
//! of everything before it. `etcdutl snapshot restore` checks that trailer, so a file that passes here
//! restores without `--skip-hash-check`. The bbolt meta pages are checked too, so a file that merely ends in
//! a matching hash (or is some other database) is refused as "not an etcd snapshot". [`backup`] judges a
//! whole backup for `etcdbak verify`: these checks, then the database's structure and its revision.

pub mod backup;
pub mod etcdutl;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Size of etcd's hash trailer.
pub const TRAILER_LEN: u64 = 32;

/// What a verified file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Bytes in the file, trailer included.
    pub file_size: u64,
    /// Lower-case hex SHA-256 of the whole file (what S3 metadata and `snapshot.json` carry).
    pub sha256: String,
    /// bbolt page size read from the meta page.
    pub page_size: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the snapshot is {0} bytes, too short to be an etcd snapshot (truncated?)")]
    TooShort(u64),
    #[error("the snapshot's SHA-256 trailer does not match its contents (corrupt or truncated)")]
    TrailerMismatch,
    #[error("the snapshot is not an etcd database (no bbolt meta page: {0})")]
    NotBolt(#[from] crate::bolt::HeaderError),
    #[error("the snapshot's SHA-256 is {actual}, but its metadata says {expected} (changed after it was taken)")]
    MetadataMismatch { expected: String, actual: String },
    #[error("the snapshot is {actual} bytes, but its metadata says {expected}")]
    SizeMismatch { expected: u64, actual: u64 },
}

/// Incremental verifier for a snapshot stream: feed bytes in order, then `finish`. Used both on a file and
/// while streaming from etcd, so a snapshot is hashed once as it is written.
pub struct Verifier {
    /// SHA-256 of everything but the held-back tail. The whole file's hash is this state plus the tail, so
    /// each byte is hashed once.
    body: Sha256,
    /// The last up-to-32 bytes seen: they may be the trailer, so they are held back from `body`.
    tail: Vec<u8>,
    head: Vec<u8>,
    len: u64,
}

/// Bytes kept from the start of the stream for the bbolt check (two meta pages of up to 16 KiB... the
/// second meta page sits at `page_size`, and etcd uses the OS page size, 4 KiB, so 64 KiB is ample).
const HEAD_KEEP: usize = 64 * 1024;

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    pub fn new() -> Self {
        Verifier {
            body: Sha256::new(),
            tail: Vec::with_capacity(2 * TRAILER_LEN as usize),
            head: Vec::with_capacity(HEAD_KEEP),
            len: 0,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if self.head.len() < HEAD_KEEP {
            let take = (HEAD_KEEP - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
        }
        let keep = TRAILER_LEN as usize;
        if bytes.len() >= keep {
            // Whatever was held back, and all of this chunk but its last 32 bytes, is body: hash it in
            // place instead of copying the chunk through `tail`.
            self.body.update(&self.tail);
            self.tail.clear();
            let (body, tail) = bytes.split_at(bytes.len() - keep);
            self.body.update(body);
            self.tail.extend_from_slice(tail);
        } else {
            self.tail.extend_from_slice(bytes);
            if self.tail.len() > keep {
                let release = self.tail.len() - keep;
                self.body.update(&self.tail[..release]);
                self.tail.drain(..release);
            }
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> Result<Verified, VerifyError> {
        // 2 meta pages + the trailer is the least a real snapshot can be.
        if self.len < 2 * 512 + TRAILER_LEN {
            return Err(VerifyError::TooShort(self.len));
        }
        if self.body.clone().finalize().as_slice() != self.tail.as_slice() {
            return Err(VerifyError::TrailerMismatch);
        }
        let page_size = crate::bolt::check_header(&self.head)?;
        let mut whole = self.body;
        whole.update(&self.tail);
        Ok(Verified {
            file_size: self.len,
            sha256: hex::encode(whole.finalize()),
            page_size,
        })
    }
}

/// Reads a snapshot file once, checking its trailer and bbolt header.
pub fn verify_file(path: &Path) -> std::io::Result<Result<Verified, VerifyError>> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut verifier = Verifier::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        verifier.update(&buf[..n]);
    }
    Ok(verifier.finish())
}

/// A verified file must also be the one its metadata describes.
pub fn check_against(
    verified: &Verified,
    expected_sha256: &str,
    expected_size: u64,
) -> Result<(), VerifyError> {
    if verified.file_size != expected_size {
        return Err(VerifyError::SizeMismatch {
            expected: expected_size,
            actual: verified.file_size,
        });
    }
    if !verified.sha256.eq_ignore_ascii_case(expected_sha256) {
        return Err(VerifyError::MetadataMismatch {
            expected: expected_sha256.to_string(),
            actual: verified.sha256.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bolt::meta::{fnv1a64, MAGIC as BOLT_MAGIC, VERSION as BOLT_VERSION};
    use crate::bolt::page::HEADER_LEN as PAGE_HEADER_LEN;

    const META_CHECKSUMMED_LEN: usize = 56;

    /// A minimal but genuine bbolt layout: two valid meta pages of 4 KiB, then some payload, then etcd's trailer.
    fn fake_db(payload: &[u8]) -> Vec<u8> {
        let page = 4096usize;
        let mut db = vec![0u8; 2 * page];
        for (i, at) in [0usize, page].into_iter().enumerate() {
            let m = at + PAGE_HEADER_LEN;
            db[m..m + 4].copy_from_slice(&BOLT_MAGIC.to_le_bytes());
            db[m + 4..m + 8].copy_from_slice(&BOLT_VERSION.to_le_bytes());
            db[m + 8..m + 12].copy_from_slice(&(page as u32).to_le_bytes());
            db[m + 48..m + 56].copy_from_slice(&(i as u64 + 7).to_le_bytes()); // txid
            let sum = fnv1a64(&db[m..m + META_CHECKSUMMED_LEN]);
            db[m + 56..m + 64].copy_from_slice(&sum.to_le_bytes());
        }
        db.extend_from_slice(payload);
        let hash = Sha256::digest(&db);
        db.extend_from_slice(&hash);
        db
    }

    fn verify(bytes: &[u8], chunk: usize) -> Result<Verified, VerifyError> {
        let mut v = Verifier::new();
        for c in bytes.chunks(chunk) {
            v.update(c);
        }
        v.finish()
    }

    #[test]
    fn accepts_a_well_formed_snapshot_in_any_chunking() {
        let db = fake_db(&[42u8; 10_000]);
        for chunk in [1, 31, 32, 33, 4096, 1 << 20] {
            let v = verify(&db, chunk).expect("valid");
            assert_eq!(v.file_size, db.len() as u64);
            assert_eq!(v.sha256, hex::encode(Sha256::digest(&db)));
            assert_eq!(v.page_size, 4096);
        }
    }

    #[test]
    fn refuses_a_flipped_byte_anywhere() {
        let db = fake_db(&[7u8; 5000]);
        for at in [100, 5000, db.len() - 40, db.len() - 1] {
            let mut bad = db.clone();
            bad[at] ^= 0x01;
            assert!(verify(&bad, 777).is_err(), "flip at {at} accepted");
        }
    }

    #[test]
    fn refuses_truncation() {
        let db = fake_db(&[1u8; 5000]);
        assert_eq!(
            verify(&db[..db.len() - 1], 64),
            Err(VerifyError::TrailerMismatch)
        );
        assert_eq!(verify(&db[..100], 64), Err(VerifyError::TooShort(100)));
    }

    #[test]
    fn refuses_a_file_with_a_valid_trailer_that_is_not_bbolt() {
        let mut junk = vec![0xabu8; 9000];
        let hash = Sha256::digest(&junk);
        junk.extend_from_slice(&hash);
        assert!(matches!(verify(&junk, 4096), Err(VerifyError::NotBolt(_))));
    }

    #[test]
    fn one_valid_meta_page_is_enough() {
        let mut db = fake_db(&[3u8; 100]);
        // Corrupt meta page 0's checksummed txid, then re-seal the trailer.
        db.truncate(db.len() - 32);
        db[PAGE_HEADER_LEN + 48] ^= 0xff;
        let hash = Sha256::digest(&db);
        db.extend_from_slice(&hash);
        assert!(verify(&db, 512).is_ok());
    }

    #[test]
    fn metadata_must_match() {
        let v = Verified {
            file_size: 10,
            sha256: "ab".into(),
            page_size: 4096,
        };
        assert!(check_against(&v, "AB", 10).is_ok());
        assert!(matches!(
            check_against(&v, "cd", 10),
            Err(VerifyError::MetadataMismatch { .. })
        ));
        assert!(matches!(
            check_against(&v, "ab", 11),
            Err(VerifyError::SizeMismatch { .. })
        ));
    }
}
