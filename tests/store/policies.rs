//! The bucket policies docs/CONTRACT.md documents per container (examples/bucket-policies/*.json), proven on
//! a real MinIO: each container's commands succeed as a user granted exactly its policy and nothing more,
//! and a user with less (verify with list-and-read only, the exporter's list-only) fails the run with one
//! line instead of quietly losing the verification record. The fixture database is at revision 13.

use std::path::Path;
use std::process::Command;

use crate::common::etcdbak;
use crate::common::minio::{Minio, BUCKET};
use crate::common::store::*;

/// A MinIO user granted exactly `policy` (examples/bucket-policies/<policy>.json, pointed at the test
/// bucket); returns its keys.
fn user_with(m: &Minio, policy: &str) -> (String, String) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/bucket-policies")
        .join(format!("{policy}.json"));
    let text = std::fs::read_to_string(&file).expect("policy file");
    assert!(
        text.contains("arn:aws:s3:::etcd-backups"),
        "{policy}: the documented bucket"
    );
    let local = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(local.path(), text.replace("etcd-backups", BUCKET)).unwrap();
    let (user, secret) = (format!("{policy}-user"), format!("{policy}-secret-Kx81qz"));
    let ok = |args: &[&str]| {
        let out = m.mc(args);
        assert!(
            out.status.success(),
            "mc {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(&["admin", "user", "add", "t", &user, &secret]);
    ok(&[
        "admin",
        "policy",
        "create",
        "t",
        policy,
        local.path().to_str().unwrap(),
    ]);
    ok(&["admin", "policy", "attach", "t", policy, "--user", &user]);
    (user, secret)
}

/// `etcdbak SUB` against the test bucket as `keys`.
fn as_user(m: &Minio, keys: &(String, String), sub: &str, args: &[&str]) -> Command {
    let mut cmd = etcdbak();
    cmd.arg(sub)
        .args(m.s3_args())
        .args(args)
        .env("AWS_ACCESS_KEY_ID", &keys.0)
        .env("AWS_SECRET_ACCESS_KEY", &keys.1)
        .env_remove("AWS_SESSION_TOKEN")
        .env("ETCDBAK_COMPRESS", "none");
    cmd
}

#[test]
fn each_container_works_with_exactly_its_documented_policy() {
    let m = Minio::start();
    let store_keys = user_with(&m, "store");
    let verify_keys = user_with(&m, "verify");
    let cleanup_keys = user_with(&m, "cleanup");
    let exporter_keys = user_with(&m, "exporter");

    // store: upload, check, retention (keep 1 deletes the older backup), stale-upload sweep.
    for at in ["2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z"] {
        let dir = backup_dir("prod", 13, at);
        let dir = dir.path().to_str().unwrap();
        assert_ok(&run(&mut as_user(
            &m,
            &store_keys,
            "store",
            &["--dir", dir, "--keep", "1"],
        )));
    }
    let keys = m.keys("etcdbak/prod/");
    assert_eq!(keys.len(), 1, "retention ran as the store user: {keys:?}");
    let newest = keys[0].clone();
    // Outside its prefix the store user can do nothing.
    let other = backup_dir("prod", 13, "2026-11-25T12:00:00Z");
    let refused = run(&mut as_user(
        &m,
        &store_keys,
        "store",
        &[
            "--dir",
            other.path().to_str().unwrap(),
            "--prefix",
            "elsewhere",
        ],
    ));
    assert!(!refused.status.success(), "{}", stderr(&refused));

    // verify: download, judge, and write the record.
    let out = run(&mut as_user(
        &m,
        &verify_keys,
        "verify",
        &["--cluster", "prod"],
    ));
    assert_ok(&out);
    assert!(
        m.keys("etcdbak/prod/")
            .contains(&format!("{newest}.verified")),
        "the record was written"
    );
    // verify may write nothing but records.
    let planted = run(&mut as_user(
        &m,
        &verify_keys,
        "store",
        &["--dir", other.path().to_str().unwrap()],
    ));
    assert!(!planted.status.success(), "{}", stderr(&planted));

    // With list-only keys verify cannot even download; with the exporter's policy it fails with one line.
    let out = run(&mut as_user(
        &m,
        &exporter_keys,
        "verify",
        &["--cluster", "prod"],
    ));
    assert!(!out.status.success());
    assert_eq!(error_lines(&out), 1, "{}", stderr(&out));

    // exporter: /metrics needs only the listing; list works, download does not.
    assert_ok(&run(&mut as_user(
        &m,
        &exporter_keys,
        "list",
        &["--cluster", "prod"],
    )));
    let target = tempfile::tempdir().unwrap();
    let dl = target.path().join("s.db");
    let out = run(&mut as_user(
        &m,
        &exporter_keys,
        "download",
        &["--key", &newest, "--output", dl.to_str().unwrap()],
    ));
    assert!(!out.status.success(), "the exporter's keys could download");

    // cleanup: delete everything of the cluster (records included), nothing else.
    m.put(
        "etcdbak/staging/20200101T000000.000Z-r1-aaaaaaaa.db",
        b"another cluster",
    );
    assert_ok(&run(&mut as_user(
        &m,
        &cleanup_keys,
        "prune",
        &["--cluster", "prod", "--all"],
    )));
    assert!(
        m.keys("etcdbak/prod/").is_empty(),
        "{:?}",
        m.keys("etcdbak/prod/")
    );
    assert_eq!(m.keys("etcdbak/staging/").len(), 1);
}

/// Read-only credentials used to make verify "succeed" without its record, so retention's floor silently
/// stopped working: now the run fails after printing the verdict.
#[test]
fn verify_without_write_access_to_its_records_fails_the_run() {
    let m = Minio::start();
    let store_keys = user_with(&m, "store");
    let dir = backup_dir("prod", 13, "2026-11-25T10:00:00Z");
    assert_ok(&run(&mut as_user(
        &m,
        &store_keys,
        "store",
        &["--dir", dir.path().to_str().unwrap()],
    )));
    // The verify policy without its last statement: list and read only.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bucket-policies/verify.json");
    let mut policy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    policy["Statement"].as_array_mut().unwrap().pop();
    let local = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        local.path(),
        policy.to_string().replace("etcd-backups", BUCKET),
    )
    .unwrap();
    for args in [
        vec!["admin", "user", "add", "t", "ro-user", "ro-secret-Kx81qz"],
        vec![
            "admin",
            "policy",
            "create",
            "t",
            "readonly-verify",
            local.path().to_str().unwrap(),
        ],
        vec![
            "admin",
            "policy",
            "attach",
            "t",
            "readonly-verify",
            "--user",
            "ro-user",
        ],
    ] {
        assert!(m.mc(&args).status.success(), "mc {args:?}");
    }
    let keys = ("ro-user".to_string(), "ro-secret-Kx81qz".to_string());
    let out = run(&mut as_user(
        &m,
        &keys,
        "verify",
        &["--cluster", "prod", "-o", "json"],
    ));
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the verdict is printed");
    assert_eq!(report[0]["result"], "sound", "{report}");
    assert_eq!(error_lines(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains(".verified"), "{}", stderr(&out));
}

fn metrics_of(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.contains("200 OK").then_some(buf)
}

/// `s3-exporter --read-metadata` with the exporter's list-only keys still serves every cluster's listing (the
/// HEADs are refused, so the plaintext size is missing, not the scrape); with keys that may read objects the
/// plaintext size appears. CONTRACT: the HEAD needs GetObject.
#[test]
fn the_exporter_reads_metadata_only_with_get_object() {
    use crate::common::{free_port, wait_until, Proc};
    let m = Minio::start();
    let store_keys = user_with(&m, "store");
    let exporter_keys = user_with(&m, "exporter");
    let dir = backup_dir("prod", 13, "2026-11-25T10:00:00Z");
    assert_ok(&run(&mut as_user(
        &m,
        &store_keys,
        "store",
        &["--dir", dir.path().to_str().unwrap()],
    )));
    let scrape = |keys: &(String, String)| {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = as_user(
            &m,
            keys,
            "s3-exporter",
            &["--listen", &addr, "--read-metadata"],
        );
        let _exporter = Proc::spawn(
            "etcdbak s3-exporter",
            cmd.stdout(std::process::Stdio::null()),
        );
        let mut text = String::new();
        wait_until(
            "the exporter's listing",
            std::time::Duration::from_secs(20),
            || {
                text = metrics_of(port).unwrap_or_default();
                text.contains("s3_last_modified_object_date{")
            },
        );
        // A second scrape: the first one's HEADs have answered by then.
        metrics_of(port).unwrap_or_default()
    };
    let listed_only = scrape(&exporter_keys);
    assert!(listed_only.contains("cluster=\"prod\""), "{listed_only}");
    assert!(
        !listed_only.contains("s3_last_modified_object_plaintext_size_bytes{"),
        "{listed_only}"
    );
    let with_get = scrape(&store_keys);
    let line = with_get
        .lines()
        .find(|l| l.starts_with("s3_last_modified_object_plaintext_size_bytes{"))
        .unwrap_or_else(|| panic!("no plaintext size with GetObject: {with_get}"));
    let size = std::fs::metadata(dir.path().join(etcdbak::backup::SNAPSHOT_FILE))
        .unwrap()
        .len();
    assert!(line.ends_with(&format!(" {size}")), "{line}, not {size}");
}
