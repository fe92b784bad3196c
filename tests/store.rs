//! `etcdbak store`, `list`, `download` and `prune` against a real MinIO, with snapshots from a real etcd.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::damage::flip_a_bit_that_matters;
use common::minio::{Minio, SECRET_KEY};
use common::{etcdbak, free_port, rig_bin, wait_until, Proc};
use etcdbak::backup::{SnapshotMetadata, METADATA_FILE, SNAPSHOT_FILE};
use sha2::{Digest, Sha256};

/// The fixture's SHA-256 (hex), read and hashed once per test run.
fn fixture_sha() -> &'static str {
    static SHA: OnceLock<String> = OnceLock::new();
    SHA.get_or_init(|| hex::encode(Sha256::digest(std::fs::read(fixture()).expect("fixture"))))
}

/// A real etcd snapshot (taken once per test run with `etcdctl snapshot save`), big enough to need several
/// 5 MiB parts: 12 values of 1 MiB.
fn fixture() -> &'static Path {
    static SNAPSHOT: OnceLock<PathBuf> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("store-fixture");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("fixture dir");
        let (client, peer) = (free_port(), free_port());
        let endpoint = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut etcd = Proc::spawn(
            "etcd",
            Command::new(rig_bin("etcd"))
                .args(["--name", "fixture", "--data-dir"])
                .arg(dir.join("data"))
                .args([
                    "--listen-client-urls",
                    &endpoint,
                    "--advertise-client-urls",
                    &endpoint,
                ])
                .args([
                    "--listen-peer-urls",
                    &peer_url,
                    "--initial-advertise-peer-urls",
                    &peer_url,
                ])
                .args(["--initial-cluster", &format!("fixture={peer_url}")])
                .arg("--unsafe-no-fsync")
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let etcdctl = || {
            let mut c = Command::new(rig_bin("etcdctl"));
            c.args(["--endpoints", &endpoint]);
            c
        };
        wait_until("etcd", Duration::from_secs(30), || {
            etcdctl()
                .args(["endpoint", "health"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        for i in 0..12u8 {
            let mut put = etcdctl()
                .args(["put", &format!("/big/{i}")])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .expect("etcdctl put");
            {
                use std::io::Write;
                let mut value = vec![b'a' + i; 1 << 20];
                // Not all one byte, so the database does not compress to nothing anywhere.
                for (j, b) in value.iter_mut().enumerate().step_by(7) {
                    *b = (j % 251) as u8;
                }
                put.stdin
                    .take()
                    .expect("stdin")
                    .write_all(&value)
                    .expect("value");
            }
            assert!(put.wait().expect("put").success());
        }
        let snap = dir.join(SNAPSHOT_FILE);
        let out = etcdctl()
            .args(["snapshot", "save"])
            .arg(&snap)
            .output()
            .expect("snapshot save");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        etcd.kill();
        snap
    })
}

/// A backup directory as `etcdbak snapshot` leaves it: the fixture plus metadata naming `revision` and
/// `taken_at`.
fn backup_dir(cluster: &str, revision: i64, taken_at: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(fixture()).expect("fixture");
    std::fs::write(dir.path().join(SNAPSHOT_FILE), &bytes).expect("copy");
    let meta = SnapshotMetadata {
        cluster: cluster.into(),
        member: "fixture".into(),
        member_id: "8e9e05c52164694d".into(),
        endpoint: "http://127.0.0.1:2379".into(),
        revision,
        db_size: bytes.len() as u64 - 32,
        file_size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(&bytes)),
        taken_at: chrono::DateTime::parse_from_rfc3339(taken_at)
            .expect("time")
            .with_timezone(&chrono::Utc),
        etcd_version: "3.6.16".into(),
        etcdbak_version: "test".into(),
    };
    std::fs::write(
        dir.path().join(METADATA_FILE),
        serde_json::to_vec_pretty(&meta).expect("json"),
    )
    .expect("metadata");
    dir
}

fn etcdbak_s3(m: &Minio, sub: &str, args: &[&str]) -> Command {
    let mut cmd = etcdbak();
    cmd.arg(sub).args(m.s3_args()).args(args);
    m.creds_env(&mut cmd);
    if sub == "store" {
        // These tests are about the upload, retention and checks of plain `.db` objects, which compare the
        // stored object with the snapshot byte for byte; the pipeline tests at the end pass --compress.
        cmd.env("ETCDBAK_COMPRESS", "none");
    }
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run etcdbak")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn store(m: &Minio, dir: &Path, extra: &[&str]) -> Output {
    run(etcdbak_s3(m, "store", &["--dir", dir.to_str().expect("utf8")]).args(extra))
}

fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

#[test]
fn store_list_download_round_trip() {
    let m = Minio::start();
    let dir = backup_dir("prod", 4242, "2026-11-25T10:30:00.123Z");
    let o = store(
        &m,
        dir.path(),
        &["--part-size", "5MiB", "--upload-concurrency", "2"],
    );
    assert_ok(&o);
    let original = std::fs::read(fixture()).expect("fixture");
    let sha = fixture_sha();
    let key = format!("etcdbak/prod/20261125T103000.123Z-r4242-{}.db", &sha[..8]);
    // Exactly one object: the snapshot itself, no sidecar (exporters count objects).
    assert_eq!(m.keys(""), vec![key.clone()]);
    let (meta, size) = m.head(&key);
    assert_eq!(size, original.len() as u64);
    assert_eq!(meta.get("sha256"), Some(&sha.to_string()));
    assert_eq!(meta.get("revision").map(String::as_str), Some("4242"));
    assert_eq!(meta.get("cluster").map(String::as_str), Some("prod"));
    assert_eq!(meta.get("member-name").map(String::as_str), Some("fixture"));
    assert_eq!(
        meta.get("taken-at").map(String::as_str),
        Some("2026-11-25T10:30:00.123Z")
    );
    assert_eq!(meta.get("file-size"), Some(&original.len().to_string()));
    assert_eq!(m.get(&key), original);
    assert!(
        m.uploads("").is_empty(),
        "an unfinished upload was left behind"
    );
    // The log tells what happened, one line per step, and never the secret.
    let log = stderr(&o);
    for step in [
        "snapshot verified",
        "uploaded",
        "upload verified",
        "retention applied",
        "backup stored",
    ] {
        assert!(log.contains(step), "no {step:?} line in:\n{log}");
    }
    assert!(!log.contains(SECRET_KEY));

    let table = run(&mut etcdbak_s3(&m, "list", &[]));
    assert_ok(&table);
    let text = stdout(&table);
    assert!(
        text.contains(&key) && text.contains("4242") && text.contains("prod"),
        "{text}"
    );

    let json = run(&mut etcdbak_s3(
        &m,
        "list",
        &["--cluster", "prod", "-o", "json"],
    ));
    assert_ok(&json);
    let listed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(listed[0]["key"], key.as_str());
    assert_eq!(listed[0]["revision"], 4242);
    assert_eq!(listed[0]["sizeBytes"], original.len() as u64);
    assert_eq!(listed[0]["cluster"], "prod");

    let out = tempfile::tempdir().expect("tempdir");
    let target = out.path().join("restored.db");
    let d = run(&mut etcdbak_s3(
        &m,
        "download",
        &[
            "--cluster",
            "prod",
            "--output",
            target.to_str().expect("utf8"),
        ],
    ));
    assert_ok(&d);
    assert_eq!(std::fs::read(&target).expect("downloaded"), original);
    assert!(!out.path().join("restored.db.part").exists());
    // An explicit key works too, and an existing output is never overwritten.
    let again = run(&mut etcdbak_s3(
        &m,
        "download",
        &["--key", &key, "--output", target.to_str().expect("utf8")],
    ));
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn retention_keeps_the_newest_three_across_a_revision_digit_and_spares_foreign_files() {
    let m = Minio::start();
    let foreign = [
        "etcdbak/prod/README.txt",
        "etcdbak/prod/20261125T103000.000Z-r1-aaaaaaaa.db.bak",
        "etcdbak/staging/20200101T000000.000Z-r1-aaaaaaaa.db",
        "other/prod/20200101T000000.000Z-r1-aaaaaaaa.db",
    ];
    for f in foreign {
        m.put(f, b"not ours to delete");
    }
    // Same millisecond, revisions crossing a power of ten: only the parsed order gets this right (a string
    // sort ranks r99999 above r100000).
    let revisions = [99998, 99999, 100000, 100001, 100002];
    for rev in revisions {
        let dir = backup_dir("prod", rev, "2026-11-25T10:30:00.000Z");
        let mut cmd = etcdbak_s3(&m, "store", &["--dir", dir.path().to_str().expect("utf8")]);
        cmd.env("ETCDBAK_KEEP", "3");
        if rev == 100000 {
            // Stores that mishandle Content-MD5 get uploads without it; MinIO takes both.
            cmd.env("ETCDBAK_S3_CONTENT_MD5", "false");
        }
        assert_ok(&run(&mut cmd));
    }
    let ours: Vec<String> = m
        .keys("etcdbak/prod/")
        .into_iter()
        .filter(|k| !foreign.contains(&k.as_str()))
        .collect();
    let revs: Vec<&str> = ours
        .iter()
        .filter_map(|k| k.split("-r").nth(1)?.split('-').next())
        .collect();
    let mut revs = revs;
    revs.sort();
    assert_eq!(revs, ["100000", "100001", "100002"], "kept {ours:?}");
    for f in foreign {
        assert!(m.keys("").contains(&f.to_string()), "{f} was deleted");
    }

    // prune: --dry-run deletes nothing, --keep 1 leaves the newest, --all leaves only foreign files.
    let dry = run(&mut etcdbak_s3(
        &m,
        "prune",
        &["--cluster", "prod", "--keep", "1", "--dry-run"],
    ));
    assert_ok(&dry);
    assert_eq!(
        stdout(&dry).matches("┆ delete ").count(),
        2,
        "{}",
        stdout(&dry)
    );
    assert!(
        stdout(&dry).contains("would delete 2 of 3 backups"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(m.keys("etcdbak/prod/").len(), 3 + 2);
    let keep1 = run(&mut etcdbak_s3(
        &m,
        "prune",
        &["--cluster", "prod", "--keep", "1"],
    ));
    assert_ok(&keep1);
    let left: Vec<String> = m
        .keys("etcdbak/prod/")
        .into_iter()
        .filter(|k| k.contains("-r100002-"))
        .collect();
    assert_eq!(left.len(), 1);
    let orphan = "etcdbak/prod/20261125T090000.000Z-r5-bbbbbbbb.db";
    m.start_upload(orphan);
    assert_eq!(m.uploads("").len(), 1);
    let all = run(&mut etcdbak_s3(
        &m,
        "prune",
        &["--cluster", "prod", "--all"],
    ));
    assert_ok(&all);
    let mut want: Vec<String> = foreign.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(m.keys(""), want);
    assert!(m.uploads("").is_empty(), "prune --all left an upload");
}

#[test]
fn a_corrupt_snapshot_is_refused_and_nothing_is_uploaded() {
    let m = Minio::start();
    // One byte flipped in the middle.
    let flipped = backup_dir("prod", 7, "2026-11-25T10:30:00Z");
    let snap = flipped.path().join(SNAPSHOT_FILE);
    let mut bytes = std::fs::read(&snap).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&snap, &bytes).expect("write");
    // Truncated (metadata still describes the whole file).
    let truncated = backup_dir("prod", 8, "2026-11-25T10:31:00Z");
    let snap = truncated.path().join(SNAPSHOT_FILE);
    let bytes = std::fs::read(&snap).expect("read");
    std::fs::write(&snap, &bytes[..bytes.len() - 100]).expect("write");
    // Not an etcd database at all, though its trailer and metadata are self-consistent.
    let junk = backup_dir("prod", 9, "2026-11-25T10:32:00Z");
    let mut not_db = vec![0x5au8; 100_000];
    let h = Sha256::digest(&not_db);
    not_db.extend_from_slice(&h);
    std::fs::write(junk.path().join(SNAPSHOT_FILE), &not_db).expect("write");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(junk.path().join(METADATA_FILE)).expect("meta"))
            .expect("json");
    meta["sha256"] = hex::encode(Sha256::digest(&not_db)).into();
    meta["fileSize"] = not_db.len().into();
    std::fs::write(
        junk.path().join(METADATA_FILE),
        serde_json::to_vec(&meta).expect("json"),
    )
    .expect("w");
    // Garbage metadata.
    let garbage = backup_dir("prod", 10, "2026-11-25T10:33:00Z");
    std::fs::write(garbage.path().join(METADATA_FILE), b"{not json").expect("write");

    for (what, dir) in [
        ("flipped byte", &flipped),
        ("truncated", &truncated),
        ("not etcd", &junk),
        ("garbage metadata", &garbage),
    ] {
        let o = store(&m, dir.path(), &[]);
        assert_eq!(o.status.code(), Some(5), "{what}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("error:") && err.contains("nothing was uploaded")
                || what == "garbage metadata",
            "{what}: {err}"
        );
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
    assert!(m.keys("").is_empty(), "something was uploaded");
    assert!(m.uploads("").is_empty(), "an upload was started");
}

#[test]
fn s3_unreachable_fails_clearly_and_runs_no_retention() {
    let mut m = Minio::start();
    for (rev, at) in [(1, "2026-11-25T10:00:00Z"), (2, "2026-11-25T11:00:00Z")] {
        assert_ok(&store(&m, backup_dir("prod", rev, at).path(), &[]));
    }
    let before = m.keys("");
    assert_eq!(before.len(), 2);
    m.stop();
    let dir = backup_dir("prod", 3, "2026-11-25T12:00:00Z");
    let o = store(&m, dir.path(), &["--keep", "1"]);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&m.endpoint()) && err.contains("cannot reach"),
        "{err}"
    );
    assert!(!err.contains("retention applied"), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
    m.start_again();
    assert_eq!(
        m.keys(""),
        before,
        "retention ran or a partial object appeared"
    );
    // The next run succeeds and applies retention.
    assert_ok(&store(&m, dir.path(), &["--keep", "1"]));
    assert_eq!(m.keys("").len(), 1);
}

#[test]
fn wrong_credentials_and_missing_bucket_name_the_fix() {
    let m = Minio::start();
    let dir = backup_dir("prod", 1, "2026-11-25T10:00:00Z");
    let d = dir.path().to_str().expect("utf8");

    let o =
        run(etcdbak_s3(&m, "store", &["--dir", d]).env("AWS_SECRET_ACCESS_KEY", "wrong-secret-9x"));
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("AWS_ACCESS_KEY_ID") && err.contains("AWS_SECRET_ACCESS_KEY"),
        "{err}"
    );
    assert!(
        !err.contains("wrong-secret-9x") && !err.contains(SECRET_KEY),
        "{err}"
    );

    let o = run(etcdbak_s3(&m, "list", &[]).env_remove("AWS_ACCESS_KEY_ID"));
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("AWS_ACCESS_KEY_ID"));

    let mut cmd = etcdbak();
    cmd.args([
        "store",
        "--dir",
        d,
        "--s3-endpoint",
        &m.endpoint(),
        "--bucket",
        "no-such-bucket",
    ]);
    m.creds_env(&mut cmd);
    let o = run(&mut cmd);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("\"no-such-bucket\" does not exist"),
        "{}",
        stderr(&o)
    );
    assert!(m.keys("").is_empty());
}

