//! The data path against a second, unrelated S3 implementation (versitygw over a posix directory): users
//! run etcdbak against many S3-compatible stores, and MinIO alone would let MinIO-only behaviour slip in.
//!
//! A real 3-member TLS etcd -> `etcdbak snapshot` -> `etcdbak store` (multipart: the database is several
//! parts) -> `list` -> `download` -> `etcdutl snapshot restore`, then retention over three backups and the
//! cleanup Job's `prune --all`.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::etcd::EtcdCluster;
use common::etcdbak;
use common::versitygw::Versitygw;
use etcdbak::backup::SNAPSHOT_FILE;

const CLUSTER: &str = "compat";

fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().expect("spawn etcdbak");
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn s3(gw: &Versitygw, sub: &str) -> Command {
    let mut cmd = etcdbak();
    cmd.arg(sub).args(gw.s3_args());
    gw.creds_env(&mut cmd);
    cmd
}

/// 12 values of 1 MiB, not all one byte, so the snapshot needs three 5 MiB parts.
fn fill(etcd: &EtcdCluster) {
    etcd.client_blocking(|mut c| async move {
        for i in 0..12u8 {
            let mut value = vec![b'a' + i; 1 << 20];
            for (j, b) in value.iter_mut().enumerate().step_by(7) {
                *b = (j % 251) as u8;
            }
            c.put(format!("/big/{i}"), value, None).await?;
        }
        c.put("/marker", "compat-value", None).await?;
        Ok(())
    });
}

fn snapshot(etcd: &EtcdCluster, dir: &Path) {
    run(
        etcdbak()
            .arg("snapshot")
            .args(etcd.etcdbak_args())
            .args(["--cluster", CLUSTER, "--dir"])
            .arg(dir),
        "snapshot",
    );
}

fn store(gw: &Versitygw, dir: &Path, keep: &str) -> String {
    let out = run(
        s3(gw, "store")
            .args([
                "--cluster",
                CLUSTER,
                "--keep",
                keep,
                "--part-size",
                "5MiB",
                "--dir",
            ])
            .arg(dir),
        "store",
    );
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(log.contains("upload verified"), "{log}");
    log
}

fn listed_keys(gw: &Versitygw) -> Vec<String> {
    let out = run(
        s3(gw, "list").args(["--cluster", CLUSTER, "-o", "json"]),
        "list",
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("list JSON");
    rows.iter()
        .map(|r| r["key"].as_str().expect("key").to_string())
        .collect()
}

#[test]
fn backup_list_download_restore_and_retention_on_versitygw() {
    let mut etcd = EtcdCluster::start(3, true);
    etcd.wait_healthy();
    fill(&etcd);
    let gw = Versitygw::start();
    let scratch = tempfile::tempdir().expect("tempdir");

    let first = scratch.path().join("first");
    snapshot(&etcd, &first);
    store(&gw, &first, "2");
    let keys = listed_keys(&gw);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(
        gw.keys("etcdbak/"),
        keys,
        "list agrees with what the gateway stored"
    );

    // The stored object is the snapshot file compressed with zstd (the default), and nothing else: no
    // sidecar, and it decompresses byte for byte to the snapshot.
    let local = std::fs::read(first.join(SNAPSHOT_FILE)).expect("snapshot file");
    let stored = std::fs::read(gw.object_file(&keys[0])).expect("stored object");
    assert!(keys[0].ends_with(".db.zst"), "{}", keys[0]);
    assert!(stored.len() < local.len());
    let decoded = zstd::decode_all(&stored[..]).expect("a zstd object");
    assert!(
        decoded == local,
        "the stored object does not decompress to the snapshot"
    );

    let downloaded = scratch.path().join("downloaded.db");
    run(
        s3(&gw, "download")
            .args(["--cluster", CLUSTER, "--key", &keys[0], "-o"])
            .arg(&downloaded),
        "download",
    );
    assert!(std::fs::read(&downloaded).expect("downloaded") == local);
    let restored = EtcdCluster::start_from_snapshot(&downloaded, 1, false);
    let value = restored.client_blocking(|mut c| async move {
        let r = c.get("/marker", None).await?;
        Ok(r.kvs().first().map(|kv| kv.value().to_vec()))
    });
    assert_eq!(value.as_deref(), Some(&b"compat-value"[..]));

    // Two more backups with keep 2: the oldest goes, the two newest stay.
    for name in ["second", "third"] {
        let dir = scratch.path().join(name);
        etcd.client_blocking(|mut c| async move { c.put("/tick", name, None).await.map(|_| ()) });
        snapshot(&etcd, &dir);
        store(&gw, &dir, "2");
    }
    let after = listed_keys(&gw);
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        !after.contains(&keys[0]),
        "the oldest backup survived keep 2"
    );
    assert_eq!(gw.keys("etcdbak/"), {
        let mut sorted = after.clone();
        sorted.sort();
        sorted
    });

    run(
        s3(&gw, "prune").args(["--cluster", CLUSTER, "--all"]),
        "prune --all",
    );
    assert!(listed_keys(&gw).is_empty());
    assert!(gw.keys("etcdbak/").is_empty(), "{:?}", gw.keys("etcdbak/"));
}
