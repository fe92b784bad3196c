//! Tenant etcd clusters: 3-member TLS StatefulSets on local PersistentVolumes, reached on the host network.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::certs::Certs;
use crate::common::free_port;
use crate::common::kube::{apply_manifests, create_namespace};
use crate::common::node::Node;
use etcd_client::{Certificate, ConnectOptions, GetOptions, Identity, TlsOptions, Txn, TxnOp};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::ByteString;
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};

use crate::release::*;
use crate::*;

/// A TLS etcd StatefulSet (`etcd`, pods `etcd-<i>`, PVCs `data-etcd-<i>` on local PVs) in its own
/// namespace. On the host network each member needs its own ports, so the pod picks them by its ordinal.
pub struct TenantEtcd {
    pub ns: String,
    pub certs: Certs,
    pub client_ports: Vec<u16>,
    pub peer_ports: Vec<u16>,
    pub volumes: Vec<PathBuf>,
}

pub const ETCD_STATEFULSET: &str = r#"apiVersion: v1
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

pub fn tls_secret(name: &str, ns: &str, type_: &str, files: [(&str, &PathBuf); 3]) -> Secret {
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
    pub async fn start(n: &Node, client: &Client, ns: &str, members: usize) -> TenantEtcd {
        assert!(
            crate::release::TENANT_NAMESPACES.contains(&ns),
            "tenant namespace {ns} is not in release::TENANT_NAMESPACES: the controller may not read its Secrets"
        );
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

    pub fn endpoints(&self) -> Vec<String> {
        self.client_ports
            .iter()
            .map(|p| format!("https://127.0.0.1:{p}"))
            .collect()
    }

    pub fn members(&self) -> usize {
        self.client_ports.len()
    }

    pub async fn connect(&self, endpoints: Vec<String>) -> Result<etcd_client::Client, String> {
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
    pub async fn healthy(&self) -> bool {
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

    pub async fn wait_healthy(&self, timeout: Duration) {
        wait_for(
            &format!("the etcd StatefulSet in {} is healthy", self.ns),
            timeout,
            Duration::from_secs(1),
            move || async move { self.healthy().await.then_some(()) },
        )
        .await;
    }

    pub async fn put_keys(&self, prefix: &str, n: usize) -> BTreeMap<Vec<u8>, Vec<u8>> {
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

    pub async fn read_all(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
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

    pub async fn revision(&self) -> i64 {
        let mut c = self.connect(self.endpoints()).await.expect("etcd client");
        c.get("revision-probe", None)
            .await
            .expect("etcd get")
            .header()
            .map(|h| h.revision())
            .unwrap_or(0)
    }

    pub async fn scale(&self, client: &Client, replicas: usize) {
        let api: Api<StatefulSet> = Api::namespaced(client.clone(), &self.ns);
        api.patch(
            "etcd",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"replicas": replicas}})),
        )
        .await
        .expect("scaling the etcd StatefulSet");
    }

    pub async fn wait_no_pods(&self, client: &Client) {
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