#[test]
fn download_refuses_an_object_whose_checksum_does_not_match() {
    let m = Minio::start();
    let original = std::fs::read(fixture()).expect("fixture");
    let key = "etcdbak/prod/20261125T100000.000Z-r1-00000000.db";
    let mut tampered = original.clone();
    tampered[1000] ^= 0xff;
    let sha = fixture_sha();
    m.put_with_metadata(key, &tampered, &[("sha256", sha)]);
    let out = tempfile::tempdir().expect("tempdir");
    let target = out.path().join("x.db");
    let o = run(&mut etcdbak_s3(
        &m,
        "download",
        &[
            "--cluster",
            "prod",
            "--output",
            target.to_str().expect("utf8"),
        ],
    ));
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("SHA-256"), "{}", stderr(&o));
    assert!(
        std::fs::read_dir(out.path()).expect("dir").next().is_none(),
        "a file was left behind"
    );
}

#[test]
fn store_cleans_up_stale_uploads_but_not_young_ones() {
    let m = Minio::start();
    let stale = "etcdbak/prod/20261125T080000.000Z-r1-11111111.db";
    let foreign = "etcdbak/prod/not-ours.tar";
    let other_cluster = "etcdbak/staging/20261125T080000.000Z-r1-11111111.db";
    m.start_upload(stale);
    m.start_upload(foreign);
    m.start_upload(other_cluster);
    let pending = |prefix: &str| -> Vec<String> {
        let mut keys: Vec<String> = m
            .uploads("")
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| k.starts_with(prefix))
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(pending("etcdbak/prod/").len(), 2);
    // Default age (2h): a fresh upload may be a concurrent run's, so it stays.
    assert_ok(&store(
        &m,
        backup_dir("prod", 2, "2026-11-25T10:00:00Z").path(),
        &[],
    ));
    assert_eq!(pending("etcdbak/prod/").len(), 2);
    // A restarted store container retries the same snapshot, so the same key: the earlier attempt's
    // upload goes whatever its age.
    let retry = backup_dir("prod", 3, "2026-11-25T11:00:00Z");
    let sha = fixture_sha();
    let retried = format!("etcdbak/prod/20261125T110000.000Z-r3-{}.db", &sha[..8]);
    m.start_upload(&retried);
    assert_ok(&store(&m, retry.path(), &[]));
    assert_eq!(
        pending("etcdbak/prod/").len(),
        2,
        "the earlier attempt's upload is still there"
    );
    assert_ok(&store(
        &m,
        backup_dir("prod", 4, "2026-11-25T12:00:00Z").path(),
        &["--stale-upload-age", "0s"],
    ));
    assert_eq!(pending("etcdbak/prod/"), [foreign.to_string()]);
    assert_eq!(pending("etcdbak/staging/"), [other_cluster.to_string()]);
}

