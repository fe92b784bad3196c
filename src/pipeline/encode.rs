//! Encoding: `plaintext -> SHA-256 and size -> zstd -> age -> sink`, as a `Write` adapter ([`Encoder`]) and
//! as a `Read` adapter over the plaintext ([`EncodeReader`]) for an upload loop that pulls parts.
//!
//! Memory is bounded by zstd's window at the chosen level (a few MiB, more with worker threads) plus one
//! 64 KiB age chunk; nothing grows with the snapshot.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::error::Error;
use super::format::{Compression, Pipeline};
use super::keys::Recipients;
use super::metadata::ObjectFacts;
use super::tap::{Counter, Tap};

/// Plaintext read per step by [`encode`] and [`EncodeReader`]: an age chunk, and small enough that the
/// encoder's output for one step stays small.
const STEP: usize = 64 * 1024;

/// How to encode one backup.
#[derive(Debug, Clone, Default)]
pub struct Encoding {
    pub compression: Compression,
    /// `None`: not encrypted.
    pub recipients: Option<Recipients>,
    /// zstd worker threads; 0 compresses on the calling thread.
    pub threads: u32,
}

impl Encoding {
    pub fn pipeline(&self) -> Pipeline {
        Pipeline::new(self.compression, self.recipients.is_some())
    }
}

/// Below zstd: age or nothing, then the counting tap on the sink.
enum Sealed<W: Write> {
    Plain(Tap<W>),
    Age(age::stream::StreamWriter<Tap<W>>),
}

impl<W: Write> Write for Sealed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sealed::Plain(w) => w.write(buf),
            Sealed::Age(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sealed::Plain(w) => w.flush(),
            Sealed::Age(w) => w.flush(),
        }
    }
}

impl<W: Write> Sealed<W> {
    fn finish(self) -> io::Result<Tap<W>> {
        let mut tap = match self {
            Sealed::Plain(w) => w,
            Sealed::Age(w) => w.finish()?,
        };
        tap.flush()?;
        Ok(tap)
    }
}

enum Packed<W: Write> {
    Raw(Sealed<W>),
    Zstd(zstd::stream::write::Encoder<'static, Sealed<W>>),
}

impl<W: Write> Packed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Packed::Raw(w) => w.write(buf),
            Packed::Zstd(w) => w.write(buf),
        }
    }

    fn finish(self) -> io::Result<Sealed<W>> {
        match self {
            Packed::Raw(w) => Ok(w),
            Packed::Zstd(w) => w.finish(),
        }
    }
}

/// Writes plaintext in, encoded bytes out to the sink. Call [`Encoder::finish`]: without it the object is
/// truncated (zstd's last block and age's last chunk are written there).
pub struct Encoder<W: Write> {
    packed: Packed<W>,
    hasher: Sha256,
    plaintext: u64,
    pipeline: Pipeline,
    sink: Arc<Counter>,
}

impl<W: Write> Encoder<W> {
    pub fn new(sink: W, encoding: &Encoding) -> Result<Encoder<W>, Error> {
        let (tap, counter) = Tap::new(sink);
        let sealed = match &encoding.recipients {
            None => Sealed::Plain(tap),
            Some(recipients) => {
                let age = age::Encryptor::with_recipients(recipients.as_dyn())
                    .map_err(|e| Error::Encrypt(e.to_string()))?;
                // wrap_output writes the age header to the sink, so a failure here is the sink's.
                Sealed::Age(age.wrap_output(tap).map_err(Error::Sink)?)
            }
        };
        let packed = match encoding.compression {
            Compression::None => Packed::Raw(sealed),
            Compression::Zstd { level } => {
                Packed::Zstd(zstd_encoder(sealed, level, encoding.threads)?)
            }
        };
        Ok(Encoder {
            packed,
            hasher: Sha256::new(),
            plaintext: 0,
            pipeline: encoding.pipeline(),
            sink: counter,
        })
    }

    /// Writes the last blocks and returns the sink and what to record in the object's metadata.
    pub fn finish(self) -> Result<(W, ObjectFacts), Error> {
        let sink = self.sink.clone();
        let blame = |e| blame(&sink, e);
        let tap = self
            .packed
            .finish()
            .map_err(blame)?
            .finish()
            .map_err(blame)?;
        let recorded = ObjectFacts {
            pipeline: self.pipeline,
            plaintext_sha256: self.hasher.finalize().into(),
            plaintext_size: self.plaintext,
            stored_size: Some(self.sink.bytes()),
        };
        Ok((tap.into_inner(), recorded))
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self
            .packed
            .write(buf)
            .map_err(|e| blame(&self.sink, e).into_io())?;
        self.hasher.update(&buf[..n]);
        self.plaintext += n as u64;
        Ok(n)
    }

