//! Continuous backup into a bucket with Object Lock (MinIO, `mc mb --with-lock`): the follower locks each
//! segment like a full backup, so the store's own credentials cannot delete a segment's version.

use super::common::minio::{Minio, BUCKET};
use super::*;

#[test]
fn segments_are_locked_like_full_backups() {
    let m = Minio::start();
    // The rig's bucket, made again with Object Lock, so every helper here works on it unchanged.
    let target = format!("t/{BUCKET}");
    for args in [
        vec!["rb", "--force", &target],
        vec!["mb", "--with-lock", &target],
    ] {
        let out = m.mc(&args);
        assert!(
            out.status.success(),
            "mc {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let minio = Store::Minio(m);
    let etcd = EtcdCluster::start(1, false);
    etcd.put_keys("base/", 10, 64);
    let scratch = tempfile::tempdir().unwrap();
    let log = scratch.path().join("follow.log");
    let lock: Vec<String> = [
        "--object-lock-mode",
        "governance",
        "--object-lock-retain",
        "1d",
    ]
    .map(String::from)
    .to_vec();
    full_backup_with(&minio, &etcd, "locked", &scratch.path().join("full"), &lock);
    let follower = start_follower_with(
        &minio,
        &etcd,
        "locked",
        &scratch.path().join("follow"),
        &log,
        &lock,
    );
    churn(&etcd, 1);
    let r = revision(&etcd);
    wait_durable(&minio, "locked", r, &log);
    terminate(follower, &log);

    let Store::Minio(m) = &minio else {
        unreachable!()
    };
    let segment = minio
        .keys(&format!("{PREFIX}/locked/segments/"))
        .into_iter()
        .next()
        .expect("a segment");
    let listed = m.mc(&[
        "ls",
        "--versions",
        "--json",
        &format!("t/{BUCKET}/{segment}"),
    ]);
    let version = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v["versionId"].as_str().map(str::to_owned))
        .expect("a version");
    let refused = m.mc(&[
        "rm",
        "--version-id",
        &version,
        &format!("t/{BUCKET}/{segment}"),
    ]);
    assert!(
        !refused.status.success(),
        "a segment's version was deleted with the store's credentials"
    );
    assert!(minio.keys("").contains(&segment));
}
