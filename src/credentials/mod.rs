//! Where S3 credentials come from: the AWS credential chain users of this field expect, in the usual order.
//!
//! 1. environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`)
//! 2. web identity (EKS IRSA: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, STS AssumeRoleWithWebIdentity)
//! 3. container credentials (EKS Pod Identity / ECS: `AWS_CONTAINER_CREDENTIALS_FULL_URI` or `_RELATIVE_URI`,
//!    with `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` or `_TOKEN`)
//! 4. the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`; `AWS_PROFILE`)
//! 5. instance metadata (IMDSv2), only when asked for: `ETCDBAK_IMDS=true` or `AWS_EC2_METADATA_SERVICE_ENDPOINT`
//!    set (and not `AWS_EC2_METADATA_DISABLED=true`). A backup pod that silently took the node's role would
//!    hold the node's permissions, which EKS itself advises against (its IMDS hop limit blocks pods).
//!
//! The first source that is configured is used; a configured source that fails is an error that names it
//! (falling through to another identity would back up with credentials nobody meant). Which source applies
//! is a pure decision over an [`Env`] snapshot; fetching is in [`fetch`], parsing in [`parse`].
//! The standard endpoint overrides (`AWS_ENDPOINT_URL_STS`, `AWS_EC2_METADATA_SERVICE_ENDPOINT`) are honoured,
//! which is also what lets the tests play STS and the metadata service on loopback.
//!
//! Temporary credentials (sources 2, 3 and 5) are kept current by a [`Provider`]: refreshed from the same
//! source shortly before they expire, so an upload that outlasts them still completes.

pub mod fetch;
pub mod parse;
pub mod provider;

pub use provider::Provider;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

/// The variable that turns the instance-metadata source on.
pub const IMDS_OPT_IN: &str = "ETCDBAK_IMDS";

/// One place credentials can come from, in chain order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Environment,
    WebIdentity,
    Container,
    Profile,
    InstanceMetadata,
}

impl Source {
    /// The names used in logs and errors (never a value).
    pub fn describe(self) -> &'static str {
        match self {
            Source::Environment => "environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)",
            Source::WebIdentity => "web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN)",
            Source::Container => "container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)",
            Source::Profile => "shared credentials file (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE)",
            Source::InstanceMetadata => "instance metadata (IMDSv2)",
        }
    }

    /// Whether the source hands out temporary credentials it can be asked for again. Environment and
    /// profile keys are whatever the user put there; asking again would return the same.
    pub fn refreshable(self) -> bool {
        matches!(
            self,
            Source::WebIdentity | Source::Container | Source::InstanceMetadata
        )
    }
}

/// A resolved set of keys. `Debug` never shows the secret parts.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
    /// When temporary credentials stop working; `None` for long-lived keys.
    pub expiration: Option<DateTime<Utc>>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &"<redacted>")
            .field("secret_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// The environment the chain reads, captured once so the decision is a pure function of it. It holds
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, so `Debug` names the variables, never their values.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    home: Option<PathBuf>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("home", &self.home)
            .finish()
    }
}

impl Env {
    /// The chain's view of an environment the caller read (the command line reads the process's): only the
    /// `AWS_*` variables and [`IMDS_OPT_IN`] are kept, and `home` is where `~/.aws/credentials` is.
    pub fn new(vars: impl IntoIterator<Item = (String, String)>, home: Option<PathBuf>) -> Env {
        let vars = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("AWS_") || k == IMDS_OPT_IN)
            .collect();
        Env { vars, home }
    }

    /// An environment from explicit pairs (tests, and callers that assemble one).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            home: None,
        }
    }

    /// A variable's value, treating empty as unset (pod specs often set `value: ""`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }

    /// The shared credentials file this environment points at.
    pub fn credentials_file(&self) -> Option<PathBuf> {
        match self.get("AWS_SHARED_CREDENTIALS_FILE") {
            Some(p) => Some(PathBuf::from(p)),
            None => self
                .home
                .as_ref()
                .map(|h| h.join(".aws").join("credentials")),
        }
    }

    pub fn profile(&self) -> &str {
        self.get("AWS_PROFILE").unwrap_or("default")
    }
}

