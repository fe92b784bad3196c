//! Two destinations, one locked: MinIO with a locked bucket (`mc mb --with-lock`, the backups written under
//! governance) and versitygw without a lock. `list` shows each backup's lock where there is one; the
//! cleanup Job's `prune --all` empties each destination of what it may lose and reports on its own what
//! its locks keep; a destination that is down, or has no credentials, fails the run naming it while the
//! other is cleaned all the same.

use std::process::{Command, Output};

use crate::common::etcdbak;
use crate::common::minio::Minio;
use crate::common::store::*;
use crate::common::versitygw::{self, Versitygw};
use crate::destinations::vgw_spec;

const LOCKED: &str = "cleanup-locked";

/// `etcdbak SUB` against MinIO's locked bucket (`primary`) and versitygw at `vgw` with its own keys.
fn both(m: &Minio, vgw: &str, sub: &str, args: &[&str]) -> Command {
    both_at(m, &m.endpoint(), vgw, sub, args)
}

/// [`both`] with MinIO reached at `minio` (a dead port stands for MinIO down).
fn both_at(m: &Minio, minio: &str, vgw: &str, sub: &str, args: &[&str]) -> Command {
    let mut cmd = etcdbak();
    cmd.arg(sub)
        .args(["--s3-endpoint", minio, "--bucket", LOCKED])
        .args(["--add-destination", &vgw_spec(vgw)])
        .args(args)
        .env("ETCDBAK_COMPRESS", "none")
        .env("VGW_AWS_ACCESS_KEY_ID", versitygw::ACCESS_KEY)
        .env("VGW_AWS_SECRET_ACCESS_KEY", versitygw::SECRET_KEY);
    m.creds_env(&mut cmd);
    cmd
}

fn key(time: &str) -> String {
    format!("etcdbak/prod/{time}-r13-{}.db", &fixture_sha()[..8])
}

