//! `etcdbak restore-guide` against a real MinIO: which snapshot it picks, and how it fails.

mod common;

use std::process::Output;

use common::etcd::EtcdCluster;
use common::etcdbak;
use common::minio::Minio;

fn s3(minio: &Minio) -> Vec<String> {
    let mut a = minio.s3_args();
    a.extend(["--prefix".into(), "etcdbak".into()]);
    a
}

fn guide(minio: &Minio, extra: &[&str]) -> Output {
    minio
        .creds_env(
            etcdbak()
                .args(["restore-guide", "--no-kube", "--token", "t"])
                .args(s3(minio))
                .args(extra),
        )
        .output()
        .expect("run etcdbak restore-guide")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "restore-guide failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Two real backups of one cluster, taken by `etcdbak snapshot` + `etcdbak store`; returns their keys,
/// oldest first.
fn two_backups(minio: &Minio, cluster: &str) -> Vec<String> {
    let etcd = EtcdCluster::start(1, false);
    let scratch = tempfile::tempdir().unwrap();
    for round in 0..2 {
        etcd.put_keys(&format!("r{round}/"), 50, 50);
        let dir = scratch.path().join(format!("s{round}"));
        let out = etcdbak()
            .arg("snapshot")
            .args(etcd.etcdbak_args())
            .arg("--dir")
            .arg(&dir)
            .args(["--cluster", cluster])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = minio
            .creds_env(
                etcdbak()
                    .arg("store")
                    .arg("--dir")
                    .arg(&dir)
                    .args(["--cluster", cluster])
                    .args(s3(minio)),
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut keys = minio.keys(&format!("etcdbak/{cluster}/"));
    keys.sort();
    assert_eq!(keys.len(), 2, "{keys:?}");
    keys
}

#[test]
fn picks_the_newest_verified_backup_or_the_one_asked_for() {
    let minio = Minio::start();
    let keys = two_backups(&minio, "web");

    // Non-interactive (stdin is not a terminal): the newest verified backup.
    let text = stdout(&guide(&minio, &["--cluster", "web"]));
    assert!(text.contains(&format!("--key {} ", keys[1])), "{text}");
    assert!(
        text.starts_with("Restore etcd cluster web from a backup\n"),
        "{text}"
    );
    let (meta, _) = minio.head(&keys[1]);
    assert!(
        text.contains(&meta["sha256"]),
        "the full SHA-256 from the metadata: {text}"
    );

    // By file name, and by full key.
    let older = keys[0].rsplit('/').next().unwrap();
    let text = stdout(&guide(&minio, &["--cluster", "web", "--snapshot", older]));
    assert!(text.contains(&format!("--key {} ", keys[0])), "{text}");
    let text = stdout(&guide(
        &minio,
        &["--cluster", "web", "--snapshot", &keys[0], "-o", "markdown"],
    ));
    assert!(text.starts_with("# Restore etcd cluster web"), "{text}");
    assert!(text.contains(&format!("--key {} ", keys[0])), "{text}");

    // A newer object named like a backup but without the metadata `etcdbak store` writes after verifying
    // is never the default choice.
    let fake = "etcdbak/web/29991231T235959.999Z-r1-00000000.db";
    minio.put(fake, b"not a snapshot");
    let text = stdout(&guide(&minio, &["--cluster", "web"]));
    assert!(text.contains(&format!("--key {} ", keys[1])), "{text}");
    assert!(!text.contains(fake), "{text}");
}

#[test]
fn names_what_to_fix_when_there_is_nothing_to_restore() {
    let minio = Minio::start();
    let out = guide(&minio, &["--cluster", "ghost"]);
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cluster ghost has no backups under s3://backups/etcdbak/ghost/"),
        "{err}"
    );

    // Only unverified objects: exit 5 (corrupt snapshot), pointing at --snapshot.
    minio.put("etcdbak/ghost/20261125T103000.123Z-r5-0123abcd.db", b"x");
    let out = guide(&minio, &["--cluster", "ghost"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--snapshot"));

    let out = guide(&minio, &["--cluster", "ghost", "--snapshot", "nope.db"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("etcdbak list --cluster ghost"));

    let out = guide(&minio, &["--cluster", "Bad_Name"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
