//! `restore-guide --to` on the second S3 server (versitygw) with age-encrypted segments and backups: the
//! runbook's own commands, run as printed, restore the keyspace the source had at the chosen moment;
//! `list` shows each backup's chain and where it breaks; `verify` reads the newest chain and fails on a
//! damaged or missing segment.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use super::common::store::age_key;
use super::common::versitygw::Versitygw;
use super::*;

const CLUSTER: &str = "guided";

/// The commands of a text runbook, in order (the `$ ` lines).
fn commands(runbook: &str) -> Vec<String> {
    runbook
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("$ "))
        .map(str::to_string)
        .collect()
}

/// Runs one printed command in a shell, as the operator would paste it (`etcdbak` on PATH).
fn run_printed(store: &Store, command: &str, dir: &Path) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_etcdbak"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    store
        .creds_env(
            Command::new("sh")
                .args(["-c", command])
                .current_dir(dir)
                .env("PATH", path),
        )
        .output()
        .expect("run sh")
}

fn printed_ok(store: &Store, command: &str, dir: &Path) -> String {
    let out = run_printed(store, command, dir);
    assert!(
        out.status.success(),
        "{command} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn guide(store: &Store, dir: &Path, flags: &[&str]) -> String {
    let out = run_ok(
        store.creds_env(
            etcdbak()
                .current_dir(dir)
                .args([
                    "restore-guide",
                    "--cluster",
                    CLUSTER,
                    "--no-kube",
                    "--workdir",
                    "work",
                ])
                .args(flags)
                .args(store.s3_args()),
        ),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(store: &Store, args: &[&str]) -> (bool, serde_json::Value) {
    let out = store
        .creds_env(
            etcdbak()
                .args(args)
                .args(["-o", "json"])
                .args(store.s3_args()),
        )
        .output()
        .expect("run etcdbak");
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), value)
}

#[test]
fn the_runbook_to_a_moment_restores_that_moment_from_encrypted_segments_on_versitygw() {
    let store = Store::Versitygw(Versitygw::start());
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let (identity, recipient) = age_key(dir, "backup.agekey");
    let encrypt = ["--encrypt-to".to_string(), recipient];
    let etcd = EtcdCluster::start(1, true);
    etcd.put_keys("base/", 100, 64);
    full_backup_with(&store, &etcd, CLUSTER, &dir.join("full"), &encrypt);
    let log = dir.join("follow.log");
    let follower = start_follower_with(&store, &etcd, CLUSTER, &dir.join("follow"), &log, &encrypt);
    churn(&etcd, 1);
    // A segment closes a second after its first change: three rounds make three segments at least.
    std::thread::sleep(Duration::from_millis(1500));
    churn(&etcd, 2);
    let r1 = revision(&etcd);
    let at_r1 = keyspace_at(&etcd, r1);
    let t1 = the_mistake(&etcd);
    churn(&etcd, 3);
    let r2 = revision(&etcd);
    wait_durable(&store, CLUSTER, r2, &log);
    terminate(follower, &log);

    // list: the backup's chain reaches the newest change, with no hole.
    let (ok, listed) = json(&store, &["list", "--cluster", CLUSTER]);
    assert!(ok);
    let chain = &listed[0]["chain"];
    assert_eq!(chain["revision"], r2, "{listed:#}");
    assert!(
        chain["segments"].as_u64().unwrap() >= 1 && chain.get("gapAfter").is_none(),
        "{listed:#}"
    );

    // verify: the backup and its whole chain, decrypted and read end to end.
    let id = identity.to_str().unwrap();
    let (ok, verified) = json(&store, &["verify", "--cluster", CLUSTER, "--identity", id]);
    assert!(ok, "{verified:#}");
    assert_eq!(verified[0]["chain"]["reaches"], r2, "{verified:#}");
    assert!(
        verified[0]["chain"].get("problem").is_none(),
        "{verified:#}"
    );

    // The runbook to t1: its download command, then (members restored from that file) its check and replay.
    let to = t1.to_rfc3339();
    let first = guide(&store, dir, &["--to", &to, "--identity", id, "--insecure"]);
    assert!(first.contains("Restore point:"), "{first}");
    assert!(
        first.contains("the check step reads them with the identity"),
        "{first}"
    );
    let download = commands(&first)
        .into_iter()
        .find(|c| c.starts_with("etcdbak download"))
        .expect("a download step");
    std::fs::create_dir_all(dir.join("work")).unwrap();
    printed_ok(&store, &download, dir);
    let target = EtcdCluster::start_from_snapshot(&dir.join("work/snapshot.db"), 1, false);
    let book = guide(
        &store,
        dir,
        &[
            "--to",
            &to,
            "--identity",
            id,
            "--insecure",
            "--endpoints",
            &target.endpoints(),
        ],
    );
    let replays: Vec<String> = commands(&book)
        .into_iter()
        .filter(|c| c.starts_with("etcdbak replay"))
        .collect();
    assert_eq!(replays.len(), 2, "{book}");
    let checked = printed_ok(&store, &replays[0], dir);
    assert!(
        checked.contains(&format!("source revision {r1}")),
        "{checked}"
    );
    assert_eq!(target.read_all().len(), 100, "the check applied nothing");
    let replayed = printed_ok(&store, &replays[1], dir);
    assert!(
        replayed.contains(&format!("source revision {r1}")),
        "{replayed}"
    );
    assert_eq!(
        target.read_all(),
        at_r1,
        "the runbook's replay to {to} differs from the source at {r1}"
    );

    damaged_or_missing_segments_fail_the_chain(&store, id);
}

/// A flipped byte in a segment fails `verify` and the runbook's check step; a missing one is a hole that
/// `list` and `verify` name.
fn damaged_or_missing_segments_fail_the_chain(store: &Store, id: &str) {
    let Store::Versitygw(vgw) = store else {
        unreachable!("the story runs on versitygw")
    };
    let segments = store.keys(&format!("{PREFIX}/{CLUSTER}/segments/"));
    assert!(segments.len() >= 3, "{segments:?}");
    let victim = vgw.object_file(&segments[segments.len() / 2]);
    let mut bytes = std::fs::read(&victim).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    std::fs::write(&victim, &bytes).unwrap();
    let (ok, verified) = json(store, &["verify", "--cluster", CLUSTER, "--identity", id]);
    assert!(!ok, "a damaged segment passed verify: {verified:#}");
    let problem = verified[0]["chain"]["problem"].as_str().unwrap_or_default();
    assert!(problem.contains("damaged"), "{verified:#}");

    std::fs::remove_file(&victim).unwrap();
    let (_, listed) = json(store, &["list", "--cluster", CLUSTER]);
    assert!(
        listed[0]["chain"]["gapAfter"]["from"].is_i64(),
        "{listed:#}"
    );
    let out = store
        .creds_env(
            etcdbak()
                .args(["verify", "--cluster", CLUSTER, "--identity", id])
                .args(store.s3_args()),
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && text.contains("chain: BROKEN"),
        "{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("are in no segment"), "{err}");
}
