//! The store tests' rig (tests/store/): a real etcd snapshot as the fixture, backup directories as
//! `etcdbak snapshot` leaves them, and `etcdbak` commands pointed at the rig's MinIO.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use etcdbak::backup::{SnapshotMetadata, METADATA_FILE, SNAPSHOT_FILE};
use sha2::{Digest, Sha256};

use super::minio::Minio;
use super::{etcdbak, free_port, rig_bin, wait_until, Proc};

/// The fixture's SHA-256 (hex), read and hashed once per test run.
pub fn fixture_sha() -> &'static str {
    static SHA: OnceLock<String> = OnceLock::new();
    SHA.get_or_init(|| hex::encode(Sha256::digest(std::fs::read(fixture()).expect("fixture"))))
}

/// A real etcd snapshot (taken once per test run with `etcdctl snapshot save`), big enough to need several
/// 5 MiB parts: 12 values of 1 MiB.
pub fn fixture() -> &'static Path {
    static SNAPSHOT: OnceLock<PathBuf> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(concat!("store-fixture-", env!("CARGO_CRATE_NAME")));
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
pub fn backup_dir(cluster: &str, revision: i64, taken_at: &str) -> tempfile::TempDir {
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

pub fn etcdbak_s3(m: &Minio, sub: &str, args: &[&str]) -> Command {
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

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run etcdbak")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn store(m: &Minio, dir: &Path, extra: &[&str]) -> Output {
    run(etcdbak_s3(m, "store", &["--dir", dir.to_str().expect("utf8")]).args(extra))
}

pub fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

/// `store` through another endpoint (a proxy in front of the rig's MinIO), with the rig's bucket and keys.
pub fn store_via(m: &Minio, endpoint: &str, dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = etcdbak();
    cmd.env("ETCDBAK_COMPRESS", "none")
        .args(["store", "--bucket", super::minio::BUCKET])
        .args(["--s3-endpoint", endpoint])
        .arg("--dir")
        .arg(dir)
        .args(extra);
    m.creds_env(&mut cmd);
    cmd
}
/// Flips the byte at `at(len)` and rewrites snapshot.json's sha256 to the damaged file's, so the metadata
/// agrees and only etcd's own hash trailer can catch the damage.
pub fn damage_and_match_metadata(dir: &Path, at: impl Fn(usize) -> usize) {
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
pub fn error_lines(o: &Output) -> usize {
    stderr(o).lines().filter(|l| l.starts_with("error")).count()
}

/// An age key pair: the identity file (in `dir`) and the recipient.
pub fn age_key(dir: &Path, name: &str) -> (PathBuf, String) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", id.to_string().expose_secret())).expect("identity");
    (path, id.to_public().to_string())
}

pub fn download_to(m: &Minio, key: &str, target: &Path, identity: Option<&Path>) -> Output {
    let mut args = vec!["--key", key, "--output", target.to_str().expect("utf8")];
    if let Some(id) = identity {
        args.extend(["--identity", id.to_str().expect("utf8")]);
    }
    run(&mut etcdbak_s3(m, "download", &args))
}
pub fn verify_json(m: &Minio, key: &str, identity: Option<&Path>) -> (Output, serde_json::Value) {
    let mut args = vec!["--key", key, "-o", "json"];
    if let Some(id) = identity {
        args.extend(["--identity", id.to_str().expect("utf8")]);
    }
    let o = run(&mut etcdbak_s3(m, "verify", &args));
    let json = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o, json)
}
