//! `etcdbak snapshot` against real etcd clusters with mutual TLS (the rig's etcd 3.6 binaries).
//!
//! Run: `cargo test --test snapshot` (needs `scripts/rig-install` once). Each test starts its own cluster on
//! free loopback ports; nothing is shared between tests.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::etcd::EtcdCluster;
use common::{etcdbak, rig_bin, wait_until};
use etcdbak::backup::{SnapshotMetadata, METADATA_FILE, SNAPSHOT_FILE};
use sha2::{Digest, Sha256};

fn snapshot_cmd(cluster: &EtcdCluster, dir: &Path) -> Command {
    let mut cmd = etcdbak();
    cmd.arg("snapshot")
        .args(cluster.etcdbak_args())
        .arg("--cluster")
        .arg("test-cluster")
        .arg("--dir")
        .arg(dir)
        // Parallel tests on a loaded 2-core machine: be patient with status calls.
        .arg("--dial-timeout")
        .arg("20s")
        .env_remove("ETCDBAK_CLUSTER")
        .env_remove("CLUSTER")
        .env("ETCDBAK_LOG_FORMAT", "plain");
    cmd
}

fn run(cmd: &mut Command) -> (Output, Duration) {
    let start = Instant::now();
    let out = cmd.output().expect("run etcdbak");
    (out, start.elapsed())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file name in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn assert_nothing_published(dir: &Path) {
    let left = files_in(dir);
    assert!(
        !left
            .iter()
            .any(|n| n == SNAPSHOT_FILE || n == METADATA_FILE || n.ends_with(".part")),
        "files left in {}: {left:?}",
        dir.display()
    );
}

fn read_metadata(dir: &Path) -> SnapshotMetadata {
    let bytes = std::fs::read(dir.join(METADATA_FILE)).expect("snapshot.json");
    serde_json::from_slice(&bytes).expect("snapshot.json parses")
}

/// `etcdutl snapshot status -w json`: the revision and key count etcd's own tool reads from the file.
fn etcdutl_status(path: &Path) -> serde_json::Value {
    let out = Command::new(rig_bin("etcdutl"))
        .args(["snapshot", "status", "-w", "json"])
        .arg(path)
        .output()
        .expect("run etcdutl");
    assert!(
        out.status.success(),
        "etcdutl snapshot status refused the file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("etcdutl json")
}

fn check_files(dir: &Path, cluster: &EtcdCluster) -> SnapshotMetadata {
    assert_eq!(files_in(dir), vec![SNAPSHOT_FILE, METADATA_FILE]);
    let meta = read_metadata(dir);
    let db = std::fs::read(dir.join(SNAPSHOT_FILE)).expect("snapshot.db");
    assert_eq!(meta.cluster, "test-cluster");
    assert_eq!(meta.file_size, db.len() as u64);
    assert_eq!(meta.sha256, hex::encode(Sha256::digest(&db)));
    // etcd's trailer: the last 32 bytes are the SHA-256 of the rest.
    let (body, trailer) = db.split_at(db.len() - 32);
    assert_eq!(Sha256::digest(body).as_slice(), trailer);
    assert_eq!(
        meta.db_size + 32,
        meta.file_size,
        "db size is the streamed database"
    );
    assert_eq!(meta.etcd_version, "3.6.16");
    assert_eq!(meta.etcdbak_version, env!("CARGO_PKG_VERSION"));
    let i = (0..cluster.len())
        .find(|&i| cluster.endpoint(i) == meta.endpoint)
        .unwrap_or_else(|| panic!("endpoint {} is not a cluster member", meta.endpoint));
    assert_eq!(
        meta.member,
        cluster.member_name(i),
        "member name matches its endpoint"
    );
    assert!(!meta.member_id.is_empty());
    let status = etcdutl_status(&dir.join(SNAPSHOT_FILE));
    assert_eq!(
        Some(meta.revision),
        status["revision"].as_i64(),
        "revision in snapshot.json agrees with etcdutl: {status}"
    );
    meta
}

#[test]
fn snapshot_of_a_tls_cluster_restores_every_key_from_a_follower() {
    let cluster = EtcdCluster::start(3, true);
    let mut written = cluster.put_keys("/registry/test/", 10_000, 100);
    // A few values larger than a bbolt page, so the newest revisions sit on overflow pages, which the
    // revision reader must follow.
    written.extend(cluster.put_keys("/registry/big/", 3, 200_000));
    let leader = cluster.member_name(cluster.leader_index());
    let out_dir = tempfile::tempdir().expect("tempdir");
    let dir = out_dir.path().join("backup");

    let (out, took) = run(&mut snapshot_cmd(&cluster, &dir));
    let log = stderr(&out);
    assert!(out.status.success(), "snapshot failed: {log}");
    let meta = check_files(&dir, &cluster);
    eprintln!(
        "10,000-key snapshot: {} bytes (db {}), revision {}, {:?} wall time for the whole command",
        meta.file_size, meta.db_size, meta.revision, took
    );
    assert!(log.contains("chose member to snapshot"), "{log}");
    let chose = log
        .lines()
        .find(|l| l.contains("chose member to snapshot"))
        .unwrap_or_default();
    assert!(
        chose.contains("leader=false"),
        "took it from the leader: {chose}"
    );
    assert_ne!(meta.member, leader, "snapshot must come from a follower");
    let status = etcdutl_status(&dir.join(SNAPSHOT_FILE));
    assert!(
        status["totalKey"].as_u64().unwrap_or(0) >= 10_000,
        "{status}"
    );

    // The standard tools restore it with the hash check on, and every key comes back.
    let restored = EtcdCluster::start_from_snapshot(&dir.join(SNAPSHOT_FILE), 1, true);
    assert_eq!(restored.read_all(), written);
    drop(restored);

    // A member with an alarm is passed over: the next snapshot comes from the other follower. Every
    // member reports the alarm in its status, so this also checks that it is pinned to the right one.
    let chosen = (0..3)
        .find(|&i| cluster.member_name(i) == meta.member)
        .expect("chosen member");
    cluster.raise_alarm(chosen, etcd_client::AlarmType::Nospace);
    let (out, _) = run(&mut snapshot_cmd(&cluster, &dir));
    assert!(
        out.status.success(),
        "snapshot with an alarm raised failed: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("alarm:NOSPACE"),
        "etcd reported no alarm: {}",
        stderr(&out)
    );
    let again = check_files(&dir, &cluster);
    assert_ne!(
        again.member, meta.member,
        "the member with the NOSPACE alarm was chosen"
    );
    assert_ne!(
        again.member, leader,
        "the leader was chosen over a healthy follower"
    );
}

#[test]
fn one_member_down_still_snapshots_from_another() {
    let mut cluster = EtcdCluster::start(3, true);
    cluster.put_keys("k", 100, 10);
    // Stop a follower so the remaining two keep quorum and the leader stays put.
    let leader = cluster.leader_index();
    let stopped = (leader + 1) % 3;
    cluster.stop_member(stopped);
    let out_dir = tempfile::tempdir().expect("tempdir");
    let (out, _) = run(&mut snapshot_cmd(&cluster, out_dir.path()));
    let log = stderr(&out);
    assert!(out.status.success(), "snapshot failed: {log}");
    let meta = check_files(out_dir.path(), &cluster);
    assert_ne!(meta.endpoint, cluster.endpoint(stopped));
    assert!(
        log.contains(&cluster.endpoint(stopped)),
        "the unreachable endpoint is logged: {log}"
    );

    // Two of three down: the survivor answers its status but has no leader, so nobody is healthy.
    let survivor = (stopped + 1) % 3;
    cluster.stop_member((survivor + 1) % 3);
    wait_until(
        "the survivor to lose its leader",
        Duration::from_secs(60),
        || {
            cluster
                .client_blocking(|mut c| async move { c.status().await })
                .leader()
                == 0
        },
    );
    let (out, _) = run(&mut snapshot_cmd(&cluster, out_dir.path()));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(line.contains("no healthy etcd member"), "{line}");
    assert!(line.contains("has no leader"), "{line}");
    assert!(line.contains(&cluster.endpoint(stopped)), "{line}");
    assert_nothing_published(out_dir.path());

    // Members come back on their data dirs and snapshots work again.
    cluster.start_member(stopped);
    cluster.start_member((survivor + 1) % 3);
    let (out, _) = run(&mut snapshot_cmd(&cluster, out_dir.path()));
    assert!(
        out.status.success(),
        "snapshot after recovery failed: {}",
        stderr(&out)
    );
    check_files(out_dir.path(), &cluster);
}

#[test]
fn single_member_cluster_snapshots_its_leader() {
    let cluster = EtcdCluster::start(1, true);
    let written = cluster.put_keys("solo/", 50, 20);
    let out_dir = tempfile::tempdir().expect("tempdir");
    // Configured the way a pod spec does it: environment only, with the seed contract's plain CLUSTER.
    let tls = cluster.client_tls().expect("tls");
    let (out, _) = run(etcdbak()
        .arg("snapshot")
        .env("ETCDBAK_ENDPOINTS", cluster.endpoints())
        .env("ETCDBAK_CACERT", &tls.cacert)
        .env("ETCDBAK_CERT", &tls.cert)
        .env("ETCDBAK_KEY", &tls.key)
        .env("ETCDBAK_DIR", out_dir.path())
        .env("ETCDBAK_DIAL_TIMEOUT", "20s")
        .env_remove("ETCDBAK_CLUSTER")
        .env("CLUSTER", "test-cluster"));
    assert!(out.status.success(), "snapshot failed: {}", stderr(&out));
    let meta = check_files(out_dir.path(), &cluster);
    assert_eq!(meta.member, "m0");
    let restored = EtcdCluster::start_from_snapshot(&out_dir.path().join(SNAPSHOT_FILE), 1, false);
    assert_eq!(restored.read_all(), written);
}

#[test]
fn tls_mistakes_exit_4_and_name_the_file() {
    let cluster = EtcdCluster::start(1, true);
    let certs = cluster.certs().expect("tls");
    let out_dir = tempfile::tempdir().expect("tempdir");
    let dir = out_dir.path();
    let base = |cmd: &mut Command| {
        cmd.arg("snapshot")
            .arg("--endpoints")
            .arg(cluster.endpoints())
            .arg("--cluster")
            .arg("c")
            .arg("--dir")
            .arg(dir)
            .arg("--dial-timeout")
            .arg("20s");
    };
    let cases: Vec<(&str, Vec<&Path>, &str)> = vec![
        (
            "wrong CA",
            vec![&certs.other_ca, &certs.client_cert, &certs.client_key],
            "--cacert",
        ),
        (
            "client cert from another CA",
            vec![&certs.ca, &certs.other_client_cert, &certs.other_client_key],
            "--cert",
        ),
        ("no client cert", vec![&certs.ca], "--cert and --key"),
    ];
    for (case, files, names) in cases {
        let mut cmd = etcdbak();
        cmd.env("ETCDBAK_LOG", "debug");
        base(&mut cmd);
        let flags = ["--cacert", "--cert", "--key"];
        for (flag, path) in flags.iter().zip(&files) {
            cmd.arg(flag).arg(path);
        }
        let (out, _) = run(&mut cmd);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "{case}: {err}");
        let line = err
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("{case}: no error line in {err}"));
        assert!(line.contains("TLS"), "{case}: {line}");
        assert!(line.contains(names), "{case}: {line}");
        if names == "--cacert" {
            assert!(
                line.contains(&certs.other_ca.display().to_string()),
                "{case}: {line}"
            );
        }
        assert!(!line.contains("PRIVATE KEY"), "{case}: key material leaked");
        assert_nothing_published(dir);
    }

    // Plain HTTP/2 to the TLS port: etcd hangs up, and the message suggests https://.
    let mut cmd = etcdbak();
    cmd.arg("snapshot")
        .arg("--endpoints")
        .arg(cluster.endpoint(0).replace("https://", "http://"))
        .arg("--cluster")
        .arg("c")
        .arg("--dir")
        .arg(dir);
    let (out, _) = run(&mut cmd);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("use https://"), "{err}");
    assert_nothing_published(dir);
}

