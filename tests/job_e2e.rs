//! End to end without a kubelet: the controller renders a Cluster's CronJob into a real kube-apiserver, and this
//! test runs that stored Job's containers as local processes, the way a kubelet would (emptyDirs as temp
//! dirs, the mirrored TLS Secret as files, env resolved from the referenced Secrets, container paths mapped
//! onto those dirs), against a real 3-member TLS etcd and a real MinIO. Then the same for the cleanup Job after
//! the Cluster is deleted. This proves the rendered Jobs work, not only that they validate.
mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use common::etcd::EtcdCluster;
use common::kube::{create_namespace, rig};
use common::minio::{Minio, ACCESS_KEY, BUCKET, SECRET_KEY};
use etcdbak::config::Config;
use etcdbak::controller::{reconcile, Context};
use etcdbak::crd::{Cluster, ClusterSpec};
use etcdbak::metrics::Metrics;
use etcdbak::template;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Container, PodSpec, Secret};
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::events::{Recorder, Reporter};
use kube::Client;

const JOB_NS: &str = "etcdbak-e2e";
const TENANT: &str = "tenant-e2e";
const CLUSTER: &str = "orders";
const PREFIX: &str = "e2e";

/// Secret data in the job namespace, by (secret, key): what `secretKeyRef` and secret volumes resolve to.
type Secrets = HashMap<(String, String), Vec<u8>>;

async fn job_ns_secrets(client: &Client) -> Secrets {
    let api: Api<Secret> = Api::namespaced(client.clone(), JOB_NS);
    let mut out = HashMap::new();
    for s in api.list(&ListParams::default()).await.unwrap().items {
        let name = s.metadata.name.clone().unwrap();
        for (k, v) in s.data.unwrap_or_default() {
            out.insert((name.clone(), k), v.0);
        }
    }
    out
}

/// Materialises the pod's volumes as local dirs, by volume name.
fn volumes(pod: &PodSpec, secrets: &Secrets, root: &Path) -> HashMap<String, PathBuf> {
    let mut out = HashMap::new();
    for v in pod.volumes.as_deref().unwrap_or_default() {
        let dir = root.join(&v.name);
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(src) = &v.secret {
            let secret = src.secret_name.clone().unwrap();
            let mut found = 0;
            for ((name, key), value) in secrets {
                if *name == secret {
                    std::fs::write(dir.join(key), value).unwrap();
                    found += 1;
                }
            }
            assert!(
                found > 0,
                "volume {} names Secret {secret}, which has no data",
                v.name
            );
        } else {
            assert!(
                v.empty_dir.is_some(),
                "volume {} is neither an emptyDir nor a Secret",
                v.name
            );
        }
        out.insert(v.name.clone(), dir);
    }
    out
}

/// Runs one container as a local process. `etcdbak` is the binary under test (the image's entrypoint).
fn run_container(c: &Container, vols: &HashMap<String, PathBuf>, secrets: &Secrets) -> Output {
    let mut mounts: Vec<(String, PathBuf)> = c
        .volume_mounts
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|m| {
            let local = vols
                .get(&m.name)
                .unwrap_or_else(|| panic!("{} mounts unknown volume {}", c.name, m.name));
            (m.mount_path.clone(), local.clone())
        })
        .collect();
    // Longest mount path first, so /backup/x maps through /backup and not through /.
    mounts.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    let map_path = |s: &str| -> String {
        for (mount, local) in &mounts {
            if s == mount || s.starts_with(&format!("{mount}/")) {
                return format!("{}{}", local.display(), &s[mount.len()..]);
            }
        }
        s.to_string()
    };

    let mut argv: Vec<String> = c.command.clone().unwrap_or_default();
    argv.extend(c.args.clone().unwrap_or_default());
    assert_eq!(
        argv.first().map(String::as_str),
        Some("etcdbak"),
        "{}: {argv:?}",
        c.name
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_etcdbak"));
    cmd.args(argv[1..].iter().map(|a| map_path(a)));
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    for e in c.env.as_deref().unwrap_or_default() {
        let value = if let Some(v) = &e.value {
            map_path(v)
        } else if let Some(r) = e
            .value_from
            .as_ref()
            .and_then(|f| f.secret_key_ref.as_ref())
        {
            let v = secrets
                .get(&(r.name.clone(), r.key.clone()))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: env {} names {}/{}, not found",
                        c.name, e.name, r.name, r.key
                    )
                });
            String::from_utf8(v.clone()).unwrap()
        } else {
            panic!(
                "{}: env {} uses a source this test cannot resolve",
                c.name, e.name
            );
        };
        cmd.env(&e.name, value);
    }
    cmd.output().expect("running the container's command")
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pod_of_cron_job(cj: &CronJob) -> PodSpec {
    cj.spec
        .clone()
        .unwrap()
        .job_template
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
}

