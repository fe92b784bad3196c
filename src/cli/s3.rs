//! The S3 connection flags shared by `store`, `prune`, `download`, `list`, `restore-guide` and
//! `s3-exporter`.

use std::time::Duration;

use clap::{ArgAction, Args};

use crate::s3::Settings;

/// Where backups are stored. Shared by `store`, `prune`, `download` and `list`.
///
/// Credentials are not flags: they come only from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optionally
/// AWS_SESSION_TOKEN, so they never show up in a process listing, a pod spec's args or a log line.
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
    /// need. Set to false for virtual-hosted style (http://bucket.host/key).
    #[arg(long, env = "ETCDBAK_S3_PATH_STYLE", default_value_t = true, action = ArgAction::Set,
          value_name = "BOOL")]
    pub path_style: bool,
    /// Send a Content-MD5 header with every uploaded part, so the store rejects a part damaged in transit.
    /// Some S3-compatible stores refuse or mishandle it: set to false there (each part's returned ETag is
    /// still compared with its MD5 when the store returns one).
    #[arg(long, env = "ETCDBAK_S3_CONTENT_MD5", default_value_t = true, action = ArgAction::Set,
          value_name = "BOOL")]
    pub content_md5: bool,
    /// Give up on a single S3 request after this long (e.g. 10m). Unset means no limit: a part upload on a
    /// slow link legitimately takes minutes, and short limits broke uploads of 250 MB+ snapshots elsewhere.
    #[arg(long, env = "ETCDBAK_S3_REQUEST_TIMEOUT", value_parser = humantime::parse_duration,
          value_name = "DURATION")]
    pub request_timeout: Option<Duration>,
}

impl S3Args {
    pub fn settings(&self) -> Settings {
        Settings {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
            path_style: self.path_style,
            content_md5: self.content_md5,
            request_timeout: self.request_timeout,
        }
    }

    /// Builds the client (no request is sent yet).
    pub fn connect(&self) -> Result<crate::s3::Client, crate::s3::Error> {
        crate::s3::Client::connect(&self.settings())
    }
}

/// Checks a `--cluster` value with the one naming rule.
pub fn check_cluster(name: &str) -> super::Result<()> {
    crate::backup::validate_cluster_name(name)
        .map_err(|e| super::Error::Usage(format!("invalid cluster name: {e}")))
}
