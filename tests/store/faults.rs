//! `etcdbak store` when S3 misbehaves or is misconfigured: unreachable, wrong credentials, restarts, stale
//! and orphaned uploads, SIGTERM mid-upload, stalls, and stores without multipart listing or Content-MD5.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::minio::{Minio, SECRET_KEY};
use crate::common::store::*;
use crate::common::{etcdbak, wait_until};

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
fn young_uploads_stay_a_zero_age_is_refused_and_cleanup_aborts_its_own() {
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
    // An age that would take a concurrent run's live upload for a stale one is refused before any traffic.
    let refused = store(
        &m,
        backup_dir("prod", 4, "2026-11-25T12:00:00Z").path(),
        &["--stale-upload-age", "0s"],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--stale-upload-age"));
    assert_eq!(pending("etcdbak/prod/").len(), 2);
    // The cleanup's prune --all aborts every upload of the cluster, whatever its age, and only its own.
    assert_ok(&run(&mut etcdbak_s3(
        &m,
        "prune",
        &["--cluster", "prod", "--all"],
    )));
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
            cmd.args(["--bucket", crate::common::minio::BUCKET]);
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
    let throttle =
        crate::common::throttle::Throttle::start(&format!("127.0.0.1:{}", m.port), 2 << 20);
    let dir = backup_dir("prod", 3, "2026-11-25T10:00:00Z");
    let mut cmd = etcdbak();
    cmd.env("ETCDBAK_COMPRESS", "none")
        .args([
            "store",
            "--bucket",
            crate::common::minio::BUCKET,
            "--keep",
            "1",
        ])
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

/// A store that does not implement ListMultipartUploads (HTTP 501, or 400 with an unsupported-operation
/// code) still takes backups: the stale-upload sweep is skipped with one warning, and a failing run still
/// aborts its own upload.
#[test]
fn a_store_without_multipart_listing_still_takes_backups() {
    use crate::common::s3faults::{Refuse, S3Faults};
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
    use crate::common::s3faults::{Refuse, S3Faults};
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
