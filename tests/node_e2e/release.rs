//! The chart release, installed once for the whole binary with `helm install` from the locally built
//! images.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::kube::{apply_manifests, create_namespace};
use crate::common::node::{node, Node, NODE_NAME};
use crate::common::{etcdbak, free_port};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use crate::*;

/// The chart as installed once for this binary.
pub struct Release {
    pub metrics_port: u16,
    /// How the test (the operator's machine) reaches it.
    pub s3_endpoint: String,
    /// The values file of the install, reused by upgrades.
    pub values: PathBuf,
    pub _dir: tempfile::TempDir,
}

pub static RELEASE_ONCE: OnceLock<Release> = OnceLock::new();

pub fn release() -> &'static Release {
    RELEASE_ONCE.get_or_init(|| {
        std::thread::spawn(|| runtime().block_on(install_release()))
            .join()
            .unwrap_or_else(|_| panic!("the chart release failed to install (see above)"))
    })
}

pub fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/etcdbak")
}

/// A local PersistentVolume pre-bound to `claim` in `ns`, on a fresh host dir under the node's dir.
pub async fn local_pv(n: &Node, client: &Client, ns: &str, claim: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let name = format!("pv-{ns}-{claim}");
    let dir = n.dir.join("volumes").join(&name);
    std::fs::create_dir_all(&dir).expect("PV dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).expect("PV dir mode");
    let yaml = format!(
        r#"apiVersion: v1
kind: PersistentVolume
metadata:
  name: {name}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef: {{namespace: {ns}, name: {claim}}}
  local: {{path: {path}}}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - {{key: kubernetes.io/hostname, operator: In, values: [{NODE_NAME}]}}
"#,
        path = dir.display()
    );
    apply_manifests(client, &yaml, "etcdbak-node-e2e", false).await;
    dir
}

/// The namespaces the tests' tenant etcd clusters run in: the chart's `tenantNamespaces`.
pub const TENANT_NAMESPACES: [&str; 5] = ["orders", "billing", "payments", "inventory", "shop"];

pub async fn install_release() -> Release {
    let n = node();
    let client = n.client().await;
    let dir = tempfile::tempdir().expect("temp dir");
    create_namespace(&client, RELEASE_NS).await;
    n.wait_default_service_account(&client, RELEASE_NS).await;
    // The chart binds a Role in each tenant namespace it names, so an admin lists namespaces that exist.
    for ns in TENANT_NAMESPACES {
        create_namespace(&client, ns).await;
    }
    // MinIO runs as 1000 with fsGroup; a local volume's dir is used as it is, so it must be writable.
    local_pv(n, &client, RELEASE_NS, "data-minio-0", 0o777).await;

    let minio_port = free_port();
    let metrics_port = free_port();
    let tag = |name: &str| {
        n.image(name)
            .rsplit_once(':')
            .map(|(repo, tag)| (repo.to_string(), tag.to_string()))
            .expect("image reference with a tag")
    };
    let (minio_repo, minio_tag) = tag("minio");
    let (mc_repo, mc_tag) = tag("mc");
    let values = dir.path().join("values.yaml");
    // The backup pods reach MinIO as localhost: the image's static glibc resolves it through /etc/hosts.
    // Only what this node needs, each a documented chart value: one replica on the host network, the
    // apiserver at 127.0.0.1, MinIO from the local image on a free loopback port, and one pod per backup
    // run (backoffLimit 0) so a failing run fails within its minute.
    std::fs::write(
        &values,
        format!(
            r#"replicaCount: 1
hostNetwork: true
apiServer:
  host: "127.0.0.1"
  port: "{api_port}"
metrics:
  port: {metrics_port}
s3CredentialsSecret: minio
# The narrow default: the controller reads TLS Secrets only in the tenants' namespaces.
tenantNamespaces: [{tenants}]
config:
  s3:
    endpoint: "http://localhost:{minio_port}"
  job:
    backoffLimit: 0
  pod:
    hostNetwork: true
log:
  level: info
minio:
  enabled: true
  hostNetwork: true
  listenAddress: 127.0.0.1
  image: {{repository: {minio_repo}, tag: "{minio_tag}"}}
  mcImage: {{repository: {mc_repo}, tag: "{mc_tag}"}}
  auth: {{rootUser: {MINIO_USER}, rootPassword: {MINIO_PASSWORD}}}
  service: {{port: {minio_port}, consolePort: {console}}}
  persistence: {{size: 1Gi}}
  bucketJob:
    endpoint: "http://127.0.0.1:{minio_port}"
    waitSeconds: 120
"#,
            api_port = n.api_port,
            console = free_port(),
            tenants = TENANT_NAMESPACES.join(", "),
        ),
    )
    .expect("values file");
    let t = Instant::now();
    let out = run(
        n.helm()
            .args(["install", RELEASE])
            .arg(chart_dir())
            .args(["-n", RELEASE_NS, "--wait", "--timeout", "5m", "-f"])
            .arg(&values),
        "helm install",
        Duration::from_secs(360),
    );
    check(&out, "helm install charts/etcdbak");
    println!(
        "MEASURE: helm install (controller + MinIO + bucket Job) Ready in {:.1?}",
        t.elapsed()
    );
    story("helm install etcdbak charts/etcdbak (MinIO enabled, local images): the controller is Ready");

    // The controller leads: it holds the Lease the chart names.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), RELEASE_NS);
    let d = deployments
        .get(RELEASE)
        .await
        .expect("the controller Deployment");
    assert_eq!(
        d.status.as_ref().and_then(|s| s.ready_replicas),
        Some(1),
        "{:?}",
        d.status
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), RELEASE_NS);
    let controller_pods: Vec<String> = pods
        .list(&ListParams::default().labels("app.kubernetes.io/name=etcdbak"))
        .await
        .expect("controller pods")
        .items
        .iter()
        .map(|p| p.name_any())
        .collect();
    let leases: Api<Lease> = Api::namespaced(client.clone(), RELEASE_NS);
    let holder = wait_for(
        "the controller holds its Lease",
        Duration::from_secs(90),
        Duration::from_secs(1),
        || {
            let leases = leases.clone();
            async move {
                leases
                    .get_opt("etcdbak")
                    .await
                    .ok()
                    .flatten()
                    .and_then(|l| l.spec)
                    .and_then(|s| s.holder_identity)
            }
        },
    )
    .await;
    assert!(
        controller_pods.iter().any(|p| holder.contains(p.as_str())),
        "the Lease holder {holder:?} is not a controller pod ({controller_pods:?})"
    );
    story(&format!(
        "the controller holds Lease etcdbak/etcdbak as {holder}"
    ));

    Release {
        metrics_port,
        s3_endpoint: format!("http://127.0.0.1:{minio_port}"),
        values,
        _dir: dir,
    }
}