    /// Does not force a zstd block out (that would cost ratio); the sink sees everything at `finish`.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn zstd_encoder<W: Write>(
    sealed: Sealed<W>,
    level: i32,
    threads: u32,
) -> Result<zstd::stream::write::Encoder<'static, Sealed<W>>, Error> {
    let mut z = zstd::stream::write::Encoder::new(sealed, level).map_err(Error::Compress)?;
    // The frame checksum lets a plain `zstd -d` notice corruption too, for restores without etcdbak.
    z.include_checksum(true).map_err(Error::Compress)?;
    if threads > 0 {
        z.multithread(threads).map_err(Error::Compress)?;
    }
    Ok(z)
}

/// An error from inside the chain is the sink's when the sink failed, else the encoder's own.
fn blame(sink: &Counter, e: io::Error) -> Error {
    if sink.failed() {
        Error::Sink(e)
    } else {
        Error::Compress(e)
    }
}

/// Encodes everything `src` yields into `sink`.
pub fn encode<R: Read, W: Write>(
    mut src: R,
    sink: W,
    encoding: &Encoding,
) -> Result<(W, ObjectFacts), Error> {
    let mut encoder = Encoder::new(sink, encoding)?;
    let mut buf = vec![0u8; STEP];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::Input(e)),
        };
        encoder
            .write_all(&buf[..n])
            .map_err(|e| Error::from_io(e, Error::Compress))?;
    }
    encoder.finish()
}

/// The encoder's output buffer inside [`EncodeReader`]: filled by one step, drained by reads before the next.
#[derive(Clone, Default)]
struct Pending(Arc<Mutex<Vec<u8>>>);

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // Poisoning cannot leave a Vec<u8> half-updated in a way that matters here.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Write for Pending {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads the encoded object out of a plaintext reader: the upload loop reads parts from this instead of from
/// the file. At EOF, [`EncodeReader::recorded`] holds the metadata to write. Errors come as `io::Error`s;
/// [`Error::from_io`] recovers the pipeline error (e.g. [`Error::Input`] when the file read failed).
pub struct EncodeReader<R: Read> {
    src: R,
    encoder: Option<Encoder<Pending>>,
    pending: Pending,
    pos: usize,
    step: Vec<u8>,
    recorded: Option<ObjectFacts>,
}

impl<R: Read> EncodeReader<R> {
    pub fn new(src: R, encoding: &Encoding) -> Result<EncodeReader<R>, Error> {
        let pending = Pending::default();
        let encoder = Encoder::new(pending.clone(), encoding)?;
        Ok(EncodeReader {
            src,
            encoder: Some(encoder),
            pending,
            pos: 0,
            step: vec![0u8; STEP],
            recorded: None,
        })
    }

    /// What to record in the object's metadata; `Some` once a read has returned 0.
    pub fn recorded(&self) -> Option<&ObjectFacts> {
        self.recorded.as_ref()
    }

    /// True once the encoder has finished and everything it wrote was read: the object has ended.
    pub fn drained(&self) -> bool {
        self.encoder.is_none() && self.pending.lock().len() == self.pos
    }

    /// The plaintext reader back (to check what it saw), with what the encoding recorded if it finished.
    pub fn into_parts(self) -> (R, Option<ObjectFacts>) {
        (self.src, self.recorded)
    }

    /// Copies out what the last step produced; 0 when it is drained.
    fn drain(&mut self, out: &mut [u8]) -> usize {
        let mut pending = self.pending.lock();
        let n = out.len().min(pending.len() - self.pos);
        out[..n].copy_from_slice(&pending[self.pos..self.pos + n]);
        self.pos += n;
        if self.pos == pending.len() {
            pending.clear();
            self.pos = 0;
        }
        n
    }

    /// Feeds one step of plaintext to the encoder, or finishes it at EOF.
    fn step(&mut self) -> io::Result<()> {
        let Some(encoder) = self.encoder.as_mut() else {
            return Ok(());
        };
        let n = loop {
            match self.src.read(&mut self.step) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Input(e).into_io()),
            }
        };
        if n > 0 {
            return encoder.write_all(&self.step[..n]);
        }
        if let Some(encoder) = self.encoder.take() {
            let (_, recorded) = encoder.finish().map_err(Error::into_io)?;
            self.recorded = Some(recorded);
        }
        Ok(())
    }
}

impl<R: Read> Read for EncodeReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let n = self.drain(out);
            if n > 0 || self.encoder.is_none() {
                return Ok(n);
            }
            self.step()?;
        }
    }
}
