//! The exporter's HTTP side, served by axum like the controller's endpoints: `/metrics`, `/probe`,
//! `/healthz` and an index.

use crate::exit::Setting;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::metrics::{render_clusters, render_probe};
use super::{Error, Exporter};
use crate::naming::root_prefix;

/// The exposition format's content type, as s3_exporter sends it.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

async fn metrics(State(e): State<Arc<Exporter>>) -> Response {
    let listing = e
        .list(&e.opts.s3.bucket, &root_prefix(&e.opts.s3.prefix))
        .await;
    let plaintext = e.plaintext_sizes(&listing).await;
    text(StatusCode::OK, render_clusters(&listing, &plaintext))
}

async fn probe(State(e): State<Arc<Exporter>>, RawQuery(query): RawQuery) -> Response {
    let params = query_params(query.as_deref().unwrap_or(""));
    let Some(bucket) = params.get("bucket").filter(|b| !b.is_empty()) else {
        return text(
            StatusCode::BAD_REQUEST,
            "the bucket parameter is missing\n".into(),
        );
    };
    let prefix = params.get("prefix").cloned().unwrap_or_default();
    let suffix = params.get("suffix").map(String::as_str).unwrap_or("");
    // It lists with the exporter's credentials: only what it was configured for.
    if !e.opts.probe_scope.permits(bucket, &prefix) {
        return text(
            StatusCode::FORBIDDEN,
            format!(
                "bucket {bucket:?} prefix {prefix:?} is not one this exporter probes ({}): see {}\n",
                e.opts.probe_scope.describe(),
                Setting::ProbeAllow
            ),
        );
    }
    let listing = e.probe(bucket, &prefix).await;
    text(StatusCode::OK, render_probe(&listing, suffix))
}

async fn index() -> Response {
    text(
        StatusCode::OK,
        "etcdbak s3-exporter: /metrics (every cluster under the configured prefix), \
         /probe?bucket=B&prefix=P (one prefix), /healthz\n"
            .into(),
    )
}

async fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "not found\n".into())
}

/// Binds now (so a bad address fails the start) and serves until `shutdown` resolves.
pub(super) async fn serve(
    addr: SocketAddr,
    exporter: Arc<Exporter>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/probe", get(probe))
        .route(
            "/healthz",
            get(|| async { text(StatusCode::OK, "ok\n".into()) }),
        )
        .route("/", get(index))
        .fallback(not_found)
        .with_state(exporter);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| Error::Listen { addr, source })
}

/// Decodes `%XX` and `+` in a query component.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query parameters of a request target (or of its query alone), decoded.
pub fn query_params(target: &str) -> BTreeMap<String, String> {
    let query = target.split_once('?').map_or(target, |(_, q)| q);
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_decode() {
        let p = query_params("/probe?bucket=backups&prefix=etcd%2Fa%2F&suffix=.db&x");
        assert_eq!(p["bucket"], "backups");
        assert_eq!(p["prefix"], "etcd/a/");
        assert_eq!(p["suffix"], ".db");
        assert_eq!(p["x"], "");
        assert_eq!(query_params("/probe?prefix=a+b%")["prefix"], "a b%");
    }

    #[test]
    fn a_bare_query_decodes_too() {
        assert_eq!(query_params("bucket=b&prefix=etcd%2F")["prefix"], "etcd/");
    }
}
