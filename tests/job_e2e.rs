//! Issue 3's "end-to-end without a kubelet": the Jobs the controller renders really work, not just validate.
//!
//! Real servers only: a 3-member TLS etcd, MinIO, and the kube-apiserver rig (no kubelet, no
//! controller-manager). `etcdbak reconcile` (the binary) runs with a config derived from
//! examples/config.yaml, pointed at the rig's MinIO; the test reads the CronJob (and the mirrored TLS Secret)
//! it created back from the apiserver, creates a Job from its jobTemplate as the CronJob controller would,
//! and then plays kubelet for that Job's pod (tests/common/podrun.rs): volumes as temp dirs, env resolved
//! from the apiserver's Secrets, container paths mapped to those dirs, `etcdbak` replaced by the binary under
//! test. Then the backup is checked in the bucket, listed, downloaded and restored with etcdutl; retention
//! runs with the Cluster's `keep`; and the cleanup Job that deleting the Cluster produces is run the same way:
//! once succeeding, once really failing (a wrong S3 key: the finalizer and the backups stay, the retried Job
//! cleans up).
//!
//! Two tests pin down product bugs found here, both fixed: a backup Job in flight when its Cluster is
//! deleted uploaded after the cleanup (the controller now waits for it), and a Cluster named with a dot got
//! a CronJob whose store container always failed (such names are now refused).
//!
//! Timing is printed (run with `--nocapture`), never asserted.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::etcd::EtcdCluster;
use common::kube::{create_namespace, rig, serial};
use common::minio::{Minio, ACCESS_KEY, BUCKET, SECRET_KEY};
use common::podrun::LocalPod;
use common::{etcdbak, rig_bin};
use etcdbak::backup::{SnapshotMetadata, METADATA_FILE, SNAPSHOT_FILE};
use etcdbak::crd::{Cluster, ClusterSpec};
use k8s_openapi::api::batch::v1::{CronJob, Job, JobSpec};
use k8s_openapi::api::core::v1::{PodSpec, Secret};
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use sha2::{Digest, Sha256};

const TENANT_NS: &str = "orders";
const CLUSTER: &str = "orders-etcd";
const CLUSTER_TLS: &str = "orders-etcd-client-tls";
const OTHER_NS: &str = "billing";
const OTHER: &str = "billing-etcd";
const KEEP: u32 = 2;
/// The longest any one pod may take here (the rendered activeDeadlineSeconds is an hour).
const POD_DEADLINE: Duration = Duration::from_secs(300);
const CMD_TIMEOUT: Duration = Duration::from_secs(180);

/// What the test needs to know of the config it derived from examples/config.yaml.
struct Setup {
    config: PathBuf,
    job_ns: String,
    image: String,
    prefix: String,
}

/// examples/config.yaml as shipped, with only the object store pointed at the rig's MinIO.
fn derive_config(dir: &Path, minio: &Minio) -> Setup {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config.yaml");
    let text = std::fs::read_to_string(&example).expect("examples/config.yaml");
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("config YAML");
    let s3 = doc
        .get_mut("s3")
        .and_then(|v| v.as_mapping_mut())
        .expect("examples/config.yaml has an s3 section");
    s3.insert("endpoint".into(), minio.endpoint().into());
    s3.insert("bucket".into(), BUCKET.into());
    let str_at = |path: &[&str]| -> String {
        let mut v = &doc;
        for k in path {
            v = v
                .get(*k)
                .unwrap_or_else(|| panic!("config has no {path:?}"));
        }
        v.as_str().expect("a string").to_string()
    };
    let setup = Setup {
        config: dir.join("config.yaml"),
        job_ns: str_at(&["jobNamespace"]),
        image: str_at(&["image"]),
        prefix: str_at(&["s3", "prefix"]),
    };
    std::fs::write(&setup.config, serde_yaml::to_string(&doc).unwrap()).expect("write config");
    setup
}

/// Runs a command to completion within `timeout`, killing it past that.
fn run(cmd: &mut Command, what: &str, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    // Drained on threads so a chatty child never blocks on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut b).ok();
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut b).ok();
        b
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn reconcile(setup: &Setup) -> Output {
    let out = reconcile_unchecked(setup);
    check(&out, "etcdbak reconcile");
    out
}

/// `etcdbak reconcile`, whatever its exit status.
fn reconcile_unchecked(setup: &Setup) -> Output {
    run(
        etcdbak()
            .env("KUBECONFIG", &rig().kubeconfig)
            .env("ETCDBAK_LOG", "warn")
            .arg("reconcile")
            .arg("--config")
            .arg(&setup.config),
        "etcdbak reconcile",
        CMD_TIMEOUT,
    )
}

