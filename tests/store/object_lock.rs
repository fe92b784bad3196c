//! S3 Object Lock against a real MinIO with a bucket made by `mc mb --with-lock`: `store` locks each backup
//! (governance by a single PUT, compliance by a multipart upload), the store's own credentials cannot
//! delete a locked version, the backup still downloads, retention, `prune --dry-run` and the cleanup's
//! `prune --all` keep it "locked until …" and succeed, and once the lock has expired prune deletes it with
//! no version or delete marker left. A lock asked of a bucket without Object Lock is refused, naming it.

use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::common::etcdbak;
use crate::common::minio::Minio;
use crate::common::store::*;

const LOCKED: &str = "locked";

/// An etcdbak command against the locked bucket, with the rig's credentials (the store's own).
fn locked(m: &Minio, sub: &str, args: &[&str]) -> Command {
    in_bucket(m, LOCKED, sub, args)
}

fn in_bucket(m: &Minio, bucket: &str, sub: &str, args: &[&str]) -> Command {
    let mut cmd = etcdbak();
    cmd.arg(sub)
        .args(["--s3-endpoint", &m.endpoint(), "--bucket", bucket])
        .args(args);
    m.creds_env(&mut cmd);
    if sub == "store" {
        cmd.env("ETCDBAK_COMPRESS", "none");
    }
    cmd
}

/// Every version and delete marker under `prefix` of the locked bucket, as `mc` lists them:
/// (key, version id, is a delete marker).
fn versions(m: &Minio, prefix: &str) -> Vec<(String, String, bool)> {
    versions_in(m, LOCKED, prefix)
}