/// An upload orphaned across a MinIO restart (S3 went down mid-upload) is invisible to bucket-wide listings
/// afterwards; the retried run of the same snapshot finds it by its exact key and aborts it.
#[test]
fn a_retry_after_an_s3_restart_aborts_the_orphaned_upload_of_its_snapshot() {
    let mut m = Minio::start();
    let dir = backup_dir("prod", 77, "2026-11-25T10:00:00Z");
    let sha = fixture_sha();
    let key = format!("etcdbak/prod/20261125T100000.000Z-r77-{}.db", &sha[..8]);
    m.start_upload(&key);
    m.stop();
    m.start_again();
    assert_eq!(
        m.uploads(&key).len(),
        1,
        "precondition: the orphan survives the restart"
    );
    assert_ok(&store(&m, dir.path(), &[]));
    assert!(
        m.uploads(&key).is_empty(),
        "the orphaned upload is still there"
    );
    assert_eq!(m.keys(""), vec![key]);
}

#[test]
fn bad_inputs_fail_with_one_clear_line() {
    let m = Minio::start();
    let empty = tempfile::tempdir().expect("tempdir");
    let cases: Vec<(&str, Vec<&str>, i32)> = vec![
        (
            "missing files",
            vec!["store", "--dir", empty.path().to_str().expect("utf8")],
            1,
        ),
        (
            "bad endpoint",
            vec!["list", "--s3-endpoint", "127.0.0.1:9000"],
            2,
        ),
        ("empty bucket", vec!["list", "--bucket", ""], 2),
        ("bad cluster", vec!["list", "--cluster", "Prod_1"], 2),
        ("bad part size", vec!["store", "--part-size", "1MiB"], 2),
        (
            "prune needs --keep or --all",
            vec!["prune", "--cluster", "prod"],
            2,
        ),
        (
            "download of a foreign key",
            vec!["download", "--key", "etcdbak/prod/notes.txt"],
            2,
        ),
        (
            "no backups",
            vec!["download", "--cluster", "nothing-here"],
            6,
        ),
    ];
    for (what, args, code) in cases {
        let mut cmd = etcdbak();
        cmd.arg(args[0]);
        // A case that sets its own S3 flags gets only the others from the rig.
        let own = |flag: &str| args.contains(&flag);
        if !own("--s3-endpoint") {
            cmd.args(["--s3-endpoint", &m.endpoint()]);
        }
        if !own("--bucket") {
            cmd.args(["--bucket", common::minio::BUCKET]);
        }
        cmd.args(&args[1..]);
        m.creds_env(&mut cmd);
        let o = run(&mut cmd);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert!(err.lines().any(|l| l.starts_with("error")), "{what}: {err}");
    }
}

