//! `etcdbak restore-guide` against a real MinIO: which snapshot it picks, and how it fails.

mod common;

use std::process::Output;

use common::etcd::EtcdCluster;
use common::etcdbak;
use common::minio::Minio;

fn s3(minio: &Minio) -> Vec<String> {
    let mut a = minio.s3_args();
    a.extend(["--prefix".into(), "etcdbak".into()]);
    a
}

fn guide(minio: &Minio, extra: &[&str]) -> Output {
    minio
        .creds_env(
            etcdbak()
                .args(["restore-guide", "--no-kube", "--token", "t"])
                .args(s3(minio))
                .args(extra),
        )
        .output()
        .expect("run etcdbak restore-guide")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "restore-guide failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Two real backups of one cluster, taken by `etcdbak snapshot` + `etcdbak store`; returns their keys,
/// oldest first.
fn two_backups(minio: &Minio, cluster: &str) -> Vec<String> {
    let etcd = EtcdCluster::start(1, false);
    let scratch = tempfile::tempdir().unwrap();
    for round in 0..2 {
        etcd.put_keys(&format!("r{round}/"), 50, 50);
        let dir = scratch.path().join(format!("s{round}"));
        let out = etcdbak()
            .arg("snapshot")
            .args(etcd.etcdbak_args())
            .arg("--dir")
            .arg(&dir)
            .args(["--cluster", cluster])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = minio
            .creds_env(
                etcdbak()
                    .arg("store")
                    .arg("--dir")
                    .arg(&dir)
                    .args(["--cluster", cluster])
                    .args(s3(minio)),
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut keys = minio.keys(&format!("etcdbak/{cluster}/"));
    keys.sort();
    assert_eq!(keys.len(), 2, "{keys:?}");
    keys
}

#[test]
fn picks_the_newest_verified_backup_or_the_one_asked_for() {
    let minio = Minio::start();
    let keys = two_backups(&minio, "web");

    // Non-interactive (stdin is not a terminal): the newest verified backup.
    let text = stdout(&guide(&minio, &["--cluster", "web"]));
    assert!(text.contains(&format!("--key {} ", keys[1])), "{text}");
    assert!(
        text.starts_with("Restore etcd cluster web from a backup\n"),
        "{text}"
    );
    let (meta, _) = minio.head(&keys[1]);
    assert!(
        text.contains(&meta["sha256"]),
        "the full SHA-256 from the metadata: {text}"
    );

    // By file name, and by full key.
    let older = keys[0].rsplit('/').next().unwrap();
    let text = stdout(&guide(&minio, &["--cluster", "web", "--snapshot", older]));
    assert!(text.contains(&format!("--key {} ", keys[0])), "{text}");
    let text = stdout(&guide(
        &minio,
        &["--cluster", "web", "--snapshot", &keys[0], "-o", "markdown"],
    ));
    assert!(text.starts_with("# Restore etcd cluster web"), "{text}");
    assert!(text.contains(&format!("--key {} ", keys[0])), "{text}");

    // A newer object named like a backup but without the metadata `etcdbak store` writes after verifying
    // is never the default choice.
    let fake = "etcdbak/web/29991231T235959.999Z-r1-00000000.db";
    minio.put(fake, b"not a snapshot");
    let text = stdout(&guide(&minio, &["--cluster", "web"]));
    assert!(text.contains(&format!("--key {} ", keys[1])), "{text}");
    assert!(!text.contains(fake), "{text}");
}

#[test]
fn names_what_to_fix_when_there_is_nothing_to_restore() {
    let minio = Minio::start();
    let out = guide(&minio, &["--cluster", "ghost"]);
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cluster ghost has no backups under s3://backups/etcdbak/ghost/"),
        "{err}"
    );

    // Only unverified objects: exit 5 (corrupt snapshot), pointing at --snapshot.
    minio.put("etcdbak/ghost/20261125T103000.123Z-r5-0123abcd.db", b"x");
    let out = guide(&minio, &["--cluster", "ghost"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--snapshot"));

    let out = guide(&minio, &["--cluster", "ghost", "--snapshot", "nope.db"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("etcdbak list --cluster ghost"));

    let out = guide(&minio, &["--cluster", "Bad_Name"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// With a kubeconfig, the guide reads the Cluster resource (namespace, service, CronJob from its status) and
/// the StatefulSet (replicas, headless service, claim template) from a real kube-apiserver; flags still win.
#[test]
fn reads_the_cluster_and_statefulset_from_a_real_apiserver() {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use kube::api::{Api, Patch, PatchParams, PostParams};

    let rig = common::kube::rig();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = rig.client().await;
        common::kube::create_namespace(&client, "restore-tenant").await;
        let clusters: Api<etcdbak::crd::Cluster> = Api::all(client.clone());
        let cluster = common::fixtures::cluster_via_service("orders", "restore-tenant", "orders-etcd");
        match clusters.create(&PostParams::default(), &cluster).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => panic!("creating the Cluster: {e}"),
        }
        clusters
            .patch_status(
                "orders",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({
                    "status": {"cronJobName": "etcdbak-system/etcdbak-orders"}
                })),
            )
            .await
            .unwrap();
        let sts: StatefulSet = serde_json::from_value(serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "orders-etcd", "namespace": "restore-tenant"},
            "spec": {
                "replicas": 5,
                "serviceName": "orders-etcd-peers",
                "selector": {"matchLabels": {"app": "orders-etcd"}},
                "template": {
                    "metadata": {"labels": {"app": "orders-etcd"}},
                    "spec": {"containers": [{"name": "etcd", "image": "registry.k8s.io/etcd:3.6.5-0"}]}
                },
                "volumeClaimTemplates": [{
                    "metadata": {"name": "etcd-data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
                }]
            }
        }))
        .unwrap();
        let api: Api<StatefulSet> = Api::namespaced(client, "restore-tenant");
        match api.create(&PostParams::default(), &sts).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => panic!("creating the StatefulSet: {e}"),
        }
    });

    let minio = Minio::start();
    two_backups(&minio, "orders");
    let with_kube = |extra: &[&str]| {
        let out = minio
            .creds_env(
                etcdbak()
                    .args(["restore-guide", "--cluster", "orders", "--token", "t"])
                    .args(s3(&minio))
                    .args(extra)
                    .env("KUBECONFIG", &rig.kubeconfig),
            )
            .output()
            .unwrap();
        stdout(&out)
    };
    let text = with_kube(&[]);
    assert!(
        text.contains("StatefulSet:        restore-tenant/orders-etcd (5 members)"),
        "{text}"
    );
    assert!(text.contains("--name orders-etcd-4 "), "{text}");
    assert!(
        text.contains("--initial-advertise-peer-urls https://orders-etcd-4.orders-etcd-peers.restore-tenant.svc:2380 "),
        "{text}"
    );
    assert!(
        text.contains("\"claimName\":\"etcd-data-orders-etcd-0\""),
        "{text}"
    );
    assert!(
        text.contains("kubectl -n etcdbak-system get cronjob etcdbak-orders"),
        "{text}"
    );

    // Flags win over what the apiserver says; --no-kube ignores it altogether.
    let text = with_kube(&["--replicas", "3", "--namespace", "restore-tenant"]);
    assert!(text.contains("(3 members)"), "{text}");
    let text = with_kube(&["--no-kube"]);
    assert!(
        text.contains("StatefulSet:        default/orders (3 members)"),
        "{text}"
    );
}
