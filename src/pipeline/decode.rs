//! Decoding: `stored -> age decrypt -> zstd decompress (with a limit) -> SHA-256 and size check at EOF`, as a
//! `Read` adapter ([`Decoder`]) and a copy into a writer ([`decode`]).
//!
//! The checks run when the plaintext ends, so a caller that writes the output to a temporary name renames it
//! only after [`decode`] (or a read returning 0) succeeded.

use std::io::{self, BufReader, Read, Write};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::error::Error;
use super::format::Format;
use super::keys::Identities;
use super::metadata::ObjectFacts;
use super::tap::{Counter, Tap};

/// Largest zstd window accepted (16 MiB): levels up to 19 use at most 8 MiB, so every object etcdbak writes
/// and every `zstd -19` file decodes, while a frame asking for more memory is refused before it gets it.
const WINDOW_LOG_MAX: u32 = 24;

const STEP: usize = 64 * 1024;

/// What the decoded plaintext must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// How to read the object (from its name, checked against its recorded pipeline by the caller).
    pub format: Format,
    pub sha256: [u8; 32],
    /// Exact plaintext size when known.
    pub size: Option<u64>,
    /// Decoding stops with [`Error::TooLarge`] as soon as the plaintext would exceed this.
    pub limit: u64,
}

impl Expected {
    /// What an object's recorded pipeline metadata promises; the limit is the recorded size.
    pub fn from_recorded(recorded: &ObjectFacts) -> Expected {
        Expected {
            format: recorded.pipeline.format(),
            sha256: recorded.plaintext_sha256,
            size: Some(recorded.plaintext_size),
            limit: recorded.plaintext_size,
        }
    }
}

impl Expected {
    /// An object from before the pipeline: the snapshot file as is, with the store's own `sha256` and
    /// `file-size` metadata.
    pub fn plain(sha256: [u8; 32], size: u64) -> Expected {
        Expected {
            format: Format::PLAIN,
            sha256,
            size: Some(size),
            limit: size,
        }
    }
}

/// What was decoded, once the checks passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    pub plaintext_size: u64,
    pub stored_size: u64,
}

type Age<R> = age::stream::StreamReader<BufReader<Tap<R>>>;
type Zstd<R> = zstd::stream::read::Decoder<'static, BufReader<R>>;

enum Stage<R: Read> {
    Raw(Tap<R>),
    Age(Age<R>),
    Zstd(Zstd<Tap<R>>),
    ZstdAge(Zstd<Age<R>>),
}

impl<R: Read> Read for Stage<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stage::Raw(r) => r.read(buf),
            Stage::Age(r) => r.read(buf),
            Stage::Zstd(r) => r.read(buf),
            Stage::ZstdAge(r) => r.read(buf),
        }
    }
}

/// Reads plaintext out of a stored object. Errors come as `io::Error`s; [`Error::from_io`] recovers the
/// pipeline error. The digest and size are checked when a read returns 0: a caller that stops early has
/// checked nothing.
pub struct Decoder<R: Read> {
    stage: Stage<R>,
    expected: Expected,
    source: Arc<Counter>,
    hasher: Sha256,
    plaintext: u64,
    verified: bool,
}

impl<R: Read> Decoder<R> {
    /// Reads the age header now (so a wrong identity fails here, before any output); `identities` is only
    /// needed for an encrypted format.
    pub fn new(
        source: R,
        expected: &Expected,
        identities: Option<&Identities>,
    ) -> Result<Decoder<R>, Error> {
        let (tap, counter) = Tap::new(source);
        let stage = match (expected.format.compressed, expected.format.encrypted) {
            (false, false) => Stage::Raw(tap),
            (true, false) => Stage::Zstd(zstd_decoder(tap)?),
            (compressed, true) => {
                let age = decrypt(tap, identities.ok_or(Error::IdentityRequired)?, &counter)?;
                if compressed {
                    Stage::ZstdAge(zstd_decoder(age)?)
                } else {
                    Stage::Age(age)
                }
            }
        };
        Ok(Decoder {
            stage,
            expected: *expected,
            source: counter,
            hasher: Sha256::new(),
            plaintext: 0,
            verified: false,
        })
    }