/// An etcdbak S3 subcommand as an operator would run it against the bucket.
fn s3_cmd(minio: &Minio, setup: &Setup, sub: &str) -> Command {
    let mut cmd = etcdbak();
    cmd.arg(sub)
        .args(minio.s3_args())
        .args(["--prefix", &setup.prefix])
        .env_remove("ETCDBAK_CLUSTER")
        .env("ETCDBAK_LOG_FORMAT", "plain");
    minio.creds_env(&mut cmd);
    cmd
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The object name the contract promises for a snapshot, computed here from its metadata independently of
/// the product's own naming code. The store container compresses by default (zstd:1), hence `.db.zst`.
fn expected_key(prefix: &str, meta: &SnapshotMetadata) -> String {
    format!(
        "{prefix}/{}/{}-r{}-{}.db.zst",
        meta.cluster,
        meta.taken_at.format("%Y%m%dT%H%M%S%.3fZ"),
        meta.revision,
        &meta.sha256[..8]
    )
}

fn backup_keys(minio: &Minio, prefix: &str, cluster: &str) -> Vec<String> {
    minio
        .keys(&format!("{prefix}/{cluster}/"))
        .into_iter()
        .filter(|k| k.ends_with(".db.zst"))
        .collect()
}

/// The snapshot a default (zstd-compressed) object holds.
fn decompressed(stored: &[u8]) -> Vec<u8> {
    zstd::decode_all(stored).expect("a zstd object")
}

async fn create_or_replace<K>(api: &Api<K>, obj: &K)
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = obj.meta().name.clone().expect("a name");
    let _ = api.delete(&name, &DeleteParams::default()).await;
    for _ in 0..100 {
        match api.create(&PostParams::default(), obj).await {
            Ok(_) => return,
            // A previous object of this name is still going away.
            Err(kube::Error::Api(s)) if s.code == 409 => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("creating {name}: {e}"),
        }
    }
    panic!("{name} could not be created: the old one never went away");
}

fn tls_secret(name: &str, ns: &str, etcd: &EtcdCluster) -> Secret {
    let certs = etcd.certs().expect("a TLS etcd");
    let file = |p: &Path| ByteString(std::fs::read(p).expect("cert file"));
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(BTreeMap::from([
            ("ca.crt".to_string(), file(&certs.ca)),
            ("tls.crt".to_string(), file(&certs.client_cert)),
            ("tls.key".to_string(), file(&certs.client_key)),
        ])),
        ..Default::default()
    }
}

fn cluster(name: &str, ns: &str, etcd: &EtcdCluster, keep: Option<u32>) -> Cluster {
    Cluster::new(
        name,
        ClusterSpec {
            namespace: ns.into(),
            endpoints: Some((0..etcd.len()).map(|i| etcd.endpoint(i)).collect()),
            service: None,
            tls_secret: Some(CLUSTER_TLS.into()),
            schedule: None,
            keep,
            retention: None,
            suspend: None,
            verify: None,
            compression: None,
            encryption: None,
            continuous: None,
        },
    )
}

/// What the CronJob controller does at a scheduled time: a Job from the jobTemplate, created in the
/// apiserver (which validates and defaults it) and read back.
async fn job_from_cron_job(client: &Client, cj: &CronJob, run: u32) -> Job {
    let ns = cj.namespace().expect("namespace");
    let tpl = &cj.spec.as_ref().expect("CronJob spec").job_template;
    let job = Job {
        metadata: ObjectMeta {
            name: Some(format!("{}-{}", cj.name_any(), 29_000_000 + run)),
            namespace: Some(ns.clone()),
            labels: tpl.metadata.as_ref().and_then(|m| m.labels.clone()),
            annotations: tpl.metadata.as_ref().and_then(|m| m.annotations.clone()),
            ..Default::default()
        },
        spec: Some(tpl.spec.clone().expect("jobTemplate spec")),
        ..Default::default()
    };
    let api: Api<Job> = Api::namespaced(client.clone(), &ns);
    create_or_replace(&api, &job).await;
    api.get(&job.name_any())
        .await
        .expect("reading the Job back")
}

fn pod_spec(job: &Job) -> &PodSpec {
    job.spec
        .as_ref()
        .and_then(|s: &JobSpec| s.template.spec.as_ref())
        .expect("the Job has a pod template")
}

/// Writes a failed status onto a Job, as the Job controller would after its pod failed, `ago` in the past.
async fn mark_failed(client: &Client, ns: &str, name: &str, ago: Duration) {
    let api: Api<Job> = Api::namespaced(client.clone(), ns);
    let at = chrono::Utc::now() - chrono::Duration::from_std(ago).unwrap();
    let ts =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let cond = |type_: &str| {
        serde_json::json!({
            "type": type_, "status": "True", "reason": "BackoffLimitExceeded",
            "message": "its pod failed under the test's kubelet",
            "lastProbeTime": ts(at), "lastTransitionTime": ts(at),
        })
    };
    let status = serde_json::json!({
        "startTime": ts(at - chrono::Duration::seconds(5)), "failed": 1, "active": 0, "ready": 0,
        "terminating": 0, "uncountedTerminatedPods": {},
        "conditions": [cond("FailureTarget"), cond("Failed")],
    });
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": status })),
    )
    .await
    .unwrap_or_else(|e| panic!("writing the failed status of Job {name}: {e}"));
}

async fn set_s3_secret_key(client: &Client, ns: &str, value: &str) {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    api.patch(
        "etcdbak-s3",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "stringData": { "AWS_SECRET_ACCESS_KEY": value } })),
    )
    .await
    .expect("patching the S3 credentials Secret");
}

