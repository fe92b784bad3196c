//! Issue 9: etcdbak where its users run it. A real single-node Kubernetes (tests/common/node.rs: kubelet,
//! containerd, kube-controller-manager with the real CronJob, Job and garbage-collector controllers,
//! kube-scheduler), the chart installed with `helm install` from the locally built images, tenant etcd
//! clusters as 3-member TLS StatefulSets on local PersistentVolumes, and nothing done by the test that a
//! controller should do: CronJobs fire on their own, Jobs run in pods, owned objects are garbage-collected.
//!
//! The node has no pod network and no kube-proxy, so every pod that talks to anything uses the host network
//! and 127.0.0.1. The chart does that through its documented values (`hostNetwork`, `apiServer`, MinIO's
//! `hostNetwork`/`listenAddress`/`bucketJob.endpoint`), and the backup, verify and cleanup pods the
//! controller renders join it through the config's `pod.hostNetwork`.
//!
//! One node and one chart release for the whole binary; the tests take turns ([`serial`]) because they share
//! the controller's config. Timing is printed as `MEASURE:` lines and the story as `STORY:` lines (run with
//! `--nocapture`; `scripts/demo kube` shows them), never asserted.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use common::certs::Certs;
use common::kube::{apply_manifests, create_namespace};
use common::node::{node, Node, NODE_NAME};
use common::{etcdbak, free_port, rig_bin};
use etcd_client::{Certificate, ConnectOptions, GetOptions, Identity, TlsOptions, Txn, TxnOp};
use etcdbak::crd::{Cluster, ClusterSpec};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use sha2::{Digest, Sha256};

const RELEASE: &str = "etcdbak";
const RELEASE_NS: &str = "etcdbak";
const BUCKET: &str = "etcd-backups";
const PREFIX: &str = "etcdbak";
const MINIO_USER: &str = "etcdbak";
const MINIO_PASSWORD: &str = "node-e2e-minio-Kq27vX";
const CLIENT_TLS: &str = "etcd-client-tls";
const SERVER_TLS: &str = "etcd-server-tls";
const EVERY_MINUTE: &str = "* * * * *";
/// A scheduled run can take up to a minute to come, and a pod some seconds to start on a busy machine.
const BACKUP_WAIT: Duration = Duration::from_secs(240);

static SERIAL: Mutex<()> = Mutex::new(());

/// The tests share one controller (and its config), so they run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn story(text: &str) {
    println!("STORY: {text}");
}

/// Runs a command to completion within `timeout` (killing it past that).
fn run(cmd: &mut Command, what: &str, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    // Drained on threads so a chatty child never blocks on a full pipe.
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
        if let Some(s) = child.try_wait().expect("wait") {
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
        stdout: out_t.join().expect("stdout thread"),
        stderr: err_t.join().expect("stderr thread"),
    }
}

fn check(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        diagnose(node())
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// What a person would look at when something on the node did not happen: pods, recent events, the
/// kubelet's last lines.
fn diagnose(n: &Node) -> String {
    let text = |args: &[&str]| {
        n.kubectl()
            .args(args)
            .output()
            .map(|o| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                )
            })
            .unwrap_or_default()
    };
    let events = text(&["get", "events", "-A", "--sort-by=.lastTimestamp"]);
    let events: Vec<&str> = events.lines().collect();
    format!(
        "--- pods ---\n{}\n--- last events ---\n{}\n--- kubelet ---\n{}",
        text(&["get", "pods", "-A", "-o", "wide"]),
        events[events.len().saturating_sub(25)..].join("\n"),
        n.log_tail("kubelet", 15)
    )
}

/// Polls `ready` (async) every `every` until it returns Some or `timeout` passes.
async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, every: Duration, mut ready: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = ready().await {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("{what}: not after {timeout:?}\n{}", diagnose(node()));
        }
        tokio::time::sleep(every).await;
    }
}

// --- the chart release --------------------------------------------------------------------------------

/// The chart as installed once for this binary.
struct Release {
    metrics_port: u16,
    /// How the test (the operator's machine) reaches it.
    s3_endpoint: String,
    /// The values file of the install, reused by upgrades.
    values: PathBuf,
    _dir: tempfile::TempDir,
}

