//! How a container reaches etcd: the Cluster's endpoints (or its Service's DNS name), and the mirrored
//! client-TLS Secret mounted where `ETCDBAK_CACERT`, `_CERT` and `_KEY` point.

use k8s_openapi::api::core::v1::{EnvVar, SecretVolumeSource, Volume, VolumeMount};

use super::container::{env, mount};
use super::RenderError;
use crate::crd::Cluster;
use crate::naming;

pub const TLS_VOLUME: &str = "etcd-tls";
pub const TLS_DIR: &str = "/etc/etcdbak/tls";

/// Default etcd client port when `spec.service.port` is unset.
pub const DEFAULT_ETCD_PORT: u16 = 2379;

/// Comma-separated client URLs for `ETCDBAK_ENDPOINTS`: `spec.endpoints`, or the Service's cluster DNS name.
pub fn endpoints(cluster: &Cluster) -> Result<String, RenderError> {
    let spec = &cluster.spec;
    match (&spec.endpoints, &spec.service) {
        (Some(_), Some(_)) => Err(RenderError::AmbiguousEndpoint),
        (None, None) => Err(RenderError::NoEndpoint),
        (Some(list), None) => {
            if list.is_empty() {
                return Err(RenderError::NoEndpoint);
            }
            for e in list {
                let host = e
                    .strip_prefix("https://")
                    .or_else(|| e.strip_prefix("http://"))
                    .unwrap_or("");
                if host.split('/').next().unwrap_or_default().contains('@') {
                    return Err(RenderError::EndpointCredentials);
                }
                if host.is_empty() || host.contains([',', ' ', '\t', '\n']) {
                    return Err(RenderError::InvalidEndpoint(e.clone()));
                }
            }
            Ok(list.join(","))
        }
        (None, Some(svc)) => {
            let scheme = if svc.insecure.unwrap_or(false) {
                "http"
            } else {
                "https"
            };
            let port = svc.port.unwrap_or(DEFAULT_ETCD_PORT);
            Ok(format!(
                "{scheme}://{}.{}.svc:{port}",
                svc.name, spec.namespace
            ))
        }
    }
}

/// What a container that talks to etcd needs: `ETCDBAK_ENDPOINTS` and, with TLS, the client files' paths
/// and their read-only mount.
pub(super) fn etcd_client(endpoints: &str, tls: bool) -> (Vec<EnvVar>, Vec<VolumeMount>) {
    let mut envs = vec![env("ETCDBAK_ENDPOINTS", endpoints)];
    let mut mounts = Vec::new();
    if tls {
        for (var, key) in [
            ("ETCDBAK_CACERT", "ca.crt"),
            ("ETCDBAK_CERT", "tls.crt"),
            ("ETCDBAK_KEY", "tls.key"),
        ] {
            envs.push(env(var, &format!("{TLS_DIR}/{key}")));
        }
        mounts.push(mount(TLS_VOLUME, TLS_DIR, true));
    }
    (envs, mounts)
}

/// The mirrored TLS Secret as a volume.
pub(super) fn tls_volume(cluster: &str) -> Volume {
    Volume {
        name: TLS_VOLUME.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(naming::tls_secret_name(cluster)),
            // Group-readable so fsGroup (not root) can read the key; nobody else can.
            default_mode: Some(0o440),
            ..Default::default()
        }),
        ..Default::default()
    }
}
