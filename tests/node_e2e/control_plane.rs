//! A hosted control plane: the kube-apiserver (and the kube-controller-manager whose namespace controller
//! empties a deleted namespace) of a tenant Kubernetes, as Deployment `kube-apiserver` beside its etcd
//! StatefulSet, the way the platforms etcdbak serves run one per tenant.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::free_port;
use crate::common::kube::apply_manifests;
use crate::common::node::Node;
use crate::common::rig_bin;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::Client;

use crate::tenant::TenantEtcd;
use crate::*;

pub const APISERVER: &str = "kube-apiserver";
const TOKEN: &str = "tenant-admin-token-2m8Qw";

/// The tenant's apiserver as its users reach it: a kubeconfig for kubectl.
pub struct ControlPlane {
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

/// Two containers in one pod on the host network: the apiserver on `APISERVER_PORT` against the tenant's etcd
/// over TLS, and a controller-manager that talks to it. The binaries come from the rig, mounted from the
/// host into the busybox image: building a 200 MB image of them would cost minutes and test nothing of
/// etcdbak's. One replica, `Recreate`: the restore runbook scales it to 0 and back.
const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: kube-apiserver, namespace: NS}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector:
    matchLabels: {app: kube-apiserver}
  template:
    metadata:
      labels: {app: kube-apiserver}
    spec:
      hostNetwork: true
      terminationGracePeriodSeconds: 5
      containers:
        - name: kube-apiserver
          image: IMAGE
          imagePullPolicy: IfNotPresent
          command:
            - /usr/local/bin/kube-apiserver
            - --etcd-servers=ETCD_SERVERS
            - --etcd-cafile=/etc/etcd/tls/ca.crt
            - --etcd-certfile=/etc/etcd/tls/tls.crt
            - --etcd-keyfile=/etc/etcd/tls/tls.key
            - --secure-port=APISERVER_PORT
            - --bind-address=127.0.0.1
            - --advertise-address=127.0.0.1
            - --cert-dir=/var/run/apiserver
            - --token-auth-file=/etc/control-plane/tokens.csv
            - --authorization-mode=AlwaysAllow
            - --service-cluster-ip-range=10.0.1.0/24
            - --service-account-issuer=https://127.0.0.1:APISERVER_PORT
            - --service-account-key-file=/etc/control-plane/sa.key
            - --service-account-signing-key-file=/etc/control-plane/sa.key
            - --v=1
          volumeMounts:
            - {name: apiserver-bin, mountPath: /usr/local/bin/kube-apiserver, readOnly: true}
            - {name: etcd-tls, mountPath: /etc/etcd/tls, readOnly: true}
            - {name: config, mountPath: /etc/control-plane, readOnly: true}
            - {name: run, mountPath: /var/run/apiserver}
        - name: kube-controller-manager
          image: IMAGE
          imagePullPolicy: IfNotPresent
          command:
            - /usr/local/bin/kube-controller-manager
            - --kubeconfig=/etc/control-plane/kubeconfig
            - --authentication-kubeconfig=/etc/control-plane/kubeconfig
            - --authorization-kubeconfig=/etc/control-plane/kubeconfig
            - --controllers=namespace,garbagecollector
            - --leader-elect=false
            - --use-service-account-credentials=false
            - --bind-address=127.0.0.1
            - --secure-port=CM_PORT
            - --v=1
          volumeMounts:
            - {name: cm-bin, mountPath: /usr/local/bin/kube-controller-manager, readOnly: true}
            - {name: config, mountPath: /etc/control-plane, readOnly: true}
      volumes:
        - name: apiserver-bin
          hostPath: {path: APISERVER_BIN, type: File}
        - name: cm-bin
          hostPath: {path: CM_BIN, type: File}
        - name: etcd-tls
          secret: {secretName: CLIENT_TLS_SECRET}
        - name: config
          secret: {secretName: kube-apiserver-config}
        - name: run
          emptyDir: {}
"#;

