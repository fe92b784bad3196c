//! The measuring pass before an encoded upload: the snapshot file is read once through the verifier (etcd's
//! hash trailer, the bbolt header, the SHA-256 and size snapshot.json records) and the pipeline's encoder
//! into a counting sink, so the object's exact size is known before its first part is sent. The upload then
//! encodes the file again and must record the very same plaintext digest, plaintext size and stored size.
//!
//! zstd on one thread is deterministic for the same input and level, and age's output size depends only on
//! the plaintext size and the recipients, so the two passes agree unless the file changed.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::Error;
use crate::backup::SnapshotMetadata;
use crate::pipeline::{self, Encoding, Recorded};
use crate::verify::{self, Verifier};

/// A reader that feeds everything it yields to the snapshot verifier.
struct Verifying<R> {
    inner: R,
    verifier: Verifier,
}

impl<R: Read> Read for Verifying<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.verifier.update(&buf[..n]);
        Ok(n)
    }
}

/// Verifies the snapshot and measures its encoding; blocking.
fn measure_blocking(
    path: &Path,
    meta: &SnapshotMetadata,
    encoding: &Encoding,
) -> Result<(Recorded, u64), Error> {
    let file = std::fs::File::open(path).map_err(|source| Error::Input {
        path: path.to_path_buf(),
        source,
    })?;
    let mut src = Verifying {
        inner: io::BufReader::with_capacity(1 << 20, file),
        verifier: Verifier::new(),
    };
    // The encoder writes the age header when it is made; its length is what differs between passes.
    let header = Arc::new(AtomicU64::new(0));
    let armed = Arc::new(AtomicBool::new(false));
    let sink = Counting {
        header: header.clone(),
        armed: armed.clone(),
    };
    let mut encoder = pipeline::Encoder::new(sink, encoding)?;
    armed.store(true, Ordering::SeqCst);
    let header_len = header.load(Ordering::SeqCst);
    io::copy(&mut src, &mut encoder)
        .map_err(|e| pipeline::Error::from_io(e, pipeline::Error::Input))?;
    let (_, recorded) = encoder.finish()?;
    let corrupt = |source| Error::Corrupt {
        path: path.to_path_buf(),
        source,
    };
    let verified = src.verifier.finish().map_err(corrupt)?;
    verify::check_against(&verified, &meta.sha256, meta.file_size).map_err(corrupt)?;
    Ok((recorded, header_len))
}

/// Counts the bytes written before it is armed (the age header) and discards everything.
struct Counting {
    header: Arc<AtomicU64>,
    armed: Arc<AtomicBool>,
}

impl io::Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.armed.load(Ordering::SeqCst) {
            self.header.fetch_add(buf.len() as u64, Ordering::SeqCst);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Verifies the snapshot and records what its encoded object will be, with the age header's length.
pub(crate) async fn measure(
    path: &Path,
    meta: &SnapshotMetadata,
    encoding: &Encoding,
) -> Result<(Recorded, u64), Error> {
    let (path2, meta2, encoding2): (PathBuf, SnapshotMetadata, Encoding) =
        (path.to_path_buf(), meta.clone(), encoding.clone());
    tokio::task::spawn_blocking(move || measure_blocking(&path2, &meta2, &encoding2))
        .await
        .map_err(|e| {
            Error::io(
                "measure the encoded snapshot",
                io::Error::other(e.to_string()),
            )
        })?
}

/// What a plain (`.db`) object records: the snapshot as is.
pub(crate) fn plain_record(meta: &SnapshotMetadata) -> Result<Recorded, Error> {
    let mut sha = [0u8; 32];
    hex::decode_to_slice(meta.sha256.to_ascii_lowercase(), &mut sha)
        .map_err(|_| Error::Usage("snapshot.json's sha256 is not 64 hex digits".into()))?;
    Ok(Recorded {
        pipeline: pipeline::Pipeline::new(pipeline::Compression::None, false),
        plaintext_sha256: sha,
        plaintext_size: meta.file_size,
        stored_size: meta.file_size,
    })
}
