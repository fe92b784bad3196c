//! `etcdbak watch` as a process: following its config file (laid out as a ConfigMap volume) and keeping
//! the last good one, leader election between replicas, and stepping down when the Lease is taken. Every
//! test holds `serial()`: they share one apiserver and its Leases.

use std::time::{Duration, Instant};

use etcdbak::crd::Cluster;
use etcdbak::naming;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};

use crate::common::controller::*;
use crate::common::eventually;
use crate::common::kube::{create_namespace, rig, serial};
use crate::common::watch::*;

/// Whether `cluster`'s CronJob has the schedule and image of the second config the test below writes.
async fn renders_the_second_config(client: &kube::Client, cluster: &str) -> bool {
    let want = etcdbak::schedule::expand("H 4 * * *", cluster).unwrap();
    cron_job(client, cluster).await.is_some_and(|cj| {
        let spec = cj.spec.unwrap();
        let pod = spec.job_template.spec.unwrap().template.spec.unwrap();
        spec.schedule == want
            && pod.init_containers.unwrap_or_default()[0].image.as_deref()
                == Some("registry.example/etcdbak:v2")
    })
}

#[tokio::test]
async fn watch_follows_a_configmap_update_keeps_the_last_good_one_and_reports_pending_cleanup() {
    let _serial = serial().await;
    let client = rig().client().await;
    let name = "cfgwatch";
    tenant(&client, "tenant-cfg").await;
    let dir = tempfile::tempdir().unwrap();
    let config = configmap_volume_write(dir.path(), 1, &config_yaml(""));
    let w = start_watch(&config, "replica-cfg", &dir.path().join("watch.log"));
    create_cluster(&client, &new_cluster(name, "tenant-cfg")).await;
    eventually("the CronJob", Duration::from_secs(60), || async {
        cron_job(&client, name).await.is_some()
    })
    .await;

    // The admin changes the schedule default and the snapshot image in the ConfigMap.
    configmap_volume_write(
        dir.path(),
        2,
        &format!(
            "jobNamespace: {JOB_NS}\ndefaultSchedule: \"H 4 * * *\"\nimage: registry.example/etcdbak:v2\ns3: {{endpoint: \"http://minio.etcdbak.svc:9000\", bucket: etcd-backups}}\n"
        ),
    );
    eventually(
        "the CronJob to follow the config",
        Duration::from_secs(30),
        || async { renders_the_second_config(&client, name).await },
    )
    .await;

    // An invalid config is refused, and the watch says so in its log: the last good one stays in force,
    // for the Clusters it had and for one created now.
    configmap_volume_write(dir.path(), 3, "jobNamespace: [not, a, string]\n");
    wait_for_log(
        &w,
        "the changed config is invalid, keeping the previous one",
        Duration::from_secs(30),
    )
    .await;
    assert!(
        leader_gauge(&w).await == Some(1),
        "still running and leading after a bad config"
    );
    let late = "cfgwatch-late";
    create_cluster(&client, &new_cluster(late, "tenant-cfg")).await;
    eventually(
        "a Cluster created after the bad config to get a CronJob from the last good one",
        Duration::from_secs(30),
        || async { renders_the_second_config(&client, late).await },
    )
    .await;
    assert!(
        renders_the_second_config(&client, name).await,
        "the bad config changed an existing CronJob"
    );

    // While the cleanup is pending, the metrics say so (the CleanupStuck alert reads these).
    delete_cluster(&client, name).await;
    eventually("the cleanup Job", Duration::from_secs(30), || async {
        !cleanup_jobs(&client, name).await.is_empty()
    })
    .await;
    let metrics_url = format!("{}/metrics", w.metrics);
    eventually(
        "pending-cleanup metrics",
        // A loaded 2-core CI machine can take a while to run the reconcile that updates the gauges.
        Duration::from_secs(30),
        || async {
            let body = http_get(&metrics_url)
                .await
                .map(|r| r.1)
                .unwrap_or_default();
            body.contains("etcdbak_cleanups_pending 1")
                && body.contains(&format!(
                    "etcdbak_cluster_deletion_timestamp_seconds{{cluster=\"{name}\"}}"
                ))
        },
    )
    .await;
    finish_job(
        &client,
        &naming::cleanup_job_name(name),
        true,
        Duration::ZERO,
    )
    .await;
    let api: Api<Cluster> = Api::all(client.clone());
    eventually(
        "the Cluster to be deleted",
        Duration::from_secs(30),
        || async { api.get_opt(name).await.unwrap().is_none() },
    )
    .await;
    eventually("its series to go", Duration::from_secs(10), || async {
        let body = http_get(&metrics_url)
            .await
            .map(|r| r.1)
            .unwrap_or_default();
        body.contains("etcdbak_cleanups_pending 0")
            && !body.contains(&format!("cluster=\"{name}\""))
    })
    .await;
    // Stopped first: a running controller would put its finalizer back between purge's two writes.
    drop(w);
    purge(&client, late).await;
}

