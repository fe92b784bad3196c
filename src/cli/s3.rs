//! The S3 connection flags shared by `store`, `prune`, `download`, `list`, `restore-guide` and
//! `s3-exporter`.

use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args};

use crate::s3::{Settings, Sse};

/// Where backups are stored. Shared by `store`, `prune`, `download` and `list`.
///
/// Credentials are not flags, so they never show up in a process listing, a pod spec's args or a log line:
/// they come from the AWS credential chain (`crate::credentials`).
#[derive(Debug, Clone, Args)]
pub struct S3Args {
    /// S3 endpoint URL, e.g. http://minio.backup.svc:9000 or https://s3.eu-west-1.amazonaws.com. Leave unset
    /// for AWS S3, whose endpoint follows from --region.
    #[arg(long = "s3-endpoint", env = "ETCDBAK_S3_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
    /// Region to sign requests for. MinIO and most S3-compatible stores accept the default.
    #[arg(
        long,
        env = "ETCDBAK_S3_REGION",
        default_value = "us-east-1",
        value_name = "REGION"
    )]
    pub region: String,
    /// Bucket that holds the backups. It must exist: etcdbak never creates buckets.
    #[arg(long, env = "ETCDBAK_S3_BUCKET", value_name = "NAME")]
    pub bucket: String,
    /// Key prefix under which each cluster gets `<prefix>/<cluster>/`. Empty means the bucket root.
    #[arg(
        long,
        env = "ETCDBAK_S3_PREFIX",
        default_value = "etcdbak",
        value_name = "PREFIX"
    )]
    pub prefix: String,
    /// Address the bucket in the path (http://host/bucket/key), as MinIO and most S3-compatible stores
    /// need. `--path-style=false` for virtual-hosted style (http://bucket.host/key).
    #[arg(long, env = "ETCDBAK_S3_PATH_STYLE", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true,
          value_parser = BoolishValueParser::new(), value_name = "BOOL")]
    pub path_style: bool,
    /// Send a Content-MD5 header with every uploaded part, so the store rejects a part damaged in transit.
    /// Some S3-compatible stores refuse or mishandle it: `--content-md5=false` there (each part's returned
    /// ETag is still compared with its MD5 when the store returns one). `store --object-lock-mode` sends it
    /// regardless: S3 requires it on locked writes.
    #[arg(long, env = "ETCDBAK_S3_CONTENT_MD5", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true,
          value_parser = BoolishValueParser::new(), value_name = "BOOL")]
    pub content_md5: bool,
    /// Give up on a single S3 request after this long (e.g. 10m). Unset means no limit: a part upload on a
    /// slow link legitimately takes minutes, and short limits broke uploads of 250 MB+ snapshots elsewhere.
    #[arg(long, env = "ETCDBAK_S3_REQUEST_TIMEOUT", value_parser = super::bounds::request_timeout,
          value_name = "DURATION")]
    pub request_timeout: Option<Duration>,
    /// Give up connecting to the S3 endpoint after this long, so an unreachable endpoint fails fast with
    /// one clear line instead of waiting for the operating system's TCP timeout.
    #[arg(long, env = "ETCDBAK_S3_CONNECT_TIMEOUT", default_value = "30s",
          value_parser = super::bounds::connect_timeout, value_name = "DURATION")]
    pub connect_timeout: Duration,
    /// Give up on a request once no bytes have been sent or received for this long. Not a limit on a
    /// whole transfer: a part on a slow link takes as long as it needs while bytes flow.
    #[arg(long, env = "ETCDBAK_S3_STALL_TIMEOUT", default_value = "5m",
          value_parser = super::bounds::stall_timeout, value_name = "DURATION")]
    pub stall_timeout: Duration,
    /// Server-side encryption of the objects etcdbak writes: `s3` (SSE-S3, the store's keys) or `kms`
    /// (SSE-KMS with the bucket's default KMS key). Independent of, and weaker than, --encrypt-to.
    #[arg(long, env = "ETCDBAK_S3_SSE", value_enum, value_name = "KIND")]
    pub sse: Option<SseKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SseKind {
    /// SSE-S3 (AES256 with the store's keys).
    S3,
    /// SSE-KMS (aws:kms).
    Kms,
}

impl S3Args {
    /// The settings with keys from the credential chain (environment, web identity, container
    /// credentials, profile file, instance metadata), resolved once for the run and, when temporary,
    /// refreshed before they expire.
    pub async fn resolved(&self) -> Result<Settings, crate::s3::Error> {
        let provider = resolve_credentials(super::environment::credentials()).await?;
        Ok(self.settings(provider))
    }

    /// The settings these flags describe, with keys from `credentials`.
    pub fn settings(&self, credentials: crate::credentials::Provider) -> Settings {
        Settings {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
            path_style: self.path_style,
            content_md5: self.content_md5,
            request_timeout: self.request_timeout,
            connect_timeout: self.connect_timeout,
            stall_timeout: self.stall_timeout,
            credentials,
            sse: match self.sse {
                None => Sse::None,
                Some(SseKind::S3) => Sse::S3,
                Some(SseKind::Kms) => Sse::Kms,
            },
            // Only `store` locks what it writes (its own flags, `cli::store`).
            object_lock: None,
            progress: super::progress::reporter(),
        }
    }

    /// Builds the client (no request is sent yet beyond what the credential source needs).
    pub async fn connect(&self) -> Result<crate::s3::Client, crate::s3::Error> {
        crate::s3::Client::connect(&self.resolved().await?)
    }
}

/// The credential chain over `env`, resolved once for the run and, when temporary, refreshed before they
/// expire.
pub async fn resolve_credentials(
    env: crate::credentials::Env,
) -> Result<crate::credentials::Provider, crate::s3::Error> {
    let provider = crate::credentials::Provider::resolve(env).await?;
    tracing::debug!(
        source = provider.source().describe(),
        refreshed = provider.refreshes(),
        "S3 credentials resolved"
    );
    Ok(provider)
}

/// Checks a `--cluster` value with the one naming rule.
pub fn check_cluster(name: &str) -> super::Result<()> {
    crate::naming::validate_cluster_name(name)
        .map_err(|e| super::Error::Usage(crate::exit::Usage(format!("invalid cluster name: {e}"))))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::S3Args;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        s3: S3Args,
    }

    fn parse(args: &[&str]) -> Result<S3Args, clap::Error> {
        let argv = ["probe", "--bucket", "b"].iter().chain(args);
        Probe::try_parse_from(argv).map(|p| p.s3)
    }

    #[test]
    fn boolean_switches_read_the_way_users_type_them() {
        for (args, path_style, content_md5) in [
            (&[][..], true, true),
            (&["--path-style"][..], true, true),
            (&["--path-style=false"][..], false, true),
            (
                &["--path-style=true", "--content-md5=false"][..],
                true,
                false,
            ),
            (&["--content-md5", "--path-style=no"][..], false, true),
        ] {
            let s3 = parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(
                (s3.path_style, s3.content_md5),
                (path_style, content_md5),
                "{args:?}"
            );
        }
        assert!(parse(&["--path-style=maybe"]).is_err());
    }
}
