//! The status contract on a real node: the last successful backup, and a failing one as a condition, an
//! Event and a metric.

use std::time::Duration;

use etcdbak::crd::Cluster;
use kube::api::{Api, DeleteParams};

use crate::tenant::*;
use crate::*;

/// The status contract (docs/CONTRACT.md): `kubectl get clusters` shows the last successful backup, and a
/// failing backup shows as a condition, an Event and a metric.
#[test]
pub fn cluster_status_shows_last_backup_and_failure() {
    on_the_node(|n, rel, client| async move {
        let etcd = TenantEtcd::start(n, &client, "inventory", 1).await;
        let name = "inventory-etcd";
        create_cluster(&client, &new_cluster(name, &etcd, 3)).await;
        wait_backup(rel, name, BACKUP_WAIT, |_| true).await;
        let cluster_json = || {
            let out = run(
                n.kubectl()
                    .args(["get", "cluster.etcdbak.io", name, "-o", "json"]),
                "kubectl get cluster",
                Duration::from_secs(30),
            );
            serde_json::from_str::<serde_json::Value>(&check(&out, "kubectl get cluster"))
                .expect("Cluster JSON")
        };
        let last_success = wait_for(
            "status.lastSuccessfulTime is mirrored from the CronJob",
            Duration::from_secs(120),
            Duration::from_secs(2),
            || {
                let c = cluster_json();
                async move {
                    c["status"]["lastSuccessfulTime"]
                        .as_str()
                        .map(str::to_string)
                }
            },
        )
        .await;
        chrono::DateTime::parse_from_rfc3339(&last_success).expect("RFC 3339");
        assert!(
            cluster_json()["status"]["lastScheduleTime"]
                .as_str()
                .is_some(),
            "status.lastScheduleTime"
        );
        let out = run(
            n.kubectl().args(["get", "clusters"]),
            "kubectl get clusters",
            Duration::from_secs(30),
        );
        let table = check(&out, "kubectl get clusters");
        assert!(table.contains("LAST BACKUP"), "{table}");
        let condition = |c: &serde_json::Value, status: &str, reason: Option<&str>| {
            c["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|x| {
                    x["type"] == "BackupSucceeded"
                        && x["status"] == status
                        && reason.is_none_or(|r| x["reason"] == r)
                })
        };
        assert!(
            condition(&cluster_json(), "True", None),
            "{}",
            cluster_json()
        );

        // etcd unreachable: the next run fails, and it shows.
        etcd.scale(&client, 0).await;
        etcd.wait_no_pods(&client).await;
        wait_for(
            "BackupSucceeded=False (BackupJobFailed)",
            BACKUP_WAIT,
            Duration::from_secs(3),
            || {
                let c = cluster_json();
                async move { condition(&c, "False", Some("BackupJobFailed")).then_some(()) }
            },
        )
        .await;
        let out = run(
            n.kubectl().args([
                "get",
                "events",
                "-A",
                "--field-selector",
                &format!("involvedObject.name={name},reason=BackupFailed"),
                "-o",
                "name",
            ]),
            "kubectl get events",
            Duration::from_secs(30),
        );
        assert!(
            !check(&out, "kubectl get events").trim().is_empty(),
            "a BackupFailed Event"
        );
        let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", rel.metrics_port))
            .await
            .expect("scraping the controller")
            .text()
            .await
            .expect("metrics text");
        let failing = format!("etcdbak_cluster_backup_failing{{cluster=\"{name}\"}} 1");
        assert!(metrics.contains(&failing), "{failing} in:\n{metrics}");
        assert!(
            metrics.contains(&format!(
                "etcdbak_cluster_last_success_timestamp_seconds{{cluster=\"{name}\"}}"
            )),
            "{metrics}"
        );

        // Back: the next run succeeds and the condition clears.
        etcd.scale(&client, 1).await;
        etcd.wait_healthy(Duration::from_secs(120)).await;
        wait_for(
            "BackupSucceeded=True again",
            BACKUP_WAIT,
            Duration::from_secs(3),
            || {
                let c = cluster_json();
                async move { condition(&c, "True", None).then_some(()) }
            },
        )
        .await;
        let clusters: Api<Cluster> = Api::all(client.clone());
        let _ = clusters.delete(name, &DeleteParams::default()).await;
    });
}