#[tokio::test]
async fn two_replicas_elect_one_leader_and_metrics_pass_promtool() {
    let _serial = serial().await;
    let client = rig().client().await;
    tenant(&client, "tenant-ha").await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), "");
    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    // A 30s Lease, its own: a standby that takes over well within 30s proves the leader released it.
    let ha = ["--lease-name", "etcdbak-ha", "--lease-duration", "30s"];
    let mut a = start_watch_with(&config, "replica-a", &log_a, &ha);
    let mut b = start_watch_with(&config, "replica-b", &log_b, &ha);

    let mut bad = new_cluster("ha-bad", "tenant-ha");
    bad.spec.schedule = Some("61 * * * *".into());
    create_cluster(&client, &bad).await;
    create_cluster(&client, &new_cluster("ha-good", "tenant-ha")).await;

    eventually("one leader", Duration::from_secs(30), || async {
        let (x, y) = (leader_gauge(&a).await, leader_gauge(&b).await);
        matches!((x, y), (Some(1), Some(0)) | (Some(0), Some(1)))
    })
    .await;
    eventually("the CronJob", Duration::from_secs(30), || async {
        cron_job(&client, "ha-good").await.is_some()
    })
    .await;
    // Stays that way: the standby does not grab the Lease while the leader renews. Seen once the leader
    // has renewed it (a third of the 30s Lease), by when the standby has tried for it too.
    let leases: Api<Lease> = Api::namespaced(client.clone(), JOB_NS);
    let renewed = |l: Lease| l.spec.and_then(|s| s.renew_time).map(|t| t.0);
    let first = renewed(leases.get("etcdbak-ha").await.unwrap());
    eventually(
        "the leader to renew its Lease",
        Duration::from_secs(30),
        || async { renewed(leases.get("etcdbak-ha").await.unwrap()) > first },
    )
    .await;
    let (la, lb) = (leader_gauge(&a).await, leader_gauge(&b).await);
    assert_eq!(
        la.unwrap_or(0) + lb.unwrap_or(0),
        1,
        "exactly one leader: {la:?} {lb:?}"
    );
    let a_leads = la == Some(1);
    let leader_name = if a_leads { "replica-a" } else { "replica-b" };
    let lease = leases.get("etcdbak-ha").await.unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some(leader_name)
    );

    let (leader, standby) = if a_leads {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    // The leader's scrape has every contracted series, and promtool's linter accepts it.
    let (code, body) = http_get(&format!("{}/metrics", leader.metrics))
        .await
        .unwrap();
    assert_eq!(code, 200);
    for name in [
        "etcdbak_reconcile_total{result=\"success\"}",
        "etcdbak_reconcile_errors_total{reason=\"InvalidSchedule\"}",
        "etcdbak_reconcile_duration_seconds_bucket",
        "etcdbak_clusters_managed",
        "etcdbak_cleanups_pending",
        "etcdbak_cluster_cronjob_present{cluster=\"ha-good\"} 1",
        "etcdbak_cluster_cronjob_present{cluster=\"ha-bad\"} 0",
        "etcdbak_cluster_backup_interval_seconds{cluster=\"ha-good\"} ",
        "etcdbak_cluster_suspended{cluster=\"ha-good\"} 0",
        "etcdbak_leader 1",
    ] {
        assert!(body.contains(name), "missing {name} in\n{body}");
    }
    crate::common::promtool_check_metrics(&body);
    for path in ["/healthz", "/readyz"] {
        for w in [&*leader, &*standby] {
            let (code, _) = http_get(&format!("{}{path}", w.metrics)).await.unwrap();
            assert_eq!(code, 200, "{path}");
        }
    }

    // SIGTERM: the leader stops cleanly, releases the Lease, and the standby takes over well before the
    // 30s Lease would have expired.
    sigterm(&leader.proc);
    let stopped = Instant::now();
    eventually(
        "the standby to take over",
        Duration::from_secs(20),
        || async { leader_gauge(standby).await == Some(1) },
    )
    .await;
    println!(
        "MEASURE: standby took over {:.2?} after SIGTERM of the leader (Lease duration 30s)",
        stopped.elapsed()
    );
    let status = wait_for_exit(leader, Duration::from_secs(20)).await;
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");

    // Both stopped first: a running controller would put its finalizer back between purge's two writes.
    drop((a, b));
    purge(&client, "ha-bad").await;
    purge(&client, "ha-good").await;
}

#[tokio::test]
async fn a_leader_whose_lease_is_taken_stops_and_exits() {
    let _serial = serial().await;
    let client = rig().client().await;
    create_namespace(&client, JOB_NS).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), "");
    let log = dir.path().join("lost.log");
    let mut w = start_watch_with(
        &config,
        "replica-lost",
        &log,
        &["--lease-name", "etcdbak-lost", "--lease-duration", "3s"],
    );
    eventually("leading", Duration::from_secs(30), || async {
        leader_gauge(&w).await == Some(1)
    })
    .await;

    // Someone else now holds the Lease (as after a partition during which it expired).
    let leases: Api<Lease> = Api::namespaced(client.clone(), JOB_NS);
    let mut lease = leases.get("etcdbak-lost").await.unwrap();
    let spec = lease.spec.as_mut().unwrap();
    spec.holder_identity = Some("intruder".into());
    spec.lease_duration_seconds = Some(3600);
    spec.renew_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
        k8s_openapi::jiff::Timestamp::now(),
    ));
    leases
        .replace("etcdbak-lost", &PostParams::default(), &lease)
        .await
        .unwrap();

    let status = wait_for_exit(&mut w, Duration::from_secs(15)).await;
    assert_eq!(status.code(), Some(1), "{}", log_tail(&log));
    assert!(
        log_tail(&log).contains("lost the leader Lease"),
        "{}",
        log_tail(&log)
    );
    // It did not hand the Lease back to itself on the way out.
    let lease = leases.get("etcdbak-lost").await.unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("intruder")
    );
}