static RELEASE_ONCE: OnceLock<Release> = OnceLock::new();

fn release() -> &'static Release {
    RELEASE_ONCE.get_or_init(|| {
        std::thread::spawn(|| runtime().block_on(install_release()))
            .join()
            .unwrap_or_else(|_| panic!("the chart release failed to install (see above)"))
    })
}

fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/etcdbak")
}

/// A local PersistentVolume pre-bound to `claim` in `ns`, on a fresh host dir under the node's dir.
async fn local_pv(n: &Node, client: &Client, ns: &str, claim: &str, mode: u32) -> PathBuf {
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

async fn install_release() -> Release {
    let n = node();
    let client = n.client().await;
    let dir = tempfile::tempdir().expect("temp dir");
    create_namespace(&client, RELEASE_NS).await;
    n.wait_default_service_account(&client, RELEASE_NS).await;
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
    fn upgrade(&self, extra: &str) {
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
    fn s3_cmd(&self, sub: &str) -> Command {
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
    fn backups(&self, cluster: &str) -> Vec<serde_json::Value> {
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

    fn bucket(&self) -> Box<s3::Bucket> {
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
    async fn keys(&self, prefix: &str) -> Vec<String> {
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

    async fn get(&self, key: &str) -> Vec<u8> {
        self.bucket()
            .get_object(key)
            .await
            .unwrap_or_else(|e| panic!("get {key}: {e}"))
            .bytes()
            .to_vec()
    }
}

fn key_of(b: &serde_json::Value) -> String {
    b["key"].as_str().expect("a backup has a key").to_string()
}

// --- tenant etcd clusters -----------------------------------------------------------------------------

/// A TLS etcd StatefulSet (`etcd`, pods `etcd-<i>`, PVCs `data-etcd-<i>` on local PVs) in its own
/// namespace. On the host network each member needs its own ports, so the pod picks them by its ordinal.
struct TenantEtcd {
    ns: String,
    certs: Certs,
    client_ports: Vec<u16>,
    peer_ports: Vec<u16>,
    volumes: Vec<PathBuf>,
}

const ETCD_STATEFULSET: &str = r#"apiVersion: v1
kind: Service
metadata: {name: etcd, namespace: NS}
spec:
  clusterIP: None
  selector: {app: etcd}
  ports: [{name: client, port: 2379}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: etcd, namespace: NS}
spec:
  serviceName: etcd
  replicas: REPLICAS
  # Members need each other to form a quorum: start them together (docs/RESTORE.md, step 6).
  podManagementPolicy: Parallel
  selector:
    matchLabels: {app: etcd}
  template:
    metadata:
      labels: {app: etcd}
    spec:
      hostNetwork: true
      dnsPolicy: ClusterFirstWithHostNet
      terminationGracePeriodSeconds: 5
      containers:
        - name: etcd
          image: IMAGE
          imagePullPolicy: IfNotPresent
          command: [/bin/sh, -ec]
          args:
            - |
              i=${POD_NAME##*-}
              set -- $CLIENT_PORTS; shift "$i"; client=$1
              set -- $PEER_PORTS; shift "$i"; peer=$1
              exec etcd --name "$POD_NAME" --data-dir /var/lib/etcd \
                --listen-client-urls "https://127.0.0.1:$client" --advertise-client-urls "https://127.0.0.1:$client" \
                --listen-peer-urls "https://127.0.0.1:$peer" --initial-advertise-peer-urls "https://127.0.0.1:$peer" \
                --initial-cluster "$INITIAL_CLUSTER" --initial-cluster-token "$TOKEN" --initial-cluster-state new \
                --cert-file /etc/etcd/tls/tls.crt --key-file /etc/etcd/tls/tls.key \
                --trusted-ca-file /etc/etcd/tls/ca.crt --client-cert-auth \
                --peer-cert-file /etc/etcd/tls/tls.crt --peer-key-file /etc/etcd/tls/tls.key \
                --peer-trusted-ca-file /etc/etcd/tls/ca.crt --peer-client-cert-auth \
                --unsafe-no-fsync --heartbeat-interval 250 --election-timeout 2500 --log-level warn
          env:
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - {name: CLIENT_PORTS, value: "CLIENT_PORT_LIST"}
            - {name: PEER_PORTS, value: "PEER_PORT_LIST"}
            - {name: INITIAL_CLUSTER, value: "INITIAL_CLUSTER_VALUE"}
            - {name: TOKEN, value: "TOKEN_VALUE"}
          volumeMounts:
            - {name: data, mountPath: /var/lib/etcd}
            - {name: tls, mountPath: /etc/etcd/tls, readOnly: true}
      volumes:
        - name: tls
          secret: {secretName: etcd-server-tls}
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        storageClassName: ""
        resources: {requests: {storage: 1Gi}}
"#;

fn tls_secret(name: &str, ns: &str, type_: &str, files: [(&str, &PathBuf); 3]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            ..Default::default()
        },
        type_: Some(type_.into()),
        data: Some(
            files
                .iter()
                .map(|(k, p)| {
                    (
                        k.to_string(),
                        ByteString(std::fs::read(p).expect("PEM file")),
                    )
                })
                .collect(),
        ),
        ..Default::default()
    }
}

impl TenantEtcd {
    async fn start(n: &Node, client: &Client, ns: &str, members: usize) -> TenantEtcd {
        let t = Instant::now();
        create_namespace(client, ns).await;
        n.wait_default_service_account(client, ns).await;
        let certs = Certs::generate();
        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        for s in [
            tls_secret(
                SERVER_TLS,
                ns,
                "Opaque",
                [
                    ("ca.crt", &certs.ca),
                    ("tls.crt", &certs.server_cert),
                    ("tls.key", &certs.server_key),
                ],
            ),
            tls_secret(
                CLIENT_TLS,
                ns,
                "kubernetes.io/tls",
                [
                    ("ca.crt", &certs.ca),
                    ("tls.crt", &certs.client_cert),
                    ("tls.key", &certs.client_key),
                ],
            ),
        ] {
            secrets
                .create(&PostParams::default(), &s)
                .await
                .unwrap_or_else(|e| panic!("creating Secret {}: {e}", s.name_any()));
        }
        let mut volumes = Vec::new();
        for i in 0..members {
            // etcd wants its data dir private.
            volumes.push(local_pv(n, client, ns, &format!("data-etcd-{i}"), 0o700).await);
        }
        let mut ports = BTreeSet::new();
        while ports.len() < 2 * members {
            ports.insert(free_port());
        }
        let ports: Vec<u16> = ports.into_iter().collect();
        let client_ports = ports[..members].to_vec();
        let peer_ports = ports[members..].to_vec();
        let initial_cluster = (0..members)
            .map(|i| format!("etcd-{i}=https://127.0.0.1:{}", peer_ports[i]))
            .collect::<Vec<_>>()
            .join(",");
        let join = |p: &[u16]| p.iter().map(u16::to_string).collect::<Vec<_>>().join(" ");
        let yaml = ETCD_STATEFULSET
            .replace("NS", ns)
            .replace("REPLICAS", &members.to_string())
            .replace("IMAGE", n.image("etcd"))
            .replace("CLIENT_PORT_LIST", &join(&client_ports))
            .replace("PEER_PORT_LIST", &join(&peer_ports))
            .replace("INITIAL_CLUSTER_VALUE", &initial_cluster)
            .replace("TOKEN_VALUE", &format!("{ns}-etcd"));
        apply_manifests(client, &yaml, "etcdbak-node-e2e", false).await;
        let etcd = TenantEtcd {
            ns: ns.to_string(),
            certs,
            client_ports,
            peer_ports,
            volumes,
        };
        etcd.wait_healthy(Duration::from_secs(180)).await;
        println!(
            "MEASURE: {members}-member TLS etcd StatefulSet in {ns} healthy in {:.1?}",
            t.elapsed()
        );
        etcd
    }

    fn endpoints(&self) -> Vec<String> {
        self.client_ports
            .iter()
            .map(|p| format!("https://127.0.0.1:{p}"))
            .collect()
    }

    fn members(&self) -> usize {
        self.client_ports.len()
    }

    async fn connect(&self, endpoints: Vec<String>) -> Result<etcd_client::Client, String> {
        let read = |p: &Path| std::fs::read(p).expect("PEM");
        let tls = TlsOptions::new()
            .ca_certificate(Certificate::from_pem(read(&self.certs.ca)))
            .identity(Identity::from_pem(
                read(&self.certs.client_cert),
                read(&self.certs.client_key),
            ));
        let opts = ConnectOptions::new()
            .with_tls(tls)
            .with_connect_timeout(Duration::from_secs(3))
            .with_timeout(Duration::from_secs(20));
        etcd_client::Client::connect(endpoints, Some(opts))
            .await
            .map_err(|e| e.to_string())
    }

    /// Every member answers a linearizable read.
    async fn healthy(&self) -> bool {
        for e in self.endpoints() {
            let Ok(mut c) = self.connect(vec![e]).await else {
                return false;
            };
            if c.get("health", None).await.is_err() {
                return false;
            }
        }
        true
    }

    async fn wait_healthy(&self, timeout: Duration) {
        wait_for(
            &format!("the etcd StatefulSet in {} is healthy", self.ns),
            timeout,
            Duration::from_secs(1),
            move || async move { self.healthy().await.then_some(()) },
        )
        .await;
    }

    async fn put_keys(&self, prefix: &str, n: usize) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let kvs: BTreeMap<Vec<u8>, Vec<u8>> = (0..n)
            .map(|i| {
                (
                    format!("{prefix}{i:06}").into_bytes(),
                    format!("value-{i}-{}", "x".repeat(64)).into_bytes(),
                )
            })
            .collect();
        let mut c = self.connect(self.endpoints()).await.expect("etcd client");
        let ops: Vec<(Vec<u8>, Vec<u8>)> = kvs.clone().into_iter().collect();
        for chunk in ops.chunks(100) {
            let txn: Vec<TxnOp> = chunk
                .iter()
                .map(|(k, v)| TxnOp::put(k.clone(), v.clone(), None))
                .collect();
            c.txn(Txn::new().and_then(txn)).await.expect("etcd txn");
        }
        kvs
    }

    async fn read_all(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut c = self.connect(self.endpoints()).await.expect("etcd client");
        let resp = c
            .get(vec![0u8], Some(GetOptions::new().with_from_key()))
            .await
            .expect("etcd range");
        resp.kvs()
            .iter()
            .map(|kv| (kv.key().to_vec(), kv.value().to_vec()))
            .collect()
    }

    async fn revision(&self) -> i64 {
        let mut c = self.connect(self.endpoints()).await.expect("etcd client");
        c.get("revision-probe", None)
            .await
            .expect("etcd get")
            .header()
            .map(|h| h.revision())
            .unwrap_or(0)
    }

    async fn scale(&self, client: &Client, replicas: usize) {
        let api: Api<StatefulSet> = Api::namespaced(client.clone(), &self.ns);
        api.patch(
            "etcd",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"replicas": replicas}})),
        )
        .await
        .expect("scaling the etcd StatefulSet");
    }

    async fn wait_no_pods(&self, client: &Client) {
        let pods: Api<Pod> = Api::namespaced(client.clone(), &self.ns);
        wait_for(
            "the etcd pods are gone",
            Duration::from_secs(120),
            Duration::from_secs(1),
            || {
                let pods = pods.clone();
                async move {
                    pods.list(&ListParams::default().labels("app=etcd"))
                        .await
                        .ok()
                        .filter(|l| l.items.is_empty())
                        .map(|_| ())
                }
            },
        )
        .await;
    }
}

