//! A real kube-apiserver for tests, started the way controller-runtime's envtest does: its own etcd (plain
//! http on loopback), serving certs and a client CA we generate, an RSA service-account key pair, and an admin
//! client certificate in `system:masters`. No kubelet, scheduler or controller-manager runs: nothing runs
//! CronJobs, completes Jobs or garbage-collects, so tests create or check those effects themselves.
//!
//! One apiserver per test binary (starting one costs seconds), shared by the tests in it; tests that count
//! writes or run a whole controller take [`serial`] so they do not see each other's traffic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, CustomResourceExt};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::{free_port, rig_bin, wait_until, Proc};

pub struct KubeRig {
    /// Keeps the temp dir (data, certs, kubeconfig) alive as long as the processes.
    _dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub url: String,
    _etcd: Proc,
    _apiserver: Proc,
}

static RIG: OnceLock<KubeRig> = OnceLock::new();
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The shared apiserver, started on first use, with the Cluster CRD installed and Established.
pub fn rig() -> &'static KubeRig {
    // Started on a plain thread: the first caller is usually inside a test's runtime, where blocking on
    // another runtime is not allowed.
    RIG.get_or_init(|| {
        std::thread::spawn(start)
            .join()
            .unwrap_or_else(|_| panic!("the kube-apiserver rig failed to start (see above)"))
    })
}

/// Held by tests that count writes or run a controller over every Cluster, so they run one at a time.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

impl KubeRig {
    /// A fresh client (kube clients hold connection pools tied to the runtime that made them, so every
    /// test builds its own).
    pub async fn client(&self) -> Client {
        client_from(&self.kubeconfig).await
    }
}

impl KubeRig {
    /// A client that authenticates with a bearer token (a ServiceAccount's), to test RBAC for real.
    pub async fn client_for_token(&self, token: &str) -> Client {
        let dir = self._dir.path();
        let text = format!(
            "apiVersion: v1
kind: Config
clusters:
- name: rig
  cluster:
    server: {}
    certificate-authority: {}
users:
- name: sa
  user:
    token: {token}
contexts:
- name: rig
  context:
    cluster: rig
    user: sa
current-context: rig
",
            self.url,
            dir.join("ca.crt").display()
        );
        let kc = Kubeconfig::from_yaml(&text).expect("token kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .expect("loading the token kubeconfig");
        Client::try_from(config).expect("building a kube client")
    }
}

/// Server-side applies every document of a multi-document YAML stream (what `kubectl apply
/// --server-side` does), resolving each kind through discovery. `dry_run` asks the apiserver to validate
/// and admit without persisting.
pub async fn apply_manifests(
    client: &Client,
    yaml: &str,
    manager: &str,
    dry_run: bool,
) -> Vec<String> {
    use kube::api::DynamicObject;
    use kube::core::GroupVersionKind;
    use kube::discovery::{Discovery, Scope};
    use serde::Deserialize;

    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("apiserver discovery");
    let mut applied = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value = serde_yaml::Value::deserialize(doc).expect("a YAML document");
        if value.is_null() {
            continue;
        }
        let obj: DynamicObject = serde_yaml::from_value(value).expect("a Kubernetes object");
        let types = obj.types.clone().expect("apiVersion and kind");
        let gvk = GroupVersionKind::try_from(&types).expect("a group/version/kind");
        let (ar, caps) = discovery
            .resolve_gvk(&gvk)
            .unwrap_or_else(|| panic!("the apiserver does not serve {gvk:?}"));
        let name = obj.metadata.name.clone().expect("a name");
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => {
                let ns = obj
                    .metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into());
                Api::namespaced_with(client.clone(), &ns, &ar)
            }
            Scope::Cluster => Api::all_with(client.clone(), &ar),
        };
        let mut params = PatchParams::apply(manager).force();
        params.dry_run = dry_run;
        api.patch(&name, &params, &Patch::Apply(&obj))
            .await
            .unwrap_or_else(|e| panic!("applying {} {name}: {e}", types.kind));
        applied.push(format!("{}/{name}", types.kind));
    }
    applied
}