/// SIGTERM mid-upload (a pod being deleted): the multipart upload is aborted before exit, nothing appears
/// in the bucket and retention does not run.
#[test]
fn sigterm_mid_upload_aborts_the_upload() {
    let m = Minio::start();
    for (rev, at) in [(1, "2026-11-25T09:00:00Z"), (2, "2026-11-25T09:30:00Z")] {
        assert_ok(&store(&m, backup_dir("prod", rev, at).path(), &[]));
    }
    let before = m.keys("");
    // 2 MiB/s through the throttle: the 17 MiB snapshot takes several seconds to upload.
    let throttle = common::throttle::Throttle::start(&format!("127.0.0.1:{}", m.port), 2 << 20);
    let dir = backup_dir("prod", 3, "2026-11-25T10:00:00Z");
    let mut cmd = etcdbak();
    cmd.env("ETCDBAK_COMPRESS", "none")
        .args(["store", "--bucket", common::minio::BUCKET, "--keep", "1"])
        .args(["--part-size", "5MiB", "--upload-concurrency", "1"])
        .arg("--s3-endpoint")
        .arg(format!("http://{}", throttle.addr()))
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    m.creds_env(&mut cmd);
    let child = cmd.spawn().expect("spawn store");
    wait_until("an upload in progress", Duration::from_secs(60), || {
        throttle.forwarded() > 3 << 20 && !m.uploads("").is_empty()
    });
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let out = child.wait_with_output().expect("wait");
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    assert!(err.contains("multipart upload aborted"), "{err}");
    assert!(m.uploads("").is_empty(), "the upload was not aborted");
    assert_eq!(
        m.keys(""),
        before,
        "retention ran or a partial object appeared"
    );
}

/// `store` through another endpoint (a proxy in front of the rig's MinIO), with the rig's bucket and keys.
fn store_via(m: &Minio, endpoint: &str, dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = etcdbak();
    cmd.env("ETCDBAK_COMPRESS", "none")
        .args(["store", "--bucket", common::minio::BUCKET])
        .args(["--s3-endpoint", endpoint])
        .arg("--dir")
        .arg(dir)
        .args(extra);
    m.creds_env(&mut cmd);
    cmd
}

/// A store that does not implement ListMultipartUploads (HTTP 501, or 400 with an unsupported-operation
/// code) still takes backups: the stale-upload sweep is skipped with one warning, and a failing run still
/// aborts its own upload.
#[test]
fn a_store_without_multipart_listing_still_takes_backups() {
    use common::s3faults::{Refuse, S3Faults};
    let m = Minio::start();
    for (i, refuse) in [
        Refuse::ListMultipartUploads501,
        Refuse::ListMultipartUploads400,
    ]
    .into_iter()
    .enumerate()
    {
        let proxy = S3Faults::start(&format!("127.0.0.1:{}", m.port), refuse);
        let dir = backup_dir("prod", 10 + i as i64, "2026-11-25T10:00:00Z");
        let o = run(&mut store_via(
            &m,
            &proxy.endpoint(),
            dir.path(),
            &["--keep", "5"],
        ));
        assert_ok(&o);
        let err = stderr(&o);
        assert!(
            proxy.refused() >= 2,
            "{refuse:?}: the listing was never asked for"
        );
        assert_eq!(
            err.matches("cannot list unfinished multipart uploads")
                .count(),
            1,
            "{refuse:?}: one warning per run\n{err}"
        );
        assert_eq!(
            m.keys("").len(),
            i + 1,
            "{refuse:?}: the backup is not there"
        );
        assert!(m.uploads("").is_empty(), "{refuse:?}: an upload was left");
    }

    // A failing run (the file is damaged, its metadata rewritten to match, so only etcd's trailer can tell)
    // still aborts its own upload, which needs no listing.
    let proxy = S3Faults::start(
        &format!("127.0.0.1:{}", m.port),
        Refuse::ListMultipartUploads501,
    );
    let dir = backup_dir("prod", 20, "2026-11-25T11:00:00Z");
    damage_and_match_metadata(dir.path(), |len| len / 2);
    let o = run(&mut store_via(&m, &proxy.endpoint(), dir.path(), &[]));
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        m.uploads("").is_empty(),
        "the failed run's upload was not aborted"
    );
    assert_eq!(m.keys("").len(), 2, "a damaged snapshot was stored");
}

