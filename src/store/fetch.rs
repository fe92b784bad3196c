//! Streaming a backup object out of S3 through the pipeline's decoder into `PATH.part`: the async side
//! receives the object's chunks and hands them over a bounded channel to a blocking thread, which decrypts,
//! decompresses (with the recorded plaintext size as the limit), hashes and writes, and checks etcd's trailer
//! and the bbolt header of the plaintext as it is written. Memory is bounded by the channel's few chunks
//! plus zstd's window.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;

use super::Error;
use crate::pipeline::{self, Expected, Identities};
use crate::s3::{self, Client};
use crate::verify::{self, Verifier};

/// Chunks in flight between the network and the decoder.
const CHANNEL_CHUNKS: usize = 8;

/// The object's bytes as a blocking `Read`.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                // The sender is gone: the object ended (or the download failed, which the async side
                // reports; the decoder then sees a short object).
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Writes the plaintext to the file and to etcd's snapshot verifier.
struct Checked {
    file: io::BufWriter<std::fs::File>,
    verifier: Verifier,
}

impl Write for Checked {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.verifier.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Decodes from `rx` into `part`, fsyncs it, and checks the plaintext as an etcd snapshot. Blocking.
fn decode_into(
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    part: &Path,
    key: &str,
    expected: &Expected,
    identities: Option<&Identities>,
) -> Result<verify::Verified, Error> {
    let decode_err = |source| Error::Decode {
        key: key.to_string(),
        source,
    };
    // The age header is read before the output file exists, so a wrong identity leaves nothing behind.
    let source = ChannelReader {
        rx,
        current: Bytes::new(),
    };
    let mut decoder = pipeline::Decoder::new(source, expected, identities).map_err(decode_err)?;
    let file = std::fs::File::create(part)
        .map_err(|e| Error::io(format!("creating {}", part.display()), e))?;
    let mut out = Checked {
        file: io::BufWriter::with_capacity(1 << 20, file),
        verifier: Verifier::new(),
    };
    io::copy(&mut decoder, &mut out)
        .map_err(|e| decode_err(pipeline::Error::from_io(e, pipeline::Error::Output)))?;
    out.flush()
        .map_err(|e| Error::io(format!("writing {}", part.display()), e))?;
    let Checked { file, verifier } = out;
    let file = file
        .into_inner()
        .map_err(|e| Error::io(format!("writing {}", part.display()), e.into_error()))?;
    file.sync_all()
        .map_err(|e| Error::io(format!("syncing {}", part.display()), e))?;
    verifier.finish().map_err(|e| Error::DownloadCorrupt {
        key: key.to_string(),
        what: e.to_string(),
    })
}

/// Streams `key` into `part`, decoding and checking it. On error, `part` may exist; the caller removes it.
pub(crate) async fn fetch_decoded(
    client: &Client,
    key: &str,
    part: &Path,
    expected: &Expected,
    identities: Option<std::sync::Arc<Identities>>,
    size: Option<u64>,
) -> Result<verify::Verified, Error> {
    let op = format!("download {key}");
    let mut stream = client
        .call(&op, client.fresh().await?.get_object_stream(key))
        .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    let (part2, key2, expected2): (PathBuf, String, Expected) =
        (part.to_path_buf(), key.to_string(), *expected);
    let decoding = tokio::task::spawn_blocking(move || {
        decode_into(rx, &part2, &key2, &expected2, identities.as_deref())
    });
    let bar = client.progress.start("downloading", size);
    let stalled = || s3::Error::Request {
        op: op.clone(),
        reason: s3::stall::reason(client.stall_timeout),
    };
    let mut received = 0u64;
    let receiving: Result<(), Error> = async {
        while let Some(chunk) = tokio::time::timeout(client.stall_timeout, stream.bytes.next())
            .await
            .map_err(|_| stalled())?
        {
            let chunk = chunk.map_err(|e| client.classify(&op, e))?;
            received += chunk.len() as u64;
            if let Some(bar) = &bar {
                bar.at(received);
            }
            if tx.send(chunk).await.is_err() {
                // The decoder stopped (it failed); its error is the one to report.
                break;
            }
        }
        Ok(())
    }
    .await;
    drop(tx);
    if let Some(bar) = bar {
        bar.end();
    }
    let decoded = decoding
        .await
        .map_err(|e| Error::io("decode the backup", io::Error::other(e.to_string())))?;
    // A network failure explains a short object better than the decoder's "truncated".
    receiving?;
    decoded
}
