//! Where the snapshot init container finds etcd: the Cluster's endpoints, or its Service's DNS name.

use super::RenderError;
use crate::crd::Cluster;

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
