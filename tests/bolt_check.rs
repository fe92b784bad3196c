//! The structural check on real etcd snapshots (the rig's etcd and `etcdctl snapshot save`), sound and
//! structurally corrupt with every checksum right: what etcd's own `etcdutl snapshot status` says is the
//! reference. Then `etcdbak verify` end to end against a real MinIO.

mod common;

use std::path::Path;
use std::process::Command;

use etcd_client::{CompactionOptions, DeleteOptions};
use etcdbak::bolt::{self, page, Verdict};
use sha2::{Digest, Sha256};

use common::etcd::EtcdCluster;
use common::minio::Minio;
use common::rig_bin;

fn save(cluster: &EtcdCluster, path: &Path) {
    let out = Command::new(rig_bin("etcdctl"))
        .args(["--endpoints", &cluster.endpoints(), "snapshot", "save"])
        .arg(path)
        .output()
        .expect("run etcdctl");
    assert!(
        out.status.success(),
        "etcdctl snapshot save: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `etcdutl snapshot status`: Ok(json) or Err(stderr).
fn etcdutl_status(path: &Path) -> Result<serde_json::Value, String> {
    let out = Command::new(rig_bin("etcdutl"))
        .args(["snapshot", "status", "-w", "json"])
        .arg(path)
        .output()
        .expect("run etcdutl");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).expect("etcdutl json"))
}

fn sound(path: &Path) -> bolt::Summary {
    match bolt::check_file(path).expect("read") {
        Verdict::Sound(s) => s,
        Verdict::Corrupt(p) => panic!("a real etcd snapshot refused: {p}"),
    }
}

/// The root page of the `key` bucket: a branch page in a 10,000-key database. (Found through the tree,
/// not by scanning: etcd does not persist the freelist, and a freed page keeps its old bytes.)
fn key_bucket_root(db: &[u8]) -> (u64, page::Page) {
    let meta = bolt::meta::parse(db).expect("meta");
    let size = meta.page_size as usize;
    let read = |id: u64| {
        let at = id as usize * size;
        page::Page::new(id, false, db[at..at + size].to_vec()).expect("page")
    };
    let root = read(meta.root);
    let id = (0..root.count())
        .map(|i| root.leaf(i).expect("root element"))
        .find(|e| e.key == b"key")
        .map(|e| page::bucket_root(meta.root, e.value).expect("bucket"))
        .expect("a key bucket");
    let p = read(id);
    assert!(
        p.flags() == page::BRANCH && p.count() >= 2,
        "key bucket root is a branch page"
    );
    (id, p)
}

/// Writes `db` with a fresh etcd trailer, so only the structure is wrong.
fn write_sealed(path: &Path, body: &[u8]) {
    let mut out = body.to_vec();
    out.extend_from_slice(&Sha256::digest(body));
    std::fs::write(path, out).expect("write");
}

fn child_offset(page_id: u64, page_size: usize, i: usize) -> usize {
    page_id as usize * page_size + page::HEADER_LEN + 16 * i + 8
}

