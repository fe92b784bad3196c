//! A scripted apiserver for unit tests of the reconcile, after kube-rs's controller-rs `ApiServerVerifier`:
//! the Context's client talks to a `tower_test` mock, and the verifier answers each request from a script,
//! asserting it is the one expected next. A request the script does not expect fails the reconcile (the
//! mock is closed), one that never comes times the verifier out, so a test pins the order of every read
//! and write in milliseconds.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use kube::Client;
use serde_json::{json, Value};

use super::Context;
use crate::metrics::Metrics;

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// The scripted side of the mock client.
pub struct ApiServerVerifier(Handle);

/// How the mock answers one request.
pub enum Reply {
    /// 200 with this object.
    Object(Value),
    /// 200 with the request's own body (an apply, a create, an Event).
    Echo,
    /// 404 NotFound, as the apiserver says it.
    NotFound,
}

/// One expected request: its method, its path (without the query) and the answer.
pub struct Call {
    pub method: Method,
    pub path: String,
    pub reply: Reply,
}

pub fn call(method: Method, path: impl Into<String>, reply: Reply) -> Call {
    Call {
        method,
        path: path.into(),
        reply,
    }
}

/// A request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    /// Path and query.
    pub uri: String,
    /// The JSON body (`Value::Null` for none).
    pub body: Value,
}

fn not_found() -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "reason": "NotFound",
        "message": "not found",
        "code": 404
    })
}

impl ApiServerVerifier {
    /// Answers `script` in order on a task; the task returns every request it saw. Once the script is done
    /// the mock closes, so any further request fails.
    pub fn run(mut self, script: Vec<Call>) -> tokio::task::JoinHandle<Vec<Seen>> {
        tokio::spawn(async move {
            let mut seen = Vec::new();
            for (i, expected) in script.into_iter().enumerate() {
                let (request, send) = self
                    .0
                    .next_request()
                    .await
                    .unwrap_or_else(|| panic!("request {i} ({}) never came", expected.path));
                let (method, uri) = (request.method().clone(), request.uri().clone());
                let bytes = request
                    .into_body()
                    .collect_bytes()
                    .await
                    .expect("a request body");
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                assert_eq!(
                    (&method, uri.path()),
                    (&expected.method, expected.path.as_str()),
                    "request {i}: {method} {uri} (seen before: {seen:#?})"
                );
                let (status, answer) = match expected.reply {
                    Reply::Object(v) => (StatusCode::OK, v),
                    Reply::Echo => (StatusCode::OK, body.clone()),
                    Reply::NotFound => (StatusCode::NOT_FOUND, not_found()),
                };
                let response = Response::builder()
                    .status(status)
                    .body(Body::from(answer.to_string().into_bytes()))
                    .expect("a response");
                send.send_response(response);
                seen.push(Seen {
                    method,
                    uri: uri.to_string(),
                    body,
                });
            }
            seen
        })
    }
}

/// Waits for the verifier to finish its script; a second is far more than a mocked reconcile needs.
pub async fn script_done(handle: tokio::task::JoinHandle<Vec<Seen>>) -> Vec<Seen> {
    tokio::time::timeout(Duration::from_secs(1), handle)
        .await
        .expect("the reconcile stopped short of the script")
        .expect("the script's assertions held")
}

/// A Context (default config, job namespace `etcdbak`) whose client is the mock, and its verifier.
pub fn context() -> (Arc<Context>, ApiServerVerifier) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "etcdbak".to_string(),
            instance: Some("test".to_string()),
        },
    );
    let config = crate::config::default_config();
    let ctx = Context::new(
        client,
        config,
        recorder,
        Arc::new(Metrics::new()),
        Duration::from_secs(600),
    );
    (Arc::new(ctx), ApiServerVerifier(handle))
}
