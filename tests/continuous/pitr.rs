//! Point-in-time restore with `etcdbak replay`: to a revision, to a time just before a prefix delete (the
//! "namespace deletion"), and to the end, with a follower killed mid-stream; `restore-guide --to` plans the
//! same chain and reads it.

use super::common::minio::Minio;
use super::*;

#[test]
fn point_in_time_restore_reproduces_the_keyspace_at_the_chosen_revision_and_time() {
    let minio = Store::Minio(Minio::start());
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
    let t1 = the_mistake(&etcd);
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

    // The guide plans the same chain and, the segments being plain, reads every one of them itself.
    let out = run_ok(
        minio.creds_env(
            etcdbak()
                .args(["restore-guide", "--cluster", "pitr", "--no-kube"])
                .args(["--to-revision", &r1.to_string()])
                .args(minio.s3_args()),
        ),
    );
    let book = String::from_utf8_lossy(&out.stdout);
    assert!(
        book.contains(&format!("ending at source revision {r1}")),
        "{book}"
    );
    assert!(
        book.contains(&format!("--to-revision {r1} --check")),
        "{book}"
    );
}
