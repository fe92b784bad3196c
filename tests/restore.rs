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
        err.contains(
            "no backups of cluster \"ghost\" under s3://backups/etcdbak/ghost/: check --bucket, --prefix"
        ),
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

/// Runs one shell line as an operator would paste it, with the rig's etcdutl first on PATH.
fn sh(line: &str, cwd: &std::path::Path) -> Output {
    let rig = common::rig_bin("etcdutl").parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        rig.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    std::process::Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(cwd)
        .env("PATH", path)
        .output()
        .expect("run sh")
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The guide's way without etcdbak, followed with Debian's own `age` and `zstd` (scripts/rig-install
/// age-zstd) on objects those same tools made from a real snapshot: the printed commands turn each format
/// back into the exact snapshot, sha256sum prints the SHA-256 the guide names, and a wrong identity leaves no
/// snapshot.db behind.
#[test]
fn the_standard_tools_restore_each_format_as_the_guide_prints() {
    use etcdbak::pipeline::Format;
    use etcdbak::restore::{plan, runbook, KubeFacts, S3Location, Snapshot};
    use sha2::{Digest, Sha256};

    for tool in ["age", "age-keygen", "zstd"] {
        let found = std::process::Command::new(tool).arg("--version").output();
        assert!(
            found.is_ok(),
            "{tool} is missing: run scripts/rig-install age-zstd"
        );
    }
    let etcd = EtcdCluster::start(1, false);
    etcd.put_keys("tools/", 200, 100);
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    ok(
        etcdbak()
            .arg("snapshot")
            .args(etcd.etcdbak_args())
            .arg("--dir")
            .arg(dir.join("snap"))
            .args(["--cluster", "tools"])
            .output()
            .unwrap(),
        "etcdbak snapshot",
    );
    let original = std::fs::read(dir.join("snap/snapshot.db")).unwrap();
    let sha = hex::encode(Sha256::digest(&original));
    ok(
        sh("age-keygen -o key.txt && age-keygen -o other.txt", dir),
        "age-keygen",
    );
    let recipient = ok(sh("age-keygen -y key.txt", dir), "age-keygen -y");
    let recipient = recipient.trim();

    let encode = [
        (Format::ZSTD, "zstd -q -c snap/snapshot.db".to_string()),
        (Format::AGE, format!("age -r {recipient} snap/snapshot.db")),
        (
            Format::ZSTD_AGE,
            format!("zstd -q -c snap/snapshot.db | age -r {recipient}"),
        ),
    ];
    for (format, encode) in encode {
        let work = dir.join(format!("restore{}", format.suffix()));
        std::fs::create_dir_all(&work).unwrap();
        let name = format!("20261125T103000.123Z-r5-{}{}", &sha[..8], format.suffix());
        ok(
            sh(&format!("{encode} > {}", work.join(&name).display()), dir),
            "encode",
        );
        let layout = plan::Layout {
            workdir: Some(work.display().to_string()),
            identity: Some(dir.join("key.txt").display().to_string()),
            ..common::fixtures::restore_layout()
        };
        let s3 = S3Location {
            endpoint: None,
            region: "us-east-1".into(),
            bucket: "b".into(),
            prefix: "etcdbak".into(),
        };
        let snapshot = Snapshot {
            key: format!("etcdbak/tools/{name}"),
            taken_at: "2026-11-25T10:30:00.123Z".parse().unwrap(),
            revision: 5,
            size_bytes: 1,
            sha256: sha.clone(),
            format,
        };
        let p = plan::resolve(
            "tools",
            &layout,
            &s3,
            &KubeFacts::default(),
            snapshot,
            chrono::Utc::now(),
        )
        .unwrap();
        let manual = runbook::runbook(&p).steps[1].manual.clone().unwrap();
        // [0] is the AWS CLI's fetch; the object is already where it would put it.
        assert!(manual.commands[0].ends_with(&format!("{name} --region us-east-1")));
        if format.encrypted {
            let wrong = manual.commands[1].replace("key.txt", "other.txt");
            assert!(!sh(&wrong, dir).status.success(), "{format:?}: {wrong}");
            assert!(
                !work.join("snapshot.db").exists(),
                "{format:?}: a wrong identity left a snapshot.db"
            );
        }
        ok(sh(&manual.commands[1], dir), &manual.commands[1]);
        assert!(
            std::fs::read(work.join("snapshot.db")).unwrap() == original,
            "{format:?}: not the snapshot"
        );
        let sum = ok(sh(&manual.commands[2], dir), "sha256sum");
        assert!(sum.starts_with(&sha), "{format:?}: {sum}");
        let status = ok(sh(&manual.commands[3], dir), "etcdutl snapshot status");
        assert!(status.contains("REVISION"), "{status}");
    }
}
