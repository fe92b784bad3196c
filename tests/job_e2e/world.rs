//! The world every job_e2e test starts from: the servers, the config derived from examples/, the tenant and
//! S3 Secrets, and the steps the CronJob and Job controllers would take, done by hand.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use etcdbak::backup::{SnapshotMetadata, METADATA_FILE, SNAPSHOT_FILE};
use etcdbak::crd::{Cluster, ClusterSpec};
use k8s_openapi::api::batch::v1::{CronJob, Job, JobSpec};
use k8s_openapi::api::core::v1::{PodSpec, Secret};
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use sha2::{Digest, Sha256};

use crate::common::etcd::EtcdCluster;
use crate::common::etcdbak;
use crate::common::jobs::finish_job;
use crate::common::kube::{create_namespace, rig, serial};
use crate::common::minio::{Minio, ACCESS_KEY, BUCKET, SECRET_KEY};
use crate::common::podrun::LocalPod;

pub const TENANT_NS: &str = "orders";
pub const CLUSTER: &str = "orders-etcd";
pub const CLUSTER_TLS: &str = "orders-etcd-client-tls";
pub const OTHER_NS: &str = "billing";
pub const OTHER: &str = "billing-etcd";
pub const KEEP: u32 = 2;
/// The longest any one pod may take here (the rendered activeDeadlineSeconds is an hour).
pub const POD_DEADLINE: Duration = Duration::from_secs(300);
pub const CMD_TIMEOUT: Duration = Duration::from_secs(180);

/// What the test needs to know of the config it derived from examples/config.yaml.
pub struct Setup {
    pub config: PathBuf,
    pub job_ns: String,
    pub image: String,
    pub prefix: String,
}

/// examples/config.yaml as shipped, with only the object store pointed at the rig's MinIO.
pub fn derive_config(dir: &Path, minio: &Minio) -> Setup {
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

pub fn reconcile(setup: &Setup) -> Output {
    let out = reconcile_unchecked(setup);
    check(&out, "etcdbak reconcile");
    out
}

/// `etcdbak reconcile`, whatever its exit status.
pub fn reconcile_unchecked(setup: &Setup) -> Output {
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
pub fn s3_cmd(minio: &Minio, setup: &Setup, sub: &str) -> Command {
    let mut cmd = etcdbak();
    cmd.arg(sub)
        .args(minio.s3_args())
        .args(["--prefix", &setup.prefix])
        .env_remove("ETCDBAK_CLUSTER")
        .env("ETCDBAK_LOG_FORMAT", "plain");
    minio.creds_env(&mut cmd);
    cmd
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The object name the contract promises for a snapshot, computed here from its metadata independently of
/// the product's own naming code. The store container compresses by default (zstd:1), hence `.db.zst`.
pub fn expected_key(prefix: &str, meta: &SnapshotMetadata) -> String {
    format!(
        "{prefix}/{}/{}-r{}-{}.db.zst",
        meta.cluster,
        meta.taken_at.format("%Y%m%dT%H%M%S%.3fZ"),
        meta.revision,
        &meta.sha256[..8]
    )
}

pub fn backup_keys(minio: &Minio, prefix: &str, cluster: &str) -> Vec<String> {
    minio
        .keys(&format!("{prefix}/{cluster}/"))
        .into_iter()
        .filter(|k| k.ends_with(".db.zst"))
        .collect()
}

/// The snapshot a default (zstd-compressed) object holds.
pub fn decompressed(stored: &[u8]) -> Vec<u8> {
    zstd::decode_all(stored).expect("a zstd object")
}

pub async fn create_or_replace<K>(api: &Api<K>, obj: &K)
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

pub fn tls_secret(name: &str, ns: &str, etcd: &EtcdCluster) -> Secret {
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

pub fn cluster(name: &str, ns: &str, etcd: &EtcdCluster, keep: Option<u32>) -> Cluster {
    Cluster::new(
        name,
        ClusterSpec {
            endpoints: Some((0..etcd.len()).map(|i| etcd.endpoint(i)).collect()),
            tls_secret: Some(CLUSTER_TLS.into()),
            keep,
            ..ClusterSpec::in_namespace(ns)
        },
    )
}

/// What the CronJob controller does at a scheduled time: a Job from the jobTemplate, created in the
/// apiserver (which validates and defaults it) and read back.
pub async fn job_from_cron_job(client: &Client, cj: &CronJob, run: u32) -> Job {
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

pub fn pod_spec(job: &Job) -> &PodSpec {
    job.spec
        .as_ref()
        .and_then(|s: &JobSpec| s.template.spec.as_ref())
        .expect("the Job has a pod template")
}

pub async fn set_s3_secret_key(client: &Client, ns: &str, value: &str) {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    api.patch(
        "etcdbak-s3",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "stringData": { "AWS_SECRET_ACCESS_KEY": value } })),
    )
    .await
    .expect("patching the S3 credentials Secret");
}

pub async fn wait_gone(client: &Client, name: &str) {
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
/// container left and the bytes of the snapshot, read from the pod's backup volume.
pub fn run_backup(
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
pub struct World {
    // Held for the whole test: the tests share the apiserver, the job namespace and its S3 Secret, and
    // every `etcdbak reconcile` renders all Clusters with this test's config.
    pub _serial: tokio::sync::MutexGuard<'static, ()>,
    pub rt: tokio::runtime::Runtime,
    pub etcd: EtcdCluster,
    pub minio: Minio,
    pub client: Client,
    pub scratch: tempfile::TempDir,
    pub setup: Setup,
}

/// A 3-member TLS etcd, MinIO, the apiserver; tenant namespaces with their etcd client certs and the job
/// namespace with the S3 credentials Secret exactly as examples/ ships it (keys filled in).
pub fn world() -> World {
    world_with(EtcdCluster::start(3, true))
}

/// [`world`] around a given etcd; tenant TLS Secrets only when it uses TLS.
pub fn world_with(etcd: EtcdCluster) -> World {
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

/// Runs a command to completion within `timeout` ([`crate::common::run_within`]).
pub fn run(cmd: &mut Command, what: &str, timeout: Duration) -> Output {
    crate::common::run_within(cmd, what, timeout)
}

/// Fails the test with the whole output unless the command exited 0.
pub fn check(out: &Output, what: &str) {
    crate::common::check_output(out, what, String::new);
}

/// A Job the test's kubelet ran finished `ago` in the past ([`finish_job`]).
pub async fn mark_failed(client: &Client, ns: &str, name: &str, ago: Duration) {
    finish_job(client, ns, name, false, ago).await;
}

/// A Job the test's kubelet ran finished just now, exit 0.
pub async fn mark_succeeded(client: &Client, ns: &str, name: &str) {
    finish_job(client, ns, name, true, Duration::ZERO).await;
}
