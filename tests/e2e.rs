//! Issue 2's headline test: a 3-member TLS etcd holding 10,000 keys -> `etcdbak snapshot` -> `etcdbak
//! store` -> `etcdbak list` -> `etcdbak download` -> `etcdutl snapshot restore` -> etcd on the restored dir ->
//! every key and value is back. All real servers (the rig's etcd 3.6 and MinIO).
//!
//! It prints what it measured (sizes, wall times, peak RSS of each etcdbak command) for the closing notes;
//! run with `cargo test --test e2e -- --nocapture` to see them. Nothing here asserts on timing.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::etcd::EtcdCluster;
use common::etcdbak;
use common::minio::Minio;
use etcdbak::backup::{SnapshotMetadata, METADATA_FILE, SNAPSHOT_FILE};

/// What one command cost.
struct Measured {
    out: Output,
    wall: Duration,
    /// Peak resident set (VmHWM) in KiB, polled from /proc while the command ran.
    peak_rss_kib: u64,
}

/// Runs `cmd` to completion, polling its VmHWM (the kernel's own high-water mark, so polling only has to
/// catch the value before exit, not the peak moment).
fn run_measured(cmd: &mut Command, scratch: &Path, name: &str) -> Measured {
    let out_path = scratch.join(format!("{name}.stdout"));
    let err_path = scratch.join(format!("{name}.stderr"));
    let start = Instant::now();
    let mut child = cmd
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn etcdbak");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = start.elapsed();
    Measured {
        out: Output {
            status,
            stdout: std::fs::read(&out_path).expect("stdout"),
            stderr: std::fs::read(&err_path).expect("stderr"),
        },
        wall,
        peak_rss_kib: peak,
    }
}

fn check(m: &Measured, what: &str) {
    assert!(
        m.out.status.success(),
        "{what} failed ({:?}):\nstdout: {}\nstderr: {}",
        m.out.status.code(),
        String::from_utf8_lossy(&m.out.stdout),
        String::from_utf8_lossy(&m.out.stderr)
    );
}

fn s3_cmd(minio: &Minio, sub: &str) -> Command {
    let mut cmd = etcdbak();
    cmd.arg(sub)
        .args(minio.s3_args())
        .env_remove("ETCDBAK_CLUSTER")
        .env("ETCDBAK_LOG_FORMAT", "plain");
    minio.creds_env(&mut cmd);
    cmd
}

#[test]
fn ten_thousand_keys_survive_snapshot_store_list_download_restore() {
    let etcd = EtcdCluster::start(3, true);
    let written = etcd.put_keys("/registry/e2e/", 10_000, 100);
    let minio = Minio::start();
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = scratch.path().join("backup");

    let snap = run_measured(
        etcdbak()
            .arg("snapshot")
            .args(etcd.etcdbak_args())
            .args(["--cluster", "e2e", "--dir"])
            .arg(&dir)
            .args(["--dial-timeout", "20s"])
            .env_remove("ETCDBAK_CLUSTER")
            .env("ETCDBAK_LOG_FORMAT", "plain"),
        scratch.path(),
        "snapshot",
    );
    check(&snap, "etcdbak snapshot");
    let meta: SnapshotMetadata =
        serde_json::from_slice(&std::fs::read(dir.join(METADATA_FILE)).expect("metadata"))
            .expect("metadata json");
    assert_eq!(meta.cluster, "e2e");

    let store = run_measured(
        s3_cmd(&minio, "store").arg("--dir").arg(&dir),
        scratch.path(),
        "store",
    );
    check(&store, "etcdbak store");

    let list = run_measured(
        s3_cmd(&minio, "list").args(["--cluster", "e2e", "-o", "json"]),
        scratch.path(),
        "list",
    );
    check(&list, "etcdbak list");
    let listed: serde_json::Value = serde_json::from_slice(&list.out.stdout).expect("list json");
    let backups = listed.as_array().expect("array");
    assert_eq!(backups.len(), 1, "{listed}");
    let key = backups[0]["key"].as_str().expect("key").to_string();
    assert_eq!(backups[0]["revision"].as_i64(), Some(meta.revision));
    // Compressed by default: the stored size is smaller, the plaintext size is the snapshot's.
    assert_eq!(backups[0]["plaintextBytes"].as_u64(), Some(meta.file_size));
    assert!(
        backups[0]["sizeBytes"].as_u64() < Some(meta.file_size),
        "{listed}"
    );
    assert!(key.ends_with(".db.zst"), "{key}");
    assert_eq!(minio.keys(""), vec![key.clone()], "exactly one object");

    let downloaded = scratch.path().join("downloaded.db");
    let download = run_measured(
        s3_cmd(&minio, "download")
            .args(["--cluster", "e2e", "--output"])
            .arg(&downloaded),
        scratch.path(),
        "download",
    );
    check(&download, "etcdbak download");
    assert_eq!(
        std::fs::read(&downloaded).expect("downloaded"),
        std::fs::read(dir.join(SNAPSHOT_FILE)).expect("snapshot"),
        "the downloaded backup differs from the snapshot taken"
    );

    // `etcdutl snapshot restore` (hash check on) into a fresh data dir, then an etcd on it.
    let restored = EtcdCluster::start_from_snapshot(&downloaded, 1, true);
    let back = restored.read_all();
    assert_eq!(back.len(), written.len(), "key count after restore");
    assert_eq!(back, written, "keys or values differ after restore");

    let mib = |b: u64| b as f64 / 1048576.0;
    eprintln!(
        "e2e measurements (10,000 keys x 100-byte values, 3-member TLS etcd, MinIO on loopback):"
    );
    eprintln!(
        "  snapshot.db: {} bytes ({:.1} MiB), db {} bytes, revision {}, key {key}",
        meta.file_size,
        mib(meta.file_size),
        meta.db_size,
        meta.revision
    );
    for (name, m) in [
        ("snapshot", &snap),
        ("store", &store),
        ("list", &list),
        ("download", &download),
    ] {
        eprintln!(
            "  etcdbak {name:<8} wall {:>7.3}s  peak RSS {:>6.1} MiB",
            m.wall.as_secs_f64(),
            m.peak_rss_kib as f64 / 1024.0
        );
    }
}
