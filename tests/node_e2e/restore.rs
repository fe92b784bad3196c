//! The restore drill: the printed runbook executed against a StatefulSet whose data was destroyed.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::node::node;
use crate::common::rig_bin;
use etcdbak::crd::Cluster;
use kube::api::{Api, DeleteParams};

use crate::release::*;
use crate::tenant::*;
use crate::*;

/// The runbook `etcdbak restore-guide` prints, executed command by command as printed, against a real
/// StatefulSet whose data was destroyed.
#[test]
pub fn restore_drill_runs_the_printed_runbook() {
    let _serial = serial();
    let n = node();
    let rel = release();
    let rt = runtime();
    rt.block_on(async {
        let client = n.client().await;
        let etcd = TenantEtcd::start(n, &client, "payments", 3).await;
        let written = etcd.put_keys("/payments/", 300).await;
        let revision = etcd.revision().await;
        let name = "payments-etcd";
        create_cluster(&client, &new_cluster(name, &etcd, 5)).await;
        let good = wait_backup(rel, name, BACKUP_WAIT, |b| {
            b["revision"].as_i64().unwrap_or(0) >= revision
        })
        .await;
        let good_key = key_of(&good);
        story(&format!("restore drill: {} keys in payments-etcd, backed up as {good_key}", written.len()));

        // The disaster: every member's data is gone; the StatefulSet comes back as an empty cluster.
        etcd.scale(&client, 0).await;
        etcd.wait_no_pods(&client).await;
        for v in &etcd.volumes {
            for entry in std::fs::read_dir(v).expect("PV dir") {
                let p = entry.expect("entry").path();
                std::fs::remove_dir_all(&p)
                    .or_else(|_| std::fs::remove_file(&p))
                    .expect("wiping the member's data");
            }
        }
        etcd.scale(&client, etcd.members()).await;
        etcd.wait_healthy(Duration::from_secs(180)).await;
        let left = etcd.read_all().await;
        assert!(
            written.keys().all(|k| !left.contains_key(k)),
            "the disaster removed the data"
        );
        story("disaster: every member's data dir wiped; etcd restarted empty");

        // The guide, with the facts the StatefulSet's naming cannot guess on this node (loopback peer and
        // client URLs, where the client certificates are, the helper image that exists here) given as flags,
        // as docs/RESTORE.md tells an operator to do after checking the header.
        let drill = tempfile::tempdir().expect("drill dir");
        let work = drill.path().join("work");
        let bin = drill.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        for (link, target) in [
            ("kubectl", rig_bin("kubectl")),
            ("etcdctl", rig_bin("etcdctl")),
            ("etcdutl", rig_bin("etcdutl")),
            ("etcdbak", PathBuf::from(env!("CARGO_BIN_EXE_etcdbak"))),
        ] {
            std::os::unix::fs::symlink(target, bin.join(link)).expect("symlink");
        }
        let mut guide = rel.s3_cmd("restore-guide");
        guide
            .env("KUBECONFIG", &n.kubeconfig)
            .args(["--cluster", name, "--snapshot", &good_key])
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
            .arg(&work);
        for i in 0..etcd.members() {
            guide.arg("--member").arg(format!(
                "etcd-{i}=https://127.0.0.1:{}",
                etcd.peer_ports[i]
            ));
        }
        let out = run(&mut guide, "etcdbak restore-guide", Duration::from_secs(60));
        let text = check(&out, "etcdbak restore-guide");
        let commands = etcdbak::restore::render::commands_in_text(&text);
        assert!(commands.len() > 10, "a runbook with commands:\n{text}");
        println!("--- the runbook ---\n{text}");

        let t = Instant::now();
        let path = format!(
            "{}:{}",
            bin.display(),
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
                        .current_dir(drill.path()),
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
        println!("MEASURE: restore drill, whole runbook executed in {:.1?}", t.elapsed());

        // Every key is back on a healthy 3-member cluster, and backups resumed.
        etcd.wait_healthy(Duration::from_secs(120)).await;
        let restored = etcd.read_all().await;
        for (k, v) in &written {
            assert_eq!(
                restored.get(k),
                Some(v),
                "key {} came back",
                String::from_utf8_lossy(k)
            );
        }
        let after = etcd.revision().await;
        assert!(after >= 1_000_000_000, "the revision was bumped: {after}");
        let newest = rel.backups(name);
        assert!(
            newest.first().map(key_of).is_some_and(|k| k > good_key),
            "a backup newer than the restored one: {newest:?}"
        );
        story(&format!(
            "the runbook ran as printed ({} commands): every key is back, revision {after}, and a new backup {} was taken",
            commands.len(),
            newest.first().map(key_of).unwrap_or_default()
        ));
        let clusters: Api<Cluster> = Api::all(client.clone());
        let _ = clusters.delete(name, &DeleteParams::default()).await;
    });
}