async fn wait_gone(client: &Client, name: &str) {
    let clusters: Api<Cluster> = Api::all(client.clone());
    let start = Instant::now();
    while let Some(c) = clusters.get_opt(name).await.unwrap() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "Cluster {name} is still there after its cleanup Job succeeded: finalizers {:?}",
            c.finalizers()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Writes a succeeded status onto a Job, as the Job controller would after its pod exited 0 (the apiserver
/// validates the shape: times, SuccessCriteriaMet before Complete).
async fn mark_succeeded(client: &Client, ns: &str, name: &str) {
    let api: Api<Job> = Api::namespaced(client.clone(), ns);
    let at = chrono::Utc::now();
    let ts =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let cond = |type_: &str| {
        serde_json::json!({
            "type": type_, "status": "True", "reason": "Test", "message": "its pod exited 0 under the test's kubelet",
            "lastProbeTime": ts(at), "lastTransitionTime": ts(at),
        })
    };
    // A Job marked running keeps the start time it got then.
    let started = api
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("reading Job {name}: {e}"))
        .status
        .and_then(|s| s.start_time)
        .map(|t| t.0.to_string())
        .unwrap_or_else(|| ts(at - chrono::Duration::seconds(5)));
    let status = serde_json::json!({
        "startTime": started, "completionTime": ts(at),
        "succeeded": 1, "active": 0, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {},
        "conditions": [cond("SuccessCriteriaMet"), cond("Complete")],
    });
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": status })),
    )
    .await
    .unwrap_or_else(|e| panic!("writing the Job status of {name}: {e}"));
}

/// One backup run: a Job from the CronJob, its pod run locally. Returns the snapshot metadata the init
/// container left and the bytes of the snapshot, read from the pod's backup volume.
fn run_backup(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    setup: &Setup,
    cj: &CronJob,
    run: u32,
) -> (SnapshotMetadata, Vec<u8>, LocalPod) {
    let job = rt.block_on(job_from_cron_job(client, cj, run));
    let pod = rt.block_on(LocalPod::prepare(
        client,
        &setup.job_ns,
        &format!("{}-pod", job.name_any()),
        pod_spec(&job),
        &setup.image,
    ));
    assert_eq!(
        pod.init_containers.len(),
        1,
        "one snapshot init container before the store container"
    );
    let ran = pod.run(POD_DEADLINE);
    for r in &ran {
        println!(
            "MEASURE: {} run {run}: container {} exited {} after {:.2?}",
            cj.name_any(),
            r.name,
            r.status,
            r.wall
        );
    }
    let dir = pod.volume(etcdbak::template::BACKUP_VOLUME);
    let meta: SnapshotMetadata = serde_json::from_slice(
        &std::fs::read(dir.join(METADATA_FILE)).expect("the init container left snapshot.json"),
    )
    .expect("snapshot.json parses");
    let snapshot = std::fs::read(dir.join(SNAPSHOT_FILE)).expect("snapshot.db");
    // Under root the local kubelet gives containers the pod's identity; the snapshot proves it did.
    if let Some((uid, _)) = pod.init_containers[0].identity {
        let owner = std::os::unix::fs::MetadataExt::uid(
            &std::fs::metadata(dir.join(SNAPSHOT_FILE)).unwrap(),
        );
        assert_eq!(
            owner, uid,
            "the snapshot container ran as the pod's runAsUser"
        );
        assert_ne!(uid, 0);
    }
    (meta, snapshot, pod)
}

/// The servers and the apiserver objects every test here starts from.
struct World {
    // Held for the whole test: the tests share the apiserver, the job namespace and its S3 Secret, and
    // every `etcdbak reconcile` renders all Clusters with this test's config.
    _serial: tokio::sync::MutexGuard<'static, ()>,
    rt: tokio::runtime::Runtime,
    etcd: EtcdCluster,
    minio: Minio,
    client: Client,
    scratch: tempfile::TempDir,
    setup: Setup,
}

/// A 3-member TLS etcd, MinIO, the apiserver; tenant namespaces with their etcd client certs and the job
/// namespace with the S3 credentials Secret exactly as examples/ ships it (keys filled in).
fn world() -> World {
    world_with(EtcdCluster::start(3, true))
}

/// [`world`] around a given etcd; tenant TLS Secrets only when it uses TLS.
fn world_with(etcd: EtcdCluster) -> World {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let kube = rig();
    let serial = rt.block_on(serial());
    let client = rt.block_on(kube.client());
    let minio = Minio::start();
    let scratch = tempfile::tempdir().unwrap();
    let setup = derive_config(scratch.path(), &minio);
    rt.block_on(async {
        // A test that failed half-way leaves its Clusters (finalizers and all); the next one starts clean.
        let clusters: Api<Cluster> = Api::all(client.clone());
        for c in clusters.list(&Default::default()).await.unwrap().items {
            let name = c.name_any();
            let _ = clusters
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({ "metadata": { "finalizers": null } })),
                )
                .await;
            let _ = clusters.delete(&name, &DeleteParams::default()).await;
        }
        for ns in [setup.job_ns.as_str(), TENANT_NS, OTHER_NS] {
            create_namespace(&client, ns).await;
        }
        for ns in [TENANT_NS, OTHER_NS] {
            if etcd.certs().is_some() {
                let api: Api<Secret> = Api::namespaced(client.clone(), ns);
                create_or_replace(&api, &tls_secret(CLUSTER_TLS, ns, &etcd)).await;
            }
        }
        let example =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/s3-credentials-secret.yaml");
        let mut s3: Secret = serde_yaml::from_str(&std::fs::read_to_string(example).unwrap())
            .expect("example Secret");
        assert_eq!(
            s3.metadata.namespace.as_deref(),
            Some(setup.job_ns.as_str()),
            "the example S3 Secret lives in the config's jobNamespace"
        );
        let data = s3.string_data.as_mut().expect("example stringData");
        assert!(
            data.contains_key("AWS_ACCESS_KEY_ID") && data.contains_key("AWS_SECRET_ACCESS_KEY")
        );
        data.insert("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY.into());
        data.insert("AWS_SECRET_ACCESS_KEY".into(), SECRET_KEY.into());
        let api: Api<Secret> = Api::namespaced(client.clone(), &setup.job_ns);
        create_or_replace(&api, &s3).await;
    });
    World {
        _serial: serial,
        rt,
        etcd,
        minio,
        client,
        scratch,
        setup,
    }
}

