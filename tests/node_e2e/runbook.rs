//! An operator at a terminal: `etcdbak restore-guide` with the facts this node's StatefulSets cannot
//! guess, and the printed runbook executed command by command, exactly as printed.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::node::node;
use crate::common::rig_bin;

use crate::release::*;
use crate::tenant::*;
use crate::*;

/// The operator's working directory, with the tools the runbook names first on PATH.
pub struct Drill {
    pub dir: tempfile::TempDir,
    bin: PathBuf,
}

impl Drill {
    pub fn new() -> Drill {
        let dir = tempfile::tempdir().expect("drill dir");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        for (link, target) in [
            ("kubectl", rig_bin("kubectl")),
            ("etcdctl", rig_bin("etcdctl")),
            ("etcdutl", rig_bin("etcdutl")),
            ("etcdbak", PathBuf::from(env!("CARGO_BIN_EXE_etcdbak"))),
        ] {
            std::os::unix::fs::symlink(target, bin.join(link)).expect("symlink");
        }
        Drill { dir, bin }
    }

    pub fn workdir(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// `etcdbak restore-guide` for `cluster` on `etcd`, with the facts the StatefulSet's naming cannot
    /// guess on this node (loopback peer and client URLs, where the client certificates are, the helper
    /// image that exists here) given as flags, as docs/RESTORE.md tells an operator to do after checking
    /// the header. `extra` picks the backup or the point.
    pub fn guide(&self, rel: &Release, etcd: &TenantEtcd, cluster: &str, extra: &[&str]) -> String {
        let n = node();
        let mut guide = rel.s3_cmd("restore-guide");
        guide
            .env("KUBECONFIG", &n.kubeconfig)
            .args(["--cluster", cluster])
            .args(extra)
            .args(["--namespace", &etcd.ns, "--statefulset", "etcd"])
            .args(["--endpoints", &etcd.endpoints().join(",")])
            .arg("--cacert")
            .arg(&etcd.certs.ca)
            .arg("--cert")
            .arg(&etcd.certs.client_cert)
            .arg("--key")
            .arg(&etcd.certs.client_key)
            .args(["--helper-image", n.image("busybox")])
            .arg("--workdir")
            .arg(self.workdir());
        for i in 0..etcd.members() {
            guide
                .arg("--member")
                .arg(format!("etcd-{i}=https://127.0.0.1:{}", etcd.peer_ports[i]));
        }
        let out = run(&mut guide, "etcdbak restore-guide", Duration::from_secs(60));
        let text = check(&out, "etcdbak restore-guide");
        println!("--- the runbook ---\n{text}");
        text
    }

    /// Runs every command of the runbook `text` as printed, in order; returns how many ran.
    pub async fn run_as_printed(&self, text: &str) -> usize {
        let n = node();
        let commands = etcdbak::restore::render::commands_in_text(text);
        assert!(commands.len() > 10, "a runbook with commands:\n{text}");
        let t = Instant::now();
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        for (i, command) in commands.iter().enumerate() {
            let started = Instant::now();
            let suspend_check = command.contains("jsonpath={.spec.suspend}");
            // An operator re-runs a check until it shows what the guide says (the controller needs a moment
            // to apply the suspension to the CronJob).
            let mut tries = 0;
            let out = loop {
                let out = run(
                    Command::new("sh")
                        .arg("-c")
                        .arg(command)
                        .env("PATH", &path)
                        .env("KUBECONFIG", &n.kubeconfig)
                        .env("AWS_ACCESS_KEY_ID", MINIO_USER)
                        .env("AWS_SECRET_ACCESS_KEY", MINIO_PASSWORD)
                        .env("ETCDBAK_LOG_FORMAT", "plain")
                        .current_dir(self.dir.path()),
                    command,
                    Duration::from_secs(900),
                );
                let done = !suspend_check
                    || String::from_utf8_lossy(&out.stdout).trim() == "true"
                    || tries >= 60;
                if done {
                    break out;
                }
                tries += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            };
            let stdout = check(&out, &format!("runbook command {}: {command}", i + 1));
            if suspend_check {
                assert_eq!(stdout.trim(), "true", "the CronJob is suspended");
            }
            println!(
                "MEASURE: runbook command {} ({:.1?}): {command}",
                i + 1,
                started.elapsed()
            );
        }
        println!(
            "MEASURE: restore drill, whole runbook executed in {:.1?}",
            t.elapsed()
        );
        commands.len()
    }
}