/// Two backups in both destinations, locked for a day in MinIO.
fn two_backups(m: &Minio, g: &Versitygw) -> [String; 2] {
    let made = m.mc(&["mb", "--with-lock", &format!("t/{LOCKED}")]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let lock = [
        "--object-lock-mode",
        "governance",
        "--object-lock-retain",
        "1d",
    ];
    for at in ["2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z"] {
        let dir = backup_dir("prod", 13, at);
        let d = dir.path().to_str().expect("utf8");
        assert_ok(&run(
            both(m, &g.endpoint(), "store", &["--dir", d]).args(lock)
        ));
    }
    [key("20261125T100000.000Z"), key("20261125T110000.000Z")]
}

fn keys_in(m: &Minio) -> Vec<String> {
    let out = m.mc(&[
        "ls",
        "--recursive",
        "--json",
        &format!("t/{LOCKED}/etcdbak/"),
    ]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["key"].as_str().map(|k| format!("etcdbak/{k}")))
        .collect()
}

fn error_line(o: &Output) -> String {
    let err = stderr(o);
    err.lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {err}"))
        .to_string()
}

#[test]
fn cleanup_empties_every_destination_and_reports_each_ones_locks() {
    let m = Minio::start();
    let g = Versitygw::start();
    let keys = two_backups(&m, &g);
    assert_eq!(g.keys(""), keys);
    let o = run(&mut both(
        &m,
        &g.endpoint(),
        "prune",
        &["--cluster", "prod", "--all"],
    ));
    assert_ok(&o);
    let said = stdout(&o);
    for k in &keys {
        let kept = format!("destination \"primary\": kept {k} (locked until ");
        assert!(said.contains(&kept), "{said}");
        let deleted = format!("destination \"vgw\": deleted {k} (");
        assert!(said.contains(&deleted), "{said}");
    }
    assert!(g.keys("").is_empty(), "versitygw kept {:?}", g.keys(""));
    assert_eq!(keys_in(&m), keys, "the locked backups stay in MinIO");
    // --destination still names one: only that one is pruned.
    let o = run(&mut both(
        &m,
        &g.endpoint(),
        "prune",
        &["--cluster", "prod", "--all", "--destination", "primary"],
    ));
    assert_ok(&o);
    assert!(!stdout(&o).contains("destination \""), "{}", stdout(&o));
}

#[test]
fn a_destination_down_or_without_keys_fails_the_cleanup_but_the_other_is_emptied() {
    let m = Minio::start();
    let g = Versitygw::start();
    let keys = two_backups(&m, &g);
    // MinIO down (its locked backups would stay anyway): versitygw is emptied, the run names MinIO.
    let dead = format!("http://127.0.0.1:{}", crate::common::free_port());
    let all = ["--cluster", "prod", "--all"];
    let o = run(&mut both_at(&m, &dead, &g.endpoint(), "prune", &all));
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    let line = error_line(&o);
    assert!(
        line.contains(&format!(
            "destination \"primary\" (bucket \"{LOCKED}\" at {dead}) failed"
        )) && line.ends_with("the cluster's backups are deleted in \"vgw\""),
        "{line}"
    );
    assert!(g.keys("").is_empty(), "{:?}", g.keys(""));
    // versitygw without its keys: MinIO is still pruned (its locks reported), the run names versitygw.
    let mut cmd = both(&m, &g.endpoint(), "prune", &["--cluster", "prod", "--all"]);
    cmd.env_remove("VGW_AWS_ACCESS_KEY_ID")
        .env_remove("VGW_AWS_SECRET_ACCESS_KEY");
    let o = run(&mut cmd);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    let line = error_line(&o);
    assert!(
        line.contains("destination \"vgw\"")
            && line.contains("its credentials could not be resolved")
            && line.ends_with("the cluster's backups are deleted in \"primary\""),
        "{line}"
    );
    let said = stdout(&o);
    assert!(
        said.contains(&format!(
            "destination \"primary\": kept {} (locked until",
            keys[0]
        )),
        "{said}"
    );
}

#[test]
fn list_shows_each_backups_lock_where_the_bucket_has_object_lock() {
    let m = Minio::start();
    let g = Versitygw::start();
    let before = chrono::Utc::now();
    let keys = two_backups(&m, &g);
    let json = |dest: &str| {
        let o = run(&mut both(
            &m,
            &g.endpoint(),
            "list",
            &["-o", "json", "--destination", dest],
        ));
        assert_ok(&o);
        serde_json::from_str::<serde_json::Value>(&stdout(&o)).expect("json")
    };
    let listed = json("primary");
    let rows = listed.as_array().expect("array");
    assert_eq!(rows.len(), 2, "{listed}");
    for row in rows {
        assert!(keys.iter().any(|k| row["key"] == k.as_str()), "{row}");
        assert_eq!(row["lock"]["mode"], "governance", "{row}");
        let until = row["lock"]["retainUntil"].as_str().expect("retainUntil");
        let until = chrono::DateTime::parse_from_rfc3339(until).expect("date");
        let day = chrono::Duration::days(1);
        let after = chrono::Utc::now();
        assert!(
            until >= before + day - chrono::Duration::seconds(5) && until <= after + day,
            "{row}"
        );
    }
    let o = run(&mut both(&m, &g.endpoint(), "list", &[]));
    assert_ok(&o);
    let table = stdout(&o);
    assert!(
        table.contains("LOCK") && table.matches("governance until ").count() == 2,
        "{table}"
    );
    // versitygw's bucket has no Object Lock: no lock, and no LOCK column.
    let listed = json("vgw");
    assert!(
        listed
            .as_array()
            .expect("array")
            .iter()
            .all(|r| r.get("lock").is_none()),
        "{listed}"
    );
    let o = run(&mut both(
        &m,
        &g.endpoint(),
        "list",
        &["--destination", "vgw"],
    ));
    assert!(!stdout(&o).contains("LOCK"), "{}", stdout(&o));
}

/// The one version of `key` in the locked bucket, as `mc` lists it.
fn version_of(m: &Minio, key: &str) -> String {
    let out = m.mc(&["ls", "--versions", "--json", &format!("t/{LOCKED}/{key}")]);
    let versions: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["versionId"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(versions.len(), 1, "{key}: {versions:?}");
    versions[0].clone()
}

#[test]
fn a_verification_record_is_locked_like_its_backup() {
    let m = Minio::start();
    let g = Versitygw::start();
    let keys = two_backups(&m, &g);
    let verify = ["--destination", "primary", "--key", &keys[0]];
    let o = run(&mut both(&m, &g.endpoint(), "verify", &verify));
    assert_ok(&o);
    assert!(
        stderr(&o).contains("the verification record is locked like its backup"),
        "{}",
        stderr(&o)
    );
    let record = format!("{}.verified", keys[0]);
    // The store's own credentials cannot delete the record's version before the backup's date.
    let version = version_of(&m, &record);
    let target = format!("t/{LOCKED}/{record}");
    let refused = m.mc(&["rm", "--version-id", &version, &target]);
    assert!(
        !refused.status.success(),
        "a locked record's version was deleted"
    );
    // versitygw's bucket has no lock: its record is written as before, and verify succeeds.
    let o = run(&mut both(
        &m,
        &g.endpoint(),
        "verify",
        &["--destination", "vgw", "--key", &keys[0]],
    ));
    assert_ok(&o);
    assert!(g.keys("").contains(&record), "{:?}", g.keys(""));
    // Retention over the locked bucket fails nothing: the verified backup, its record and the locked
    // newer backup stay.
    let o = run(&mut both(
        &m,
        &g.endpoint(),
        "prune",
        &[
            "--cluster",
            "prod",
            "--keep",
            "1",
            "--destination",
            "primary",
        ],
    ));
    assert_ok(&o);
    let left = keys_in(&m);
    assert!(
        left.contains(&record) && keys.iter().all(|k| left.contains(k)),
        "{left:?}"
    );
}