#[test]
fn unreachable_endpoints_exit_3_and_name_them() {
    let ports = [common::free_port(), common::free_port()];
    let endpoints: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let out_dir = tempfile::tempdir().expect("tempdir");
    let (out, _) = run(etcdbak()
        .arg("snapshot")
        .arg("--endpoints")
        .arg(endpoints.join(","))
        .arg("--cluster")
        .arg("c")
        .arg("--dir")
        .arg(out_dir.path()));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    for e in &endpoints {
        assert!(line.contains(e.as_str()), "{e} not named: {line}");
    }
    assert!(line.contains("connection refused"), "{line}");
    assert!(line.contains("check --endpoints"), "{line}");
    assert_nothing_published(out_dir.path());
}

/// Leaves a previous run's snapshot in `dir`, as a persistent volume would.
fn plant_stale_snapshot(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join(SNAPSHOT_FILE), b"an old snapshot").expect("write");
    std::fs::write(dir.join(METADATA_FILE), b"{}").expect("write");
}

#[test]
fn tiny_timeout_fails_and_removes_an_old_snapshot() {
    let cluster = EtcdCluster::start(1, true);
    let out_dir = tempfile::tempdir().expect("tempdir");
    plant_stale_snapshot(out_dir.path());
    let mut cmd = snapshot_cmd(&cluster, out_dir.path());
    cmd.arg("--timeout").arg("1ms");
    let (out, _) = run(&mut cmd);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    eprintln!("{err}");
    assert!(err.contains("--timeout"), "{err}");
    // The old snapshot must not survive to be uploaded again as if it were new.
    assert_nothing_published(out_dir.path());
}