/// The sources this environment configures, in chain order. The profile file is a candidate when it
/// exists; instance metadata only when opted into (see the module docs).
pub fn candidates(env: &Env, profile_file_exists: bool) -> Vec<Source> {
    let mut out = Vec::new();
    if env.get("AWS_ACCESS_KEY_ID").is_some() || env.get("AWS_SECRET_ACCESS_KEY").is_some() {
        out.push(Source::Environment);
    }
    if env.get("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() && env.get("AWS_ROLE_ARN").is_some() {
        out.push(Source::WebIdentity);
    }
    if env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some()
        || env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
    {
        out.push(Source::Container);
    }
    if profile_file_exists || env.get("AWS_PROFILE").is_some() {
        out.push(Source::Profile);
    }
    let imds_wanted =
        env.flag(IMDS_OPT_IN) || env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT").is_some();
    if imds_wanted && !env.flag("AWS_EC2_METADATA_DISABLED") {
        out.push(Source::InstanceMetadata);
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (for example from a Secret), or use web identity (IRSA), container credentials (EKS Pod Identity), a shared credentials file, or instance metadata with ETCDBAK_IMDS=true (tried: {tried})")]
    Missing { tried: String },
    #[error("S3 credentials from the {}: {problem}", .from.describe())]
    Source { from: Source, problem: String },
    #[error("the temporary S3 credentials from the {} expired at {at} and could not be refreshed: {problem}", .from.describe())]
    Expired {
        from: Source,
        at: String,
        problem: String,
    },
}

impl Error {
    pub fn class(&self) -> crate::exit::Class {
        crate::exit::Class::Auth
    }

    fn source(source: Source, problem: impl Into<String>) -> Error {
        Error::Source {
            from: source,
            problem: problem.into(),
        }
    }
}

/// Resolves credentials from the first configured source, and says which one it was.
pub async fn resolve(env: &Env) -> Result<(Credentials, Source), Error> {
    let profile_file = env.credentials_file();
    let file_exists = profile_file.as_ref().is_some_and(|p| p.is_file());
    let candidates = candidates(env, file_exists);
    for source in &candidates {
        match fetch::from_source(*source, env).await {
            Ok(Some(creds)) => return Ok((creds, *source)),
            // Only instance metadata may be absent without the user having asked for it.
            Ok(None) => continue,
            Err(e) => return Err(e),
        }
    }
    let tried: Vec<&str> = candidates.iter().map(|s| s.describe()).collect();
    Err(Error::Missing {
        tried: if tried.is_empty() {
            "none configured".into()
        } else {
            tried.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_order_follows_the_sdks() {
        let all = Env::from_pairs([
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/c"),
            ("AWS_PROFILE", "p"),
            ("ETCDBAK_IMDS", "true"),
        ]);
        assert_eq!(
            candidates(&all, true),
            vec![
                Source::Environment,
                Source::WebIdentity,
                Source::Container,
                Source::Profile,
                Source::InstanceMetadata
            ]
        );
    }

    #[test]
    fn a_source_is_a_candidate_only_when_configured() {
        type Case<'a> = (&'a [(&'a str, &'a str)], bool, &'a [Source]);
        let table: &[Case] = &[
            // Nothing configured: nothing tried, and no request leaves the pod.
            (&[], false, &[]),
            (
                &[("ETCDBAK_IMDS", "true")],
                false,
                &[Source::InstanceMetadata],
            ),
            (
                &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1")],
                false,
                &[Source::InstanceMetadata],
            ),
            (
                &[
                    ("ETCDBAK_IMDS", "true"),
                    ("AWS_EC2_METADATA_DISABLED", "true"),
                ],
                false,
                &[],
            ),
            (&[("AWS_ACCESS_KEY_ID", "")], false, &[]),
            // Half of a web identity is not one.
            (&[("AWS_ROLE_ARN", "arn")], false, &[]),
            (
                &[("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/c")],
                false,
                &[Source::Container],
            ),
            (&[], true, &[Source::Profile]),
            // Only a secret: still the environment's, so the error names the missing key id.
            (
                &[("AWS_SECRET_ACCESS_KEY", "s")],
                false,
                &[Source::Environment],
            ),
        ];
        for (pairs, file, want) in table {
            let env = Env::from_pairs(pairs.iter().copied());
            assert_eq!(candidates(&env, *file), *want, "{pairs:?} file={file}");
        }
    }

    #[test]
    fn debug_never_shows_keys() {
        let c = Credentials {
            access_key: "AKIDSECRETLOOKING".into(),
            secret_key: "very-secret".into(),
            session_token: Some("tok-secret".into()),
            expiration: None,
        };
        let text = format!("{c:?}");
        for secret in ["AKIDSECRETLOOKING", "very-secret", "tok-secret"] {
            assert!(!text.contains(secret), "{text}");
        }
        let env = Env::from_pairs([
            ("AWS_ACCESS_KEY_ID", "AKIDSECRETLOOKING"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret"),
            ("AWS_SESSION_TOKEN", "tok-secret"),
        ]);
        let text = format!("{env:?}");
        assert!(text.contains("AWS_SECRET_ACCESS_KEY"), "{text}");
        for secret in ["AKIDSECRETLOOKING", "very-secret", "tok-secret"] {
            assert!(!text.contains(secret), "{text}");
        }
    }

    #[test]
    fn empty_values_count_as_unset_and_the_profile_defaults() {
        let env = Env::from_pairs([("AWS_PROFILE", " "), ("AWS_SHARED_CREDENTIALS_FILE", "/c")]);
        assert_eq!(env.profile(), "default");
        assert_eq!(env.credentials_file(), Some(PathBuf::from("/c")));
    }
}