#[test]
fn rendered_backup_and_cleanup_jobs_run_for_real() {
    let started = Instant::now();
    let World {
        _serial,
        rt,
        etcd,
        minio,
        client,
        scratch,
        setup,
    } = world();
    let mut written = etcd.put_keys("/registry/jobe2e/", 500, 100);
    println!(
        "MEASURE: rigs up (etcd x3 TLS + 500 keys, MinIO, kube-apiserver) in {:.2?}",
        started.elapsed()
    );

    // Objects in the bucket that are not backups of the clusters under test: nothing may touch them.
    let foreign_in_cluster = format!("{}/{CLUSTER}/notes.txt", setup.prefix);
    let foreign_in_prefix = format!("{}/README", setup.prefix);
    minio.put(&foreign_in_cluster, b"kept by the operator");
    minio.put(&foreign_in_prefix, b"not a backup");

    // Two Clusters on the same etcd, in two tenant namespaces.
    let uid = rt.block_on(async {
        let clusters: Api<Cluster> = Api::all(client.clone());
        for c in [
            cluster(CLUSTER, TENANT_NS, &etcd, Some(KEEP)),
            cluster(OTHER, OTHER_NS, &etcd, None),
        ] {
            clusters
                .create(&PostParams::default(), &c)
                .await
                .unwrap_or_else(|e| panic!("creating Cluster {}: {e}", c.name_any()));
        }
        clusters.get(CLUSTER).await.unwrap().uid().unwrap()
    });

    // The controller, for real: one `etcdbak reconcile` pass.
    let t = Instant::now();
    let out = reconcile(&setup);
    println!(
        "MEASURE: first `etcdbak reconcile` (2 Clusters) {:.2?}",
        t.elapsed()
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains(CLUSTER) && table.contains(OTHER), "{table}");

    // Read back what it made: the Cluster's status names the CronJob; the TLS Secret is mirrored.
    let (cj, other_cj) = rt.block_on(async {
        let clusters: Api<Cluster> = Api::all(client.clone());
        let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), &setup.job_ns);
        let mut out = Vec::new();
        for name in [CLUSTER, OTHER] {
            let c = clusters.get(name).await.unwrap();
            let cj_name = c
                .status
                .as_ref()
                .and_then(|s| s.cron_job_name.clone())
                .unwrap_or_else(|| {
                    panic!("Cluster {name} has no status.cronJobName: {:?}", c.status)
                });
            // status.cronJobName is `namespace/name`.
            let (ns, cj_name) = cj_name
                .split_once('/')
                .unwrap_or_else(|| panic!("status.cronJobName {cj_name:?} is not namespace/name"));
            assert_eq!(ns, setup.job_ns, "the CronJob runs in the jobNamespace");
            out.push(cron_jobs.get(cj_name).await.unwrap_or_else(|e| {
                panic!("the CronJob {cj_name} the status names is not in the apiserver: {e}")
            }));
        }
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &setup.job_ns);
        let mirrored = secrets
            .get(&etcdbak::naming::tls_secret_name(CLUSTER))
            .await
            .expect("the mirrored TLS Secret in the job namespace");
        let source = tls_secret(CLUSTER_TLS, TENANT_NS, &etcd);
        assert_eq!(
            mirrored.data, source.data,
            "the mirrored Secret holds the tenant's ca.crt, tls.crt, tls.key"
        );
        let other = out.pop().unwrap();
        (out.pop().unwrap(), other)
    });
    let keep_env = cj
        .spec
        .as_ref()
        .and_then(|s| s.job_template.spec.as_ref())
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| {
            p.containers
                .iter()
                .flat_map(|c| c.env.iter().flatten())
                .filter(|e| e.name == "KEEP")
                .filter_map(|e| e.value.clone())
                .collect::<Vec<_>>()
        });
    assert_eq!(
        keep_env,
        Some(vec![KEEP.to_string()]),
        "KEEP follows spec.keep"
    );

    // Run 1: the backup lands under <prefix>/<cluster>/ with the contract's name and metadata.
    let (meta, snapshot, pod) = run_backup(&rt, &client, &setup, &cj, 1);
    let ca_path = pod
        .init_containers
        .iter()
        .flat_map(|c| c.env.iter())
        .find(|(k, _)| k.as_str() == "ETCDBAK_CACERT")
        .map(|(_, v)| PathBuf::from(v))
        .expect("the snapshot container is told where the CA is");
    assert_eq!(
        std::fs::read(&ca_path).unwrap(),
        std::fs::read(&etcd.certs().unwrap().ca).unwrap(),
        "the CA the snapshot container read came from the mirrored Secret"
    );
    drop(pod);
    assert_eq!(meta.cluster, CLUSTER);
    assert!(meta.revision > 1, "revision {}", meta.revision);
    assert_eq!(meta.sha256, sha256_hex(&snapshot), "snapshot.json's sha256");
    assert_eq!(meta.file_size, snapshot.len() as u64);
    let key1 = expected_key(&setup.prefix, &meta);
    assert_eq!(
        backup_keys(&minio, &setup.prefix, CLUSTER),
        vec![key1.clone()],
        "exactly the one backup, under the contract's name"
    );
    let stored = decompressed(&minio.get(&key1));
    assert_eq!(
        sha256_hex(&stored),
        meta.sha256,
        "the object is the snapshot"
    );
    let (s3_meta, size) = minio.head(&key1);
    // Compressed by default: the object is smaller, its metadata records the snapshot's own size.
    assert!(size < meta.file_size, "{size} stored bytes");
    assert_eq!(s3_meta.get("plain-size"), Some(&meta.file_size.to_string()));
    assert_eq!(
        s3_meta.get("sha256"),
        Some(&meta.sha256),
        "S3 metadata sha256: {s3_meta:?}"
    );
    assert_eq!(s3_meta.get("cluster").map(String::as_str), Some(CLUSTER));
    assert_eq!(
        s3_meta.get("revision"),
        Some(&meta.revision.to_string()),
        "{s3_meta:?}"
    );

    // `etcdbak list` shows it; `etcdbak download` + `etcdutl snapshot restore` bring the data back.
    let out = run(
        s3_cmd(&minio, &setup, "list").args(["--cluster", CLUSTER, "-o", "json"]),
        "etcdbak list",
        CMD_TIMEOUT,
    );
    check(&out, "etcdbak list");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list JSON");
    let listed = listed.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["key"].as_str(), Some(key1.as_str()));
    assert_eq!(listed[0]["revision"].as_i64(), Some(meta.revision));
    let downloaded = scratch.path().join("downloaded.db");
    let out = run(
        s3_cmd(&minio, &setup, "download")
            .args(["--cluster", CLUSTER, "--key", &key1, "--output"])
            .arg(&downloaded),
        "etcdbak download",
        CMD_TIMEOUT,
    );
    check(&out, "etcdbak download");
    assert_eq!(std::fs::read(&downloaded).unwrap(), snapshot);
    let data_dir = scratch.path().join("restored.etcd");
    let out = run(
        Command::new(rig_bin("etcdutl"))
            .args(["snapshot", "restore"])
            .arg(&downloaded)
            .arg("--data-dir")
            .arg(&data_dir),
        "etcdutl snapshot restore",
        CMD_TIMEOUT,
    );
    check(&out, "etcdutl snapshot restore");
    assert!(data_dir.join("member").is_dir(), "restore made a data dir");
    {
        let restored = EtcdCluster::start_from_snapshot(&downloaded, 1, true);
        assert_eq!(
            restored.read_all(),
            written,
            "every key and value is in the restored backup"
        );
    }

    // Runs 2 and 3 (fresh pods, fresh emptyDirs; etcd changes between them): keep 2 leaves the newest two.
    let mut kept = Vec::new();
    for run in 2..=3 {
        written.extend(etcd.put_keys(&format!("/registry/jobe2e-run{run}/"), 10, 100));
        let (meta, _, _) = run_backup(&rt, &client, &setup, &cj, run);
        kept.push(expected_key(&setup.prefix, &meta));
    }
    assert_eq!(
        backup_keys(&minio, &setup.prefix, CLUSTER),
        kept,
        "retention with keep {KEEP} leaves runs 2 and 3 and removed run 1 ({key1})"
    );
    assert!(minio.keys("").contains(&foreign_in_cluster));
    assert!(minio.keys("").contains(&foreign_in_prefix));

    // The other Cluster's Job (its default keep) stores under its own name.
    let (other_meta, _, _) = run_backup(&rt, &client, &setup, &other_cj, 1);
    let other_key = expected_key(&setup.prefix, &other_meta);
    assert_eq!(other_meta.cluster, OTHER);
    assert_eq!(
        backup_keys(&minio, &setup.prefix, OTHER),
        vec![other_key.clone()]
    );
    assert_eq!(backup_keys(&minio, &setup.prefix, CLUSTER), kept);

    // Deletion: the controller creates the cleanup Job and holds the finalizer until it succeeds.
    rt.block_on(async {
        let clusters: Api<Cluster> = Api::all(client.clone());
        clusters
            .delete(CLUSTER, &DeleteParams::default())
            .await
            .expect("deleting the Cluster");
    });
    let out = reconcile(&setup);
    println!(
        "reconcile after delete:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let cleanup = rt.block_on(async {
        let jobs: Api<Job> = Api::namespaced(client.clone(), &setup.job_ns);
        let name = etcdbak::naming::cleanup_job_name(CLUSTER);
        let job = jobs
            .get(&name)
            .await
            .unwrap_or_else(|e| panic!("the cleanup Job {name} was not created: {e}"));
        assert_eq!(
            job.annotations()
                .get(etcdbak::template::CLUSTER_UID_ANNOTATION),
            Some(&uid),
            "the cleanup Job belongs to this Cluster"
        );
        let clusters: Api<Cluster> = Api::all(client.clone());
        let c = clusters.get_opt(CLUSTER).await.unwrap();
        assert!(
            c.is_some_and(|c| c.metadata.deletion_timestamp.is_some()),
            "the Cluster waits (finalizer) for its cleanup Job"
        );
        // No backup may start while the bucket is being emptied.
        let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), &setup.job_ns);
        let live = cron_jobs.get_opt(&cj.name_any()).await.unwrap();
        assert!(
            live.as_ref()
                .and_then(|c| c.spec.as_ref())
                .and_then(|s| s.suspend)
                == Some(true),
            "the CronJob of a Cluster being cleaned up is suspended: {:?}",
            live.and_then(|c| c.spec).map(|s| s.suspend)
        );
        job
    });
    // Nothing has run the cleanup yet: the backups are all still there.
    assert_eq!(backup_keys(&minio, &setup.prefix, CLUSTER), kept);

    // Play kubelet for the cleanup pod, twice: the second run (a retry after success, or after a partial
    // delete) must succeed on the empty prefix too.
    for attempt in 1..=2 {
        let pod = rt.block_on(LocalPod::prepare(
            &client,
            &setup.job_ns,
            &format!("{}-pod{attempt}", cleanup.name_any()),
            pod_spec(&cleanup),
            &setup.image,
        ));
        for r in pod.run(POD_DEADLINE) {
            println!(
                "MEASURE: cleanup attempt {attempt}: container {} exited {} after {:.2?}",
                r.name, r.status, r.wall
            );
        }
        assert_eq!(
            backup_keys(&minio, &setup.prefix, CLUSTER),
            Vec::<String>::new(),
            "the cleanup Job deleted every backup of {CLUSTER}"
        );
    }
    let left = minio.keys("");
    assert!(
        left.contains(&foreign_in_cluster),
        "a foreign object in the cluster's prefix survives: {left:?}"
    );
    assert!(left.contains(&foreign_in_prefix), "{left:?}");
    assert!(
        left.contains(&other_key),
        "the other cluster's backup survives: {left:?}"
    );
    let out = run(
        s3_cmd(&minio, &setup, "list").args(["-o", "json"]),
        "etcdbak list",
        CMD_TIMEOUT,
    );
    check(&out, "etcdbak list");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list JSON");
    let keys: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|b| b["key"].as_str())
        .collect();
    assert_eq!(
        keys,
        vec![other_key.as_str()],
        "only {OTHER}'s backup is listed"
    );

    // The Job controller would now report success; then the finalizer goes and the Cluster with it.
    rt.block_on(mark_succeeded(&client, &setup.job_ns, &cleanup.name_any()));
    reconcile(&setup);
    rt.block_on(async {
        wait_gone(&client, CLUSTER).await;
        let clusters: Api<Cluster> = Api::all(client.clone());
        assert!(
            clusters.get_opt(OTHER).await.unwrap().is_some(),
            "the other Cluster is untouched"
        );
    });

    // A cleanup that really fails: the S3 secret key in the job namespace is wrong. The pod exits
    // non-zero, and the controller keeps the finalizer and the backups, then retries with a new Job.
    const WRONG_KEY: &str = "not-the-secret-key-Qx7wP";
    rt.block_on(async {
        set_s3_secret_key(&client, &setup.job_ns, WRONG_KEY).await;
        let clusters: Api<Cluster> = Api::all(client.clone());
        clusters
            .delete(OTHER, &DeleteParams::default())
            .await
            .expect("deleting the other Cluster");
    });
    reconcile(&setup);
    let jobs: Api<Job> = Api::namespaced(client.clone(), &setup.job_ns);
    let other_job_name = etcdbak::naming::cleanup_job_name(OTHER);
    let first = rt
        .block_on(jobs.get(&other_job_name))
        .expect("the cleanup Job of the other Cluster");
    let pod = rt.block_on(LocalPod::prepare(
        &client,
        &setup.job_ns,
        &format!("{other_job_name}-pod1"),
        pod_spec(&first),
        &setup.image,
    ));
    let (_, failed) = pod
        .try_run(POD_DEADLINE)
        .expect_err("the cleanup container must fail with a wrong S3 secret key");
    drop(pod);
    println!(
        "cleanup with a wrong S3 key: {} after {:.2?}; stderr:\n{}",
        failed.status, failed.wall, failed.stderr
    );
    assert_eq!(
        failed.status.code(),
        Some(4),
        "a wrong S3 key is an access problem: exit 4 (docs/CONTRACT.md)"
    );
    for secret in [WRONG_KEY, SECRET_KEY] {
        assert!(
            !failed.stderr.contains(secret) && !failed.stdout.contains(secret),
            "the S3 secret key leaked into the container's output"
        );
    }
    assert_eq!(
        backup_keys(&minio, &setup.prefix, OTHER),
        vec![other_key.clone()],
        "a failed cleanup deletes nothing"
    );

    // The Job controller reports the failure (15s ago; the first retry waits 30s).
    rt.block_on(mark_failed(
        &client,
        &setup.job_ns,
        &other_job_name,
        Duration::from_secs(15),
    ));
    let failed_at = Instant::now() - Duration::from_secs(15);
    let out = reconcile_unchecked(&setup);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && table.contains(OTHER) && table.contains("FAILED"),
        "a failed cleanup fails the pass and names the Cluster:\n{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rt.block_on(async {
        let clusters: Api<Cluster> = Api::all(client.clone());
        let c = clusters
            .get_opt(OTHER)
            .await
            .unwrap()
            .expect("the finalizer holds the Cluster while its cleanup failed");
        let cond = c
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "CleanupFailed"))
            .unwrap_or_else(|| panic!("no CleanupFailed condition: {:?}", c.status));
        assert_eq!(cond.status, "True");
        assert!(
            cond.message.contains(&other_job_name),
            "the condition names the Job: {}",
            cond.message
        );
        let again = jobs.get(&other_job_name).await.unwrap();
        assert_eq!(again.uid(), first.uid(), "no retry before the backoff");
    });

    // Fixed credentials, backoff over: the controller replaces the failed Job; that one succeeds.
    rt.block_on(set_s3_secret_key(&client, &setup.job_ns, SECRET_KEY));
    let wait = Duration::from_secs(31).saturating_sub(failed_at.elapsed());
    std::thread::sleep(wait);
    let out = reconcile(&setup);
    println!(
        "reconcile after the backoff:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let second = rt
        .block_on(jobs.get(&other_job_name))
        .expect("the retried Job");
    assert_ne!(
        second.uid(),
        first.uid(),
        "a new cleanup Job replaced the failed one"
    );
    assert_eq!(
        second
            .annotations()
            .get(etcdbak::template::CLUSTER_UID_ANNOTATION),
        first
            .annotations()
            .get(etcdbak::template::CLUSTER_UID_ANNOTATION),
    );
    let pod = rt.block_on(LocalPod::prepare(
        &client,
        &setup.job_ns,
        &format!("{other_job_name}-pod2"),
        pod_spec(&second),
        &setup.image,
    ));
    pod.run(POD_DEADLINE);
    drop(pod);
    assert_eq!(
        backup_keys(&minio, &setup.prefix, OTHER),
        Vec::<String>::new(),
        "the retried cleanup deleted {OTHER}'s backups"
    );
    let left = minio.keys("");
    assert!(
        left.contains(&foreign_in_cluster) && left.contains(&foreign_in_prefix),
        "{left:?}"
    );
    rt.block_on(mark_succeeded(&client, &setup.job_ns, &other_job_name));
    reconcile(&setup);
    rt.block_on(wait_gone(&client, OTHER));
    println!("MEASURE: whole test {:.2?}", started.elapsed());
}