fn versions_in(m: &Minio, bucket: &str, prefix: &str) -> Vec<(String, String, bool)> {
    let target = format!("t/{bucket}/{prefix}");
    let out = m.mc(&["ls", "--recursive", "--versions", "--json", &target]);
    assert!(
        out.status.success(),
        "mc ls: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["status"] == "success")
        .map(|v| {
            (
                format!("{prefix}{}", v["key"].as_str().unwrap_or_default()),
                v["versionId"].as_str().unwrap_or_default().to_string(),
                v["isDeleteMarker"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

/// `mc rm` of one version with the store's credentials and no bypass: what ransomware with the keys does.
fn delete_version(m: &Minio, key: &str, version: &str) -> std::process::Output {
    m.mc(&["rm", "--version-id", version, &format!("t/{LOCKED}/{key}")])
}

fn the_one_version(m: &Minio, key: &str) -> String {
    let v: Vec<_> = versions(m, "etcdbak/prod/")
        .into_iter()
        .filter(|(k, _, _)| k == key)
        .collect();
    assert_eq!(v.len(), 1, "{key}: {v:?}");
    assert!(!v[0].2, "{v:?}");
    v[0].1.clone()
}

fn key_of(rev: i64, time: &str) -> String {
    format!("etcdbak/prod/{time}-r{rev}-{}.db", &fixture_sha()[..8])
}

#[test]
fn locked_backups_survive_their_own_credentials_and_go_without_a_trace_once_expired() {
    let m = Minio::start();
    let made = m.mc(&["mb", "--with-lock", &format!("t/{LOCKED}")]);
    assert!(
        made.status.success(),
        "mc mb: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    // Long enough for both uploads, the download and the dry run on a loaded machine.
    let lock_for = "20s";
    let started = Instant::now();

    // Governance, one PUT (32 MiB parts hold the whole fixture).
    let one = backup_dir("prod", 1, "2026-11-25T10:00:00.000Z");
    let o = run(
        locked(&m, "store", &["--dir", one.path().to_str().expect("utf8")]).args([
            "--object-lock-mode",
            "governance",
            "--object-lock-retain",
            lock_for,
            "--part-size",
            "32MiB",
            "--keep",
            "1",
        ]),
    );
    assert_ok(&o);
    assert!(stderr(&o).contains("single PUT"), "{}", stderr(&o));
    let k1 = key_of(1, "20261125T100000.000Z");
    let v1 = the_one_version(&m, &k1);
    let refused = delete_version(&m, &k1, &v1);
    assert!(
        !refused.status.success(),
        "a governance-locked version was deleted"
    );

    // Compliance, multipart (5 MiB parts); its retention step must keep the locked r1, not fail on it.
    let two = backup_dir("prod", 2, "2026-11-25T11:00:00.000Z");
    let o = run(
        locked(&m, "store", &["--dir", two.path().to_str().expect("utf8")]).args([
            "--object-lock-mode",
            "compliance",
            "--object-lock-retain",
            lock_for,
            "--part-size",
            "5MiB",
            "--keep",
            "1",
        ]),
    );
    assert_ok(&o);
    assert!(
        stderr(&o).contains("multipart upload started"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("its Object Lock has not expired"),
        "{}",
        stderr(&o)
    );
    let k2 = key_of(2, "20261125T110000.000Z");
    let v2 = the_one_version(&m, &k2);
    assert!(
        !delete_version(&m, &k2, &v2).status.success(),
        "a compliance-locked version was deleted"
    );
    the_one_version(&m, &k1);

    // The locked backup still downloads, byte for byte.
    let target = tempfile::tempdir().expect("tempdir");
    let file = target.path().join("restored.db");
    let o = run(&mut locked(
        &m,
        "download",
        &["--key", &k1, "--output", file.to_str().expect("utf8")],
    ));
    assert_ok(&o);
    let got = hex::encode(Sha256::digest(std::fs::read(&file).expect("downloaded")));
    assert_eq!(got, fixture_sha());

    // A dry run shows it kept, and why; the cleanup Job's `prune --all` succeeds and says what stays.
    let dry = run(&mut locked(
        &m,
        "prune",
        &["--cluster", "prod", "--keep", "1", "--dry-run"],
    ));
    assert_ok(&dry);
    assert!(stdout(&dry).contains("locked until"), "{}", stdout(&dry));
    assert!(
        stdout(&dry).contains("would delete 0 of 2 backups"),
        "{}",
        stdout(&dry)
    );
    let all = run(&mut locked(&m, "prune", &["--cluster", "prod", "--all"]));
    assert_ok(&all);
    for k in [&k1, &k2] {
        assert!(
            stdout(&all).contains(&format!("kept {k} (locked until")),
            "{}",
            stdout(&all)
        );
    }
    assert_eq!(
        versions(&m, "etcdbak/prod/").len(),
        2,
        "prune --all left a delete marker"
    );

    // Expired: prune deletes every version; nothing of the backup is left, not even a delete marker.
    std::thread::sleep(Duration::from_secs(21).saturating_sub(started.elapsed()));
    let mut left = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let o = run(&mut locked(&m, "prune", &["--cluster", "prod", "--all"]));
        assert_ok(&o);
        left = versions(&m, "etcdbak/prod/");
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_lock_asked_of_a_bucket_without_object_lock_is_refused_naming_the_bucket() {
    let m = Minio::start();
    let dir = backup_dir("prod", 7, "2026-11-25T12:00:00.000Z");
    let o = store(
        &m,
        dir.path(),
        &[
            "--object-lock-mode",
            "governance",
            "--object-lock-retain",
            "30d",
        ],
    );
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert_eq!(error_lines(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Object Lock is not enabled on bucket \"backups\""),
        "{}",
        stderr(&o)
    );
    assert!(m.keys("").is_empty(), "an unlocked backup was written");
    // The two flags come together.
    let half = store(&m, dir.path(), &["--object-lock-mode", "governance"]);
    assert_eq!(half.status.code(), Some(2), "{}", stderr(&half));
}

#[test]
fn on_a_versioned_bucket_retention_leaves_no_version_and_no_delete_marker() {
    let m = Minio::start();
    let bucket = "versioned";
    assert!(m.mc(&["mb", &format!("t/{bucket}")]).status.success());
    let dir = |rev: i64, at: &str| backup_dir("prod", rev, at);
    let store_in = |d: &tempfile::TempDir| {
        run(in_bucket(
            &m,
            bucket,
            "store",
            &["--dir", d.path().to_str().expect("utf8")],
        )
        .args(["--keep", "1"]))
    };
    // Written before versioning was on: its version is `null`.
    let one = dir(1, "2026-11-25T10:00:00.000Z");
    assert_ok(&store_in(&one));
    let on = m.mc(&["version", "enable", &format!("t/{bucket}")]);
    assert!(
        on.status.success(),
        "{}",
        String::from_utf8_lossy(&on.stderr)
    );
    let two = dir(2, "2026-11-25T11:00:00.000Z");
    assert_ok(&store_in(&two));
    let three = dir(3, "2026-11-25T12:00:00.000Z");
    assert_ok(&store_in(&three));
    let left: Vec<String> = versions_in(&m, bucket, "etcdbak/prod/")
        .into_iter()
        .map(|(k, _, marker)| format!("{k} marker={marker}"))
        .collect();
    assert_eq!(
        left,
        [format!(
            "{} marker=false",
            key_of(3, "20261125T120000.000Z")
        )],
        "retention left versions or delete markers behind"
    );
}
