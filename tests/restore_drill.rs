//! The restore drill: back up a real 3-member TLS etcd into a real MinIO, destroy the cluster's data, then
//! follow `etcdbak restore-guide` literally. Every command the guide prints that does not need Kubernetes
//! (etcdbak download, etcdutl, etcdctl, mkdir) is run exactly as printed, through `sh -c`; the Kubernetes
//! steps are stood in for by their local meaning (scale to 0 = the members are stopped, scale up = start
//! them on the restored data dirs, which are the dirs the guide restored into).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::etcd::EtcdCluster;
use common::minio::Minio;
use common::{etcdbak, rig_bin};

/// The command lines of a text runbook, in order (the `     $ ` lines).
fn commands(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("     $ "))
        .map(str::to_string)
        .collect()
}

/// The lines inside ```sh fences of a markdown runbook.
fn markdown_commands(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for l in md.lines() {
        match (inside, l) {
            (false, "```sh") => inside = true,
            (true, "```") => inside = false,
            (true, l) => out.push(l.to_string()),
            _ => {}
        }
    }
    out
}

/// PATH with the rig's etcdutl/etcdctl and the etcdbak under test first, so printed commands run as printed.
fn drill_path() -> String {
    let rig = rig_bin("etcdutl").parent().unwrap().to_path_buf();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_etcdbak"))
        .parent()
        .unwrap()
        .to_path_buf();
    let rest = std::env::var("PATH").unwrap_or_default();
    format!("{}:{}:{rest}", rig.display(), bin.display())
}

