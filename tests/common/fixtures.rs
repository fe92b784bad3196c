//! Shared test values: Cluster resources as a tenant writes them, snapshot metadata as `etcdbak snapshot`
//! leaves it in `snapshot.json`, and a restore guide's default layout. Each test changes only the fields it
//! is about.

use std::path::Path;

use etcdbak::backup::{SnapshotMetadata, METADATA_FILE, SNAPSHOT_FILE};
use etcdbak::crd::{Cluster, ClusterSpec, ServiceRef};
use etcdbak::restore::Layout;
use sha2::{Digest, Sha256};

/// The tenant's etcd client TLS Secret the fixtures name ([`super::kube::placeholder_tls_secret`] creates it).
pub const TLS_SECRET: &str = "etcd-client-tls";

/// A Cluster reached at one endpoint, `https://etcd-0.etcd.<ns>.svc:2379`, with the client TLS Secret
/// [`TLS_SECRET`]; no schedule, keep or suspend of its own.
pub fn cluster(name: &str, ns: &str) -> Cluster {
    Cluster::new(
        name,
        ClusterSpec {
            endpoints: Some(vec![format!("https://etcd-0.etcd.{ns}.svc:2379")]),
            tls_secret: Some(TLS_SECRET.to_string()),
            ..ClusterSpec::in_namespace(ns)
        },
    )
}

/// The same Cluster reached through its client Service `service` (default port, TLS) instead of endpoints.
pub fn cluster_via_service(name: &str, ns: &str, service: &str) -> Cluster {
    let mut c = cluster(name, ns);
    c.spec.endpoints = None;
    c.spec.service = Some(ServiceRef {
        name: service.to_string(),
        port: None,
        insecure: None,
    });
    c
}

/// Metadata that truly describes `db` (its size and SHA-256), as taken from a member named `fixture` at
/// `revision` and `taken_at` (RFC 3339).
pub fn snapshot_metadata(
    cluster: &str,
    db: &[u8],
    revision: i64,
    taken_at: &str,
) -> SnapshotMetadata {
    SnapshotMetadata {
        cluster: cluster.into(),
        member: "fixture".into(),
        member_id: "8e9e05c52164694d".into(),
        endpoint: "http://127.0.0.1:2379".into(),
        revision,
        // etcd reports the database without its 32-byte hash trailer.
        db_size: (db.len() as u64).saturating_sub(32),
        file_size: db.len() as u64,
        sha256: hex::encode(Sha256::digest(db)),
        taken_at: chrono::DateTime::parse_from_rfc3339(taken_at)
            .expect("an RFC 3339 time")
            .with_timezone(&chrono::Utc),
        etcd_version: "3.6.16".into(),
        etcdbak_version: "test".into(),
    }
}

/// `snapshot.json` for [`snapshot_metadata`].
pub fn snapshot_json(cluster: &str, db: &[u8], revision: i64, taken_at: &str) -> String {
    serde_json::to_string_pretty(&snapshot_metadata(cluster, db, revision, taken_at)).expect("json")
}

/// Writes a snapshot dir as `etcdbak snapshot` leaves it: `db` as snapshot.db, `json` as snapshot.json
/// (either may be deliberately wrong).
pub fn write_snapshot_dir(dir: &Path, db: &[u8], json: &str) {
    std::fs::create_dir_all(dir).expect("snapshot dir");
    std::fs::write(dir.join(SNAPSHOT_FILE), db).expect("snapshot.db");
    std::fs::write(dir.join(METADATA_FILE), json).expect("snapshot.json");
}

/// The layout `etcdbak restore-guide` works from when no layout flag is given (its flags' defaults).
pub fn restore_layout() -> Layout {
    Layout {
        namespace: None,
        statefulset: None,
        service: None,
        replicas: None,
        members: Vec::new(),
        endpoints: Vec::new(),
        cacert: "/etc/etcd/tls/ca.crt".into(),
        cert: "/etc/etcd/tls/tls.crt".into(),
        key: "/etc/etcd/tls/tls.key".into(),
        insecure: false,
        identity: None,
        data_dir: "/var/lib/etcd".into(),
        volume_mount_path: None,
        volume_claim: None,
        helper_image: "busybox:1.36".into(),
        owner: None,
        cronjob: None,
        apiserver: None,
        token: None,
        workdir: None,
        bump_revision: 1_000_000_000,
    }
}