fn new_cluster(name: &str, etcd: &TenantEtcd, keep: u32) -> Cluster {
    Cluster::new(
        name,
        ClusterSpec {
            namespace: etcd.ns.clone(),
            endpoints: Some(etcd.endpoints()),
            service: None,
            tls_secret: Some(CLIENT_TLS.into()),
            schedule: Some(EVERY_MINUTE.into()),
            keep: Some(keep),
            retention: None,
            suspend: None,
            verify: None,
            compression: None,
            encryption: None,
            continuous: None,
        },
    )
}

/// Waits until `etcdbak list` shows a backup for `cluster` that `accept` takes; returns it.
async fn wait_backup(
    rel: &Release,
    cluster: &str,
    timeout: Duration,
    accept: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    wait_for(
        &format!("a new backup of {cluster} in the bucket"),
        timeout,
        Duration::from_secs(3),
        || {
            let found = rel.backups(cluster).into_iter().find(|b| accept(b));
            async move { found }
        },
    )
    .await
}

async fn create_cluster(client: &Client, c: &Cluster) {
    let clusters: Api<Cluster> = Api::all(client.clone());
    clusters
        .create(&PostParams::default(), c)
        .await
        .unwrap_or_else(|e| panic!("creating Cluster {}: {e}", c.name_any()));
}