/// Marks a backup Job as running, as the Job and CronJob controllers would once its pod started: the Job's
/// `status.active` and the CronJob's `status.active` reference.
async fn mark_active(client: &Client, cj: &CronJob, job: &Job) {
    let ns = job.namespace().unwrap();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    jobs.patch_status(
        &job.name_any(),
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": {
            "startTime": now, "active": 1, "ready": 1, "terminating": 0, "uncountedTerminatedPods": {},
        }})),
    )
    .await
    .expect("marking the backup Job active");
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), &ns);
    cron_jobs
        .patch_status(
            &cj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "status": {
                "lastScheduleTime": now,
                "active": [{
                    "apiVersion": "batch/v1", "kind": "Job", "namespace": ns,
                    "name": job.name_any(), "uid": job.uid(),
                }],
            }})),
        )
        .await
        .expect("marking the CronJob's active Job");
}

/// A Cluster deleted while its backup Job runs (the snapshot streams; the store container has not
/// uploaded yet). Whatever the controller does about it (wait for the Job, or delete it so the kubelet
/// kills the pod), once the Cluster is gone none of its backups may be left in the bucket.
#[test]
fn no_backup_outlives_a_cluster_deleted_mid_backup() {
    const LATE: &str = "late-etcd";
    let World {
        _serial,
        rt,
        etcd,
        minio,
        client,
        scratch: _scratch,
        setup,
    } = world();
    etcd.put_keys("/registry/late/", 50, 100);
    rt.block_on(async {
        let clusters: Api<Cluster> = Api::all(client.clone());
        clusters
            .create(
                &PostParams::default(),
                &cluster(LATE, TENANT_NS, &etcd, None),
            )
            .await
            .expect("creating the Cluster");
    });
    reconcile(&setup);
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), &setup.job_ns);
    let jobs: Api<Job> = Api::namespaced(client.clone(), &setup.job_ns);
    let cj = rt
        .block_on(cron_jobs.get(&etcdbak::naming::cron_job_name(LATE)))
        .expect("the CronJob");

    // A scheduled run starts: its pod is through the snapshot, the store container is next.
    let backup = rt.block_on(job_from_cron_job(&client, &cj, 1));
    rt.block_on(mark_active(&client, &cj, &backup));
    let backup_pod = rt.block_on(LocalPod::prepare(
        &client,
        &setup.job_ns,
        &format!("{}-pod", backup.name_any()),
        pod_spec(&backup),
        &setup.image,
    ));
    backup_pod.run_init_containers(POD_DEADLINE);

    // The Cluster is deleted now.
    rt.block_on(async {
        let clusters: Api<Cluster> = Api::all(client.clone());
        clusters
            .delete(LATE, &DeleteParams::default())
            .await
            .expect("deleting the Cluster");
    });
    reconcile_unchecked(&setup);
    let cleanup_name = etcdbak::naming::cleanup_job_name(LATE);
    let run_cleanup = |job: &Job| {
        let pod = rt.block_on(LocalPod::prepare(
            &client,
            &setup.job_ns,
            &format!("{cleanup_name}-pod"),
            pod_spec(job),
            &setup.image,
        ));
        pod.run(POD_DEADLINE);
        rt.block_on(mark_succeeded(&client, &setup.job_ns, &job.name_any()));
    };
    // A cleanup Job created now may start at once, on another node, while the backup pod still works.
    let early = rt.block_on(jobs.get_opt(&cleanup_name)).unwrap();
    if let Some(job) = &early {
        run_cleanup(job);
    }
    // The backup pod goes on unless its Job is gone or going (then the kubelet kills it).
    let live = rt.block_on(jobs.get_opt(&backup.name_any())).unwrap();
    let backup_still_runs = live.is_some_and(|j| j.metadata.deletion_timestamp.is_none());
    if backup_still_runs {
        backup_pod.run_containers(POD_DEADLINE);
        rt.block_on(mark_succeeded(&client, &setup.job_ns, &backup.name_any()));
    }
    drop(backup_pod);
    // Give the controller a few passes to finish the deletion its way.
    let clusters: Api<Cluster> = Api::all(client.clone());
    let mut cleaned = early.is_some();
    for _ in 0..5 {
        if rt.block_on(clusters.get_opt(LATE)).unwrap().is_none() {
            break;
        }
        reconcile_unchecked(&setup);
        if !cleaned {
            if let Some(job) = rt.block_on(jobs.get_opt(&cleanup_name)).unwrap() {
                run_cleanup(&job);
                cleaned = true;
            }
        }
    }
    rt.block_on(wait_gone(&client, LATE));
    let orphans = backup_keys(&minio, &setup.prefix, LATE);
    assert!(
        orphans.is_empty(),
        "Cluster {LATE} is gone, but its backup {orphans:?} is still in the bucket: the cleanup Job ran \
         (early: {}) while backup Job {} was still active, and its upload landed after the cleanup",
        early.is_some(),
        backup.name_any()
    );
}

