//! What the upload reads: the snapshot file front to back exactly once, either as is (verified as it is
//! read) or through the pipeline's encoder (zstd, age), whose output must be exactly what a measuring pass
//! over the same file recorded before the upload started.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::upload::Expected;
use super::Error;
use crate::pipeline::{Encoder, Encoding, Recorded};
use crate::verify::{self, Verifier};

/// How the object's bytes are made from the snapshot file.
#[derive(Debug, Clone)]
pub enum Payload {
    /// The file itself (`.db`), verified in the upload's one pass.
    Plain,
    /// The file encoded; `recorded` is what the measuring pass (which also verified the plaintext) got, so
    /// the object's size is known before the first part is sent.
    /// `header_len` is the age header's length in that pass: age adds random "grease" to each header, so
    /// only the rest of the object has the same size in every pass.
    Encoded {
        encoding: Encoding,
        recorded: Recorded,
        header_len: u64,
    },
}

/// The encoder's output, shared between the encoder (writing) and the part reader (draining).
#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<Vec<u8>>>);

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes written and not yet drained.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The file read through the encoder, one 64 KiB step at a time.
struct Encoded {
    file: std::fs::File,
    encoder: Option<Encoder<Shared>>,
    out: Shared,
    pos: usize,
    step: Vec<u8>,
    want: Recorded,
    got: Option<Recorded>,
}

impl Read for Encoded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut out = self.out.lock();
                let n = buf.len().min(out.len() - self.pos);
                buf[..n].copy_from_slice(&out[self.pos..self.pos + n]);
                self.pos += n;
                if self.pos == out.len() {
                    out.clear();
                    self.pos = 0;
                }
                if n > 0 || self.encoder.is_none() || buf.is_empty() {
                    return Ok(n);
                }
            }
            let n = self.file.read(&mut self.step)?;
            if n > 0 {
                if let Some(e) = self.encoder.as_mut() {
                    e.write_all(&self.step[..n])?;
                }
            } else if let Some(e) = self.encoder.take() {
                let (_, recorded) = e.finish().map_err(io::Error::other)?;
                self.got = Some(recorded);
            }
        }
    }
}

enum Reader {
    File(std::fs::File, Verifier),
    Encoded(Box<Encoded>),
}

/// The bytes to send, read in parts.
pub(crate) struct Source {
    reader: Reader,
    path: PathBuf,
    /// Bytes the object holds.
    pub(crate) stored_size: u64,
}

impl Source {
    pub(crate) fn open(path: &Path, payload: &Payload, plain_size: u64) -> Result<Source, Error> {
        let file = std::fs::File::open(path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let (reader, stored_size) = match payload {
            Payload::Plain => (Reader::File(file, Verifier::new()), plain_size),
            Payload::Encoded {
                encoding,
                recorded,
                header_len,
            } => {
                let out = Shared::default();
                let encoder = Encoder::new(out.clone(), encoding).map_err(|e| Error::Request {
                    op: "encode the snapshot".into(),
                    reason: e.to_string(),
                })?;
                // The age header is written when the encoder is made: its length is known now.
                let header = out.len() as u64;
                let stored = recorded.stored_size - header_len + header;
                let encoded = Encoded {
                    file,
                    encoder: Some(encoder),
                    out,
                    pos: 0,
                    step: vec![0u8; 64 * 1024],
                    want: Recorded {
                        stored_size: stored,
                        ..*recorded
                    },
                    got: None,
                };
                (Reader::Encoded(Box::new(encoded)), stored)
            }
        };
        Ok(Source {
            reader,
            path: path.to_path_buf(),
            stored_size,
        })
    }

    /// What the object records: for an encoded one, the measuring pass's values with this pass's size.
    pub(crate) fn recorded(&self) -> Option<Recorded> {
        match &self.reader {
            Reader::File(..) => None,
            Reader::Encoded(e) => Some(e.want),
        }
    }

    /// Reads the next `len` bytes into `buf` (feeding a plain file to the verifier). Blocking work, so it
    /// runs off the runtime's threads (which is why `self` travels by value).
    pub(crate) async fn read_part(
        self,
        mut buf: Vec<u8>,
        len: usize,
        offset: u64,
    ) -> Result<(Source, Vec<u8>), Error> {
        let read = tokio::task::spawn_blocking(move || {
            let mut src = self;
            buf.clear();
            buf.resize(len, 0);
            let r = match &mut src.reader {
                Reader::File(file, verifier) => {
                    let r = file.read_exact(&mut buf);
                    verifier.update(&buf);
                    r
                }
                Reader::Encoded(encoder) => encoder.read_exact(&mut buf),
            };
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
            what: format!("reading at byte {offset} failed: {e}; did it shrink?"),
        })?;
        Ok((src, buf))
    }

    /// The verdict on everything read: nothing may follow, and the bytes must be the expected snapshot
    /// (verified here for a plain file, recorded identically to the measuring pass for an encoded one).
    /// Returns the plaintext's hex SHA-256.
    pub(crate) fn finish(self, expected: &Expected) -> Result<String, Error> {
        let path = self.path;
        let mut probe = [0u8; 1];
        let grew = || Error::Changed {
            path: path.clone(),
            what: "it grew while it was being uploaded".into(),
        };
        match self.reader {
            Reader::File(mut file, verifier) => {
                if file.read(&mut probe).unwrap_or(0) != 0 {
                    return Err(grew());
                }
                let corrupt = |source| Error::Corrupt {
                    path: path.clone(),
                    source,
                };
                let verified = verifier.finish().map_err(corrupt)?;
                verify::check_against(&verified, &expected.sha256, expected.size)
                    .map_err(corrupt)?;
                Ok(verified.sha256)
            }
            Reader::Encoded(mut encoder) => {
                if encoder.read(&mut probe).unwrap_or(1) != 0 {
                    return Err(grew());
                }
                match encoder.got {
                    Some(got) if got == encoder.want => Ok(hex::encode(got.plaintext_sha256)),
                    _ => Err(Error::Changed {
                        path: path.clone(),
                        what: "it changed between the verifying pass and the upload".into(),
                    }),
                }
            }
        }
    }
}
