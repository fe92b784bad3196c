//! The S3 credential chain against endpoints that answer the way AWS's do: loopback servers play the
//! container-credentials endpoint (EKS Pod Identity), IMDSv2 and STS, through the standard endpoint
//! overrides. The keys they hand out are a real MinIO's, and each resolved set is used against that MinIO,
//! so "resolved" means "works", not just "parsed".

mod common;

use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::Router;
use common::minio::{Minio, ACCESS_KEY, BUCKET, SECRET_KEY};
use etcdbak::credentials::{resolve, Env, Error, Source};

const POD_TOKEN: &str = "pod-identity-token-Xq9";
const IMDS_TOKEN: &str = "imds-session-token-7Hk";
const WEB_TOKEN: &str = "eyJweb-identity-jwt";
const ROLE: &str = "arn:aws:iam::123456789012:role/etcdbak";

fn creds_json() -> String {
    format!(
        r#"{{"AccessKeyId":"{ACCESS_KEY}","SecretAccessKey":"{SECRET_KEY}","Expiration":"2099-01-01T00:00:00Z"}}"#
    )
}

/// Serves `app` on a loopback port for the rest of the test.
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn container_app() -> Router {
    Router::new().route(
        "/v1/credentials",
        get(|headers: HeaderMap| async move {
            match headers.get("authorization").and_then(|v| v.to_str().ok()) {
                Some(POD_TOKEN) => (StatusCode::OK, creds_json()),
                _ => (StatusCode::FORBIDDEN, "no".to_string()),
            }
        }),
    )
}

fn imds_app() -> Router {
    let authorized = |h: &HeaderMap| {
        h.get("x-aws-ec2-metadata-token")
            .and_then(|v| v.to_str().ok())
            == Some(IMDS_TOKEN)
    };
    Router::new()
        .route("/latest/api/token", put(|| async { IMDS_TOKEN }))
        .route(
            "/latest/meta-data/iam/security-credentials/",
            get(move |h: HeaderMap| async move {
                if authorized(&h) {
                    (StatusCode::OK, "etcdbak-node-role\n".to_string())
                } else {
                    (StatusCode::UNAUTHORIZED, String::new())
                }
            }),
        )
        .route(
            "/latest/meta-data/iam/security-credentials/etcdbak-node-role",
            get(move |h: HeaderMap| async move {
                if authorized(&h) {
                    (StatusCode::OK, creds_json())
                } else {
                    (StatusCode::UNAUTHORIZED, String::new())
                }
            }),
        )
}

fn sts_app() -> Router {
    Router::new().route(
        "/",
        post(|body: String| async move {
            let f = form(&body);
            let ok = f.get("Action").map(String::as_str) == Some("AssumeRoleWithWebIdentity")
                && f.get("RoleArn").map(String::as_str) == Some(ROLE)
                && f.get("WebIdentityToken").map(String::as_str) == Some(WEB_TOKEN);
            if !ok {
                return (
                    StatusCode::FORBIDDEN,
                    "<ErrorResponse><Error><Code>AccessDenied</Code><Message>bad token</Message></Error></ErrorResponse>".to_string(),
                );
            }
            (StatusCode::OK, String::from(
                "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>\
                 <AccessKeyId>ASIATEMP</AccessKeyId><SecretAccessKey>temp-secret</SecretAccessKey>\
                 <SessionToken>temp-session</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration>\
                 </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"
            ))
        }),
    )
}