    /// Sizes so far; final once a read has returned 0.
    pub fn decoded(&self) -> Decoded {
        Decoded {
            plaintext_size: self.plaintext,
            stored_size: self.source.bytes(),
        }
    }

    /// Names what went wrong inside the chain: the source, age's authentication, or zstd.
    fn blame(&self, e: io::Error) -> Error {
        if self.source.failed() {
            return Error::Source(e);
        }
        match e.kind() {
            io::ErrorKind::UnexpectedEof => Error::Truncated {
                detail: e.to_string(),
            },
            io::ErrorKind::InvalidData if self.expected.format.encrypted => Error::Tampered,
            _ => Error::CorruptCompression {
                detail: e.to_string(),
            },
        }
    }

    fn verify(&self) -> Result<(), Error> {
        let actual = self.plaintext;
        if let Some(expected) = self.expected.size {
            if actual < expected {
                return Err(Error::Truncated {
                    detail: format!("{actual} of {expected} plaintext bytes"),
                });
            }
            if actual != expected {
                return Err(Error::SizeMismatch { expected, actual });
            }
        }
        let digest: [u8; 32] = self.hasher.clone().finalize().into();
        if digest != self.expected.sha256 {
            return Err(Error::DigestMismatch {
                expected: hex::encode(self.expected.sha256),
                actual: hex::encode(digest),
            });
        }
        Ok(())
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.verified {
            return Ok(0);
        }
        let n = loop {
            match self.stage.read(buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.blame(e).into_io()),
            }
        };
        if n == 0 {
            self.verify().map_err(Error::into_io)?;
            self.verified = true;
            return Ok(0);
        }
        let total = self.plaintext + n as u64;
        if total > self.expected.limit {
            return Err(Error::TooLarge {
                limit: self.expected.limit,
            }
            .into_io());
        }
        self.hasher.update(&buf[..n]);
        self.plaintext = total;
        Ok(n)
    }
}

fn zstd_decoder<R: Read>(inner: R) -> Result<Zstd<R>, Error> {
    let mut z = zstd::stream::read::Decoder::new(inner).map_err(|e| Error::CorruptCompression {
        detail: e.to_string(),
    })?;
    z.window_log_max(WINDOW_LOG_MAX)
        .map_err(|e| Error::CorruptCompression {
            detail: e.to_string(),
        })?;
    Ok(z)
}

fn decrypt<R: Read>(
    tap: Tap<R>,
    identities: &Identities,
    source: &Counter,
) -> Result<Age<R>, Error> {
    let header = |e: age::DecryptError| match e {
        age::DecryptError::Io(e) if source.failed() => Error::Source(e),
        age::DecryptError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => Error::Truncated {
            detail: "in the age header".to_string(),
        },
        age::DecryptError::NoMatchingKeys => Error::WrongIdentity {
            count: identities.len(),
        },
        age::DecryptError::InvalidMac | age::DecryptError::DecryptionFailed => Error::Tampered,
        other => Error::BadHeader {
            detail: other.to_string(),
        },
    };
    let decryptor = age::Decryptor::new_buffered(BufReader::new(tap)).map_err(header)?;
    decryptor.decrypt(identities.as_dyn()).map_err(header)
}

/// Decodes `source` into `out` and checks it; the one call for `download`.
pub fn decode<R: Read, W: Write>(
    source: R,
    mut out: W,
    expected: &Expected,
    identities: Option<&Identities>,
) -> Result<(W, Decoded), Error> {
    let mut decoder = Decoder::new(source, expected, identities)?;
    let mut buf = vec![0u8; STEP];
    loop {
        let n = decoder
            .read(&mut buf)
            .map_err(|e| Error::from_io(e, Error::Source))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)?;
    Ok((out, decoder.decoded()))
}