/// A database big enough (about 120 MiB) that streaming it takes a noticeable time.
fn big_cluster() -> EtcdCluster {
    let cluster = EtcdCluster::start(1, true);
    cluster.put_keys("big/", 120, 1 << 20);
    cluster
}

/// Starts a snapshot and waits until its `.part` file has data, i.e. it is mid-stream.
fn start_mid_stream(cluster: &EtcdCluster, dir: &Path) -> std::process::Child {
    let mut child = snapshot_cmd(cluster, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn etcdbak");
    let part = dir.join(".snapshot.db.part");
    wait_until("snapshot mid-stream", Duration::from_secs(60), || {
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "etcdbak finished before it could be interrupted"
        );
        std::fs::metadata(&part)
            .map(|m| m.len() > 0)
            .unwrap_or(false)
    });
    child
}

#[test]
fn sigterm_mid_stream_leaves_no_snapshot() {
    let cluster = big_cluster();
    let out_dir = tempfile::tempdir().expect("tempdir");
    plant_stale_snapshot(out_dir.path());
    let child = start_mid_stream(&cluster, out_dir.path());
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    eprintln!("{err}");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    assert_nothing_published(out_dir.path());
}

#[test]
fn etcd_killed_mid_stream_leaves_no_snapshot() {
    let mut cluster = big_cluster();
    let out_dir = tempfile::tempdir().expect("tempdir");
    let child = start_mid_stream(&cluster, out_dir.path());
    cluster.stop_member(0);
    let out = child.wait_with_output().expect("wait");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    eprintln!("{err}");
    assert!(err.contains("broke after"), "{err}");
    assert_nothing_published(out_dir.path());
}