/// A Cluster's name is the backup prefix component and the Jobs' CLUSTER, which `etcdbak store` accepts
/// only as a DNS-1123 label. A dotted name used to get a CronJob whose every run failed while the Cluster
/// reported BackupScheduled=True; now the CRD's CEL rule makes the real apiserver refuse it up front (and
/// rendering refuses it too, as InvalidClusterName, for a CRD installed without the rule).
#[test]
fn a_dotted_cluster_name_is_refused_by_the_apiserver() {
    let World {
        _serial,
        rt,
        etcd,
        client,
        setup,
        ..
    } = world();
    let clusters: Api<Cluster> = Api::all(client.clone());
    for bad in ["orders.etcd", &"a".repeat(64)] {
        let err = rt
            .block_on(clusters.create(
                &PostParams::default(),
                &cluster(bad, TENANT_NS, &etcd, None),
            ))
            .expect_err("the apiserver must refuse a Cluster name that is not a DNS-1123 label");
        assert!(
            err.to_string().contains("DNS-1123 label"),
            "the refusal names the fix: {err}"
        );
        let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), &setup.job_ns);
        assert!(rt
            .block_on(cron_jobs.get_opt(&etcdbak::naming::cron_job_name(bad)))
            .unwrap()
            .is_none());
    }
}

