//! Bad input for every subcommand: one clear `error:` line that names what to fix, a non-zero exit, never a
//! panic and never a Debug dump. Real servers where a server is involved (MinIO for the S3 commands); the
//! unreachable cases use a closed loopback port.
//!
//! Each test walks a table and reports every case that misbehaves at once, so one run shows them all.

#[path = "../common/mod.rs"]
mod common;

mod bounds;

use std::path::Path;
use std::process::Output;

use common::minio::{etcdbak_env, Minio};
use common::{etcdbak, fixtures};

/// One bad invocation and a piece of text its error line must contain (case-insensitive): the flag, file
/// or variable the user has to fix.
struct Case<'a> {
    what: &'a str,
    args: Vec<String>,
    env: Vec<(String, String)>,
    names: &'a [&'a str],
}

fn case<'a>(what: &'a str, args: &[&str], names: &'a [&'a str]) -> Case<'a> {
    Case {
        what,
        args: args.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
        names,
    }
}

impl Case<'_> {
    fn env(mut self, env: Vec<(String, String)>) -> Self {
        self.env.extend(env);
        self
    }
}

/// Runs etcdbak with a clean environment (no ETCDBAK_* or AWS_* leaking in from the developer's shell).
fn run(c: &Case) -> Output {
    let mut cmd = etcdbak();
    for (k, _) in std::env::vars() {
        if k.starts_with("ETCDBAK_") || k.starts_with("AWS_") || k == "KUBECONFIG" {
            cmd.env_remove(k);
        }
    }
    cmd.env("KUBECONFIG", "/nonexistent/etcdbak-test-kubeconfig")
        .env("HOME", "/nonexistent/etcdbak-test-home");
    cmd.args(&c.args)
        .envs(c.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run etcdbak")
}

/// The error line plus any indented continuation lines (clap lists missing arguments that way).
fn error_block(stderr: &str, first: &str) -> String {
    let mut lines = stderr.lines().skip_while(|l| *l != first);
    let mut block = lines.next().unwrap_or_default().to_string();
    for l in lines.take_while(|l| l.starts_with("  ")) {
        block.push(' ');
        block.push_str(l.trim());
    }
    block
}

/// Every way the case misbehaves, empty when it is handled well.
fn problems(c: &Case) -> Vec<String> {
    let out = run(c);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut p = Vec::new();
    if out.status.success() {
        p.push("exited 0".into());
    }
    if stderr.contains("panicked") || out.status.code().is_none() {
        p.push("panicked or died from a signal".into());
    }
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    if errors.len() != 1 {
        p.push(format!("{} error lines (want exactly 1)", errors.len()));
    }
    if let Some(first) = errors.first() {
        // clap puts the missing flags on indented lines right after its error line; they belong to it.
        let line = error_block(&stderr, first);
        let lower = line.to_lowercase();
        if !c.names.iter().any(|n| lower.contains(&n.to_lowercase())) {
            p.push(format!("the error line names none of {:?}", c.names));
        }
        for dump in ["{ kind:", "Os {", "Custom {", "Error {", "Some(", "\\n"] {
            if line.contains(dump) {
                p.push(format!("the error line looks like a Debug dump ({dump:?})"));
            }
        }
    }
    if p.is_empty() {
        eprintln!("ok   {}: {}", c.what, errors.first().unwrap_or(&""));
        Vec::new()
    } else {
        vec![format!(
            "{}: {}\n    args: {:?}\n    exit: {:?}\n    stderr: {}",
            c.what,
            p.join("; "),
            c.args,
            out.status.code(),
            stderr.trim_end().replace('\n', "\n            ")
        )]
    }
}

fn check(cases: &[Case]) {
    let bad: Vec<String> = cases.iter().flat_map(problems).collect();
    assert!(
        bad.is_empty(),
        "{} of {} bad inputs were not handled well:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// A snapshot dir whose files are what the test says (not necessarily valid).
fn snapshot_dir(db: &[u8], json: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fixtures::write_snapshot_dir(d.path(), db, json);
    d
}

/// snapshot.json that truly describes `db`, so only the check a case is about can refuse it.
fn metadata_for(db: &[u8]) -> String {
    fixtures::snapshot_json("demo", db, 42, "2026-11-25T10:30:00.123Z")
}

/// Snapshot cases get a valid cluster name (ETCDBAK_CLUSTER) unless they pass their own, so each one fails
/// on the input it is about.
fn with_cluster(cases: Vec<Case>) -> Vec<Case> {
    cases
        .into_iter()
        .map(|c| {
            if c.args.iter().any(|a| a == "--cluster") {
                c
            } else {
                c.env(vec![("ETCDBAK_CLUSTER".into(), "demo".into())])
            }
        })
        .collect()
}

#[test]
fn snapshot_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = p(dir.path());
    let garbage_pem = dir.path().join("garbage.pem");
    std::fs::write(&garbage_pem, "this is not a PEM file\n").unwrap();
    let g = p(&garbage_pem);
    check(&with_cluster(vec![
        case(
            "malformed endpoint",
            &["snapshot", "--endpoints", "not a url", "--dir", &d],
            &["--endpoints"],
        ),
        case(
            "endpoint with a bad port",
            &[
                "snapshot",
                "--endpoints",
                "http://127.0.0.1:99999",
                "--dir",
                &d,
            ],
            &["--endpoints"],
        ),
        case(
            "empty endpoint",
            &["snapshot", "--endpoints", "", "--dir", &d],
            &["--endpoints"],
        ),
        case(
            "unreachable endpoint",
            &[
                "snapshot",
                "--endpoints",
                "http://127.0.0.1:1",
                "--dial-timeout",
                "1s",
                "--cluster",
                "demo",
                "--dir",
                &d,
            ],
            &["--endpoints"],
        ),
        case(
            "missing CA file",
            &[
                "snapshot",
                "--endpoints",
                "https://127.0.0.1:1",
                "--cacert",
                "/nonexistent/ca.pem",
                "--dir",
                &d,
            ],
            &["--cacert", "/nonexistent/ca.pem"],
        ),
        case(
            "missing key file",
            &[
                "snapshot",
                "--endpoints",
                "https://127.0.0.1:1",
                "--cert",
                &g,
                "--key",
                "/nonexistent/key.pem",
                "--dir",
                &d,
            ],
            &["--key", "/nonexistent/key.pem"],
        ),
        case(
            "CA that is not PEM",
            &[
                "snapshot",
                "--endpoints",
                "https://127.0.0.1:1",
                "--cacert",
                &g,
                "--dir",
                &d,
            ],
            &["--cacert", "garbage.pem"],
        ),
        case(
            "--cert without --key",
            &[
                "snapshot",
                "--endpoints",
                "https://127.0.0.1:1",
                "--cert",
                &g,
                "--dir",
                &d,
            ],
            &["--key"],
        ),
        case(
            "unknown flag",
            &["snapshot", "--endpoint", "http://127.0.0.1:2379"],
            &["--endpoint"],
        ),
        case(
            "bad duration",
            &[
                "snapshot",
                "--endpoints",
                "http://127.0.0.1:1",
                "--dial-timeout",
                "soon",
            ],
            &["--dial-timeout"],
        ),
        case(
            "dir is a file",
            &[
                "snapshot",
                "--endpoints",
                "http://127.0.0.1:1",
                "--dial-timeout",
                "1s",
                "--dir",
                &g,
            ],
            &["--dir", "garbage.pem", "--endpoints"],
        ),
        case(
            "invalid cluster name",
            &[
                "snapshot",
                "--endpoints",
                "http://127.0.0.1:1",
                "--cluster",
                "Not_A_Name",
                "--dir",
                &d,
            ],
            &["cluster"],
        ),
    ]));
}

#[test]
fn s3_command_bad_inputs() {
    let s3 = Minio::start();
    let env = etcdbak_env(&s3.endpoint());
    let no_creds: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| !k.starts_with("AWS_"))
        .cloned()
        .collect();
    let empty = tempfile::tempdir().unwrap();
    let garbage_json = snapshot_dir(b"whatever", "{ this is not json");
    let half_json = snapshot_dir(b"whatever", r#"{"cluster":"demo"}"#);
    let not_etcd: Vec<u8> = (0..65536u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let not_db = snapshot_dir(&not_etcd, &metadata_for(&not_etcd));
    let tiny = snapshot_dir(b"x", &metadata_for(b"x"));
    // etcd's SHA-256 trailer is right, so only the bbolt check can refuse it.
    let mut trailer_ok = not_etcd.clone();
    trailer_ok.extend_from_slice(&<sha2::Sha256 as sha2::Digest>::digest(&not_etcd));
    let not_bolt = snapshot_dir(&trailer_ok, &metadata_for(&trailer_ok));
    let (e, ge, hj, nd, ti, nb) = (
        p(empty.path()),
        p(garbage_json.path()),
        p(half_json.path()),
        p(not_db.path()),
        p(tiny.path()),
        p(not_bolt.path()),
    );
    check(&[
        case(
            "store: missing files",
            &["store", "--dir", &e],
            &["--dir", "snapshot"],
        )
        .env(env.clone()),
        case(
            "store: missing dir",
            &["store", "--dir", "/nonexistent/backup"],
            &["--dir", "/nonexistent/backup"],
        )
        .env(env.clone()),
        case(
            "store: garbage metadata JSON",
            &["store", "--dir", &ge],
            &["snapshot.json"],
        )
        .env(env.clone()),
        case(
            "store: metadata missing fields",
            &["store", "--dir", &hj],
            &["snapshot.json"],
        )
        .env(env.clone()),
        case(
            "store: not an etcd db",
            &["store", "--dir", &nd],
            &["snapshot.db", "etcd"],
        )
        .env(env.clone()),
        case(
            "store: 1-byte snapshot",
            &["store", "--dir", &ti],
            &["snapshot.db", "truncated"],
        )
        .env(env.clone()),
        case(
            "store: empty bucket name",
            &["store", "--dir", &nd, "--bucket", ""],
            &["--bucket"],
        )
        .env(env.clone()),
        case(
            "store: trailer fine, not bbolt",
            &["store", "--dir", &nb],
            &["snapshot.db", "etcd"],
        )
        .env(env.clone()),
        case(
            "list: bucket that does not exist",
            &["list", "--bucket", "no-such-bucket"],
            &["--bucket", "no-such-bucket"],
        )
        .env(env.clone()),
        case(
            "store: malformed endpoint",
            &["store", "--dir", &nd, "--s3-endpoint", "::not a url::"],
            &["--s3-endpoint"],
        )
        .env(env.clone()),
        case(
            "store: no credentials",
            &["store", "--dir", &nd],
            &["AWS_ACCESS_KEY_ID"],
        )
        .env(no_creds.clone()),
        case(
            "store: part size too small",
            &["store", "--dir", &nd, "--part-size", "1KiB"],
            &["--part-size"],
        )
        .env(env.clone()),
        case(
            "store: keep 0",
            &["store", "--dir", &nd, "--keep", "0"],
            &["--keep"],
        )
        .env(env.clone()),
        case(
            "store: keep-daily not a number",
            &["store", "--dir", &nd, "--keep-daily", "lots"],
            &["--keep-daily"],
        )
        .env(env.clone()),
        case(
            "store: keep-within not a span",
            &["store", "--dir", &nd, "--keep-within", "30min"],
            &["--keep-within"],
        )
        .env(env.clone()),
        case(
            "store: negative keep-min",
            &["store", "--dir", &nd, "--keep-min=-1"],
            &["--keep-min"],
        )
        .env(env.clone()),
        case(
            "store: bad ETCDBAK_KEEP_WEEKLY",
            &["store", "--dir", &nd],
            &["--keep-weekly"],
        )
        .env(env.clone())
        .env(vec![("ETCDBAK_KEEP_WEEKLY".into(), "x".into())]),
        case(
            "prune: a policy that keeps nothing",
            &["prune", "--cluster", "demo", "--keep", "0"],
            &["--keep"],
        )
        .env(env.clone()),
        case(
            "prune: --keep-daily and --all",
            &["prune", "--cluster", "demo", "--keep-daily", "3", "--all"],
            &["--keep-daily", "--all"],
        )
        .env(env.clone()),
        case(
            "store: unknown flag",
            &["store", "--dir", &nd, "--bukket", "x"],
            &["--bukket"],
        )
        .env(env.clone()),
        case(
            "list: empty bucket name",
            &["list", "--bucket", ""],
            &["--bucket"],
        )
        .env(env.clone()),
        case(
            "list: malformed endpoint",
            &["list", "--s3-endpoint", "not a url"],
            &["--s3-endpoint"],
        )
        .env(env.clone()),
        case(
            "list: unreachable endpoint",
            &["list", "--s3-endpoint", "http://127.0.0.1:1"],
            &["--s3-endpoint"],
        )
        .env(env.clone()),
        case(
            "list: invalid cluster",
            &["list", "--cluster", "Bad_Name"],
            &["cluster"],
        )
        .env(env.clone()),
        case("list: unknown output", &["list", "-o", "yaml"], &["yaml"]).env(env.clone()),
        case(
            "list: wrong secret",
            &["list"],
            &["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"],
        )
        .env(env.clone())
        .env(vec![("AWS_SECRET_ACCESS_KEY".into(), "wrong".into())]),
        case(
            "prune: neither --keep nor --all",
            &["prune", "--cluster", "demo"],
            &["--keep", "--all"],
        )
        .env(env.clone()),
        case(
            "prune: --keep and --all",
            &["prune", "--cluster", "demo", "--keep", "2", "--all"],
            &["--keep", "--all"],
        )
        .env(env.clone()),
        case(
            "prune: empty bucket",
            &["prune", "--cluster", "demo", "--keep", "2", "--bucket", ""],
            &["--bucket"],
        )
        .env(env.clone()),
        case(
            "prune: invalid cluster",
            &["prune", "--cluster", "../etc", "--keep", "2"],
            &["cluster"],
        )
        .env(env.clone()),
        case(
            "prune: unreachable endpoint",
            &[
                "prune",
                "--cluster",
                "demo",
                "--keep",
                "2",
                "--s3-endpoint",
                "http://127.0.0.1:1",
            ],
            &["--s3-endpoint"],
        )
        .env(env.clone()),
        case(
            "download: no cluster or key",
            &["download"],
            &["--cluster", "--key"],
        )
        .env(env.clone()),
        case(
            "download: no backups",
            &["download", "--cluster", "demo"],
            &["demo", "--cluster"],
        )
        .env(env.clone()),
        case(
            "download: key that is not a backup",
            &["download", "--key", "etcdbak/demo/not-a-backup.db"],
            &["--key", "not-a-backup", "etcdbak list"],
        )
        .env(env.clone()),
        case(
            "download: empty bucket",
            &["download", "--cluster", "demo", "--bucket", ""],
            &["--bucket"],
        )
        .env(env.clone()),
    ]);
}

#[test]
fn controller_and_other_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        p(&path)
    };
    let broken = write("broken.yaml", "defaultKeep: [1, 2\n  image: : :\n");
    let typo = write("typo.yaml", "defaultKep: 3\n");
    let cron = write("cron.yaml", "defaultSchedule: \"H H H H H\"\n");
    let cron2 = write("cron2.yaml", "defaultSchedule: \"61 * * * *\"\n");
    let wrong_type = write("type.yaml", "defaultKeep: lots\n");
    check(&[
        case(
            "reconcile: missing config file",
            &["reconcile", "--config", "/nonexistent/config.yaml"],
            &["--config", "/nonexistent/config.yaml"],
        ),
        case(
            "reconcile: broken YAML",
            &["reconcile", "--config", &broken],
            &["broken.yaml"],
        ),
        case(
            "reconcile: unknown key",
            &["reconcile", "--config", &typo],
            &["defaultKep"],
        ),
        case(
            "reconcile: invalid cron (H in day fields)",
            &["reconcile", "--config", &cron],
            &["H H H H H", "defaultSchedule"],
        ),
        case(
            "reconcile: invalid cron (minute 61)",
            &["reconcile", "--config", &cron2],
            &["61 * * * *", "defaultSchedule"],
        ),
        case(
            "reconcile: wrong type",
            &["reconcile", "--config", &wrong_type],
            &["defaultKeep"],
        ),
        case(
            "watch: broken YAML",
            &["watch", "--config", &broken],
            &["broken.yaml"],
        ),
        case(
            "watch: bad metrics address",
            &["watch", "--metrics-addr", "nowhere"],
            &["--metrics-addr"],
        ),
        case("crd: unknown flag", &["crd", "--bogus"], &["--bogus"]),
        case("unknown subcommand", &["snapshots"], &["snapshots"]),
        case("bad log format", &["--log-format", "xml", "crd"], &["xml"]),
        case(
            "restore-guide: unknown flag",
            &["restore-guide", "--bogus"],
            &["--bogus"],
        ),
    ]);
}

/// Bad retention flags are usage errors (exit 2), refused before any S3 traffic.
#[test]
fn bad_retention_flags_exit_2() {
    for args in [
        &["store", "--keep", "0"][..],
        &["store", "--keep-hourly", "many"],
        &["store", "--keep-within", "1.5h"],
        &["prune", "--cluster", "demo", "--keep-monthly", "-3"],
        &[
            "prune",
            "--cluster",
            "demo",
            "--keep",
            "0",
            "--keep-min",
            "5",
        ],
    ] {
        let c = case("retention", args, &[]);
        let out = run(&c);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    }
}

/// `etcdbak crd` whose output cannot be written (a full disk) fails with one line naming it, instead of a
/// panic or exit 0 with nothing written: its output goes straight into chart files and `kubectl apply`.
#[test]
fn crd_that_cannot_write_its_output_fails() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = etcdbak()
        .arg("crd")
        .stdout(full)
        .output()
        .expect("run etcdbak crd");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("writing the Cluster CRD"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
