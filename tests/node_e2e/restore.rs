//! The restore drill: the printed runbook executed against a StatefulSet whose data was destroyed.

use std::time::Duration;

use etcdbak::crd::Cluster;
use kube::api::{Api, DeleteParams};

use crate::release::*;
use crate::runbook::Drill;
use crate::tenant::*;
use crate::*;

/// The runbook `etcdbak restore-guide` prints, executed command by command as printed, against a real
/// StatefulSet whose data was destroyed.
#[test]
pub fn restore_drill_runs_the_printed_runbook() {
    on_the_node(|n, rel, client| async move {
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
        story(&format!(
            "restore drill: {} keys in payments-etcd, backed up as {good_key}",
            written.len()
        ));

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

        let drill = Drill::new();
        let text = drill.guide(rel, &etcd, name, &["--snapshot", &good_key]);
        let commands = drill.run_as_printed(&text).await;

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
            "the runbook ran as printed ({commands} commands): every key is back, revision {after}, and a new backup {} was taken",
            newest.first().map(key_of).unwrap_or_default()
        ));
        let clusters: Api<Cluster> = Api::all(client.clone());
        let _ = clusters.delete(name, &DeleteParams::default()).await;
    });
}
