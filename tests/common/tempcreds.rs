//! A container-credentials endpoint (EKS Pod Identity's shape) that hands out the rig MinIO's keys as
//! short-lived credentials, expiring `lifetime` after each answer, and counts the requests: what a refresh
//! test needs to see that etcdbak came back for new credentials mid-upload. After `good` answers it fails
//! with HTTP 500, to test the refresh failure paths. Also a snapshot big enough for a slow, many-part upload.
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;

use super::etcd::EtcdCluster;
use super::minio::{ACCESS_KEY, SECRET_KEY};

/// The authorization token the endpoint wants (a secret: it must never reach etcdbak's output).
pub const POD_TOKEN: &str = "pod-identity-token-RefreshQ7";

pub struct TempCreds {
    pub url: String,
    hits: Arc<AtomicUsize>,
    // Serves until the test drops this.
    _runtime: tokio::runtime::Runtime,
}

impl TempCreds {
    pub fn start(lifetime: Duration, good: usize) -> TempCreds {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = Router::new().route(
            "/v1/credentials",
            get(move |headers: HeaderMap| {
                let counter = counter.clone();
                async move {
                    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(POD_TOKEN) {
                        return (StatusCode::FORBIDDEN, String::new());
                    }
                    if counter.fetch_add(1, Ordering::SeqCst) >= good {
                        return (StatusCode::INTERNAL_SERVER_ERROR, String::new());
                    }
                    let expires = chrono::Utc::now()
                        + chrono::Duration::from_std(lifetime).expect("lifetime");
                    let body = format!(
                        r#"{{"AccessKeyId":"{ACCESS_KEY}","SecretAccessKey":"{SECRET_KEY}","Expiration":"{}"}}"#,
                        expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                    );
                    (StatusCode::OK, body)
                }
            }),
        );
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        runtime.spawn(async move { axum::serve(listener, app).await });
        TempCreds {
            url: format!("http://{addr}/v1/credentials"),
            hits,
            _runtime: runtime,
        }
    }

    /// How many credential requests were answered or refused so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The environment that makes etcdbak use this endpoint (and nothing earlier in the chain).
    pub fn env(&self, cmd: &mut std::process::Command) {
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
            .env_remove("AWS_PROFILE")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
            .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &self.url)
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", POD_TOKEN);
    }
}

/// Writes a real snapshot of about 12 MiB (several 5 MiB parts) of `cluster` into `dir`, taken by
/// `etcdbak snapshot` from a one-member etcd.
pub fn big_snapshot(cluster: &str, dir: &Path) {
    let etcd = EtcdCluster::start(1, false);
    etcd.put_keys("/big/", 12, 1 << 20);
    let out = super::etcdbak()
        .arg("snapshot")
        .args(etcd.etcdbak_args())
        .args(["--cluster", cluster, "--dir"])
        .arg(dir)
        .env_remove("ETCDBAK_CLUSTER")
        .output()
        .expect("etcdbak snapshot");
    assert!(
        out.status.success(),
        "etcdbak snapshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