/// Flips the byte at `at(len)` and rewrites snapshot.json's sha256 to the damaged file's, so the metadata
/// agrees and only etcd's own hash trailer can catch the damage.
fn damage_and_match_metadata(dir: &Path, at: impl Fn(usize) -> usize) {
    let snap = dir.join(SNAPSHOT_FILE);
    let mut bytes = std::fs::read(&snap).expect("read");
    let i = at(bytes.len());
    bytes[i] ^= 0x01;
    std::fs::write(&snap, &bytes).expect("write");
    let path = dir.join(METADATA_FILE);
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("meta")).expect("json");
    meta["sha256"] = hex::encode(Sha256::digest(&bytes)).into();
    std::fs::write(&path, serde_json::to_vec(&meta).expect("json")).expect("write meta");
}

/// A snapshot no bigger than one part goes up as one PUT: no multipart upload is ever started, the object
/// carries its metadata, its ETag is its MD5, and it downloads and verifies.
#[test]
fn a_snapshot_smaller_than_one_part_is_sent_as_a_single_put() {
    let m = Minio::start();
    let dir = backup_dir("prod", 5, "2026-11-25T10:00:00Z");
    let o = store(&m, dir.path(), &["--part-size", "64MiB"]);
    assert_ok(&o);
    assert!(stderr(&o).contains("single PUT"), "{}", stderr(&o));
    let keys = m.keys("");
    assert_eq!(keys.len(), 1);
    let bytes = std::fs::read(fixture()).expect("fixture");
    let (meta, size) = m.head(&keys[0]);
    assert_eq!(size, bytes.len() as u64);
    assert_eq!(
        meta.get("sha256").map(String::as_str),
        Some(hex::encode(Sha256::digest(&bytes)).as_str())
    );
    let out = tempfile::tempdir().expect("tempdir");
    let target = out.path().join("single.db");
    assert_ok(&run(etcdbak_s3(&m, "download", &["--key", &keys[0]])
        .arg("--output")
        .arg(&target)));
    assert_eq!(std::fs::read(&target).expect("downloaded"), bytes);

    // The same damage the multipart path catches before completing is caught before the PUT is sent.
    let dir = backup_dir("prod", 6, "2026-11-25T11:00:00Z");
    damage_and_match_metadata(dir.path(), |len| len - 100);
    let o = store(&m, dir.path(), &["--part-size", "64MiB"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("nothing was uploaded"),
        "{}",
        stderr(&o)
    );
    assert_eq!(m.keys("").len(), 1);
}

/// The snapshot is read once, and the checks run on the bytes sent: a file that changes while it is being
/// uploaded (after the pre-upload check read its header) is caught before the upload completes. No object
/// appears, the multipart upload is aborted, retention does not run, and the exit code says corrupt.
#[test]
fn a_snapshot_that_changes_during_the_upload_is_never_stored() {
    let m = Minio::start();
    assert_ok(&store(
        &m,
        backup_dir("prod", 1, "2026-11-25T09:00:00Z").path(),
        &[],
    ));
    let before = m.keys("");
    // 2 MiB/s: the first 5 MiB part takes seconds, while the file's last part is not read yet.
    let throttle = common::throttle::Throttle::start(&format!("127.0.0.1:{}", m.port), 2 << 20);
    let dir = backup_dir("prod", 2, "2026-11-25T10:00:00Z");
    let snap = dir.path().join(SNAPSHOT_FILE);
    let child = store_via(
        &m,
        &format!("http://{}", throttle.addr()),
        dir.path(),
        &[
            "--keep",
            "1",
            "--part-size",
            "5MiB",
            "--upload-concurrency",
            "1",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn store");
    wait_until("an upload in progress", Duration::from_secs(60), || {
        throttle.forwarded() > 2 << 20 && !m.uploads("").is_empty()
    });
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&snap)
            .expect("open");
        let len = f.metadata().expect("len").len();
        f.seek(SeekFrom::Start(len - 1000)).expect("seek");
        f.write_all(&[0xff; 8]).expect("damage");
    }
    let out = child.wait_with_output().expect("wait");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("nothing was uploaded"), "{err}");
    assert!(m.uploads("").is_empty(), "the upload was not aborted");
    assert_eq!(
        m.keys(""),
        before,
        "retention ran or the changed file was stored"
    );
}

/// An endpoint that accepts connections and then never answers (a hung store, a half-dead load balancer):
/// the request fails once no bytes have moved for --stall-timeout, with one line that names the flag.
#[test]
fn a_store_that_stops_answering_fails_on_the_stall_timeout() {
    let tarpit = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = tarpit.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in tarpit.incoming().flatten() {
            // Keep it open and silent.
            held.push(conn);
        }
    });
    let m = Minio::start();
    let dir = backup_dir("prod", 1, "2026-11-25T09:00:00Z");
    let started = std::time::Instant::now();
    let o = run(&mut store_via(
        &m,
        &format!("http://{addr}"),
        dir.path(),
        &["--stall-timeout", "2s"],
    ));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(err.contains("--stall-timeout"), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

/// A store that refuses Content-MD5 as unsupported still takes backups: the parts are sent again without
/// it, with one warning, and the object is verified as usual.
#[test]
fn a_store_that_refuses_content_md5_still_takes_backups() {
    use common::s3faults::{Refuse, S3Faults};
    let m = Minio::start();
    let proxy = S3Faults::start(&format!("127.0.0.1:{}", m.port), Refuse::ContentMd5);
    let dir = backup_dir("prod", 30, "2026-11-25T12:00:00Z");
    let o = run(&mut store_via(
        &m,
        &proxy.endpoint(),
        dir.path(),
        &["--part-size", "5MiB", "--upload-concurrency", "1"],
    ));
    assert_ok(&o);
    let err = stderr(&o);
    assert_eq!(
        proxy.refused(),
        1,
        "only the first part was sent with Content-MD5\n{err}"
    );
    assert_eq!(
        err.matches("does not support Content-MD5").count(),
        1,
        "{err}"
    );
    assert!(err.contains("upload verified"), "{err}");
    assert_eq!(m.keys("").len(), 1);
    assert!(m.uploads("").is_empty());
}

fn error_lines(o: &Output) -> usize {
    stderr(o).lines().filter(|l| l.starts_with("error")).count()
}

/// An age key pair: the identity file (in `dir`) and the recipient.
fn age_key(dir: &Path, name: &str) -> (PathBuf, String) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", id.to_string().expose_secret())).expect("identity");
    (path, id.to_public().to_string())
}

