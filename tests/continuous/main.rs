//! Continuous backups against real servers: `etcdbak follow` on a real etcd into a real MinIO or
//! versitygw, then `etcdbak replay` (and the runbook `restore-guide --to` prints) into clusters restored
//! from the full backup. The restored keyspace must equal the source's keyspace at the chosen revision
//! (read from the source with `--rev` before any compaction), key by key and value by value, with keys
//! deleted and re-created inside the window. The shared steps (full backup, follower, churn, keyspace
//! reads) are here; `pitr`, `gap` and `guide` are the stories.
#[path = "../common/mod.rs"]
mod common;

mod gap;
mod guide;
mod locked;
mod pitr;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::etcd::EtcdCluster;
use common::minio::Minio;
use common::versitygw::Versitygw;
use common::{etcdbak, run_ok};
use etcd_client::{DeleteOptions, GetOptions, Txn, TxnOp};

const PREFIX: &str = "etcdbak";

/// Where a test's backups go: the same flags, environment and listing for either real S3 server.
enum Store {
    Minio(Minio),
    Versitygw(Versitygw),
}

impl Store {
    pub(crate) fn s3_args(&self) -> Vec<String> {
        let mut a = match self {
            Store::Minio(m) => m.s3_args(),
            Store::Versitygw(v) => v.s3_args(),
        };
        a.extend(["--prefix".into(), PREFIX.into()]);
        a
    }

    pub(crate) fn creds_env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        match self {
            Store::Minio(m) => m.creds_env(cmd),
            Store::Versitygw(v) => v.creds_env(cmd),
        }
    }

    pub(crate) fn keys(&self, prefix: &str) -> Vec<String> {
        match self {
            Store::Minio(m) => m.keys(prefix),
            Store::Versitygw(v) => v.keys(prefix),
        }
    }
}

pub(crate) fn full_backup(minio: &Store, etcd: &EtcdCluster, cluster: &str, dir: &Path) {
    full_backup_with(minio, etcd, cluster, dir, &[]);
}

/// A full backup stored with `store_args` (encryption, compression) added.
pub(crate) fn full_backup_with(
    minio: &Store,
    etcd: &EtcdCluster,
    cluster: &str,
    dir: &Path,
    store_args: &[String],
) {
    run_ok(
        etcdbak()
            .arg("snapshot")
            .args(etcd.etcdbak_args())
            .arg("--dir")
            .arg(dir)
            .args(["--cluster", cluster]),
    );
    run_ok(
        minio.creds_env(
            etcdbak()
                .arg("store")
                .arg("--dir")
                .arg(dir)
                .args(["--cluster", cluster])
                .args(store_args)
                .args(minio.s3_args()),
        ),
    );
}

pub(crate) fn start_follower(
    minio: &Store,
    etcd: &EtcdCluster,
    cluster: &str,
    dir: &Path,
    log: &Path,
) -> Child {
    start_follower_with(minio, etcd, cluster, dir, log, &[])
}

/// A follower with `extra` flags (encryption, compression) added.
pub(crate) fn start_follower_with(
    minio: &Store,
    etcd: &EtcdCluster,
    cluster: &str,
    dir: &Path,
    log: &Path,
    extra: &[String],
) -> Child {
    let log = std::fs::File::create(log).unwrap();
    minio
        .creds_env(
            etcdbak()
                .arg("follow")
                .args(etcd.etcdbak_args())
                .arg("--dir")
                .arg(dir)
                .args(["--cluster", cluster, "--interval", "1s"])
                .args(extra)
                .args(minio.s3_args())
                .stdout(Stdio::null())
                .stderr(log),
        )
        .spawn()
        .expect("start etcdbak follow")
}

