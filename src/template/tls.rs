//! The mirrored client-TLS Secret: the Cluster's Secret, copied key by key into the job namespace, because a
//! pod can only mount Secrets of its own namespace.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::ResourceExt;

use super::labels::{labels, object_meta, stamp_hash, SOURCE_SECRET_ANNOTATION};
use super::RenderError;
use crate::config::Config;
use crate::crd::Cluster;
use crate::naming;

/// Keys of a client-TLS Secret (the `kubernetes.io/tls` layout plus the CA, as cert-manager writes it).
pub const TLS_KEYS: [&str; 3] = ["ca.crt", "tls.crt", "tls.key"];

pub(super) fn mirror_tls_secret(
    cluster: &Cluster,
    source_name: &str,
    source: Option<&Secret>,
    config: &Config,
) -> Result<Secret, RenderError> {
    let name = cluster.name_any();
    let namespace = &cluster.spec.namespace;
    let Some(source) = source else {
        return Err(RenderError::TlsSecretNotFound {
            namespace: namespace.clone(),
            name: source_name.to_string(),
        });
    };
    let mut data = BTreeMap::new();
    for key in TLS_KEYS {
        let value = source
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone())
            .or_else(|| {
                source
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .map(|s| s.clone().into_bytes())
            })
            .filter(|v| !v.is_empty());
        let Some(value) = value else {
            return Err(RenderError::TlsKeyMissing {
                namespace: namespace.clone(),
                name: source_name.to_string(),
                key,
            });
        };
        data.insert(key.to_string(), ByteString(value));
    }
    let mut metadata = object_meta(
        cluster,
        naming::tls_secret_name(&name),
        config,
        &labels(&name, "tls"),
        true,
    );
    metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(
            SOURCE_SECRET_ANNOTATION.into(),
            format!("{namespace}/{source_name}"),
        );
    let mut secret = Secret {
        metadata,
        type_: Some("kubernetes.io/tls".into()),
        data: Some(data),
        immutable: None,
        string_data: None,
    };
    stamp_hash(&mut secret);
    Ok(secret)
}