/// An etcd without TLS (no `spec.tlsSecret`, http endpoints): the Job has no TLS volume and still works.
#[test]
fn a_plain_etcd_without_tls_is_backed_up() {
    const PLAIN: &str = "plain-etcd";
    let World {
        _serial,
        rt,
        etcd,
        minio,
        client,
        scratch: _scratch,
        setup,
    } = world_with(EtcdCluster::start(1, false));
    etcd.put_keys("/registry/plain/", 30, 100);
    let clusters: Api<Cluster> = Api::all(client.clone());
    let mut c = cluster(PLAIN, TENANT_NS, &etcd, None);
    c.spec.tls_secret = None;
    rt.block_on(clusters.create(&PostParams::default(), &c))
        .expect("creating the Cluster");
    reconcile(&setup);
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), &setup.job_ns);
    let cj = rt
        .block_on(cron_jobs.get(&etcdbak::naming::cron_job_name(PLAIN)))
        .expect("the CronJob");
    let (meta, snapshot, pod) = run_backup(&rt, &client, &setup, &cj, 1);
    assert!(
        !pod.volumes.keys().any(|v| v.contains("tls")),
        "no TLS volume for a plain etcd: {:?}",
        pod.volumes.keys()
    );
    drop(pod);
    assert_eq!(meta.cluster, PLAIN);
    assert_eq!(meta.endpoint, etcd.endpoint(0));
    let key = expected_key(&setup.prefix, &meta);
    assert_eq!(backup_keys(&minio, &setup.prefix, PLAIN), vec![key.clone()]);
    assert_eq!(
        sha256_hex(&decompressed(&minio.get(&key))),
        sha256_hex(&snapshot)
    );
    rt.block_on(async {
        let _ = clusters
            .patch(
                PLAIN,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({ "metadata": { "finalizers": null } })),
            )
            .await;
        let _ = clusters.delete(PLAIN, &DeleteParams::default()).await;
    });
}