pub(crate) fn terminate(mut child: Child, log: &Path) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "follow exited {status}:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// (first, last) of every segment of `cluster` in the bucket, in revision order.
pub(crate) fn segments(minio: &Store, cluster: &str) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = minio
        .keys(&format!("{PREFIX}/{cluster}/segments/"))
        .iter()
        .filter_map(|k| {
            let name = k.rsplit('/').next()?;
            let mut parts = name.split('-');
            let first = parts.next()?.strip_prefix('r')?.parse().ok()?;
            let last = parts.next()?.strip_prefix('r')?.parse().ok()?;
            Some((first, last))
        })
        .collect();
    out.sort();
    out
}

pub(crate) fn wait_durable(minio: &Store, cluster: &str, revision: i64, log: &Path) {
    let start = std::time::Instant::now();
    while segments(minio, cluster)
        .last()
        .is_none_or(|s| s.1 < revision)
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no durable segment reaches revision {revision}; segments {:?}; follower log:\n{}",
            segments(minio, cluster),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn revision(etcd: &EtcdCluster) -> i64 {
    etcd.client_blocking(|mut c| async move {
        let r = c
            .get("\0", Some(GetOptions::new().with_keys_only().with_limit(1)))
            .await?;
        Ok(r.header().map_or(0, |h| h.revision()))
    })
}

/// The whole keyspace as it was at `rev` (etcdctl get "" --prefix --rev R).
pub(crate) fn keyspace_at(etcd: &EtcdCluster, rev: i64) -> BTreeMap<Vec<u8>, Vec<u8>> {
    etcd.client_blocking(|mut c| async move {
        let r = c
            .get(
                "\0",
                Some(GetOptions::new().with_from_key().with_revision(rev)),
            )
            .await?;
        Ok(r.kvs()
            .iter()
            .map(|kv| (kv.key().to_vec(), kv.value().to_vec()))
            .collect())
    })
}

/// Puts, deletes, re-creations and a multi-key transaction: every kind of change a restore must replay.
pub(crate) fn churn(etcd: &EtcdCluster, round: usize) {
    etcd.client_blocking(|mut c| async move {
        for i in 0..40 {
            c.put(format!("app/{round}/{i}"), format!("v{round}-{i}"), None)
                .await?;
        }
        c.delete(format!("app/{round}/3"), None).await?;
        c.put(format!("app/{round}/3"), "re-created", None).await?;
        c.delete("base/000001", None).await?;
        c.put(
            format!("base/00000{}", round % 9 + 2),
            format!("changed in {round}"),
            None,
        )
        .await?;
        c.txn(Txn::new().and_then([
            TxnOp::put(format!("txn/{round}/a"), "a", None),
            TxnOp::put(format!("txn/{round}/b"), "b", None),
            TxnOp::delete(format!("app/{round}/7"), None),
        ]))
        .await?;
        Ok(())
    })
}

/// A quiet moment to restore to, then the mistake: the whole `app/` "namespace" deleted. Returns that
/// moment, 1.5 s after the last change before it and 1.5 s before the delete.
pub(crate) fn the_mistake(etcd: &EtcdCluster) -> chrono::DateTime<chrono::Utc> {
    std::thread::sleep(Duration::from_millis(1500));
    let before = chrono::Utc::now();
    std::thread::sleep(Duration::from_millis(1500));
    etcd.client_blocking(|mut c| async move {
        c.delete("app/", Some(DeleteOptions::new().with_prefix()))
            .await?;
        Ok(())
    });
    before
}

pub(crate) fn restored(minio: &Store, cluster: &str, scratch: &Path, name: &str) -> EtcdCluster {
    let file = scratch.join(format!("{name}.db"));
    run_ok(
        minio.creds_env(
            etcdbak()
                .arg("download")
                .args(["--cluster", cluster])
                .arg("-o")
                .arg(&file)
                .args(minio.s3_args()),
        ),
    );
    EtcdCluster::start_from_snapshot(&file, 1, false)
}

pub(crate) fn replay(minio: &Store, target: &EtcdCluster, cluster: &str, to: &[&str]) -> String {
    let out = run_ok(
        minio.creds_env(
            etcdbak()
                .arg("replay")
                .args(["--cluster", cluster])
                .args(to)
                .args(target.etcdbak_args())
                .args(minio.s3_args()),
        ),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
