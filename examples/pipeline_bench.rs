//! Bench tool for the backup pipeline: encodes (or decodes) stdin with one setting and reports size, speed
//! and peak RSS as one JSON line.
//!
//!   cargo run --release --example pipeline_bench -- --compress zstd:3 [--threads 2] [--encrypt] < snapshot.db
//!   ... --emit --encrypt-to RECIPIENTS < snapshot.db | ... --decode .db.zst.age --sha256 HEX --size N --identity KEY
//!
//! Without `--emit` the encoded output is counted and dropped (the pipeline's cost alone, no disk or
//! network); with it, the output goes to stdout and the report to stderr. `--reader` encodes through
//! `EncodeReader`, the pull adapter an upload loop uses. scripts/bench (compression block) runs it.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use etcdbak::pipeline::{
    self, Compression, EncodeReader, Encoding, Expected, Format, Identities, Recipients,
};

#[derive(Debug, Parser)]
#[command(
    about = "Encode or decode stdin through the etcdbak pipeline and report ratio, MB/s and peak RSS"
)]
struct Args {
    /// none, zstd or zstd:LEVEL.
    #[arg(long, default_value = "zstd")]
    compress: Compression,
    /// zstd worker threads (0: the calling thread only).
    #[arg(long, default_value_t = 0)]
    threads: u32,
    /// Encrypt to a fresh age key.
    #[arg(long)]
    encrypt: bool,
    /// Encrypt to the recipients in this file.
    #[arg(long)]
    encrypt_to: Option<PathBuf>,
    /// Encode through EncodeReader instead of the Encoder writer.
    #[arg(long)]
    reader: bool,
    /// Write the encoded object to stdout.
    #[arg(long)]
    emit: bool,
    /// Decode stdin instead, as an object with this suffix (.db, .db.zst, .db.age, .db.zst.age).
    #[arg(long, requires_all = ["sha256", "size"])]
    decode: Option<String>,
    /// Plaintext SHA-256 (hex) for --decode.
    #[arg(long)]
    sha256: Option<String>,
    /// Plaintext size in bytes for --decode.
    #[arg(long)]
    size: Option<u64>,
    /// age identity file for --decode.
    #[arg(long)]
    identity: Option<PathBuf>,
}

/// Counts bytes and drops them.
struct Count(u64);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Counts what passes on to stdout (with --emit) or nowhere.
struct Sink {
    count: u64,
    out: Option<BufWriter<io::Stdout>>,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.out {
            Some(out) => out.write(buf)?,
            None => buf.len(),
        };
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.as_mut().map_or(Ok(()), Write::flush)
    }
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn recipients(args: &Args) -> Result<Option<Recipients>> {
    if let Some(path) = &args.encrypt_to {
        return Ok(Some(Recipients::from_file(path)?));
    }
    if !args.encrypt {
        return Ok(None);
    }
    let fresh = age::x25519::Identity::generate().to_public().to_string();
    Ok(Some(Recipients::parse(&fresh, "generated key")?))
}

/// Returns (plaintext bytes, stored bytes, pipeline).
fn encode(args: &Args) -> Result<(u64, u64, String)> {
    let encoding = Encoding {
        compression: args.compress,
        recipients: recipients(args)?,
        threads: args.threads,
    };
    let mut sink = Sink {
        count: 0,
        out: args.emit.then(|| BufWriter::new(io::stdout())),
    };
    let stdin = io::stdin().lock();
    let recorded = if args.reader {
        let mut reader = EncodeReader::new(stdin, &encoding)?;
        io::copy(&mut reader, &mut sink)?;
        *reader
            .recorded()
            .ok_or("EncodeReader ended without a record")?
    } else {
        let (_, recorded) = pipeline::encode(stdin, &mut sink, &encoding)?;
        recorded
    };
    sink.flush()?;
    Ok((
        recorded.plaintext_size,
        sink.count,
        recorded.pipeline.to_string(),
    ))
}

fn decode(args: &Args, suffix: &str) -> Result<(u64, u64, String)> {
    let format = Format::from_suffix(suffix)
        .ok_or("--decode: expected .db, .db.zst, .db.age or .db.zst.age")?;
    let mut sha256 = [0u8; 32];
    hex::decode_to_slice(args.sha256.as_deref().unwrap_or_default(), &mut sha256)?;
    let size = args.size.unwrap_or_default();
    let ids = args
        .identity
        .as_deref()
        .map(Identities::from_file)
        .transpose()?;
    let expected = Expected::plain(sha256, size);
    let expected = Expected { format, ..expected };
    let (_, decoded) = pipeline::decode(io::stdin().lock(), Count(0), &expected, ids.as_ref())?;
    Ok((
        decoded.plaintext_size,
        decoded.stored_size,
        format!("decode {suffix}"),
    ))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let start = Instant::now();
    let (plain, stored, what) = match &args.decode {
        Some(suffix) => decode(&args, suffix)?,
        None => encode(&args)?,
    };
    let secs = start.elapsed().as_secs_f64();
    let line = format!(
        "{{\"pipeline\":\"{what}\",\"threads\":{},\"plaintextBytes\":{plain},\"storedBytes\":{stored},\"ratio\":{:.2},\"seconds\":{secs:.3},\"mbPerSecond\":{:.1},\"peakRssKib\":{}}}",
        args.threads,
        plain as f64 / stored.max(1) as f64,
        plain as f64 / 1e6 / secs.max(1e-9),
        peak_rss_kib()
    );
    if args.emit {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
    Ok(())
}