fn download_to(m: &Minio, key: &str, target: &Path, identity: Option<&Path>) -> Output {
    let mut args = vec!["--key", key, "--output", target.to_str().expect("utf8")];
    if let Some(id) = identity {
        args.extend(["--identity", id.to_str().expect("utf8")]);
    }
    run(&mut etcdbak_s3(m, "download", &args))
}

#[test]
fn every_pipeline_round_trips_through_store_list_download() {
    let m = Minio::start();
    let keys = tempfile::tempdir().expect("tempdir");
    let (identity, recipient) = age_key(keys.path(), "id.txt");
    let (other_identity, _) = age_key(keys.path(), "other.txt");
    let original = std::fs::read(fixture()).expect("fixture");
    let sha = fixture_sha();
    // A value written into etcd: the snapshot holds the key names in the clear.
    let known = b"/big/3";
    assert!(original.windows(known.len()).any(|w| w == known));
    let cases = [
        ("none", false, ".db", 1),
        ("zstd", false, ".db.zst", 2),
        ("none", true, ".db.age", 3),
        ("zstd:5", true, ".db.zst.age", 4),
    ];
    for (compress, encrypt, suffix, rev) in cases {
        let dir = backup_dir("prod", rev, &format!("2026-11-25T10:0{rev}:00.000Z"));
        let mut args = vec!["--compress", compress, "--part-size", "5MiB"];
        if encrypt {
            args.extend(["--encrypt-to", &recipient]);
        }
        assert_ok(&store(&m, dir.path(), &args));
        let key = format!(
            "etcdbak/prod/20261125T100{rev}00.000Z-r{rev}-{}{suffix}",
            &sha[..8]
        );
        assert!(m.keys("").contains(&key), "{key} not in {:?}", m.keys(""));
        let stored = m.get(&key);
        let (meta, size) = m.head(&key);
        assert_eq!(size, stored.len() as u64);
        assert_eq!(
            meta.get("sha256"),
            Some(&sha.to_string()),
            "{key}: plaintext sha256"
        );
        assert_eq!(meta.get("plain-size"), Some(&original.len().to_string()));
        // One pass: an encoded object's size is known only at its end, so only a plain one records it.
        let recorded_size = (compress == "none" && !encrypt).then(|| stored.len().to_string());
        assert_eq!(meta.get("stored-size"), recorded_size.as_ref(), "{key}");
        if compress != "none" {
            assert!(stored.len() < original.len() / 2, "{key} is not compressed");
        }
        if encrypt {
            assert!(stored.starts_with(b"age-encryption.org/v1\n"));
            assert!(
                !stored.windows(known.len()).any(|w| w == known),
                "{key}: a value from etcd is readable in the encrypted object"
            );
        }
        let out = tempfile::tempdir().expect("tempdir");
        let target = out.path().join("restored.db");
        let d = download_to(&m, &key, &target, encrypt.then_some(identity.as_path()));
        assert_ok(&d);
        assert_eq!(
            std::fs::read(&target).expect("downloaded"),
            original,
            "{key}"
        );
        if encrypt {
            // Missing and wrong identities are refused with one line, and leave no file behind.
            for id in [None, Some(other_identity.as_path())] {
                let target = out.path().join("refused.db");
                let d = download_to(&m, &key, &target, id);
                assert!(!d.status.success(), "{key} decrypted with {id:?}");
                assert_eq!(error_lines(&d), 1, "{}", stderr(&d));
                assert!(!target.exists() && !out.path().join("refused.db.part").exists());
            }
        }
    }
    let json = run(&mut etcdbak_s3(&m, "list", &["-o", "json"]));
    assert_ok(&json);
    let listed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let listed = listed.as_array().expect("array");
    assert_eq!(listed.len(), 4);
    for b in listed {
        let key = b["key"].as_str().expect("key");
        assert_eq!(b["plaintextBytes"], original.len() as u64, "{key}");
        assert_eq!(b["encrypted"], key.ends_with(".age"), "{key}");
        assert_eq!(b["compressed"], key.contains(".zst"), "{key}");
    }
    let table = run(&mut etcdbak_s3(&m, "list", &[]));
    assert_ok(&table);
    assert!(stdout(&table).contains("ENCRYPTED"), "{}", stdout(&table));
}

#[test]
fn damaged_compressed_and_encrypted_objects_are_refused() {
    let m = Minio::start();
    let keys = tempfile::tempdir().expect("tempdir");
    let (identity, recipient) = age_key(keys.path(), "id.txt");
    let original = std::fs::read(fixture()).expect("fixture");
    let sha = fixture_sha();
    for (encrypt, suffix, rev) in [(false, ".db.zst", 1), (true, ".db.zst.age", 2)] {
        let dir = backup_dir("prod", rev, &format!("2026-11-25T11:0{rev}:00.000Z"));
        let mut args = vec!["--compress", "zstd"];
        if encrypt {
            args.extend(["--encrypt-to", &recipient]);
        }
        assert_ok(&store(&m, dir.path(), &args));
        let key = format!(
            "etcdbak/prod/20261125T110{rev}00.000Z-r{rev}-{}{suffix}",
            &sha[..8]
        );
        let stored = m.get(&key);
        let (meta, _) = m.head(&key);
        let mut truncated = stored[..stored.len() - 100].to_vec();
        let flipped = flip_a_bit_that_matters(&stored, &original);
        let mut damaged = vec![
            ("truncated", std::mem::take(&mut truncated)),
            ("flipped", flipped),
        ];
        // A decompression bomb: the recorded plaintext size is smaller than what the object holds.
        damaged.push(("bomb", stored.clone()));
        for (i, (what, bytes)) in damaged.into_iter().enumerate() {
            let bad_key = format!(
                "etcdbak/prod/20261125T12{i}{rev}00.000Z-r{rev}-{}{suffix}",
                &sha[..8]
            );
            let mut meta = meta.clone();
            meta.insert("stored-size".into(), bytes.len().to_string());
            if what == "bomb" {
                meta.insert("plain-size".into(), (original.len() / 2).to_string());
            }
            let pairs: Vec<(&str, &str)> =
                meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            m.put_with_metadata(&bad_key, &bytes, &pairs);
            let out = tempfile::tempdir().expect("tempdir");
            let target = out.path().join("x.db");
            let d = download_to(&m, &bad_key, &target, Some(&identity));
            assert!(!d.status.success(), "{what} {suffix} accepted");
            assert_eq!(error_lines(&d), 1, "{what}: {}", stderr(&d));
            assert!(
                !target.exists() && !out.path().join("x.db.part").exists(),
                "{what}"
            );
        }
    }
}