#[test]
fn the_rendered_jobs_back_up_into_minio_and_clean_up_without_a_kubelet() {
    let etcd = EtcdCluster::start(3, true);
    let written = etcd.put_keys("e2e/", 300, 128);
    let minio = Minio::start();
    let certs = etcd.certs().expect("TLS etcd");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let config = Config::from_yaml(
        &format!(
            "jobNamespace: {JOB_NS}
defaultSchedule: \"H * * * *\"
image: registry.example/etcdbak:e2e
s3:
  endpoint: {}
  region: us-east-1
  bucket: {BUCKET}
  prefix: {PREFIX}
  pathStyle: true
",
            minio.endpoint()
        ),
        None,
    )
    .unwrap();
    let endpoints: Vec<String> = etcd.endpoints().split(',').map(str::to_string).collect();

    let (ctx, client) = rt.block_on(async {
        let client = rig().client().await;
        create_namespace(&client, JOB_NS).await;
        create_namespace(&client, TENANT).await;
        let read = |p: &Path| ByteString(std::fs::read(p).unwrap());
        let tls = Secret {
            metadata: ObjectMeta {
                name: Some("etcd-client-tls".into()),
                ..Default::default()
            },
            data: Some(BTreeMap::from([
                ("ca.crt".to_string(), read(&certs.ca)),
                ("tls.crt".to_string(), read(&certs.client_cert)),
                ("tls.key".to_string(), read(&certs.client_key)),
            ])),
            ..Default::default()
        };
        Api::<Secret>::namespaced(client.clone(), TENANT)
            .create(&PostParams::default(), &tls)
            .await
            .unwrap();
        // The admin's S3 credentials: only in the job namespace.
        let s3 = Secret {
            metadata: ObjectMeta {
                name: Some("etcdbak-s3".into()),
                ..Default::default()
            },
            string_data: Some(BTreeMap::from([
                ("AWS_ACCESS_KEY_ID".to_string(), ACCESS_KEY.to_string()),
                ("AWS_SECRET_ACCESS_KEY".to_string(), SECRET_KEY.to_string()),
            ])),
            ..Default::default()
        };
        Api::<Secret>::namespaced(client.clone(), JOB_NS)
            .create(&PostParams::default(), &s3)
            .await
            .unwrap();
        Api::<Cluster>::all(client.clone())
            .create(
                &PostParams::default(),
                &Cluster::new(
                    CLUSTER,
                    ClusterSpec {
                        namespace: TENANT.into(),
                        endpoints: Some(endpoints.clone()),
                        service: None,
                        tls_secret: Some("etcd-client-tls".into()),
                        schedule: None,
                        keep: Some(5),
                        suspend: None,
                    },
                ),
            )
            .await
            .unwrap();
        let ctx = Arc::new(Context::new(
            client.clone(),
            config,
            Recorder::new(
                client.clone(),
                Reporter {
                    controller: "etcdbak".into(),
                    instance: Some("e2e".into()),
                },
            ),
            Arc::new(Metrics::new()),
            Duration::from_secs(600),
        ));
        let api: Api<Cluster> = Api::all(client.clone());
        for _ in 0..2 {
            let c = api.get(CLUSTER).await.unwrap();
            reconcile(Arc::new(c), ctx.clone())
                .await
                .expect("reconcile");
        }
        (ctx, client)
    });

    // The CronJob as the apiserver stored it, and the Secrets its pod would see.
    let (cj, secrets) = rt.block_on(async {
        let cj = Api::<CronJob>::namespaced(client.clone(), JOB_NS)
            .get(&template::cron_job_name(CLUSTER))
            .await
            .unwrap();
        (cj, job_ns_secrets(&client).await)
    });
    let pod = pod_of_cron_job(&cj);
    let root = tempfile::tempdir().unwrap();
    let vols = volumes(&pod, &secrets, root.path());

    // Pod order: init containers to completion, then the containers (one here: the store template).
    for c in pod.init_containers.as_deref().unwrap_or_default() {
        assert_ok(
            &run_container(c, &vols, &secrets),
            &format!("init container {}", c.name),
        );
    }
    let backup_dir = &vols[template::BACKUP_VOLUME];
    assert!(
        backup_dir.join("snapshot.db").exists(),
        "the seed's contract: /backup/snapshot.db"
    );
    for c in &pod.containers {
        assert_ok(
            &run_container(c, &vols, &secrets),
            &format!("container {}", c.name),
        );
    }
    let keys = minio.keys(&format!("{PREFIX}/"));
    println!("backup objects: {keys:?}");
    assert!(
        keys.iter()
            .any(|k| k.contains(CLUSTER) && k.ends_with(".db")),
        "no snapshot of {CLUSTER} in the bucket: {keys:?}"
    );

    // The stored object is the etcd data: restore it with etcd's own tool and read the keys back.
    let db_key = keys.iter().find(|k| k.ends_with(".db")).unwrap();
    let restored_file = root.path().join("restored.db");
    std::fs::write(&restored_file, minio.get(db_key)).unwrap();
    let restored = EtcdCluster::start_from_snapshot(&restored_file, 1, false);
    let back = restored.read_all();
    for (k, v) in &written {
        assert_eq!(
            back.get(k),
            Some(v),
            "key {:?} after restore",
            String::from_utf8_lossy(k)
        );
    }
    drop(restored);

    // Deletion: the cleanup Job the controller creates, run the same way, empties the cluster's prefix.
    let job = rt.block_on(async {
        Api::<Cluster>::all(client.clone())
            .delete(CLUSTER, &DeleteParams::default())
            .await
            .unwrap();
        let c = Api::<Cluster>::all(client.clone())
            .get(CLUSTER)
            .await
            .unwrap();
        reconcile(Arc::new(c), ctx.clone())
            .await
            .expect("cleanup step");
        Api::<Job>::namespaced(client.clone(), JOB_NS)
            .get(&template::cleanup_job_name(CLUSTER))
            .await
            .expect("the cleanup Job")
    });
    let pod = job.spec.clone().unwrap().template.spec.unwrap();
    let root = tempfile::tempdir().unwrap();
    let vols = volumes(&pod, &secrets, root.path());
    for c in pod.init_containers.as_deref().unwrap_or_default() {
        assert_ok(
            &run_container(c, &vols, &secrets),
            &format!("init container {}", c.name),
        );
    }
    for c in &pod.containers {
        assert_ok(
            &run_container(c, &vols, &secrets),
            &format!("cleanup container {}", c.name),
        );
    }
    let left: Vec<String> = minio
        .keys(&format!("{PREFIX}/"))
        .into_iter()
        .filter(|k| k.contains(CLUSTER))
        .collect();
    assert!(left.is_empty(), "the cleanup left {left:?}");

    // Its success (what the Job controller would write) releases the Cluster.
    rt.block_on(async {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let cond = |t: &str| {
            serde_json::json!({"type": t, "status": "True", "reason": "Test", "message": "ran locally",
                "lastProbeTime": now, "lastTransitionTime": now})
        };
        Api::<Job>::namespaced(client.clone(), JOB_NS)
            .patch_status(
                &template::cleanup_job_name(CLUSTER),
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"status": {
                    "startTime": now, "completionTime": now, "succeeded": 1,
                    "conditions": [cond("SuccessCriteriaMet"), cond("Complete")],
                }})),
            )
            .await
            .unwrap();
        let c = Api::<Cluster>::all(client.clone()).get(CLUSTER).await.unwrap();
        reconcile(Arc::new(c), ctx.clone()).await.expect("finish");
        assert!(Api::<Cluster>::all(client.clone())
            .get_opt(CLUSTER)
            .await
            .unwrap()
            .is_none());
    });
}
