//! A resume point etcd has compacted away is a gap: logged, refused by replay with the missing revisions,
//! and re-based with a full backup at once.

use std::time::Duration;

use etcd_client::CompactionOptions;

use super::common::minio::Minio;
use super::common::wait_until;
use super::*;

#[test]
fn a_compacted_resume_point_is_a_gap_that_starts_a_new_chain() {
    let minio = Store::Minio(Minio::start());
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
                    .args(minio.s3_args()),
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
                .args(minio.s3_args()),
        ),
    );
    assert_eq!(minio.keys(&format!("{PREFIX}/gap/")), Vec::<String>::new());
}