/// Kills `child_pid` once this test process is gone, even when it dies without running destructors (the
/// shared rig lives in a static, which is never dropped).
pub fn reap_with_test_process(child_pid: u32) {
    let me = std::process::id();
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {me} 2>/dev/null; do sleep 1; done; kill -9 {child_pid} 2>/dev/null"
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

pub fn write(path: &Path, text: impl AsRef<[u8]>) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// The control plane's PKI: one CA that signs the apiserver's serving certificate and every client identity
/// (the admin here; the node adds its kubelet and the apiserver's kubelet client).
pub struct Pki {
    pub ca_pem: String,
    pub serving_cert: String,
    pub serving_key: String,
    pub client_cert: String,
    pub client_key: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    /// A client certificate (PEM cert, PEM key) for user `cn` in group `org`, signed by the CA.
    pub fn client(&self, cn: &str, org: Option<&str>) -> (String, String) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        if let Some(org) = org {
            params
                .distinguished_name
                .push(DnType::OrganizationName, org);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

pub fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "etcdbak-test-ca");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let mut serving = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "kubernetes.default.svc".to_string(),
    ])
    .unwrap();
    serving
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving_key = KeyPair::generate().unwrap();
    let serving_cert = serving.signed_by(&serving_key, &issuer).unwrap();

    let mut pki = Pki {
        ca_pem: ca_cert.pem(),
        serving_cert: serving_cert.pem(),
        serving_key: serving_key.serialize_pem(),
        client_cert: String::new(),
        client_key: String::new(),
        issuer,
    };
    // The organisation is the group: system:masters bypasses RBAC, as envtest's admin user does.
    (pki.client_cert, pki.client_key) = pki.client("admin", Some("system:masters"));
    pki
}

/// The rig lives in a static that is never dropped, so its temp dir (the apiserver's etcd data, ~120 MB)
/// would outlive every test binary that used it and fill the disk. A watcher removes it once this process
/// (and with it the rig's servers) is gone.
fn remove_at_exit(dir: &Path) {
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {} 2>/dev/null; do sleep 1; done; sleep 3; rm -rf '{}'",
            std::process::id(),
            dir.display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// How a control plane's apiserver differs between the plain rig and the node.
pub struct ApiServerFlags<'a> {
    /// `--authorization-mode`: `RBAC` for the rig, `Node,RBAC` for the node.
    pub authorization_mode: &'a str,
    /// The rig has no controller-manager to create ServiceAccount tokens, so it turns the ServiceAccount
    /// admission plugin off; the node keeps it (its pods get tokens).
    pub service_account_admission: bool,
    pub extra: Vec<String>,
}

/// etcd + kube-apiserver over files in `d` (certs, keys, the admin kubeconfig), ready (`/readyz` ok) on
/// return. `reap` makes each process die with the test process even when no destructor runs.
pub struct ControlPlane {
    pub etcd: Proc,
    pub apiserver: Proc,
    pub url: String,
    pub port: u16,
    pub kubeconfig: PathBuf,
    pub sa_key: PathBuf,
}