#[test]
fn retention_over_old_plain_and_new_compressed_objects_keeps_the_newest_n() {
    let m = Minio::start();
    let sha = fixture_sha();
    let mut expected = Vec::new();
    for (rev, compress) in [
        (1, "none"),
        (2, "none"),
        (3, "none"),
        (4, "zstd"),
        (5, "zstd"),
    ] {
        let dir = backup_dir("prod", rev, &format!("2026-11-25T13:0{rev}:00.000Z"));
        assert_ok(&store(
            &m,
            dir.path(),
            &["--compress", compress, "--keep", "3"],
        ));
        let suffix = if compress == "none" { ".db" } else { ".db.zst" };
        expected.push(format!(
            "etcdbak/prod/20261125T130{rev}00.000Z-r{rev}-{}{suffix}",
            &sha[..8]
        ));
    }
    let mut kept = m.keys("");
    kept.sort();
    assert_eq!(kept, expected[2..].to_vec());
}

fn verify_json(m: &Minio, key: &str, identity: Option<&Path>) -> (Output, serde_json::Value) {
    let mut args = vec!["--key", key, "-o", "json"];
    if let Some(id) = identity {
        args.extend(["--identity", id.to_str().expect("utf8")]);
    }
    let o = run(&mut etcdbak_s3(m, "verify", &args));
    let json = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o, json)
}

/// `verify` reverses every pipeline: each kind of backup is sound, an encrypted one needs its identity, and
/// a damaged compressed object is a corrupt verdict (exit 5), not a crash or a pass.
#[test]
fn verify_passes_every_format_and_refuses_a_damaged_one() {
    let m = Minio::start();
    let keys = tempfile::tempdir().expect("tempdir");
    let (identity, recipient) = age_key(keys.path(), "id.txt");
    let (other, _) = age_key(keys.path(), "other.txt");
    let original = std::fs::read(fixture()).expect("fixture");
    let sha = fixture_sha();
    let cases = [
        ("none", false, ".db", 1),
        ("zstd", false, ".db.zst", 2),
        ("none", true, ".db.age", 3),
        ("zstd", true, ".db.zst.age", 4),
    ];
    // `verify` compares the database's revision with the recorded one: the fixture's, always 13 (it writes
    // the same keys into a fresh etcd).
    let revision = 13;
    for (compress, encrypt, suffix, n) in cases {
        let dir = backup_dir("prod", revision, &format!("2026-11-25T14:0{n}:00.000Z"));
        let mut args = vec!["--compress", compress];
        if encrypt {
            args.extend(["--encrypt-to", &recipient]);
        }
        assert_ok(&store(&m, dir.path(), &args));
        let key = format!(
            "etcdbak/prod/20261125T140{n}00.000Z-r{revision}-{}{suffix}",
            &sha[..8]
        );
        let (o, json) = verify_json(&m, &key, encrypt.then_some(identity.as_path()));
        assert_ok(&o);
        assert_eq!(json[0]["result"], "sound", "{key}: {json}");
        assert!(json[0]["keys"].as_u64().unwrap_or(0) > 0, "{json}");
        if encrypt {
            for id in [None, Some(other.as_path())] {
                let (o, _) = verify_json(&m, &key, id);
                assert!(!o.status.success(), "{key} verified with {id:?}");
                assert_ne!(o.status.code(), Some(5), "{}", stderr(&o));
                assert_eq!(error_lines(&o), 1, "{}", stderr(&o));
            }
        }
        if compress == "zstd" && !encrypt {
            let bytes = flip_a_bit_that_matters(&m.get(&key), &original);
            let bad = key.replace("T1402", "T1502");
            m.put_like(&bad, &bytes, &key);
            let (o, json) = verify_json(&m, &bad, None);
            assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
            assert_eq!(json[0]["result"], "corrupt", "{json}");
        }
    }
}

/// Tiered retention through `prune`: two backups a day for six days, `--keep 2 --keep-daily 3`. The dry
/// run shows why each backup stays and deletes nothing; the real run leaves exactly the newest two plus
/// the newest of each of the three most recent days, and says why each deleted one went.
#[test]
fn prune_with_a_tiered_policy_shows_its_reasons_then_keeps_exactly_them() {
    let m = Minio::start();
    let mut keys = vec![];
    for (i, day) in (20..=25).enumerate() {
        for (j, hour) in ["02", "14"].iter().enumerate() {
            let rev = 100 + (i * 2 + j) as i64;
            let key = format!("etcdbak/prod/202611{day}T{hour}0000.000Z-r{rev}-aaaaaaaa.db");
            m.put_with_metadata(
                &key,
                b"old",
                &[("sha256", "00"), ("revision", &rev.to_string())],
            );
            keys.push(key);
        }
    }
    let policy = ["--cluster", "prod", "--keep", "2", "--keep-daily", "3"];
    let dry = run(&mut etcdbak_s3(
        &m,
        "prune",
        &[&policy[..], &["--dry-run"]].concat(),
    ));
    assert_ok(&dry);
    let out = stdout(&dry);
    let row = |key: &str| {
        out.lines()
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("no row for {key}: {out}"))
            .to_string()
    };
    assert!(
        row(&keys[11]).contains("keep") && row(&keys[11]).contains("last, daily"),
        "{out}"
    );
    assert!(row(&keys[10]).contains("┆ last "), "{out}");
    assert!(row(&keys[9]).contains("┆ daily "), "{out}");
    assert!(row(&keys[7]).contains("┆ daily "), "{out}");
    assert!(row(&keys[8]).contains("┆ delete "), "{out}");
    assert_eq!(out.matches("┆ delete ").count(), 8, "{out}");
    assert!(out.contains("would delete 8 of 12 backups"), "{out}");
    assert_eq!(
        m.keys("etcdbak/prod/").len(),
        12,
        "the dry run deleted something"
    );

    let real = run(&mut etcdbak_s3(&m, "prune", &policy));
    assert_ok(&real);
    let mut want = vec![
        keys[7].clone(),
        keys[9].clone(),
        keys[10].clone(),
        keys[11].clone(),
    ];
    want.sort();
    assert_eq!(m.keys("etcdbak/prod/"), want);
    let said = stdout(&real);
    assert_eq!(said.matches("deleted ").count(), 8, "{said}");
    assert!(
        said.contains(&format!(
            "deleted {} (kept by no rule of keep-last 2, keep-daily 3",
            keys[0]
        )),
        "{said}"
    );
}

