//! Bench tool for the backup pipeline: encodes stdin with one setting and reports size, speed and peak RSS.
//!
//!   cargo run --release --example pipeline_bench -- --compress zstd:3 [--threads 2] [--encrypt] < snapshot.db
//!
//! The output is counted and dropped (the pipeline's cost alone, no disk or network). With `--verify` the
//! stored bytes are kept in memory and decoded again, for checking the tool itself on small inputs only.
//! Prints one JSON line. scripts/bench (compression block) runs it.

use std::io::{self, Write};
use std::time::Instant;

use clap::Parser;
use etcdbak::pipeline::{self, Compression, Encoding, Identities};

#[derive(Debug, Parser)]
#[command(about = "Encode stdin through the etcdbak pipeline and report ratio, MB/s and peak RSS")]
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
    /// Decode the result again and compare digests (keeps the output in memory).
    #[arg(long)]
    verify: bool,
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

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let identity = age::x25519::Identity::generate();
    let secret = age::secrecy::ExposeSecret::expose_secret(&identity.to_string()).to_string();
    let ids = Identities::parse(&secret, "generated key")?;
    let encoding = Encoding {
        compression: args.compress,
        recipients: args.encrypt.then(|| ids.recipients()),
        threads: args.threads,
    };
    let start = Instant::now();
    let stdin = io::stdin().lock();
    let (stored, recorded) = if args.verify {
        let (bytes, rec) = pipeline::encode(stdin, Vec::new(), &encoding)?;
        let expected = pipeline::Expected::from_recorded(&rec);
        pipeline::decode(&bytes[..], Count(0), &expected, Some(&ids))?;
        (bytes.len() as u64, rec)
    } else {
        let (count, rec) = pipeline::encode(stdin, Count(0), &encoding)?;
        (count.0, rec)
    };
    let secs = start.elapsed().as_secs_f64();
    let plain = recorded.plaintext_size as f64;
    println!(
        "{{\"pipeline\":\"{}\",\"threads\":{},\"plaintextBytes\":{},\"storedBytes\":{},\"ratio\":{:.2},\"seconds\":{:.3},\"mbPerSecond\":{:.1},\"peakRssKib\":{}}}",
        recorded.pipeline,
        args.threads,
        recorded.plaintext_size,
        stored,
        plain / stored.max(1) as f64,
        secs,
        plain / 1e6 / secs.max(1e-9),
        peak_rss_kib()
    );
    Ok(())
}
