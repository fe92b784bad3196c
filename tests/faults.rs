//! Fault suite: what happens to a backup when the world breaks mid-run, against the real servers.
//!
//! Faults land at a known point instead of racing a loopback link: the snapshot stream or the upload goes
//! through a rate-limiting TCP forwarder (tests/common/throttle.rs) in front of the real etcd or MinIO, and
//! the fault is injected once the run is visibly in progress (a `.part` file growing, a multipart upload
//! listed by MinIO). Every check below reads the bucket through the real `mc` client, not through etcdbak.
//!
//! The promises under test: a failed or killed run leaves no file under a final name and no object in the
//! bucket, never runs retention, never harms the older backups, and the next run succeeds and cleans up.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::etcd::EtcdCluster;
use common::fill::{self, FillOptions};
use common::minio::{etcdbak_env, Entry, Minio};
use common::throttle::Throttle;
use common::{etcdbak, rig_bin, wait_until};
use sha2::{Digest, Sha256};

const CLUSTER: &str = "faults";
/// Big enough that a throttled stream or upload takes seconds, small enough to fill quickly.
const DB_BYTES: u64 = 24 << 20;
/// 4 MiB/s through the forwarder: a 24 MiB snapshot takes about 6 s to stream or upload.
const SLOW: u64 = 4 << 20;
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------------------------------------
// helpers

/// A spawned etcdbak whose output goes to files (a full pipe must never stall it).
struct Run {
    child: Child,
    out: PathBuf,
    err: PathBuf,
    _dir: tempfile::TempDir,
}

struct Done {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

fn spawn(args: &[String], env: &[(String, String)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stdout");
    let err = dir.path().join("stderr");
    let child = etcdbak()
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("ETCDBAK_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("spawn etcdbak");
    Run {
        child,
        out,
        err,
        _dir: dir,
    }
}

impl Run {
    fn wait(mut self) -> Done {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > RUN_TIMEOUT {
                let _ = self.child.kill();
                panic!(
                    "etcdbak still running after {RUN_TIMEOUT:?} (hung on a fault?)\nstderr:\n{}",
                    std::fs::read_to_string(&self.err).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Done {
            status,
            stdout: std::fs::read_to_string(&self.out).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.err).unwrap_or_default(),
        }
    }
}

fn run(args: &[String], env: &[(String, String)]) -> Done {
    spawn(args, env).wait()
}

fn ok(d: &Done, what: &str) {
    assert!(
        d.status.success(),
        "{what} failed ({:?})\nstderr:\n{}",
        d.status,
        d.stderr
    );
}

/// A failure must be one clear `error:` line, never a panic.
fn failed_cleanly(d: &Done, what: &str) {
    assert!(
        !d.status.success(),
        "{what} should have failed\nstderr:\n{}",
        d.stderr
    );
    assert!(
        !d.stderr.contains("panicked"),
        "{what} panicked:\n{}",
        d.stderr
    );
    let errors: Vec<&str> = d
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "{what}: expected exactly one error line\nstderr:\n{}",
        d.stderr
    );
}

fn s(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn sha256_file(path: &Path) -> String {
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(path).unwrap();
    std::io::copy(&mut f, &mut h).unwrap();
    hex::encode(h.finalize())
}

fn meta_sha(dir: &Path) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("snapshot.json")).unwrap()).unwrap();
    v["sha256"].as_str().unwrap().to_string()
}

/// Copies a snapshot dir (snapshot.db + snapshot.json) so a test can damage or consume its own copy.
fn copy_snapshot(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for f in ["snapshot.db", "snapshot.json"] {
        std::fs::copy(from.join(f), to.path().join(f)).unwrap();
    }
    to
}

fn store_args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = s(&["store", "--dir"]);
    a.push(dir.display().to_string());
    a.extend(s(&["--cluster", CLUSTER]));
    // Plain `.db` objects: these tests inject faults mid-upload and compare the object with the snapshot
    // byte for byte (mc); the pipeline's own failure paths are tested in tests/store_pipeline.rs and
    // tests/store_faults.rs.
    a.extend(s(&["--compress", "none"]));
    a.extend(s(extra));
    a
}

/// `etcdbak list -o json` keys, newest first.
fn listed_keys(endpoint: &str) -> Vec<String> {
    let d = run(
        &s(&["list", "--cluster", CLUSTER, "-o", "json"]),
        &etcdbak_env(endpoint),
    );
    ok(&d, "etcdbak list");
    let v: serde_json::Value = serde_json::from_str(&d.stdout).expect("list -o json");
    v.as_array()
        .expect("array")
        .iter()
        .map(|b| b["key"].as_str().unwrap().to_string())
        .collect()
}