impl ControlPlane {
    /// Starts the tenant control plane on `etcd` and waits until kubectl reaches it.
    pub async fn start(n: &Node, client: &Client, etcd: &TenantEtcd) -> ControlPlane {
        let t = Instant::now();
        let dir = tempfile::tempdir().expect("control plane dir");
        let port = free_port();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_text(port)).expect("kubeconfig");
        config_secret(client, &etcd.ns, dir.path(), &kubeconfig).await;
        let real = |name: &str| {
            std::fs::canonicalize(rig_bin(name))
                .unwrap_or_else(|e| panic!("{name} from the rig: {e}"))
                .display()
                .to_string()
        };
        let yaml = DEPLOYMENT
            .replace("NS", &etcd.ns)
            .replace("IMAGE", n.image("busybox"))
            .replace("ETCD_SERVERS", &etcd.endpoints().join(","))
            .replace("CM_PORT", &free_port().to_string())
            .replace("APISERVER_PORT", &port.to_string())
            .replace("APISERVER_BIN", &real("kube-apiserver"))
            .replace("CM_BIN", &real("kube-controller-manager"))
            .replace("CLIENT_TLS_SECRET", CLIENT_TLS);
        apply_manifests(client, &yaml, "etcdbak-node-e2e", false).await;
        let cp = ControlPlane {
            kubeconfig,
            _dir: dir,
        };
        cp.wait_serving(Duration::from_secs(180)).await;
        println!(
            "MEASURE: tenant kube-apiserver on {}'s etcd serving in {:.1?}",
            etcd.ns,
            t.elapsed()
        );
        cp
    }

    /// kubectl against the tenant's apiserver.
    pub fn kubectl(&self) -> Command {
        let mut c = Command::new(rig_bin("kubectl"));
        c.arg("--kubeconfig").arg(&self.kubeconfig);
        c
    }

    /// Runs kubectl with `args` against the tenant; its stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let what = format!("tenant kubectl {}", args.join(" "));
        let out = run(self.kubectl().args(args), &what, Duration::from_secs(60));
        check(&out, &what)
    }

    /// Waits until the tenant's apiserver answers, with its namespace controller's namespaces listed.
    pub async fn wait_serving(&self, timeout: Duration) {
        wait_for(
            "the tenant kube-apiserver answers kubectl",
            timeout,
            Duration::from_secs(1),
            || {
                let ok = self
                    .kubectl()
                    .args(["get", "namespace", "default", "-o", "name"])
                    .output()
                    .is_ok_and(|o| o.status.success());
                async move { ok.then_some(()) }
            },
        )
        .await;
    }
}

fn kubeconfig_text(port: u16) -> String {
    // The apiserver serves a certificate it made itself (--cert-dir): nothing here can know its CA.
    format!(
        r#"apiVersion: v1
kind: Config
clusters: [{{name: tenant, cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}}}]
users: [{{name: admin, user: {{token: {TOKEN}}}}}]
contexts: [{{name: tenant, context: {{cluster: tenant, user: admin}}}}]
current-context: tenant
"#
    )
}

/// The apiserver's static token, service-account key and the controller-manager's kubeconfig.
async fn config_secret(client: &Client, ns: &str, dir: &Path, kubeconfig: &Path) {
    let sa_key = dir.join("sa.key");
    let out = run(
        Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(&sa_key)
            .arg("2048"),
        "openssl genrsa",
        Duration::from_secs(60),
    );
    check(&out, "openssl genrsa (the tenant's service-account key)");
    let read = |p: &Path| ByteString(std::fs::read(p).expect("control plane file"));
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("kube-apiserver-config".into()),
            namespace: Some(ns.into()),
            ..Default::default()
        },
        data: Some(
            [
                (
                    "tokens.csv".to_string(),
                    ByteString(format!("{TOKEN},admin,admin,system:masters\n").into_bytes()),
                ),
                ("sa.key".to_string(), read(&sa_key)),
                ("kubeconfig".to_string(), read(kubeconfig)),
            ]
            .into(),
        ),
        ..Default::default()
    };
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap_or_else(|e| panic!("creating the tenant's apiserver config Secret: {e}"));
}
