//! The I/O of each credential source: files and HTTP endpoints. Errors carry status codes and field
//! names, never a response body (it may hold keys).

use std::time::Duration;

use super::{parse, Credentials, Env, Error, Source};

const DEFAULT_IMDS: &str = "http://169.254.169.254";
const ECS_HOST: &str = "http://169.254.170.2";

/// Fetches from one source. `Ok(None)` means "not here" and is only returned where the user did not ask
/// for the source explicitly (instance metadata off EC2, an absent default profile).
pub async fn from_source(source: Source, env: &Env) -> Result<Option<Credentials>, Error> {
    let fail = |p: String| Error::source(source, p);
    match source {
        Source::Environment => environment(env).map(Some).map_err(fail),
        Source::WebIdentity => web_identity(env).await.map(Some).map_err(fail),
        Source::Container => container(env).await.map(Some).map_err(fail),
        Source::Profile => profile(env).map_err(fail),
        Source::InstanceMetadata => instance_metadata(env).await.map_err(fail),
    }
}

fn environment(env: &Env) -> Result<Credentials, String> {
    match (
        env.get("AWS_ACCESS_KEY_ID"),
        env.get("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(a), Some(s)) => Ok(Credentials {
            access_key: a.to_string(),
            secret_key: s.to_string(),
            session_token: env.get("AWS_SESSION_TOKEN").map(str::to_string),
            expiration: None,
        }),
        (Some(_), None) => Err("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".into()),
        _ => Err("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not".into()),
    }
}

fn client(connect: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build an HTTP client ({e})"))
}

fn sts_endpoint(env: &Env) -> String {
    if let Some(url) = env.get("AWS_ENDPOINT_URL_STS") {
        return url.trim_end_matches('/').to_string();
    }
    match env.get("AWS_REGION").or(env.get("AWS_DEFAULT_REGION")) {
        Some(region) => format!("https://sts.{region}.amazonaws.com"),
        None => "https://sts.amazonaws.com".into(),
    }
}

async fn web_identity(env: &Env) -> Result<Credentials, String> {
    let (Some(file), Some(role)) = (
        env.get("AWS_WEB_IDENTITY_TOKEN_FILE"),
        env.get("AWS_ROLE_ARN"),
    ) else {
        return Err("AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN must both be set".into());
    };
    // Re-read on every call: the kubelet rotates the projected token file.
    let token = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read the token file {file}: {e}"))?;
    let session = env.get("AWS_ROLE_SESSION_NAME").unwrap_or("etcdbak");
    let endpoint = sts_endpoint(env);
    let form = reqwest::Url::parse_with_params(
        "http://form.invalid/",
        &[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", role),
            ("RoleSessionName", session),
            ("WebIdentityToken", token.trim()),
        ],
    )
    .map_err(|e| format!("cannot encode the STS request ({e})"))?;
    // POST, so the token stays out of URLs that proxies and access logs record.
    let response = client(Duration::from_secs(10))?
        .post(format!("{endpoint}/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.query().unwrap_or("").to_string())
        .send()
        .await
        .map_err(|e| format!("STS at {endpoint} did not answer ({})", without_url(&e)))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| without_url(&e))?;
    match parse::sts_response(&body) {
        Ok(c) if status.is_success() => Ok(c),
        Ok(_) => Err(format!("STS at {endpoint} answered HTTP {status}")),
        Err(e) => Err(format!("{e} (HTTP {status} from {endpoint})")),
    }
}

async fn container(env: &Env) -> Result<Credentials, String> {
    let url = match (
        env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
    ) {
        (Some(rel), _) => format!("{ECS_HOST}{rel}"),
        (None, Some(full)) => full.to_string(),
        (None, None) => return Err("no container credentials URI is set".into()),
    };
    let token = match env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read the token file {file}: {e}"))?
                .trim()
                .to_string(),
        ),
        None => env
            .get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            .map(str::to_string),
    };
    let mut request = client(Duration::from_secs(5))?.get(&url);
    if let Some(token) = token {
        request = request.header("authorization", token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("{url} did not answer ({})", without_url(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered HTTP {status}"));
    }
    let body = response.text().await.map_err(|e| without_url(&e))?;
    parse::json_credentials(&body)
}

fn profile(env: &Env) -> Result<Option<Credentials>, String> {
    let Some(path) = env.credentials_file() else {
        return Ok(None);
    };
    let explicit = env.get("AWS_PROFILE").is_some();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    match parse::profile(&text, env.profile())? {
        Some(c) => Ok(Some(c)),
        None if explicit => Err(format!(
            "profile [{}] is not in {}: fix AWS_PROFILE",
            env.profile(),
            path.display()
        )),
        None => Ok(None),
    }
}

async fn instance_metadata(env: &Env) -> Result<Option<Credentials>, String> {
    let base = env
        .get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .unwrap_or(DEFAULT_IMDS)
        .trim_end_matches('/')
        .to_string();
    // Off EC2 nothing listens there: a short connect timeout keeps "no credentials" fast.
    let http = client(Duration::from_secs(1))?;
    let token = match http
        .put(format!("{base}/latest/api/token"))
        .header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r.text().await.map_err(|e| without_url(&e))?,
        Ok(r) => {
            return Err(format!(
                "{base} refused an IMDSv2 token (HTTP {})",
                r.status()
            ))
        }
        Err(e) if e.is_connect() || e.is_timeout() => return Ok(None),
        Err(e) => return Err(format!("{base} did not answer ({})", without_url(&e))),
    };
    let get = |path: String| {
        http.get(format!("{base}{path}"))
            .header("x-aws-ec2-metadata-token", token.trim())
            .send()
    };
    let roles_path = "/latest/meta-data/iam/security-credentials/".to_string();
    let roles = text_of(get(roles_path.clone()).await, &base).await?;
    let Some(role) = roles.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return Err(format!("{base} lists no IAM role for this instance"));
    };
    let doc = text_of(get(format!("{roles_path}{role}")).await, &base).await?;
    parse::json_credentials(&doc).map(Some)
}

async fn text_of(
    r: Result<reqwest::Response, reqwest::Error>,
    base: &str,
) -> Result<String, String> {
    let r = r.map_err(|e| format!("{base} did not answer ({})", without_url(&e)))?;
    if !r.status().is_success() {
        return Err(format!("{base} answered HTTP {}", r.status()));
    }
    r.text().await.map_err(|e| without_url(&e))
}

/// A transport error's text without its URL: a request URL can carry a query we do not want logged.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}
