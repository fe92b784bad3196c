//! Continuous backups against real servers: `etcdbak follow` on a real etcd into a real MinIO, then
//! `etcdbak replay` into clusters restored from the full backup. The restored keyspace must equal the
//! source's keyspace at the chosen revision (read from the source with `--rev` before any compaction),
//! key by key and value by value, with keys deleted and re-created inside the window.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::etcd::EtcdCluster;
use common::minio::Minio;
use common::{etcdbak, wait_until};
use etcd_client::{CompactionOptions, DeleteOptions, GetOptions, Txn, TxnOp};

const PREFIX: &str = "etcdbak";

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn s3_args(minio: &Minio) -> Vec<String> {
    let mut a = minio.s3_args();
    a.extend(["--prefix".into(), PREFIX.into()]);
    a
}

fn full_backup(minio: &Minio, etcd: &EtcdCluster, cluster: &str, dir: &Path) {
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
                .args(s3_args(minio)),
        ),
    );
}

fn start_follower(
    minio: &Minio,
    etcd: &EtcdCluster,
    cluster: &str,
    dir: &Path,
    log: &Path,
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
                .args(s3_args(minio))
                .stdout(Stdio::null())
                .stderr(log),
        )
        .spawn()
        .expect("start etcdbak follow")
}

fn terminate(mut child: Child, log: &Path) {
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
fn segments(minio: &Minio, cluster: &str) -> Vec<(i64, i64)> {
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

fn wait_durable(minio: &Minio, cluster: &str, revision: i64, log: &Path) {
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

fn revision(etcd: &EtcdCluster) -> i64 {
    etcd.client_blocking(|mut c| async move {
        let r = c
            .get("\0", Some(GetOptions::new().with_keys_only().with_limit(1)))
            .await?;
        Ok(r.header().map_or(0, |h| h.revision()))
    })
}

/// The whole keyspace as it was at `rev` (etcdctl get "" --prefix --rev R).
fn keyspace_at(etcd: &EtcdCluster, rev: i64) -> BTreeMap<Vec<u8>, Vec<u8>> {
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
fn churn(etcd: &EtcdCluster, round: usize) {
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

fn restored(minio: &Minio, cluster: &str, scratch: &Path, name: &str) -> EtcdCluster {
    let file = scratch.join(format!("{name}.db"));
    run_ok(
        minio.creds_env(
            etcdbak()
                .arg("download")
                .args(["--cluster", cluster])
                .arg("-o")
                .arg(&file)
                .args(s3_args(minio)),
        ),
    );
    EtcdCluster::start_from_snapshot(&file, 1, false)
}

fn replay(minio: &Minio, target: &EtcdCluster, cluster: &str, to: &[&str]) -> String {
    let out = run_ok(
        minio.creds_env(
            etcdbak()
                .arg("replay")
                .args(["--cluster", cluster])
                .args(to)
                .args(target.etcdbak_args())
                .args(s3_args(minio)),
        ),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn point_in_time_restore_reproduces_the_keyspace_at_the_chosen_revision_and_time() {
    let minio = Minio::start();
    let etcd = EtcdCluster::start(1, true);
    etcd.put_keys("base/", 100, 64);
    let scratch = tempfile::tempdir().unwrap();
    let log = scratch.path().join("follow.log");
    full_backup(&minio, &etcd, "pitr", &scratch.path().join("full"));

    let follower = start_follower(&minio, &etcd, "pitr", &scratch.path().join("follow"), &log);
    churn(&etcd, 1);
    // A follower killed without warning loses nothing: its successor resumes from the last durable revision.
    let r_mid = revision(&etcd);
    wait_durable(&minio, "pitr", r_mid, &log);
    let mut killed = follower;
    killed.kill().unwrap();
    killed.wait().unwrap();
    churn(&etcd, 2);
    let follower = start_follower(&minio, &etcd, "pitr", &scratch.path().join("follow"), &log);
    churn(&etcd, 3);
    let r1 = revision(&etcd);
    let at_r1 = keyspace_at(&etcd, r1);
    std::thread::sleep(Duration::from_millis(1500));
    let t1 = chrono::Utc::now();
    std::thread::sleep(Duration::from_millis(1500));
    // The mistake: a whole "namespace" deleted, then more traffic.
    etcd.client_blocking(|mut c| async move {
        c.delete("app/", Some(DeleteOptions::new().with_prefix()))
            .await?;
        Ok(())
    });
    churn(&etcd, 4);
    let r2 = revision(&etcd);
    let at_r2 = keyspace_at(&etcd, r2);
    wait_durable(&minio, "pitr", r2, &log);
    terminate(follower, &log);

    let segs = segments(&minio, "pitr");
    for w in segs.windows(2) {
        assert_eq!(w[1].0, w[0].1 + 1, "segments are not contiguous: {segs:?}");
    }
    assert!(
        at_r1.keys().any(|k| k.starts_with(b"app/"))
            && !at_r2.keys().any(|k| k.starts_with(b"app/2/"))
    );

    let by_rev = restored(&minio, "pitr", scratch.path(), "by-rev");
    let said = replay(&minio, &by_rev, "pitr", &["--to-revision", &r1.to_string()]);
    assert!(said.contains(&format!("source revision {r1}")), "{said}");
    assert_eq!(
        by_rev.read_all(),
        at_r1,
        "replay to revision {r1} differs from the source at {r1}"
    );

    let by_time = restored(&minio, "pitr", scratch.path(), "by-time");
    replay(&minio, &by_time, "pitr", &["--to", &t1.to_rfc3339()]);
    assert_eq!(
        by_time.read_all(),
        at_r1,
        "replay to {t1} differs from the source at revision {r1}"
    );

    let to_end = restored(&minio, "pitr", scratch.path(), "to-end");
    replay(&minio, &to_end, "pitr", &["--to-revision", &r2.to_string()]);
    assert_eq!(to_end.read_all(), at_r2);
}

#[test]
fn a_compacted_resume_point_is_a_gap_that_starts_a_new_chain() {
    let minio = Minio::start();
    let etcd = EtcdCluster::start(1, false);
    etcd.put_keys("base/", 20, 16);
    let scratch = tempfile::tempdir().unwrap();
    let log = scratch.path().join("follow.log");
    full_backup(&minio, &etcd, "gap", &scratch.path().join("full"));
    let follower = start_follower(&minio, &etcd, "gap", &scratch.path().join("follow"), &log);
    churn(&etcd, 1);
    let r1 = revision(&etcd);
    wait_durable(&minio, "gap", r1, &log);
    terminate(follower, &log);

    // While no follower runs, the history moves on and is compacted away.
    churn(&etcd, 2);
    let compacted = revision(&etcd);
    etcd.client_blocking(|mut c| async move {
        c.compact(compacted, Some(CompactionOptions::new().with_physical()))
            .await?;
        Ok(())
    });
    let follower = start_follower(&minio, &etcd, "gap", &scratch.path().join("follow"), &log);
    wait_until(
        "a full backup that starts the new chain",
        Duration::from_secs(60),
        || {
            minio
                .keys(&format!("{PREFIX}/gap/"))
                .iter()
                .filter(|k| !k.contains("/segments/"))
                .count()
                >= 2
        },
    );
    churn(&etcd, 3);
    let r3 = revision(&etcd);
    wait_durable(&minio, "gap", r3, &log);
    terminate(follower, &log);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("continuous backup gap"), "{text}");

    // The new chain restores; a revision inside the hole is refused with the revisions that are missing.
    let check = |to: i64| {
        minio
            .creds_env(
                etcdbak()
                    .args([
                        "replay",
                        "--check",
                        "--cluster",
                        "gap",
                        "--to-revision",
                        &to.to_string(),
                    ])
                    .args(s3_args(&minio)),
            )
            .output()
            .unwrap()
    };
    assert!(
        check(r3).status.success(),
        "{}",
        String::from_utf8_lossy(&check(r3).stderr)
    );
    let hole = check(compacted - 1);
    let err = String::from_utf8_lossy(&hole.stderr);
    assert!(!hole.status.success(), "a revision in the gap was accepted");
    assert!(
        err.contains(&format!("reach only revision {r1}")) && err.contains("missing"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    // The cleanup Job's `prune --all` leaves nothing of the cluster behind, segments included.
    run_ok(
        minio.creds_env(
            etcdbak()
                .args(["prune", "--all", "--cluster", "gap"])
                .args(s3_args(&minio)),
        ),
    );
    assert_eq!(minio.keys(&format!("{PREFIX}/gap/")), Vec::<String>::new());
}
