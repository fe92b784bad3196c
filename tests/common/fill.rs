//! Fills a real etcd with Kubernetes-shaped keys and values until its database reaches a target size.
//!
//! Shared by the bench data generator (`examples/etcd_fill.rs`, driven by `scripts/bench`) and the fault
//! tests, which need snapshots big enough to interrupt. Keys look like an apiserver's
//! (`/registry/<resource>/<namespace>/<name>`), values like its objects: mostly 1-4 KiB, some tens of KiB, a
//! few large ConfigMap-like blobs, never above etcd's default 1.5 MiB request limit. The bytes are pseudo-random
//! text so nothing on the path (bbolt, S3, TLS) gets an unrealistically compressible stream.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use etcd_client::{Client, Txn, TxnOp};

/// etcd's defaults: `--max-txn-ops` 128 and `--max-request-bytes` 1.5 MiB. A batch stays under both with room
/// for the protobuf framing.
pub const MAX_TXN_OPS: usize = 128;
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct FillOptions {
    /// Stop once the member reports a database at least this big.
    pub target_db_bytes: u64,
    /// Transactions in flight at once.
    pub concurrency: usize,
    /// Seed for the pseudo-random keys and values; the same seed writes the same data.
    pub seed: u64,
    /// Key prefix (a bench run and a test can share a cluster without colliding).
    pub prefix: String,
    /// Manifest-like values ([`manifest_value`]) instead of incompressible text, for measuring compression.
    pub manifests: bool,
}

