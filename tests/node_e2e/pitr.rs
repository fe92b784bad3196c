//! Issue 17's drill: a hosted control plane loses a namespace to `kubectl delete namespace`, and the
//! runbook for "one second before", executed as printed, brings it back with everything written since the
//! last full backup.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use etcdbak::crd::{Cluster, ContinuousSpec};
use kube::api::{Api, DeleteParams};

use crate::control_plane::{ControlPlane, APISERVER};
use crate::release::*;
use crate::runbook::Drill;
use crate::tenant::*;
use crate::*;

const TEAM: &str = "team-a";

#[test]
pub fn a_deleted_namespace_comes_back_to_the_second_before() {
    on_the_node(|n, rel, client| async move {
        let etcd = TenantEtcd::start(n, &client, "shop", 1).await;
        let tenant = ControlPlane::start(n, &client, &etcd).await;
        story("a hosted control plane: kube-apiserver and kube-controller-manager (Deployment shop/kube-apiserver) on a TLS etcd StatefulSet");
        tenant.run(&["create", "namespace", TEAM]);
        configmap(&tenant, "created-before-the-backup", "v1");
        configmap(&tenant, "changed-after-the-backup", "v1");

        // Continuous on, and no scheduled full backup in the way: the follower's own first full backup
        // is the base, so everything below reaches the restore only through the segments.
        let name = "shop-etcd";
        let mut cluster = new_cluster(name, &etcd, 5);
        cluster.spec.schedule = Some("0 0 1 1 *".into());
        cluster.spec.continuous = Some(ContinuousSpec {
            enabled: Some(true),
            interval: Some("2s".into()),
        });
        create_cluster(&client, &cluster).await;
        let base = wait_backup(rel, name, BACKUP_WAIT, |_| true).await;
        let base_revision = base["revision"].as_i64().unwrap_or(i64::MAX);
        story(&format!(
            "continuous backup on: the follower took full backup {} (revision {base_revision})",
            key_of(&base)
        ));

        // Written after the full backup: only the segments hold these.
        configmap(&tenant, "created-after-the-backup", "v1");
        tenant.run(&[
            "-n",
            TEAM,
            "patch",
            "configmap",
            "changed-after-the-backup",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"value":"v2"}}"#,
        ]);
        configmap(&tenant, "deleted-in-the-window", "v1");
        tenant.run(&["-n", TEAM, "delete", "configmap", "deleted-in-the-window"]);
        configmap(&tenant, "re-created-in-the-window", "v1");
        tenant.run(&[
            "-n",
            TEAM,
            "delete",
            "configmap",
            "re-created-in-the-window",
        ]);
        configmap(&tenant, "re-created-in-the-window", "v2");
        assert!(
            etcd.revision().await > base_revision,
            "the writes came after the full backup"
        );
        let expected = configmaps(&tenant);
        tokio::time::sleep(Duration::from_secs(3)).await;

        // The mistake, at T.
        let mistake = Utc::now();
        tenant.run(&["delete", "namespace", TEAM, "--wait=true", "--timeout=2m"]);
        assert!(
            !tenant
                .run(&["get", "namespaces", "-o", "name"])
                .contains(TEAM),
            "the namespace is gone"
        );
        story(&format!("at {mistake}: kubectl delete namespace {TEAM}, and the namespace controller emptied it"));
        wait_stored_past(rel, name, mistake).await;

        let to = (mistake - chrono::Duration::seconds(1))
            .trunc_subsecs(0)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let drill = Drill::new();
        let apiserver = format!("{}/{APISERVER}", etcd.ns);
        let text = drill.guide(rel, &etcd, name, &["--to", &to, "--apiserver", &apiserver]);
        assert!(text.contains("Replay"), "a runbook that replays:\n{text}");
        let commands = drill.run_as_printed(&text).await;

        tenant.wait_serving(Duration::from_secs(180)).await;
        let phase = tenant.run(&["get", "namespace", TEAM, "-o", "jsonpath={.status.phase}"]);
        assert_eq!(
            phase.trim(),
            "Active",
            "the namespace is back, not terminating"
        );
        assert_eq!(
            configmaps(&tenant),
            expected,
            "every object as it was at {to}"
        );
        story(&format!(
            "the runbook for --to {to} ran as printed ({commands} commands): namespace {TEAM} is back with its {} ConfigMaps as they were, the changes made after the full backup included",
            expected.len()
        ));
        let clusters: Api<Cluster> = Api::all(client.clone());
        let _ = clusters.delete(name, &DeleteParams::default()).await;
    });
}

fn configmap(tenant: &ControlPlane, name: &str, value: &str) {
    let literal = format!("--from-literal=value={value}");
    tenant.run(&["-n", TEAM, "create", "configmap", name, &literal]);
}

/// The namespace's own ConfigMaps (not the root CA one a controller may add) by name, with their values.
fn configmaps(tenant: &ControlPlane) -> BTreeMap<String, String> {
    let text = tenant.run(&["-n", TEAM, "get", "configmaps", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_str(&text).expect("kubectl JSON");
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|cm| {
            let name = cm["metadata"]["name"].as_str()?;
            let value = cm["data"]["value"].as_str()?;
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

/// Waits until the bucket holds every change up to past `t`: `etcdbak list` shows the newest backup's
/// chain of segments closing after it, as an operator would look before restoring.
async fn wait_stored_past(rel: &Release, name: &str, t: DateTime<Utc>) {
    let reach = wait_backup(rel, name, Duration::from_secs(120), |b| {
        b["chain"]["at"]
            .as_str()
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .is_some_and(|at| at.with_timezone(&Utc) > t)
    })
    .await;
    story(&format!(
        "etcdbak list: the chain of {} reaches r{} ({} segments, closed {}): the deletion itself is stored too",
        key_of(&reach),
        reach["chain"]["revision"],
        reach["chain"]["segments"],
        reach["chain"]["at"].as_str().unwrap_or_default()
    ));
}