/// A loopback TCP proxy that flips one bit in the server-to-client byte stream of every connection at
/// offset `flip_at`: corruption in transit that only the snapshot's own hash can catch (plain-text etcd, so
/// no TLS record MAC gets there first).
fn corrupting_proxy(upstream: String, flip_at: u64) -> u16 {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut c_in, mut s_out) = (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut s_out);
                let _ = s_out.shutdown(std::net::Shutdown::Write);
            });
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || {
                let mut seen = 0u64;
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match s_in.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if seen <= flip_at && flip_at < seen + n as u64 {
                        buf[(flip_at - seen) as usize] ^= 0x10;
                    }
                    seen += n as u64;
                    if c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = c_out.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

#[test]
fn a_byte_flipped_in_transit_exits_5_and_publishes_nothing() {
    let cluster = EtcdCluster::start(1, false);
    cluster.put_keys("c/", 3000, 1000);
    let upstream = cluster
        .endpoint(0)
        .trim_start_matches("http://")
        .to_string();
    let out_dir = tempfile::tempdir().expect("tempdir");
    // A flip that lands on HTTP/2 or gRPC framing (about 0.1% of the bytes) breaks the stream instead
    // (exit 3); another offset then lands on snapshot data.
    let mut last = String::new();
    for flip_at in [1_500_000u64, 2_000_123, 2_500_321] {
        let port = corrupting_proxy(upstream.clone(), flip_at);
        let (out, _) = run(etcdbak()
            .arg("snapshot")
            .arg("--endpoints")
            .arg(format!("http://127.0.0.1:{port}"))
            .arg("--cluster")
            .arg("c")
            .arg("--dir")
            .arg(out_dir.path()));
        last = stderr(&out);
        assert_nothing_published(out_dir.path());
        assert_ne!(
            out.status.code(),
            Some(0),
            "corrupted snapshot accepted: {last}"
        );
        eprintln!("flip at {flip_at}: {last}");
        if out.status.code() == Some(5) {
            assert!(last.contains("corrupt"), "{last}");
            return;
        }
    }
    panic!("no run was rejected as corrupt: {last}");
}