impl Default for FillOptions {
    fn default() -> Self {
        FillOptions {
            target_db_bytes: 64 << 20,
            concurrency: 8,
            manifests: false,
            seed: 0x5eed,
            prefix: "/registry".into(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct FillReport {
    pub keys: u64,
    pub value_bytes: u64,
    pub db_size: u64,
    pub revision: i64,
    pub elapsed: Duration,
}

/// xorshift64*: deterministic, dependency-free, plenty for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

const RESOURCES: &[&str] = &[
    "pods",
    "configmaps",
    "secrets",
    "services/specs",
    "deployments",
    "replicasets",
    "events",
    "leases",
    "endpointslices",
    "serviceaccounts",
];

/// A value size drawn from an apiserver-like distribution: 80% 1-4 KiB, 17% 4-64 KiB, 3% 64-900 KiB.
pub fn value_size(rng: &mut Rng) -> usize {
    let p = rng.below(100);
    let (lo, hi) = if p < 80 {
        (1 << 10, 4 << 10)
    } else if p < 97 {
        (4 << 10, 64 << 10)
    } else {
        (64 << 10, 900 << 10)
    };
    lo + rng.below((hi - lo) as u64) as usize
}

/// The `i`-th key. Names are sequential within a namespace so bbolt appends instead of splitting pages,
/// which keeps the database close to the data size (as an apiserver's mostly-append workload does).
pub fn key(prefix: &str, i: u64) -> String {
    let resource = RESOURCES[(i % RESOURCES.len() as u64) as usize];
    let ns = i / 5000;
    format!("{prefix}/{resource}/ns-{ns:04}/obj-{i:09}")
}

/// A JSON-looking object of `size` bytes whose body is pseudo-random base64-ish text.
pub fn value(rng: &mut Rng, key: &str, size: usize) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut v = Vec::with_capacity(size);
    v.extend_from_slice(br#"{"kind":"Object","apiVersion":"v1","metadata":{"name":""#);
    v.extend_from_slice(key.as_bytes());
    v.extend_from_slice(br#""},"data":""#);
    while v.len() + 2 < size {
        let mut r = rng.next_u64();
        for _ in 0..10 {
            if v.len() + 2 >= size {
                break;
            }
            v.push(ALPHABET[(r & 63) as usize]);
            r >>= 6;
        }
    }
    v.extend_from_slice(br#""}"#);
    v
}

/// Label values and names that repeat across a cluster's objects, as they do in a real one.
const WORDS: [&str; 16] = [
    "app",
    "web",
    "api",
    "frontend",
    "backend",
    "prod",
    "staging",
    "nginx",
    "redis",
    "postgres",
    "kube-system",
    "default",
    "v1",
    "v2",
    "us-east-1",
    "eu-west-1",
];

/// A Pod-like JSON object of about `size` bytes: the same field names and a small vocabulary in every
/// object, with a UID, a resource version and 32 random bits per env entry. Real apiserver data compresses
/// 5-14x with zstd; this lands in that range, where [`value`]'s random text does not compress at all.
pub fn manifest_value(rng: &mut Rng, key: &str, size: usize) -> Vec<u8> {
    let word = |rng: &mut Rng| WORDS[rng.below(WORDS.len() as u64) as usize];
    let mut v = format!(
        r#"{{"kind":"Pod","apiVersion":"v1","metadata":{{"name":"{key}","uid":"{:016x}{:016x}","resourceVersion":"{}","labels":{{"app":"{}","tier":"{}"}}}},"spec":{{"containers":[{{"name":"{}","image":"registry.example/{}:{}","env":["#,
        rng.next_u64(),
        rng.next_u64(),
        rng.below(1 << 40),
        word(rng),
        word(rng),
        word(rng),
        word(rng),
        word(rng),
    )
    .into_bytes();
    let mut n = 0u32;
    while v.len() + 64 < size {
        let entry = format!(
            r#"{{"name":"CONFIG_{n}","value":"{}-{}-{:08x}"}},"#,
            word(rng),
            word(rng),
            rng.next_u64() as u32
        );
        v.extend_from_slice(entry.as_bytes());
        n += 1;
    }
    v.extend_from_slice(br#"{"name":"END","value":""}]}]}}"#);
    v
}

/// One transaction's worth of puts starting at key `start`: returns the ops, the next key index and the bytes.
pub fn batch(rng: &mut Rng, prefix: &str, start: u64) -> (Vec<TxnOp>, u64, u64) {
    batch_of(rng, prefix, start, value)
}

/// [`batch`] with manifest-like values.
pub fn manifest_batch(rng: &mut Rng, prefix: &str, start: u64) -> (Vec<TxnOp>, u64, u64) {
    batch_of(rng, prefix, start, manifest_value)
}

fn batch_of(
    rng: &mut Rng,
    prefix: &str,
    start: u64,
    make: fn(&mut Rng, &str, usize) -> Vec<u8>,
) -> (Vec<TxnOp>, u64, u64) {
    let mut ops = Vec::new();
    let mut bytes = 0usize;
    let mut i = start;
    while ops.len() < MAX_TXN_OPS {
        let size = value_size(rng);
        if !ops.is_empty() && bytes + size > MAX_BATCH_BYTES {
            break;
        }
        let k = key(prefix, i);
        bytes += size + k.len();
        ops.push(TxnOp::put(k.clone(), make(rng, &k, size), None));
        i += 1;
    }
    (ops, i, bytes as u64)
}

/// Writes until the member at `client`'s first endpoint reports `target_db_bytes`. Idempotent for a seed and
/// prefix: it starts after the keys already present, so a cached, partly filled etcd is topped up, not rewritten.
pub async fn fill(client: &Client, opts: &FillOptions) -> Result<FillReport, etcd_client::Error> {
    let start = Instant::now();
    let mut status_client = client.maintenance_client();
    let mut kv = client.kv_client();
    let existing = kv
        .get(
            opts.prefix.clone(),
            Some(
                etcd_client::GetOptions::new()
                    .with_prefix()
                    .with_count_only(),
            ),
        )
        .await?
        .count() as u64;
    let mut report = FillReport {
        keys: existing,
        ..Default::default()
    };
    let status = status_client.status().await?;
    report.db_size = status.db_size() as u64;
    if report.db_size >= opts.target_db_bytes {
        report.revision = status.header().map(|h| h.revision()).unwrap_or_default();
        report.elapsed = start.elapsed();
        return Ok(report);
    }
    // A fresh generator per run would rewrite the same keys; mixing the start index in keeps values new.
    let mut rng = Rng::new(opts.seed ^ existing.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut next = existing;
    let mut in_flight = tokio::task::JoinSet::new();
    let mut last_check = Instant::now();
    loop {
        while in_flight.len() < opts.concurrency.max(1) {
            let (ops, after, bytes) = if opts.manifests {
                manifest_batch(&mut rng, &opts.prefix, next)
            } else {
                batch(&mut rng, &opts.prefix, next)
            };
            report.keys += after - next;
            report.value_bytes += bytes;
            next = after;
            let mut kv = client.kv_client();
            in_flight.spawn(async move { kv.txn(Txn::new().and_then(ops)).await.map(|_| ()) });
        }
        if let Some(done) = in_flight.join_next().await {
            done.map_err(|e| etcd_client::Error::IoError(std::io::Error::other(e)))??;
        }
        // The status call is cheap but not free; bbolt grows in steps anyway.
        if last_check.elapsed() > Duration::from_millis(500) {
            last_check = Instant::now();
            let status = status_client.status().await?;
            report.db_size = status.db_size() as u64;
            if report.db_size >= opts.target_db_bytes {
                break;
            }
        }
    }
    while let Some(done) = in_flight.join_next().await {
        done.map_err(|e| etcd_client::Error::IoError(std::io::Error::other(e)))??;
    }
    let status = status_client.status().await?;
    report.db_size = status.db_size() as u64;
    report.revision = status.header().map(|h| h.revision()).unwrap_or_default();
    report.elapsed = start.elapsed();
    Ok(report)
}

/// Parses `256MiB`, `1GiB`, `2g`, `1073741824`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    Some((num * mult as f64) as u64)
}