#[test]
fn real_snapshots_are_sound_and_structural_corruption_is_caught_like_etcdutl_does() {
    let cluster = EtcdCluster::start(1, false);
    cluster.put_keys("/registry/a/", 10_000, 100);
    // Values larger than a page: the newest revisions sit on overflow pages.
    cluster.put_keys("/registry/big/", 3, 200_000);
    cluster.client_blocking(|mut c| async move {
        c.delete(
            "/registry/a/000000",
            Some(DeleteOptions::new().with_prefix()),
        )
        .await
        .map(|_| ())
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("first.db");
    save(&cluster, &first);

    let s = sound(&first);
    let status = etcdutl_status(&first).expect("etcdutl accepts it");
    assert_eq!(s.revision, status["revision"].as_i64(), "{status}");
    assert_eq!(
        s.revision,
        bolt::revision_of_file(&first).expect("revision")
    );
    assert_eq!(s.keys, 10_003 + 100, "one entry per put and per delete");
    assert_eq!(s.tombstones, 100);
    assert_eq!(s.valid_metas, 2);
    assert_eq!(
        s.pages * u64::from(s.page_size) + 32,
        std::fs::metadata(&first).expect("stat").len()
    );
    assert!(
        !s.freelist_persisted,
        "etcd opens bbolt with NoFreelistSync"
    );

    // After a compaction (and one more write, so etcdutl's "last key" rule and etcd's agree).
    let rev = s.revision.expect("revision");
    cluster.client_blocking(|mut c| async move {
        c.compact(rev, Some(CompactionOptions::new().with_physical()))
            .await
            .map(|_| ())
    });
    cluster.put_keys("/registry/after/", 1, 10);
    let second = dir.path().join("second.db");
    save(&cluster, &second);
    let s2 = sound(&second);
    assert_eq!(
        s2.revision,
        etcdutl_status(&second).expect("etcdutl")["revision"].as_i64()
    );
    assert!(
        s2.keys < s.keys && s2.keys > 9_903,
        "compaction removed old revisions: {}",
        s2.keys
    );

    let body = {
        let mut b = std::fs::read(&first).expect("read");
        b.truncate(b.len() - 32);
        b
    };
    let size = bolt::meta::parse(&body).expect("meta").page_size as usize;
    let (id, branch) = key_bucket_root(&body);
    let c0 = branch.branch(0).expect("elem 0").child;
    let c1 = branch.branch(1).expect("elem 1").child;

    // Two branch elements pointing to the same page.
    let mut twice = body.clone();
    twice[child_offset(id, size, 1)..][..8].copy_from_slice(&c0.to_le_bytes());
    let path = dir.path().join("twice.db");
    write_sealed(&path, &twice);
    match bolt::check_file(&path).expect("read") {
        Verdict::Corrupt(p) => {
            assert_eq!(p.page, Some(c0), "{p}");
            assert!(p.to_string().contains("referenced twice"), "{p}");
        }
        Verdict::Sound(_) => panic!("a page referenced twice was accepted"),
    }
    let refused = etcdutl_status(&path).expect_err("etcdutl refuses it too");
    assert!(refused.contains("multiple references"), "{refused}");

    // Two children swapped: every page still used once, but the keys are out of order.
    let mut swapped = body.clone();
    swapped[child_offset(id, size, 0)..][..8].copy_from_slice(&c1.to_le_bytes());
    swapped[child_offset(id, size, 1)..][..8].copy_from_slice(&c0.to_le_bytes());
    let path = dir.path().join("swapped.db");
    write_sealed(&path, &swapped);
    match bolt::check_file(&path).expect("read") {
        Verdict::Corrupt(p) => {
            assert!(p.page == Some(c0) || p.page == Some(c1), "{p}");
            assert!(p.to_string().contains("keys out of order"), "{p}");
        }
        Verdict::Sound(_) => panic!("out-of-order children were accepted"),
    }
    assert!(
        etcdutl_status(&path).is_err(),
        "etcdutl accepted out-of-order keys"
    );
}

/// A body with two children of the `key` bucket's root swapped: every checksum right, keys out of order.
fn swapped_children(body: &[u8]) -> Vec<u8> {
    let size = bolt::meta::parse(body).expect("meta").page_size as usize;
    let (id, branch) = key_bucket_root(body);
    let c0 = branch.branch(0).expect("elem 0").child;
    let c1 = branch.branch(1).expect("elem 1").child;
    let mut out = body.to_vec();
    out[child_offset(id, size, 0)..][..8].copy_from_slice(&c1.to_le_bytes());
    out[child_offset(id, size, 1)..][..8].copy_from_slice(&c0.to_le_bytes());
    out
}

fn sealed(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(&Sha256::digest(body));
    out
}

/// Puts `bytes` as a backup of `prod` taken at `time`, with the metadata `etcdbak store` writes.
fn put_backup(s3: &Minio, time: &str, bytes: &[u8], revision: i64) -> String {
    let sha = hex::encode(Sha256::digest(bytes));
    let key = format!("etcdbak/prod/{time}-r{revision}-{}.db", &sha[..8]);
    let rev = revision.to_string();
    s3.put_with_metadata(&key, bytes, &[("sha256", &sha), ("revision", &rev)]);
    key
}

fn verify(s3: &Minio, which: &[&str]) -> (i32, serde_json::Value, String) {
    verify_on_path(s3, which, None)
}

/// `etcdbak verify` with PATH set to `path` when given (to find, or not find, etcdutl).
fn verify_on_path(
    s3: &Minio,
    which: &[&str],
    path: Option<&std::ffi::OsStr>,
) -> (i32, serde_json::Value, String) {
    let mut cmd = common::etcdbak();
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    s3.creds_env(&mut cmd)
        .arg("verify")
        .args(s3.s3_args())
        .args(which)
        .args(["-o", "json"]);
    let out = cmd.output().expect("run etcdbak verify");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn etcdbak_verify_passes_a_sound_backup_and_names_the_page_of_a_corrupt_one() {
    let cluster = EtcdCluster::start(1, false);
    cluster.put_keys("/registry/a/", 3_000, 100);
    cluster.put_keys("/registry/big/", 2, 200_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("snap.db");
    save(&cluster, &file);
    let good = std::fs::read(&file).expect("read");
    let revision = etcdutl_status(&file).expect("etcdutl")["revision"]
        .as_i64()
        .expect("revision");
    let body = &good[..good.len() - 32];

    let s3 = Minio::start();
    let sound_key = put_backup(&s3, "20261125T100000.000Z", &good, revision);
    let (code, json, err) = verify(&s3, &["--key", &sound_key]);
    assert_eq!(code, 0, "{err}");
    let r = &json[0];
    assert_eq!(r["result"], "sound", "{json}");
    assert_eq!(r["revision"].as_i64(), Some(revision));
    assert_eq!(r["keys"].as_u64(), Some(3_002));
    assert_eq!(r["dbSize"].as_u64(), Some(body.len() as u64));
    assert!(r.get("etcdutl").is_none(), "{json}");

    // etcd's own tool agrees (status and a real restore), and its scratch data dir is gone afterwards.
    let rig = rig_bin("etcdutl");
    let rig_dir = rig.parent().expect("rig dir").as_os_str().to_owned();
    let scratch = tempfile::tempdir().expect("scratch");
    let scratch_dir = scratch.path().to_str().expect("utf8");
    let with = ["--key", &sound_key, "--with-etcdutl", "--dir", scratch_dir];
    let (code, json, err) = verify_on_path(&s3, &with, Some(&rig_dir));
    assert_eq!(code, 0, "{err}");
    assert_eq!(json[0]["etcdutl"], "agrees", "{json}");
    assert_eq!(json[0]["result"], "sound", "{json}");
    let left: Vec<_> = std::fs::read_dir(scratch.path()).expect("ls").collect();
    assert!(left.is_empty(), "verify left {left:?}");

    // Without etcdutl on PATH: one line naming it, before anything is downloaded.
    let (code, _, err) = verify_on_path(&s3, &with, Some(std::ffi::OsStr::new("/nonexistent")));
    assert_eq!(code, 1, "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("etcdutl was not found on PATH"), "{err}");

    // Newest of the cluster: structurally corrupt, every checksum (and the recorded SHA-256) right.
    let corrupt_key = put_backup(
        &s3,
        "20261125T110000.000Z",
        &sealed(&swapped_children(body)),
        revision,
    );
    let (code, json, err) = verify(&s3, &["--cluster", "prod"]);
    assert_eq!(code, 5, "{err}");
    assert_eq!(json[0]["key"], corrupt_key.as_str());
    assert_eq!(json[0]["result"], "corrupt");
    let line = err.lines().last().unwrap_or_default();
    assert!(
        line.starts_with("error: backup ")
            && line.contains("structurally corrupt: page ")
            && line.contains("keys out of order"),
        "{err}"
    );

    // Sound bytes whose metadata records another revision.
    let wrong_rev = put_backup(&s3, "20261125T090000.000Z", &good, revision + 1);
    let (code, json, err) = verify(&s3, &["--key", &wrong_rev]);
    assert_eq!(code, 5, "{err}");
    assert!(
        json[0]["problem"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("revision is {revision}")),
        "{json}"
    );

    // A flipped byte with a SHA-256 recorded over it: etcd's trailer catches it.
    let mut flipped = good.clone();
    flipped[body.len() / 2] ^= 0x40;
    let flipped_key = put_backup(&s3, "20261125T080000.000Z", &flipped, revision);
    let (code, _, err) = verify(&s3, &["--key", &flipped_key]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("trailer does not match"), "{err}");

    let (code, _, err) = verify(&s3, &["--cluster", "staging"]);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("no backups"), "{err}");
    assert!(!err.contains(common::minio::SECRET_KEY));
}