fn shell(minio: &Minio, line: &str, cwd: &Path) -> String {
    let out = common::run_ok(
        minio.creds_env(
            Command::new("sh")
                .arg("-c")
                .arg(line)
                .current_dir(cwd)
                .env("PATH", drill_path()),
        ),
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn restore_drill_follows_the_guide_to_a_healthy_three_member_cluster() {
    let minio = Minio::start();
    let mut etcd = EtcdCluster::start(3, true);
    let written: BTreeMap<Vec<u8>, Vec<u8>> = etcd.put_keys("drill/", 1000, 200);
    let before = etcd.read_all();
    assert_eq!(before, written);

    // Back up: snapshot + store, as the backup Job does.
    let scratch = tempfile::tempdir().unwrap();
    let snap_dir = scratch.path().join("snap");
    common::run_ok(
        etcdbak()
            .arg("snapshot")
            .args(etcd.etcdbak_args())
            .arg("--dir")
            .arg(&snap_dir)
            .args(["--cluster", "drill"]),
    );
    let s3 = {
        let mut a = minio.s3_args();
        a.extend(["--prefix".into(), "etcdbak".into()]);
        a
    };
    common::run_ok(
        minio.creds_env(
            etcdbak()
                .arg("store")
                .arg("--dir")
                .arg(&snap_dir)
                .args(["--cluster", "drill"])
                .args(&s3),
        ),
    );

    // The disaster: every member gone, every data dir gone.
    etcd.kill_all();
    for i in 0..etcd.len() {
        std::fs::remove_dir_all(etcd.data_dir(i)).unwrap();
        assert!(!etcd.data_dir(i).exists());
    }

    // The guide, filled with the loopback cluster's real values. Its work dir is the cluster's dir, so the
    // restored `<member>.etcd` dirs are exactly the members' data dirs.
    let tls = etcd.client_tls().unwrap();
    let mut guide_args: Vec<String> = vec![
        "restore-guide".into(),
        "--cluster".into(),
        "drill".into(),
        "--no-kube".into(),
        "--namespace".into(),
        "drill-ns".into(),
        "--statefulset".into(),
        "etcd".into(),
        "--endpoints".into(),
        etcd.endpoints(),
        "--cacert".into(),
        tls.cacert.display().to_string(),
        "--cert".into(),
        tls.cert.display().to_string(),
        "--key".into(),
        tls.key.display().to_string(),
        "--workdir".into(),
        etcd.dir().display().to_string(),
        // Fixed, so the text and markdown renderings (made a second apart) are comparable line by line.
        "--token".into(),
        "drill-restored".into(),
    ];
    for i in 0..etcd.len() {
        guide_args.push("--member".into());
        guide_args.push(format!("{}={}", etcd.member_name(i), etcd.peer_url(i)));
    }
    guide_args.extend(s3.iter().cloned());
    let text =
        String::from_utf8(common::run_ok(minio.creds_env(etcdbak().args(&guide_args))).stdout)
            .unwrap();
    let md = String::from_utf8(
        common::run_ok(minio.creds_env(etcdbak().args(&guide_args).args(["-o", "markdown"])))
            .stdout,
    )
    .unwrap();
    let cmds = commands(&text);
    // The post-restore backup Job is named after the second the guide was printed, and the two renderings
    // may straddle a second: compare them with that stamp masked.
    let stamp = regex::Regex::new(r"-restored-\d{14}").unwrap();
    let masked = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|c| stamp.replace_all(c, "-restored-STAMP").into_owned())
            .collect()
    };
    assert_eq!(
        masked(&cmds),
        masked(&markdown_commands(&md)),
        "text and markdown disagree"
    );
    assert!(text.contains("1. Suspend backups"), "{text}");
    assert!(
        text.contains("--initial-cluster-token drill-restored "),
        "{text}"
    );

    // The snapshot's revision, from the guide's own header ("... (revision N, ...").
    let revision: i64 = text
        .split("(revision ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no revision in the guide:\n{text}"));

    // Follow it.
    let mut ran = Vec::new();
    let mut started = false;
    let mut outputs = Vec::new();
    for line in &cmds {
        let program = line.split_whitespace().next().unwrap();
        match program {
            "kubectl" => {
                // The Kubernetes steps, by their local meaning.
                if line.contains(" scale statefulset ") && line.contains("--replicas=3") {
                    etcd.launch();
                    started = true;
                }
            }
            "etcdbak" | "etcdutl" | "etcdctl" | "mkdir" => {
                if program == "etcdctl" {
                    assert!(
                        started,
                        "the guide checks health before starting the members"
                    );
                }
                outputs.push((line.clone(), shell(&minio, line, scratch.path())));
                ran.push(program.to_string());
            }
            other => panic!("the guide prints a command the drill does not know: {other}: {line}"),
        }
    }
    assert!(
        started,
        "the guide never scales the StatefulSet back up:\n{text}"
    );
    let count = |p: &str| ran.iter().filter(|r| *r == p).count();
    assert_eq!(count("etcdbak"), 1, "one download: {ran:?}");
    assert_eq!(count("etcdutl"), 4, "status + 3 restores: {ran:?}");
    assert_eq!(
        count("etcdctl"),
        4,
        "health, status, member list, count: {ran:?}"
    );

    // Every key is back, on a healthy 3-member cluster with the restored membership.
    let after = etcd.read_all();
    assert_eq!(after.len(), written.len());
    assert_eq!(
        after, written,
        "the restored cluster's keys differ from what was written"
    );

    let out_of = |cmd: &str| {
        outputs
            .iter()
            .find(|(l, _)| l.contains(cmd))
            .map(|(_, o)| o.clone())
            .unwrap_or_else(|| panic!("no `{cmd}` was run"))
    };
    let health = out_of("endpoint health");
    assert_eq!(health.matches("is healthy").count(), 3, "{health}");
    let members = out_of("member list");
    assert_eq!(members.matches("| started |").count(), 3, "{members}");
    for i in 0..3 {
        assert!(members.contains(&etcd.peer_url(i)), "{members}");
    }
    let status = out_of("endpoint status");
    assert_eq!(
        status
            .lines()
            .filter(|l| l.starts_with("| https://"))
            .count(),
        3,
        "{status}"
    );
    let fields = out_of("--count-only");
    let field = |name: &str| -> i64 {
        fields
            .lines()
            .find_map(|l| l.strip_prefix(&format!("\"{name}\" : ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{fields}"))
    };
    assert!(
        field("Revision") >= revision + 1_000_000_000,
        "revision was not bumped past the snapshot's {revision}:\n{fields}"
    );
    assert_eq!(field("Count"), written.len() as i64, "{fields}");

    // The restored cluster takes writes.
    etcd.put_keys("after/", 10, 10);
    assert_eq!(etcd.read_all().len(), written.len() + 10);
}