/// The object holding the snapshot whose SHA-256 is `sha`, if any (names carry an 8-digit SHA prefix).
fn object_for<'a>(objects: &'a [Entry], sha: &str) -> Option<&'a Entry> {
    objects.iter().find(|o| o.key.contains(&sha[..8]))
}

/// Downloads `key` with mc and checks it is byte-for-byte the snapshot in `dir`.
fn assert_object_is(s3: &Minio, key: &str, dir: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("got.db");
    s3.mc_get(key, &local);
    assert_eq!(
        sha256_file(&local),
        sha256_file(&dir.join("snapshot.db")),
        "object {key} is not the snapshot that was stored"
    );
}

/// Waits until the slow upload has sent a few parts, and returns the key being uploaded.
fn wait_for_upload_in_progress(s3: &Minio, throttle: &Throttle) -> String {
    wait_until(
        "a multipart upload in progress",
        Duration::from_secs(60),
        || throttle.forwarded() > 6 << 20 && !s3.incomplete_uploads().is_empty(),
    );
    let pending = s3.incomplete_uploads();
    assert_eq!(pending.len(), 1, "one upload in flight: {pending:?}");
    pending[0].clone()
}

fn part_file(dir: &Path) -> Option<u64> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .max()
}

fn final_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// After a successful snapshot: the files verify with etcd's own tool (hash trailer checked) and the metadata
/// describes the file.
fn assert_valid_snapshot(dir: &Path) {
    let db = dir.join("snapshot.db");
    assert_eq!(
        sha256_file(&db),
        meta_sha(dir),
        "snapshot.json does not describe snapshot.db"
    );
    let restore = tempfile::tempdir().unwrap();
    let out = Command::new(rig_bin("etcdutl"))
        .args(["snapshot", "restore"])
        .arg(&db)
        .arg("--data-dir")
        .arg(restore.path().join("r.etcd"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "etcdutl snapshot restore refused the snapshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fill_to(etcd: &EtcdCluster, bytes: u64) {
    let opts = FillOptions {
        target_db_bytes: bytes,
        concurrency: 4,
        ..FillOptions::default()
    };
    etcd.client_blocking(|c| async move { fill::fill(&c, &opts).await.map(|_| ()) });
}

fn snapshot_args(endpoints: &str, etcd: &EtcdCluster, dir: &Path) -> Vec<String> {
    let mut a = s(&["snapshot", "--endpoints", endpoints]);
    a.extend(etcd.client_tls().expect("tls").args());
    a.extend(s(&["--cluster", CLUSTER, "--dir"]));
    a.push(dir.display().to_string());
    a
}

/// Distinct, real snapshots of one filled 3-member TLS cluster, taken once per test binary and shared by
/// the store tests (each copies what it uses). The cluster is stopped once they exist.
fn snapshots() -> &'static Vec<PathBuf> {
    static SNAPS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    SNAPS.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults-snapshots");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let etcd = EtcdCluster::start(3, true);
        fill_to(&etcd, DB_BYTES);
        (0..5)
            .map(|i| {
                // A new key per snapshot: a new revision and new bytes, so a new object name.
                etcd.put_keys(&format!("/faults/gen-{i}/"), 1, 64);
                let dir = root.join(format!("s{i}"));
                let d = run(&snapshot_args(&etcd.endpoints(), &etcd, &dir), &[]);
                ok(&d, "etcdbak snapshot (fixture)");
                // Object names have millisecond resolution; keep the snapshots apart.
                std::thread::sleep(Duration::from_millis(20));
                dir
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------------------------------------
// etcd faults

/// Starts a filled 3-member TLS cluster and slow forwarders in front of every member.
fn slow_etcd() -> (EtcdCluster, Vec<Throttle>) {
    let etcd = EtcdCluster::start(3, true);
    fill_to(&etcd, DB_BYTES);
    let throttles = (0..3)
        .map(|i| {
            let hp = etcd.endpoint(i).trim_start_matches("https://").to_string();
            Throttle::start(&hp, SLOW)
        })
        .collect();
    (etcd, throttles)
}

fn via(throttles: &[&Throttle]) -> String {
    throttles
        .iter()
        .map(|t| format!("https://{}", t.addr()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The case: the leader dies while the snapshot streams. etcdbak prefers a follower, so the run may
/// finish; either way the result is all-or-nothing, and a later run succeeds.
#[test]
fn etcd_leader_stopped_during_snapshot() {
    let (mut etcd, throttles) = slow_etcd();
    let leader = etcd.leader_index();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("backup");
    let all: Vec<&Throttle> = throttles.iter().collect();
    let child = spawn(&snapshot_args(&via(&all), &etcd, &dir), &[]);
    wait_until("the snapshot stream", Duration::from_secs(60), || {
        part_file(&dir).unwrap_or(0) > 2 << 20
    });
    etcd.stop_member(leader);
    let d = child.wait();
    if d.status.success() {
        eprintln!("leader stopped mid-stream: the run finished (it streamed from a follower)");
        assert_valid_snapshot(&dir);
    } else {
        eprintln!(
            "leader stopped mid-stream: the run failed: {}",
            d.stderr.lines().last().unwrap_or("")
        );
        failed_leaving_nothing(&d, &dir, "snapshot with the leader stopped");
    }
    // A later run, against the survivors, succeeds.
    let again = tempfile::tempdir().unwrap();
    snapshot_from_all_but(
        &etcd,
        leader,
        again.path(),
        "snapshot after the leader was stopped",
    );
}

/// A failed snapshot run: non-zero, one clear line, nothing under a final name.
fn failed_leaving_nothing(d: &Done, dir: &Path, what: &str) {
    failed_cleanly(d, what);
    assert_eq!(
        final_files(dir),
        Vec::<String>::new(),
        "{what}: a failed run left files behind"
    );
}

/// A snapshot from every member but `down` succeeds and is valid.
fn snapshot_from_all_but(etcd: &EtcdCluster, down: usize, dir: &Path, what: &str) {
    let others: Vec<String> = (0..3)
        .filter(|&i| i != down)
        .map(|i| etcd.endpoint(i))
        .collect();
    let d = run(&snapshot_args(&others.join(","), etcd, dir), &[]);
    ok(&d, what);
    assert_valid_snapshot(dir);
}

/// The member the snapshot streams from dies mid-stream (it is the only endpoint given): the run must fail,
/// leave nothing under a final name and no `.part` file, and a later run against the others succeeds.
#[test]
fn etcd_member_streaming_the_snapshot_killed() {
    let (mut etcd, throttles) = slow_etcd();
    let victim = (etcd.leader_index() + 1) % 3;
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("backup");
    let child = spawn(
        &snapshot_args(&via(&[&throttles[victim]]), &etcd, &dir),
        &[],
    );
    wait_until("the snapshot stream", Duration::from_secs(60), || {
        part_file(&dir).unwrap_or(0) > 2 << 20
    });
    let streamed = part_file(&dir).unwrap_or(0);
    etcd.stop_member(victim);
    let d = child.wait();
    assert!(
        streamed < DB_BYTES,
        "the stream had finished ({streamed} bytes) before the member was stopped: slow it further"
    );
    failed_leaving_nothing(&d, &dir, "snapshot whose member was killed mid-stream");
    snapshot_from_all_but(&etcd, victim, &dir, "snapshot after a member was killed");
}

// ---------------------------------------------------------------------------------------------------------
// S3 faults

/// Stores fixture snapshot `i` directly (fast) with `keep`, returning its SHA-256.
fn store_ok(s3: &Minio, i: usize, keep: u32) -> String {
    let snap = copy_snapshot(&snapshots()[i]);
    let keep = keep.to_string();
    let d = run(
        &store_args(snap.path(), &["--keep", &keep]),
        &etcdbak_env(&s3.endpoint()),
    );
    ok(&d, "etcdbak store");
    meta_sha(snap.path())
}

/// A slow, small-part upload through `throttle`, so it can be interrupted mid-way.
fn slow_store(dir: &Path, throttle: &Throttle, keep: &str) -> Run {
    spawn(
        &store_args(
            dir,
            &[
                "--keep",
                keep,
                "--part-size",
                "5MiB",
                "--upload-concurrency",
                "1",
            ],
        ),
        &etcdbak_env(&format!("http://{}", throttle.addr())),
    )
}

/// The next run after an interrupted one succeeds and aborts the abandoned multipart upload: by its key when
/// it is the same snapshot (a restarted store container), else by age (the next scheduled run), which
/// takes the shortest --stale-upload-age etcdbak accepts, a minute.
fn next_run_cleans_up(s3: &Minio, snap: &Path, keep: &str, abandoned: &str) {
    assert!(
        !s3.incomplete_uploads_of(abandoned).is_empty(),
        "precondition: the interrupted upload of {abandoned} should still be pending in MinIO"
    );
    // Keys end in the snapshot's SHA-256 prefix: the same snapshot is the same key.
    let same_key = abandoned.contains(&meta_sha(snap)[..8]);
    let mut args = vec!["--keep", keep];
    if !same_key {
        std::thread::sleep(Duration::from_secs(61));
        args.extend(["--stale-upload-age", "1m"]);
    }
    let d = run(&store_args(snap, &args), &etcdbak_env(&s3.endpoint()));
    ok(&d, "the next store run");
    assert_eq!(
        s3.incomplete_uploads_of(abandoned),
        Vec::<String>::new(),
        "the abandoned multipart upload was not cleaned up"
    );
    assert_eq!(s3.incomplete_uploads(), Vec::<String>::new());
    let objects = s3.objects();
    let new = object_for(&objects, &meta_sha(snap)).expect("the new backup is in the bucket");
    assert_object_is(s3, &new.key, snap);
}

#[test]
fn s3_stopped_mid_upload() {
    let mut s3 = Minio::start();
    store_ok(&s3, 0, 5);
    store_ok(&s3, 1, 5);
    let before = s3.objects();
    assert_eq!(before.len(), 2);

    let snap = copy_snapshot(&snapshots()[2]);
    let throttle = Throttle::start(&s3.host_port(), SLOW);
    // keep=1: if retention ran despite the failure, an older backup would go.
    let child = slow_store(snap.path(), &throttle, "1");
    let abandoned = wait_for_upload_in_progress(&s3, &throttle);
    s3.stop();
    let d = child.wait();
    failed_cleanly(&d, "store with S3 stopped mid-upload");
    s3.start_again();

    assert_eq!(
        s3.objects(),
        before,
        "a partial object appeared or an older backup changed"
    );
    let listed = listed_keys(&s3.endpoint());
    assert_eq!(
        listed.len(),
        2,
        "etcdbak list shows something other than the two older backups: {listed:?}"
    );
    next_run_cleans_up(&s3, snap.path(), "5", &abandoned);
    assert_eq!(s3.objects().len(), 3);
}

#[test]
fn store_killed_mid_upload() {
    let s3 = Minio::start();
    store_ok(&s3, 0, 5);
    store_ok(&s3, 1, 5);
    let before = s3.objects();

    let snap = copy_snapshot(&snapshots()[2]);
    let throttle = Throttle::start(&s3.host_port(), SLOW);
    let mut child = slow_store(snap.path(), &throttle, "1");
    let abandoned = wait_for_upload_in_progress(&s3, &throttle);
    child.child.kill().unwrap(); // SIGKILL: no handler, no cleanup
    let _ = child.child.wait();
    drop(throttle);

    assert_eq!(
        s3.objects(),
        before,
        "a partial object appeared or an older backup changed"
    );
    assert_eq!(listed_keys(&s3.endpoint()).len(), 2);
    // The next scheduled run brings a new snapshot (a new key): the killed run's upload is found by age.
    let next = copy_snapshot(&snapshots()[3]);
    next_run_cleans_up(&s3, next.path(), "5", &abandoned);
    assert_eq!(s3.objects().len(), 3);
}

/// keep=1 and the newest upload fails (the network to S3 drops mid-upload): the one good backup survives.
#[test]
fn keep_one_and_the_newest_upload_fails() {
    let s3 = Minio::start();
    let good = store_ok(&s3, 0, 1);
    let before = s3.objects();
    assert_eq!(before.len(), 1);

    let snap = copy_snapshot(&snapshots()[1]);
    let throttle = Throttle::start(&s3.host_port(), SLOW);
    let child = slow_store(snap.path(), &throttle, "1");
    let abandoned = wait_for_upload_in_progress(&s3, &throttle);
    throttle.cut();
    let d = child.wait();
    failed_cleanly(&d, "store with the network to S3 cut mid-upload");

    assert_eq!(
        s3.objects(),
        before,
        "the last good backup must survive a failed upload"
    );
    assert_object_is(&s3, &before[0].key, &snapshots()[0]);
    assert!(before[0].key.contains(&good[..8]));
    // Once the store is reachable again, retention with keep=1 moves on to the new backup.
    next_run_cleans_up(&s3, snap.path(), "1", &abandoned);
    let after = s3.objects();
    assert_eq!(
        after.len(),
        1,
        "keep=1 leaves exactly one backup: {after:?}"
    );
    assert!(after[0].key.contains(&meta_sha(snap.path())[..8]));
}

/// Two store runs for the same cluster at once (overlapping slow uploads): both objects are complete and
/// valid, and retention leaves exactly `keep`.
#[test]
fn two_concurrent_stores_for_one_cluster() {
    let s3 = Minio::start();
    for i in 0..3 {
        store_ok(&s3, i, 10);
    }
    assert_eq!(s3.objects().len(), 3);
    let a = copy_snapshot(&snapshots()[3]);
    let b = copy_snapshot(&snapshots()[4]);
    let throttle = Throttle::start(&s3.host_port(), SLOW);
    let ra = slow_store(a.path(), &throttle, "2");
    let rb = slow_store(b.path(), &throttle, "2");
    let (da, db) = (ra.wait(), rb.wait());
    ok(&da, "store A");
    ok(&db, "store B");

    let objects = s3.objects();
    assert_eq!(objects.len(), 2, "keep=2 must leave exactly 2: {objects:?}");
    for dir in [a.path(), b.path()] {
        let o = object_for(&objects, &meta_sha(dir))
            .unwrap_or_else(|| panic!("a concurrently stored backup is missing: {objects:?}"));
        assert_object_is(&s3, &o.key, dir);
    }
    assert_eq!(s3.incomplete_uploads(), Vec::<String>::new());
    assert_eq!(listed_keys(&s3.endpoint()).len(), 2);
}

// ---------------------------------------------------------------------------------------------------------
// corrupt snapshots

fn assert_refused_before_upload(s3: &Minio, dir: &Path, what: &str) {
    let d = run(
        &store_args(dir, &["--keep", "5"]),
        &etcdbak_env(&s3.endpoint()),
    );
    failed_cleanly(&d, what);
    assert_eq!(
        d.status.code(),
        Some(5),
        "{what}: corrupt snapshots exit 5\n{}",
        d.stderr
    );
    assert_eq!(
        s3.objects(),
        Vec::<Entry>::new(),
        "{what}: something was uploaded"
    );
    assert_eq!(
        s3.incomplete_uploads(),
        Vec::<String>::new(),
        "{what}: an upload was started"
    );
}

fn rewrite_meta_sha(dir: &Path) {
    let path = dir.join("snapshot.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let db = dir.join("snapshot.db");
    v["sha256"] = sha256_file(&db).into();
    v["fileSize"] = std::fs::metadata(&db).unwrap().len().into();
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
}

fn flip(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at as usize] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn corrupt_snapshots_are_refused_before_upload() {
    let s3 = Minio::start();
    let src = &snapshots()[0];
    let len = std::fs::metadata(src.join("snapshot.db")).unwrap().len();

    let t = copy_snapshot(src);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(t.path().join("snapshot.db"))
        .unwrap();
    f.set_len(len / 2).unwrap();
    assert_refused_before_upload(&s3, t.path(), "truncated snapshot");

    let t = copy_snapshot(src);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(t.path().join("snapshot.db"))
        .unwrap();
    f.set_len(len / 2).unwrap();
    rewrite_meta_sha(t.path());
    assert_refused_before_upload(&s3, t.path(), "truncated snapshot with matching metadata");

    let t = copy_snapshot(src);
    flip(&t.path().join("snapshot.db"), len / 2);
    assert_refused_before_upload(&s3, t.path(), "byte flipped mid-file");

    // The metadata agrees with the damaged file: only etcd's own SHA-256 trailer can catch it.
    let t = copy_snapshot(src);
    flip(&t.path().join("snapshot.db"), len / 2);
    rewrite_meta_sha(t.path());
    assert_refused_before_upload(&s3, t.path(), "byte flipped, metadata rewritten to match");

    let t = copy_snapshot(src);
    flip(&t.path().join("snapshot.db"), len - 1);
    rewrite_meta_sha(t.path());
    assert_refused_before_upload(&s3, t.path(), "byte flipped in the hash trailer");

    let t = copy_snapshot(src);
    flip(&t.path().join("snapshot.db"), 20); // inside bbolt's first meta page
    rewrite_meta_sha(t.path());
    assert_refused_before_upload(&s3, t.path(), "byte flipped in the bbolt header");

    // The control: the undamaged copy is accepted, so the refusals above are about the damage.
    let t = copy_snapshot(src);
    let d = run(
        &store_args(t.path(), &["--keep", "5"]),
        &etcdbak_env(&s3.endpoint()),
    );
    ok(&d, "store of the undamaged snapshot");
}