impl Release {
    /// `helm upgrade` with the install's values plus `extra` (a values file's text), waiting for the rollout.
    pub fn upgrade(&self, extra: &str) {
        let n = node();
        let file = self._dir.path().join("upgrade.yaml");
        std::fs::write(&file, extra).expect("upgrade values");
        let out = run(
            n.helm()
                .args(["upgrade", RELEASE])
                .arg(chart_dir())
                .args(["-n", RELEASE_NS, "--wait", "--timeout", "5m", "-f"])
                .arg(&self.values)
                .arg("-f")
                .arg(&file),
            "helm upgrade",
            Duration::from_secs(360),
        );
        check(&out, "helm upgrade");
    }

    /// An etcdbak S3 subcommand as an operator runs it against the bucket.
    pub fn s3_cmd(&self, sub: &str) -> Command {
        let mut cmd = etcdbak();
        cmd.arg(sub)
            .args(["--s3-endpoint", &self.s3_endpoint, "--bucket", BUCKET])
            .args(["--prefix", PREFIX])
            .env("AWS_ACCESS_KEY_ID", MINIO_USER)
            .env("AWS_SECRET_ACCESS_KEY", MINIO_PASSWORD)
            .env_remove("ETCDBAK_CLUSTER")
            .env_remove("KUBECONFIG")
            .env("ETCDBAK_LOG_FORMAT", "plain");
        cmd
    }

    /// `etcdbak list --cluster <cluster> -o json`: the cluster's backups, newest first.
    pub fn backups(&self, cluster: &str) -> Vec<serde_json::Value> {
        let out = run(
            self.s3_cmd("list")
                .args(["--cluster", cluster, "-o", "json"]),
            "etcdbak list",
            Duration::from_secs(60),
        );
        let text = check(&out, "etcdbak list");
        let v: serde_json::Value = serde_json::from_str(&text).expect("list JSON");
        v.as_array().cloned().unwrap_or_default()
    }

    pub fn bucket(&self) -> Box<s3::Bucket> {
        let creds =
            s3::creds::Credentials::new(Some(MINIO_USER), Some(MINIO_PASSWORD), None, None, None)
                .expect("credentials");
        let mut b = s3::Bucket::new(
            BUCKET,
            s3::Region::Custom {
                region: "us-east-1".into(),
                endpoint: self.s3_endpoint.clone(),
            },
            creds,
        )
        .expect("bucket");
        b.set_path_style();
        b
    }

    /// Every object key under `prefix`, sorted.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let pages = self
            .bucket()
            .list(prefix.to_string(), None)
            .await
            .expect("listing the bucket");
        let mut keys: Vec<String> = pages
            .into_iter()
            .flat_map(|p| p.contents)
            .map(|o| o.key)
            .collect();
        keys.sort();
        keys
    }

    pub async fn get(&self, key: &str) -> Vec<u8> {
        self.bucket()
            .get_object(key)
            .await
            .unwrap_or_else(|e| panic!("get {key}: {e}"))
            .bytes()
            .to_vec()
    }
}

pub fn key_of(b: &serde_json::Value) -> String {
    b["key"].as_str().expect("a backup has a key").to_string()
}