/// Backup Jobs the CronJob of `cluster` made, as (name, succeeded, failed).
async fn backup_jobs(client: &Client, cluster: &str) -> Vec<(String, i32, i32)> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), RELEASE_NS);
    let cj = etcdbak::naming::cron_job_name(cluster);
    jobs.list(&ListParams::default())
        .await
        .expect("listing Jobs")
        .items
        .into_iter()
        .filter(|j| {
            j.owner_references()
                .iter()
                .any(|o| o.kind == "CronJob" && o.name == cj)
        })
        .map(|j| {
            let s = j.status.clone().unwrap_or_default();
            (
                j.name_any(),
                s.succeeded.unwrap_or(0),
                s.failed.unwrap_or(0),
            )
        })
        .collect()
}

// --- the tests ----------------------------------------------------------------------------------------

#[test]
fn scheduled_backups_retention_and_cleanup_on_a_real_node() {
    let _serial = serial();
    let n = node();
    let rel = release();
    let rt = runtime();
    rt.block_on(async {
        let client = n.client().await;
        let etcd = TenantEtcd::start(n, &client, "orders", 3).await;
        story("a 3-member TLS etcd StatefulSet runs in namespace orders on local PersistentVolumes");
        etcd.put_keys("/orders/", 200).await;
        let name = "orders-etcd";

        // The Cluster, and nothing else: the CronJob fires on its own, the Job's pod takes and stores the
        // snapshot.
        let t = Instant::now();
        create_cluster(&client, &new_cluster(name, &etcd, 2)).await;
        let first = wait_backup(rel, name, BACKUP_WAIT, |_| true).await;
        println!(
            "MEASURE: Cluster created -> first backup stored (CronJob {EVERY_MINUTE}) in {:.1?}",
            t.elapsed()
        );
        story(&format!(
            "Cluster {name} created; its CronJob fired by itself and `etcdbak list` shows {}",
            key_of(&first)
        ));
        assert!(
            key_of(&first).starts_with(&format!("{PREFIX}/{name}/")),
            "{first}"
        );
        // The object lands a moment before the Job controller marks the Job complete.
        let client2 = client.clone();
        wait_for(
            "a Job of the CronJob succeeded",
            Duration::from_secs(60),
            Duration::from_secs(1),
            move || {
                let client = client2.clone();
                async move {
                    let jobs = backup_jobs(&client, name).await;
                    jobs.iter().any(|(_, ok, _)| *ok >= 1).then_some(())
                }
            },
        )
        .await;

        // Keep 2: after the third run, the two newest are left.
        let t = Instant::now();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let kept = wait_for(
            "three scheduled runs with keep 2",
            Duration::from_secs(300),
            Duration::from_secs(5),
            || {
                let now: Vec<String> = rel.backups(name).iter().map(key_of).collect();
                seen.extend(now.iter().cloned());
                let done = seen.len() >= 3 && now.len() == 2;
                async move { done.then_some(now) }
            },
        )
        .await;
        let newest: Vec<String> = seen.iter().rev().take(2).cloned().collect();
        assert_eq!(
            kept, newest,
            "keep 2 leaves the two newest of {seen:?} (newest first)"
        );
        assert!(!kept.contains(&key_of(&first)), "the first backup was pruned");
        println!(
            "MEASURE: two more scheduled runs, retention to 2, in {:.1?}",
            t.elapsed()
        );
        story(&format!(
            "three scheduled runs later the bucket keeps the newest two: {kept:?}"
        ));

        // Deleting the Cluster: the real cleanup Job, the finalizer held until it succeeded, and the
        // garbage collector removing what the Cluster owned.
        let clusters: Api<Cluster> = Api::all(client.clone());
        let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), RELEASE_NS);
        let secrets: Api<Secret> = Api::namespaced(client.clone(), RELEASE_NS);
        let jobs: Api<Job> = Api::namespaced(client.clone(), RELEASE_NS);
        let cj_name = etcdbak::naming::cron_job_name(name);
        let tls_name = etcdbak::naming::tls_secret_name(name);
        let cleanup = etcdbak::naming::cleanup_job_name(name);
        assert!(cron_jobs.get_opt(&cj_name).await.unwrap().is_some());
        assert!(secrets.get_opt(&tls_name).await.unwrap().is_some());
        let t = Instant::now();
        clusters
            .delete(name, &DeleteParams::default())
            .await
            .expect("deleting the Cluster");
        let mut held_while_running = false;
        let started = Instant::now();
        loop {
            let c = clusters.get_opt(name).await.expect("reading the Cluster");
            let job = jobs.get_opt(&cleanup).await.expect("reading the cleanup Job");
            let succeeded = job
                .as_ref()
                .and_then(|j| j.status.as_ref())
                .and_then(|s| s.succeeded)
                .unwrap_or(0)
                >= 1;
            match c {
                Some(c) => {
                    if !succeeded && !c.finalizers().is_empty() {
                        held_while_running = true;
                    }
                }
                None => {
                    assert!(
                        succeeded,
                        "the Cluster went away before its cleanup Job succeeded: {:?}",
                        job.and_then(|j| j.status)
                    );
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(240),
                "the Cluster is still there 240s after its deletion\n{}",
                diagnose(n)
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(
            held_while_running,
            "the finalizer held the Cluster while the cleanup Job had not succeeded"
        );
        println!(
            "MEASURE: Cluster deleted -> cleanup Job succeeded and finalizer removed in {:.1?}",
            t.elapsed()
        );
        assert_eq!(
            rel.backups(name),
            Vec::<serde_json::Value>::new(),
            "the cleanup Job removed every backup of {name}"
        );
        wait_for(
            "the CronJob and the mirrored Secret are garbage-collected",
            Duration::from_secs(120),
            Duration::from_secs(1),
            || {
                let (cron_jobs, secrets) = (cron_jobs.clone(), secrets.clone());
                let (cj_name, tls_name) = (cj_name.clone(), tls_name.clone());
                async move {
                    let cj = cron_jobs.get_opt(&cj_name).await.expect("CronJob");
                    let s = secrets.get_opt(&tls_name).await.expect("Secret");
                    (cj.is_none() && s.is_none()).then_some(())
                }
            },
        )
        .await;
        story(&format!(
            "kubectl delete cluster {name}: the cleanup Job {cleanup} emptied its prefix, then the finalizer \
             went, and the garbage collector removed CronJob {cj_name} and Secret {tls_name}"
        ));
    });
}

#[test]
fn custom_store_container_from_the_mc_image() {
    let _serial = serial();
    let n = node();
    let rel = release();
    let rt = runtime();
    // An admin's own store container: mc from its own image, the S3 keys injected as env vars from the
    // Secret, the snapshot read from /backup. It uploads the snapshot and its metadata side by side.
    let store = format!(
        r#"storeContainer:
  name: store
  image: {mc}
  imagePullPolicy: IfNotPresent
  command: [/bin/sh, -ec]
  args:
    - |
      mc alias set dst "$ETCDBAK_S3_ENDPOINT" "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >/dev/null
      key="dst/$ETCDBAK_S3_BUCKET/custom/$CLUSTER/$(date -u +%Y%m%dT%H%M%SZ)"
      mc cp --quiet "$SNAPSHOT_FILE" "$key.db"
      mc cp --quiet "$SNAPSHOT_METADATA" "$key.json"
      echo "stored $key.db"
  env:
    - name: MC_CONFIG_DIR
      value: /tmp/.mc
    - name: S3_ACCESS_KEY
      valueFrom: {{secretKeyRef: {{name: minio, key: AWS_ACCESS_KEY_ID}}}}
    - name: S3_SECRET_KEY
      valueFrom: {{secretKeyRef: {{name: minio, key: AWS_SECRET_ACCESS_KEY}}}}
  volumeMounts:
    - {{name: etcd-backup, mountPath: /backup, readOnly: true}}
"#,
        mc = n.image("mc")
    );
    rt.block_on(async {
        let client = n.client().await;
        let t = Instant::now();
        rel.upgrade(&store);
        println!("MEASURE: helm upgrade to the custom store container in {:.1?}", t.elapsed());
        let etcd = TenantEtcd::start(n, &client, "billing", 1).await;
        let written = etcd.put_keys("/billing/", 50).await;
        let name = "billing-etcd";
        let t = Instant::now();
        create_cluster(&client, &new_cluster(name, &etcd, 3)).await;
        let prefix = format!("custom/{name}/");
        let keys = wait_for(
            "the custom store container uploaded a snapshot",
            BACKUP_WAIT,
            Duration::from_secs(3),
            || {
                let prefix = prefix.clone();
                async move {
                let keys = rel.keys(&prefix).await;
                (keys.iter().any(|k| k.ends_with(".db")) && keys.iter().any(|k| k.ends_with(".json")))
                    .then_some(keys)
                }
            },
        )
        .await;
        println!(
            "MEASURE: Cluster created -> snapshot stored by the custom container in {:.1?}",
            t.elapsed()
        );
        let db_key = keys.iter().find(|k| k.ends_with(".db")).expect("a .db");
        let json_key = db_key.replace(".db", ".json");
        assert!(keys.contains(&json_key), "{keys:?}");
        let db = rel.get(db_key).await;
        let meta: serde_json::Value =
            serde_json::from_slice(&rel.get(&json_key).await).expect("snapshot.json");
        assert_eq!(meta["cluster"].as_str(), Some(name));
        assert_eq!(
            meta["sha256"].as_str(),
            Some(hex::encode(Sha256::digest(&db)).as_str()),
            "the uploaded bytes are the verified snapshot"
        );
        // And they restore: etcdutl checks the hash trailer and the keys are there.
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("snapshot.db");
        std::fs::write(&file, &db).expect("write snapshot");
        let out = run(
            Command::new(rig_bin("etcdutl"))
                .args(["snapshot", "status", "-w", "json"])
                .arg(&file),
            "etcdutl snapshot status",
            Duration::from_secs(60),
        );
        let status = check(&out, "etcdutl snapshot status");
        let status: serde_json::Value = serde_json::from_str(status.trim()).expect("status JSON");
        assert!(
            status["totalKey"].as_u64().unwrap_or(0) >= written.len() as u64,
            "{status}"
        );
        story(&format!(
            "a custom store container (mc image, S3 keys from env vars) stored {db_key} for Cluster {name}"
        ));

        // Back to the default store for the other tests; the Cluster goes (its cleanup prunes only names
        // etcdbak wrote, so the custom objects stay: the admin's container owns them).
        let clusters: Api<Cluster> = Api::all(client.clone());
        clusters
            .delete(name, &DeleteParams::default())
            .await
            .expect("deleting the Cluster");
        wait_for(
            "Cluster billing-etcd is gone",
            Duration::from_secs(240),
            Duration::from_secs(1),
            || {
                let clusters = clusters.clone();
                async move { clusters.get_opt(name).await.ok().flatten().is_none().then_some(()) }
            },
        )
        .await;
        rel.upgrade("storeContainer: null\n");
    });
}

/// The runbook `etcdbak restore-guide` prints, executed command by command as printed, against a real
/// StatefulSet whose data was destroyed.
#[test]
fn restore_drill_runs_the_printed_runbook() {
    let _serial = serial();
    let n = node();
    let rel = release();
    let rt = runtime();
    rt.block_on(async {
        let client = n.client().await;
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
        story(&format!("restore drill: {} keys in payments-etcd, backed up as {good_key}", written.len()));

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

        // The guide, with the facts the StatefulSet's naming cannot guess on this node (loopback peer and
        // client URLs, where the client certificates are, the helper image that exists here) given as flags,
        // as docs/RESTORE.md tells an operator to do after checking the header.
        let drill = tempfile::tempdir().expect("drill dir");
        let work = drill.path().join("work");
        let bin = drill.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        for (link, target) in [
            ("kubectl", rig_bin("kubectl")),
            ("etcdctl", rig_bin("etcdctl")),
            ("etcdutl", rig_bin("etcdutl")),
            ("etcdbak", PathBuf::from(env!("CARGO_BIN_EXE_etcdbak"))),
        ] {
            std::os::unix::fs::symlink(target, bin.join(link)).expect("symlink");
        }
        let mut guide = rel.s3_cmd("restore-guide");
        guide
            .env("KUBECONFIG", &n.kubeconfig)
            .args(["--cluster", name, "--snapshot", &good_key])
            .args(["--namespace", &etcd.ns, "--statefulset", "etcd"])
            .args(["--endpoints", &etcd.endpoints().join(",")])
            .arg("--cacert")
            .arg(&etcd.certs.ca)
            .arg("--cert")
            .arg(&etcd.certs.client_cert)
            .arg("--key")
            .arg(&etcd.certs.client_key)
            .args(["--helper-image", n.image("busybox")])
            .arg("--workdir")
            .arg(&work);
        for i in 0..etcd.members() {
            guide.arg("--member").arg(format!(
                "etcd-{i}=https://127.0.0.1:{}",
                etcd.peer_ports[i]
            ));
        }
        let out = run(&mut guide, "etcdbak restore-guide", Duration::from_secs(60));
        let text = check(&out, "etcdbak restore-guide");
        let commands = etcdbak::restore::render::commands_in_text(&text);
        assert!(commands.len() > 10, "a runbook with commands:\n{text}");
        println!("--- the runbook ---\n{text}");

        let t = Instant::now();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        for (i, command) in commands.iter().enumerate() {
            let started = Instant::now();
            let suspend_check = command.contains("jsonpath={.spec.suspend}");
            // An operator re-runs a check until it shows what the guide says (the controller needs a moment
            // to apply the suspension to the CronJob).
            let mut tries = 0;
            let out = loop {
                let out = run(
                    Command::new("sh")
                        .arg("-c")
                        .arg(command)
                        .env("PATH", &path)
                        .env("KUBECONFIG", &n.kubeconfig)
                        .env("AWS_ACCESS_KEY_ID", MINIO_USER)
                        .env("AWS_SECRET_ACCESS_KEY", MINIO_PASSWORD)
                        .env("ETCDBAK_LOG_FORMAT", "plain")
                        .current_dir(drill.path()),
                    command,
                    Duration::from_secs(900),
                );
                let done = !suspend_check
                    || String::from_utf8_lossy(&out.stdout).trim() == "true"
                    || tries >= 60;
                if done {
                    break out;
                }
                tries += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            };
            let stdout = check(&out, &format!("runbook command {}: {command}", i + 1));
            if suspend_check {
                assert_eq!(stdout.trim(), "true", "the CronJob is suspended");
            }
            println!(
                "MEASURE: runbook command {} ({:.1?}): {command}",
                i + 1,
                started.elapsed()
            );
        }
        println!("MEASURE: restore drill, whole runbook executed in {:.1?}", t.elapsed());

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
            "the runbook ran as printed ({} commands): every key is back, revision {after}, and a new backup {} was taken",
            commands.len(),
            newest.first().map(key_of).unwrap_or_default()
        ));
        let clusters: Api<Cluster> = Api::all(client.clone());
        let _ = clusters.delete(name, &DeleteParams::default()).await;
    });
}

/// The status contract (docs/CONTRACT.md): `kubectl get clusters` shows the last successful backup, and a
/// failing backup shows as a condition, an Event and a metric.
#[test]
fn cluster_status_shows_last_backup_and_failure() {
    let _serial = serial();
    let n = node();
    let rel = release();
    let rt = runtime();
    rt.block_on(async {
        let client = n.client().await;
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