pub fn start_control_plane(d: &Path, pki: &Pki, flags: ApiServerFlags<'_>) -> ControlPlane {
    let etcd_bin = rig_bin("etcd");
    let apiserver_bin = rig_bin("kube-apiserver");
    write(&d.join("ca.crt"), &pki.ca_pem);
    write(&d.join("serving.crt"), &pki.serving_cert);
    write(&d.join("serving.key"), &pki.serving_key);
    // rcgen (ring) cannot make RSA keys; the service-account issuer wants RSA, so openssl makes them.
    let sa_key = d.join("sa.key");
    let sa_pub = d.join("sa.pub");
    let ok = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&sa_key)
        .arg("2048")
        .stderr(Stdio::null())
        .status()
        .expect("openssl is needed for the service-account key")
        .success()
        && Command::new("openssl")
            .args(["rsa", "-pubout", "-in"])
            .arg(&sa_key)
            .arg("-out")
            .arg(&sa_pub)
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
    assert!(ok, "openssl could not create the service-account key pair");

    // etcd: plain http on loopback, no fsync (test data).
    let client_port = free_port();
    let peer_port = free_port();
    let etcd_url = format!("http://127.0.0.1:{client_port}");
    let etcd_log = std::fs::File::create(d.join("etcd.log")).unwrap();
    let etcd = Proc::spawn(
        "etcd",
        Command::new(etcd_bin)
            .arg("--data-dir")
            .arg(d.join("etcd"))
            .arg(format!("--listen-client-urls={etcd_url}"))
            .arg(format!("--advertise-client-urls={etcd_url}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"
            ))
            .arg(format!(
                "--initial-cluster=default=http://127.0.0.1:{peer_port}"
            ))
            .arg("--unsafe-no-fsync")
            .arg("--log-level=warn")
            .stdout(Stdio::null())
            .stderr(etcd_log),
    );
    if let Some(pid) = etcd.pid() {
        reap_with_test_process(pid);
    }
    wait_until("etcd", Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", client_port)).is_ok()
    });

    let port = free_port();
    let url = format!("https://127.0.0.1:{port}");
    let api_log = std::fs::File::create(d.join("kube-apiserver.log")).unwrap();
    let mut cmd = Command::new(apiserver_bin);
    cmd.arg(format!("--etcd-servers={etcd_url}"))
        .arg("--cert-dir")
        .arg(d.join("certs"))
        .arg("--tls-cert-file")
        .arg(d.join("serving.crt"))
        .arg("--tls-private-key-file")
        .arg(d.join("serving.key"))
        .arg("--client-ca-file")
        .arg(d.join("ca.crt"))
        .arg(format!("--secure-port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg("--advertise-address=127.0.0.1")
        .arg(format!("--authorization-mode={}", flags.authorization_mode))
        .arg("--service-cluster-ip-range=10.0.0.0/24")
        .arg("--allow-privileged=true")
        .arg(format!("--service-account-issuer={url}/"))
        .arg("--service-account-key-file")
        .arg(&sa_pub)
        .arg("--service-account-signing-key-file")
        .arg(&sa_key)
        .arg("--v=1")
        .args(&flags.extra)
        .stdout(Stdio::null())
        .stderr(api_log);
    if !flags.service_account_admission {
        cmd.arg("--disable-admission-plugins=ServiceAccount");
    }
    let apiserver = Proc::spawn("kube-apiserver", &mut cmd);
    if let Some(pid) = apiserver.pid() {
        reap_with_test_process(pid);
    }

    let kubeconfig = d.join("kubeconfig");
    write(&d.join("admin.crt"), &pki.client_cert);
    write(&d.join("admin.key"), &pki.client_key);
    write(
        &kubeconfig,
        kubeconfig_for(
            &url,
            &d.join("ca.crt"),
            &d.join("admin.crt"),
            &d.join("admin.key"),
        ),
    );
    let plane = ControlPlane {
        etcd,
        apiserver,
        url,
        port,
        kubeconfig,
        sa_key,
    };
    let log = d.join("kube-apiserver.log");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = client_from(&plane.kubeconfig).await;
        let start = std::time::Instant::now();
        loop {
            let req = http::Request::get("/readyz").body(Vec::new()).unwrap();
            if let Ok(text) = client.request_text(req).await {
                if text.trim() == "ok" {
                    break;
                }
            }
            if start.elapsed() > Duration::from_secs(120) {
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: String = tail.lines().rev().take(30).collect::<Vec<_>>().join("\n");
                panic!("kube-apiserver not ready after 120s; log tail (reversed):\n{tail}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    plane
}

/// A kube client from a kubeconfig file.
pub async fn client_from(kubeconfig: &Path) -> Client {
    let kc = Kubeconfig::read_from(kubeconfig).expect("reading the rig kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("loading the rig kubeconfig");
    Client::try_from(config).expect("building a kube client")
}

fn start() -> KubeRig {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    remove_at_exit(d);
    let plane = start_control_plane(
        d,
        &pki(),
        ApiServerFlags {
            authorization_mode: "RBAC",
            service_account_admission: false,
            extra: Vec::new(),
        },
    );
    let rig = KubeRig {
        kubeconfig: plane.kubeconfig,
        url: plane.url,
        _etcd: plane.etcd,
        _apiserver: plane.apiserver,
        _dir: dir,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = rig.client().await;
        install_crd(&client).await;
    });
    rig
}

/// A kubeconfig for `url` with a client certificate identity.
pub fn kubeconfig_for(url: &str, ca: &Path, cert: &Path, key: &Path) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: rig
  cluster:
    server: {url}
    certificate-authority: {}
users:
- name: admin
  user:
    client-certificate: {}
    client-key: {}
contexts:
- name: rig
  context:
    cluster: rig
    user: admin
    namespace: default
current-context: rig
",
        ca.display(),
        cert.display(),
        key.display(),
    )
}

/// Installs the CRD the code generates and waits until the apiserver serves it.
pub async fn install_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = etcdbak::crd::Cluster::crd();
    let name = crd.metadata.name.clone().unwrap();
    crds.patch(
        &name,
        &PatchParams::apply("etcdbak-tests").force(),
        &Patch::Apply(&crd),
    )
    .await
    .expect("installing the Cluster CRD");
    let start = std::time::Instant::now();
    loop {
        let live = crds.get(&name).await.expect("reading the CRD back");
        let established = live
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the Cluster CRD is not Established after 60s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Established can precede discovery by a moment; wait until a list works.
    let clusters: Api<etcdbak::crd::Cluster> = Api::all(client.clone());
    let start = std::time::Instant::now();
    while clusters.list(&Default::default()).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "Cluster list never worked"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates a namespace (AlreadyExists is fine: names are per test, reruns reuse the process' rig).
pub async fn create_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("creating namespace {name}: {e}"),
    }
}

/// The resources the controller writes; the apiserver's own lease renewals and our leader election are not
/// counted, so a quiet controller reads as zero.
pub const COUNTED_RESOURCES: &[&str] = &["clusters", "cronjobs", "jobs", "secrets", "events"];

/// Mutating requests the apiserver has served, per `verb/resource[/subresource]`, read from its own
/// `/metrics` (`apiserver_request_total`): a real count, not an assumption about the client.
pub async fn write_counts(client: &Client) -> BTreeMap<String, u64> {
    request_counts(client, true).await
}

/// Requests of every verb (reads, lists and watches too) per `verb/resource[/subresource]`, for a bench
/// that shows where a controller's requests go.
pub async fn all_request_counts(client: &Client) -> BTreeMap<String, u64> {
    request_counts(client, false).await
}

async fn request_counts(client: &Client, writes_only: bool) -> BTreeMap<String, u64> {
    let req = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let text = client
        .request_text(req)
        .await
        .expect("scraping apiserver /metrics");
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let label = |name: &str| -> String {
            labels
                .split("\",")
                .find_map(|kv| kv.strip_prefix(&format!("{name}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap_or_default()
        };
        let verb = label("verb");
        if writes_only
            && !matches!(
                verb.as_str(),
                "POST"
                    | "PUT"
                    | "PATCH"
                    | "APPLY"
                    | "DELETE"
                    | "DELETECOLLECTION"
                    | "CREATE"
                    | "UPDATE"
            )
        {
            continue;
        }
        let resource = label("resource");
        if !COUNTED_RESOURCES.contains(&resource.as_str()) {
            continue;
        }
        let sub = label("subresource");
        let key = if sub.is_empty() {
            format!("{verb}/{resource}")
        } else {
            format!("{verb}/{resource}/{sub}")
        };
        let n: f64 = value.trim().parse().unwrap_or(0.0);
        *out.entry(key).or_insert(0) += n as u64;
    }
    out
}

/// The difference between two [`write_counts`] snapshots, only the non-zero entries.
pub fn writes_between(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v.saturating_sub(before.get(k).copied().unwrap_or(0));
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

/// A tenant's etcd client TLS Secret ([`super::fixtures::TLS_SECRET`]) with placeholder contents: enough for
/// the controller to mirror it, for tests where no Job ever connects to etcd.
pub fn placeholder_tls_secret() -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(super::fixtures::TLS_SECRET.into()),
            ..Default::default()
        },
        string_data: Some(BTreeMap::from([
            ("ca.crt".to_string(), "ca".to_string()),
            ("tls.crt".to_string(), "cert".to_string()),
            ("tls.key".to_string(), "key".to_string()),
        ])),
        ..Default::default()
    }
}