/// `store` applies the tiered policy from its env vars (as the CronJob sets them) after a verified upload:
/// with keep-last 1 and keep-daily 2, the new backup and the newest of the day before stay, and the log
/// says why each other one went.
#[test]
fn store_applies_the_tiered_policy_from_its_env_vars() {
    let m = Minio::start();
    let mut old = vec![];
    for (day, hour, rev) in [
        (23, "08", 10),
        (23, "20", 11),
        (24, "08", 12),
        (24, "20", 13),
    ] {
        let key = format!("etcdbak/prod/202611{day}T{hour}0000.000Z-r{rev}-aaaaaaaa.db");
        m.put_with_metadata(
            &key,
            b"old",
            &[("sha256", "00"), ("revision", &rev.to_string())],
        );
        old.push(key);
    }
    let dir = backup_dir("prod", 100, "2026-11-25T10:00:00.000Z");
    let mut cmd = etcdbak_s3(&m, "store", &["--dir", dir.path().to_str().expect("utf8")]);
    cmd.env("ETCDBAK_KEEP", "1").env("ETCDBAK_KEEP_DAILY", "2");
    let o = run(&mut cmd);
    assert_ok(&o);
    let left = m.keys("etcdbak/prod/");
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.contains(&old[3]),
        "the newest of Nov 24 went: {left:?}"
    );
    assert!(left.iter().any(|k| k.contains("-r100-")), "{left:?}");
    let err = stderr(&o);
    assert!(
        err.contains("kept by no rule of keep-last 1, keep-daily 2"),
        "{err}"
    );
}

/// SSE-S3 and SSE-KMS on MinIO's built-in KMS (its default key): the store encrypts the object (single PUT
/// and multipart alike), etcdbak still checks what it holds, and download and verify read it back.
#[test]
fn server_side_encryption_s3_and_kms_store_and_read_back() {
    let m = Minio::start();
    let original = std::fs::read(fixture()).expect("fixture");
    let sha = fixture_sha();
    let cases: [(&[&str], &str, &str); 3] = [
        (&["--sse", "s3"], "AES256", "none"),
        (&["--sse", "kms"], "aws:kms", "none"),
        // Compressed, so it fits one part: the single-PUT path.
        (&["--sse", "s3"], "AES256", "zstd"),
    ];
    for (n, (sse, want, compress)) in cases.into_iter().enumerate() {
        let dir = backup_dir("prod", 13, &format!("2026-11-25T16:0{n}:00.000Z"));
        let mut args = vec!["--compress", compress, "--part-size", "5MiB"];
        args.extend_from_slice(sse);
        assert_ok(&store(&m, dir.path(), &args));
        let suffix = if compress == "none" { ".db" } else { ".db.zst" };
        let key = format!(
            "etcdbak/prod/20261125T160{n}00.000Z-r13-{}{suffix}",
            &sha[..8]
        );
        assert_eq!(
            m.server_side_encryption(&key).as_deref(),
            Some(want),
            "{key}"
        );
        let out = tempfile::tempdir().expect("tempdir");
        let target = out.path().join("back.db");
        assert_ok(&download_to(&m, &key, &target, None));
        assert_eq!(
            std::fs::read(&target).expect("downloaded"),
            original,
            "{key}"
        );
        let (o, json) = verify_json(&m, &key, None);
        assert_ok(&o);
        assert_eq!(json[0]["result"], "sound", "{json}");
    }
    let dir = backup_dir("prod", 13, "2026-11-25T17:00:00.000Z");
    let o = store(&m, dir.path(), &["--sse", "aes"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// The floor's "newest verified" through real commands: `verify` leaves a record beside a sound backup,
/// `store --keep 2` then keeps that backup beyond the newest two (and `list` says it is verified), a newer
/// verified backup releases it (its record goes with it), a corrupt verdict takes the record away, and
/// `prune --all` leaves nothing of the cluster behind.
#[test]
fn the_newest_verified_backup_outlives_keep_and_its_record_goes_with_it() {
    let m = Minio::start();
    let sha = fixture_sha();
    // `verify` checks the database's revision against the recorded one: the fixture's is always 13.
    let key = |n: i64| format!("etcdbak/prod/20261125T160{n}00.000Z-r13-{}.db", &sha[..8]);
    let record = |rev: i64| format!("{}.verified", key(rev));
    let store_rev = |rev: i64| {
        let dir = backup_dir("prod", 13, &format!("2026-11-25T16:0{rev}:00.000Z"));
        assert_ok(&store(&m, dir.path(), &["--keep", "2"]));
    };
    let verify = |rev: i64| run(&mut etcdbak_s3(&m, "verify", &["--key", &key(rev)]));
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    store_rev(1);
    assert_ok(&verify(1));
    let written: serde_json::Value = serde_json::from_slice(&m.get(&record(1))).expect("json");
    assert_eq!(written["result"], "sound", "{written}");
    assert!(written["verifiedAt"].is_string(), "{written}");
    for rev in 2..=4 {
        store_rev(rev);
    }
    assert_eq!(
        m.keys("etcdbak/prod/"),
        sorted(vec![key(1), record(1), key(3), key(4)])
    );
    let listed = run(&mut etcdbak_s3(
        &m,
        "list",
        &["--cluster", "prod", "-o", "json"],
    ));
    assert_ok(&listed);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
    let verified: Vec<bool> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|b| b["verified"] == true)
        .collect();
    assert_eq!(verified, [false, false, true], "{listed}");

    assert_ok(&verify(4));
    store_rev(5);
    assert_eq!(
        m.keys("etcdbak/prod/"),
        sorted(vec![key(4), record(4), key(5)])
    );

    let mut rotten = m.get(&key(4));
    let at = rotten.len() / 2;
    rotten[at] ^= 0x01;
    m.put_like(&key(4), &rotten, &key(4));
    assert_eq!(verify(4).status.code(), Some(5));
    assert_eq!(m.keys("etcdbak/prod/"), sorted(vec![key(4), key(5)]));

    assert_ok(&verify(5));
    let all = run(&mut etcdbak_s3(
        &m,
        "prune",
        &["--cluster", "prod", "--all"],
    ));
    assert_ok(&all);
    assert!(m.keys("etcdbak/prod/").is_empty(), "{:?}", m.keys(""));
}