/// An `application/x-www-form-urlencoded` body as pairs.
fn form(body: &str) -> std::collections::HashMap<String, String> {
    reqwest::Url::parse(&format!("http://form.invalid/?{body}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

/// Writes and reads back an object with `creds` on the real MinIO.
async fn works_on_minio(minio: &Minio, creds: &etcdbak::credentials::Credentials, key: &str) {
    let c = s3::creds::Credentials::new(
        Some(&creds.access_key),
        Some(&creds.secret_key),
        None,
        creds.session_token.as_deref(),
        None,
    )
    .expect("credentials");
    let region = s3::Region::Custom {
        region: "us-east-1".into(),
        endpoint: minio.endpoint(),
    };
    let bucket = s3::Bucket::new(BUCKET, region, c)
        .expect("bucket")
        .with_path_style();
    bucket
        .put_object(key, b"chain")
        .await
        .expect("put with resolved credentials");
    let back = bucket.get_object(key).await.expect("get");
    assert_eq!(back.as_slice(), b"chain");
}

/// An instance-metadata endpoint nobody listens on, so a chain that falls through to it ends fast.
fn closed_port() -> String {
    format!("http://127.0.0.1:{}", common::free_port())
}

#[test]
fn every_source_resolves_in_chain_order_and_works() {
    // Minio's helpers run their own runtime, so it lives outside the one the chain runs on.
    let minio = Minio::start();
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(chain_in_order(&minio));
}

async fn chain_in_order(minio: &Minio) {
    let dir = tempfile::tempdir().expect("tempdir");
    let imds_off = closed_port();

    // 1. Environment.
    let env = Env::from_pairs([
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ]);
    let (c, source) = resolve(&env).await.expect("env");
    assert_eq!(source, Source::Environment);
    works_on_minio(minio, &c, "chain/env").await;

    // 2. Web identity, through the STS endpoint override.
    let sts = serve(sts_app()).await;
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{WEB_TOKEN}\n")).expect("token");
    let sts_url = format!("http://{sts}");
    let token_path = token_file.to_string_lossy().to_string();
    let env = Env::from_pairs([
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_path.as_str()),
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_ENDPOINT_URL_STS", sts_url.as_str()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_off.as_str()),
    ]);
    let (c, source) = resolve(&env).await.expect("web identity");
    assert_eq!(source, Source::WebIdentity);
    assert_eq!(c.access_key, "ASIATEMP");
    assert_eq!(c.session_token.as_deref(), Some("temp-session"));
    assert!(c.expiration.is_some());

    // 3. Container credentials with a token file (EKS Pod Identity's shape).
    let container = serve(container_app()).await;
    let pod_token = dir.path().join("pod-token");
    std::fs::write(&pod_token, POD_TOKEN).expect("pod token");
    let full_uri = format!("http://{container}/v1/credentials");
    let pod_token_path = pod_token.to_string_lossy().to_string();
    let env = Env::from_pairs([
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", full_uri.as_str()),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            pod_token_path.as_str(),
        ),
    ]);
    let (c, source) = resolve(&env).await.expect("container");
    assert_eq!(source, Source::Container);
    works_on_minio(minio, &c, "chain/container").await;

    // 4. The shared credentials file, a named profile.
    let file = dir.path().join("credentials");
    std::fs::write(
        &file,
        format!("[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[backup]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"),
    )
    .expect("file");
    let file_path = file.to_string_lossy().to_string();
    let env = Env::from_pairs([
        ("AWS_SHARED_CREDENTIALS_FILE", file_path.as_str()),
        ("AWS_PROFILE", "backup"),
    ]);
    let (c, source) = resolve(&env).await.expect("profile");
    assert_eq!(source, Source::Profile);
    works_on_minio(minio, &c, "chain/profile").await;

    // 5. IMDSv2: the token dance, then the role's document.
    let imds = serve(imds_app()).await;
    let imds_url = format!("http://{imds}");
    let env = Env::from_pairs([("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_url.as_str())]);
    let (c, source) = resolve(&env).await.expect("imds");
    assert_eq!(source, Source::InstanceMetadata);
    works_on_minio(minio, &c, "chain/imds").await;

    // Order: with both the environment and container credentials set, the environment wins.
    let env = Env::from_pairs([
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", full_uri.as_str()),
    ]);
    assert_eq!(resolve(&env).await.expect("both").1, Source::Environment);
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_name_the_source_and_never_the_secret() {
    let container = serve(container_app()).await;
    let sts = serve(sts_app()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let full_uri = format!("http://{container}/v1/credentials");
    let sts_url = format!("http://{sts}");
    let wrong_token_file = dir.path().join("wrong");
    std::fs::write(&wrong_token_file, "not-the-token-SECRETVALUE").expect("token");
    let wrong_path = wrong_token_file.to_string_lossy().to_string();
    let imds_off = closed_port();

    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", full_uri.as_str()),
                (
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                    "not-the-token-SECRETVALUE",
                ),
            ],
            "HTTP 403",
        ),
        (
            vec![
                ("AWS_WEB_IDENTITY_TOKEN_FILE", wrong_path.as_str()),
                ("AWS_ROLE_ARN", ROLE),
                ("AWS_ENDPOINT_URL_STS", sts_url.as_str()),
            ],
            "AccessDenied",
        ),
        (
            vec![("AWS_ACCESS_KEY_ID", "AKIDSECRETVALUE")],
            "AWS_SECRET_ACCESS_KEY is not",
        ),
        (
            vec![("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_off.as_str())],
            "no S3 credentials found",
        ),
    ];
    for (pairs, want) in cases {
        let env = Env::from_pairs(pairs.iter().copied());
        let err = resolve(&env).await.expect_err("must fail");
        let text = err.to_string();
        assert!(text.contains(want), "{text:?} lacks {want:?}");
        assert!(
            !text.contains("SECRETVALUE"),
            "a secret reached the error: {text}"
        );
        assert_eq!(err.class().code(), 4, "{text}");
        if want != "no S3 credentials found" {
            assert!(matches!(err, Error::Source { .. }), "{text}");
        }
    }
}

/// Temporary credentials that expire 3 s after each answer, during an upload of several parts that takes
/// several seconds through a 2 MiB/s link: etcdbak asks the endpoint again before the parts run out of
/// valid credentials, and the backup is stored and verified.
#[test]
fn temporary_credentials_are_refreshed_during_a_long_upload() {
    use common::tempcreds::{big_snapshot, TempCreds, POD_TOKEN};
    let minio = Minio::start();
    let dir = tempfile::tempdir().expect("tempdir");
    big_snapshot("refresh", dir.path());
    let creds = TempCreds::start(std::time::Duration::from_secs(3), usize::MAX);
    let throttle = common::throttle::Throttle::start(&format!("127.0.0.1:{}", minio.port), 2 << 20);
    let mut cmd = common::etcdbak();
    cmd.env("ETCDBAK_COMPRESS", "none")
        .args(["store", "--bucket", BUCKET, "--part-size", "5MiB"])
        .args(["--upload-concurrency", "1", "--s3-endpoint"])
        .arg(format!("http://{}", throttle.addr()))
        .arg("--dir")
        .arg(dir.path());
    creds.env(&mut cmd);
    let out = cmd.output().expect("etcdbak store");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        creds.hits() >= 2,
        "the credentials were fetched {} time(s); a refresh was due mid-upload:\n{err}",
        creds.hits()
    );
    assert!(
        err.contains("refreshed the temporary S3 credentials"),
        "{err}"
    );
    assert_eq!(minio.keys("etcdbak/refresh/").len(), 1, "{err}");
    for secret in [SECRET_KEY, POD_TOKEN] {
        assert!(!err.contains(secret), "a secret reached the log: {err}");
    }
}
