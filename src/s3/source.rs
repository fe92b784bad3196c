//! What the upload reads: the snapshot file front to back exactly once, either as is or through the
//! pipeline's encoder (zstd, age). Either way the plaintext goes through etcd's snapshot verifier as it is
//! read, so the checks and the bytes sent come from the same single read. An encoded object's size is
//! known only at its end: the upload sends parts until the source is done.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::Error;
use crate::pipeline::{self, EncodeReader, Encoding, ObjectFacts};
use crate::verify::{self, Verifier};

/// How the object's bytes are made from the snapshot file.
#[derive(Debug, Clone)]
pub enum Payload {
    /// The file itself (`.db`).
    Plain,
    /// The file encoded (`.db.zst`, `.db.age`, `.db.zst.age`).
    Encoded { encoding: Encoding },
}

/// What the snapshot must be (from snapshot.json) and how the object is made from it; checked before the
/// upload completes.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The plaintext's SHA-256 and size.
    pub sha256: String,
    pub size: u64,
    pub payload: Payload,
}

/// The plaintext as read from the file, fed to etcd's snapshot verifier on the way.
struct Verifying {
    file: std::fs::File,
    verifier: Verifier,
}

impl Read for Verifying {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.verifier.update(&buf[..n]);
        Ok(n)
    }
}

/// A failed read of the file itself is reported as the file's (the caller says it changed); anything else
/// stays the pipeline's error.
fn file_error(e: io::Error) -> io::Error {
    match pipeline::Error::from_io(e, pipeline::Error::Input) {
        pipeline::Error::Input(e) => e,
        other => other.into_io(),
    }
}

enum Reader {
    /// The file, its verifier, and how many bytes snapshot.json says it has.
    File(Verifying, u64),
    /// The file through the pipeline's encoder, pulled one 64 KiB step at a time.
    Encoded(Box<EncodeReader<Verifying>>),
}

/// The bytes to send, read in parts.
pub(crate) struct Source {
    reader: Reader,
    path: PathBuf,
    /// Bytes handed out so far.
    read: u64,
}

impl Source {
    pub(crate) fn open(path: &Path, payload: &Payload, plain_size: u64) -> Result<Source, Error> {
        let file = std::fs::File::open(path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let plain = Verifying {
            file,
            verifier: Verifier::new(),
        };
        let reader = match payload {
            Payload::Plain => Reader::File(plain, plain_size),
            Payload::Encoded { encoding } => {
                let encoder = EncodeReader::new(plain, encoding).map_err(|e| Error::Request {
                    op: "encode the snapshot".into(),
                    reason: e.to_string(),
                })?;
                Reader::Encoded(Box::new(encoder))
            }
        };
        Ok(Source {
            reader,
            path: path.to_path_buf(),
            read: 0,
        })
    }

    /// The object's size when it is known before reading (a plain file).
    pub(crate) fn known_size(&self) -> Option<u64> {
        match &self.reader {
            Reader::File(_, size) => Some(*size),
            Reader::Encoded(_) => None,
        }
    }

    /// True when every byte of the object has been handed out.
    fn done(&self) -> bool {
        match &self.reader {
            Reader::File(_, size) => self.read >= *size,
            Reader::Encoded(e) => e.drained(),
        }
    }

    /// Blocking: fills `buf` with up to `max` bytes; fewer only at the object's end.
    fn fill(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<()> {
        buf.clear();
        match &mut self.reader {
            Reader::File(file, size) => {
                // Exactly what snapshot.json promises: a shorter file is an error, not an end.
                let len = (max as u64).min(size.saturating_sub(self.read)) as usize;
                buf.resize(len, 0);
                file.read_exact(buf)?;
            }
            Reader::Encoded(e) => {
                buf.resize(max, 0);
                let mut at = 0;
                while at < max {
                    match e.read(&mut buf[at..]).map_err(file_error)? {
                        0 => break,
                        n => at += n,
                    }
                }
                // While the encoder runs there is always more to come (zstd's end frame, age's last
                // chunk), so a full buffer never ends the object by mistake.
                buf.truncate(at);
            }
        }
        self.read += buf.len() as u64;
        Ok(())
    }

    /// Reads the next part (up to `max` bytes) into `buf`, off the runtime's threads (which is why `self`
    /// travels by value). Returns whether the object has ended with it.
    pub(crate) async fn read_part(
        self,
        mut buf: Vec<u8>,
        max: usize,
    ) -> Result<(Source, Vec<u8>, bool), Error> {
        let read = tokio::task::spawn_blocking(move || {
            let mut src = self;
            let r = src.fill(&mut buf, max);
            (src, buf, r)
        })
        .await
        .map_err(|e| Error::Request {
            op: "read the snapshot".into(),
            reason: e.to_string(),
        })?;
        let (src, buf, r) = read;
        r.map_err(|e| Error::Changed {
            path: src.path.clone(),
            what: format!("reading at byte {} failed: {e}; did it shrink?", src.read),
        })?;
        let done = src.done();
        Ok((src, buf, done))
    }

    /// The verdict on everything read: nothing may follow, and the plaintext must be the snapshot that
    /// snapshot.json describes (etcd's trailer, SHA-256, size). Returns the plaintext's hex SHA-256 and, for
    /// an encoded object, what its encoding recorded.
    pub(crate) fn finish(
        self,
        expected: &Expected,
    ) -> Result<(String, Option<ObjectFacts>), Error> {
        let path = self.path;
        let (mut plain, recorded) = match self.reader {
            Reader::File(plain, _) => (plain, None),
            Reader::Encoded(e) => e.into_parts(),
        };
        let mut probe = [0u8; 1];
        if plain.file.read(&mut probe).unwrap_or(0) != 0 {
            return Err(Error::Changed {
                path,
                what: "it grew while it was being uploaded".into(),
            });
        }
        let corrupt = |source| Error::Corrupt {
            path: path.clone(),
            source,
        };
        let verified = plain.verifier.finish().map_err(corrupt)?;
        verify::check_against(&verified, &expected.sha256, expected.size).map_err(corrupt)?;
        Ok((verified.sha256, recorded))
    }
}
