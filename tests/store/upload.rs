//! `etcdbak store`, `list` and `download` against a real MinIO with a real etcd snapshot: what is uploaded
//! (multipart or one PUT), with which metadata, and what is refused before or during the upload.

use std::process::Stdio;
use std::time::Duration;

use etcdbak::backup::{METADATA_FILE, SNAPSHOT_FILE};
use sha2::{Digest, Sha256};

use crate::common::minio::{Minio, SECRET_KEY};
use crate::common::store::*;
use crate::common::wait_until;

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
    let throttle =
        crate::common::throttle::Throttle::start(&format!("127.0.0.1:{}", m.port), 2 << 20);
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
