//! The S3 adapter: connection settings, a client that never shows its credentials, and the translation of
//! S3 failures into one sentence that names what to fix.

use std::collections::HashMap;
use std::time::Duration;

use clap::{ArgAction, Args};
use s3::creds::Credentials;
use s3::error::S3Error;
use s3::{Bucket, Region};

use super::Error;
use crate::backup::{self, Backup};

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

/// A connected bucket plus the settings around it. `Debug` shows where it points, never its credentials.
#[derive(Clone)]
pub struct S3Client {
    pub(crate) bucket: Box<Bucket>,
    /// The endpoint as the user gave it (or the AWS one), for error messages.
    pub endpoint: String,
    /// The bucket name, for error messages.
    pub bucket_name: String,
    /// The key prefix, normalised (no leading or trailing '/').
    pub prefix: String,
    pub(crate) content_md5: bool,
    pub(crate) request_timeout: Option<Duration>,
}

impl std::fmt::Debug for S3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Client")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket_name)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

const ACCESS_KEY_ENV: &str = "AWS_ACCESS_KEY_ID";
const SECRET_KEY_ENV: &str = "AWS_SECRET_ACCESS_KEY";
const SESSION_TOKEN_ENV: &str = "AWS_SESSION_TOKEN";

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl S3Client {
    /// Builds a client from the flags and the AWS_* credential variables. No request is sent yet.
    pub fn from_args(args: &S3Args) -> Result<S3Client, Error> {
        if args.bucket.trim().is_empty() {
            return Err(Error::Usage(
                "the bucket name is empty: set --bucket or ETCDBAK_S3_BUCKET".into(),
            ));
        }
        let (region, endpoint) = match &args.endpoint {
            Some(raw) => {
                let endpoint = raw.trim().trim_end_matches('/').to_string();
                let ok = endpoint.split_once("://").is_some_and(|(scheme, rest)| {
                    matches!(scheme, "http" | "https")
                        && !rest.is_empty()
                        && !rest.contains(['/', ' ', '?', '#'])
                });
                if !ok {
                    return Err(Error::Usage(format!(
                        "the S3 endpoint {raw:?} is not a URL like http://127.0.0.1:9000 or https://s3.example.com: fix --s3-endpoint"
                    )));
                }
                (
                    Region::Custom {
                        region: args.region.clone(),
                        endpoint: endpoint.clone(),
                    },
                    endpoint,
                )
            }
            None => {
                let region: Region = args.region.parse().map_err(|_| {
                    Error::Usage(format!(
                        "unknown AWS region {:?}: fix --region, or set --s3-endpoint for an S3-compatible store",
                        args.region
                    ))
                })?;
                let endpoint = format!("https://{}", region.host());
                (region, endpoint)
            }
        };
        let (Some(access), Some(secret)) =
            (env_nonempty(ACCESS_KEY_ENV), env_nonempty(SECRET_KEY_ENV))
        else {
            return Err(Error::MissingCredentials);
        };
        let token = env_nonempty(SESSION_TOKEN_ENV);
        let credentials = Credentials::new(
            Some(&access),
            Some(&secret),
            token.as_deref(),
            token.as_deref(),
            None,
        )
        .map_err(|_| Error::MissingCredentials)?;
        let mut bucket = Bucket::new(&args.bucket, region, credentials).map_err(|e| {
            Error::Usage(format!(
                "cannot set up the S3 client for bucket {:?}: {}",
                args.bucket,
                describe(&e)
            ))
        })?;
        if args.path_style {
            bucket.set_path_style();
        } else {
            bucket.set_subdomain_style();
        }
        // rust-s3 defaults to a 60 s limit per request, which is what broke big uploads elsewhere.
        bucket.set_request_timeout(args.request_timeout);
        Ok(S3Client {
            bucket,
            endpoint,
            bucket_name: args.bucket.clone(),
            prefix: backup::normalize_prefix(&args.prefix).to_string(),
            content_md5: args.content_md5,
            request_timeout: args.request_timeout,
        })
    }

    /// Turns an S3 failure into the error that names what to fix.
    pub(crate) fn classify(&self, op: &str, e: S3Error) -> Error {
        match e {
            S3Error::HttpFailWithBody(status, body) => self.classify_status(op, status, &body),
            S3Error::Reqwest(e) => self.classify_transport(op, &e),
            other => Error::Request {
                op: op.to_string(),
                reason: describe(&other),
            },
        }
    }

    pub(crate) fn classify_status(&self, op: &str, status: u16, body: &str) -> Error {
        // Only the error code is kept: S3 error bodies can echo request details such as the access key id.
        let code = xml_tag(body, "Code").unwrap_or_default();
        match (status, code.as_str()) {
            (_, "NoSuchBucket") => Error::BucketMissing {
                bucket: self.bucket_name.clone(),
                endpoint: self.endpoint.clone(),
            },
            (
                _,
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "AccessDenied"
                | "InvalidToken"
                | "ExpiredToken"
                | "InvalidSecurity"
                | "AllAccessDisabled",
            )
            | (401 | 403, _) => Error::AccessDenied {
                op: op.to_string(),
                bucket: self.bucket_name.clone(),
                code: if code.is_empty() {
                    format!("HTTP {status}")
                } else {
                    code
                },
            },
            _ => Error::Request {
                op: op.to_string(),
                reason: if code.is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("HTTP {status} {code}")
                },
            },
        }
    }

    pub(crate) fn classify_transport(&self, op: &str, e: &reqwest::Error) -> Error {
        if e.is_timeout() {
            return Error::Request {
                op: op.to_string(),
                reason:
                    "the request timed out (raise or unset --request-timeout if the link is slow)"
                        .into(),
            };
        }
        let reason = root_cause(e);
        if e.is_connect() || e.is_request() {
            return Error::Unreachable {
                endpoint: self.endpoint.clone(),
                reason,
            };
        }
        Error::Request {
            op: op.to_string(),
            reason,
        }
    }

    /// Every backup under the prefix (of one cluster, or of all), newest first. Keys that are not exactly
    /// `<prefix>/<cluster>/<name>` in etcdbak's naming scheme are skipped, never reported as backups.
    pub async fn list_backups(&self, cluster: Option<&str>) -> Result<Vec<Backup>, Error> {
        let objects = self.list_keys(cluster).await?;
        let mut backups: Vec<Backup> = objects
            .iter()
            .filter_map(|(key, size)| Backup::from_key(&self.prefix, key, *size))
            .filter(|b| cluster.is_none_or(|c| b.cluster == c))
            .collect();
        backup::sort_newest_first(&mut backups);
        Ok(backups)
    }

    /// One cheap request (a one-key listing of the cluster's prefix) that fails the way real work would:
    /// unreachable endpoint, missing bucket, bad credentials. Lets `store` report those before it spends
    /// time reading a large snapshot.
    pub async fn check_access(&self, cluster: &str) -> Result<(), Error> {
        self.bucket
            .list_page(
                backup::cluster_prefix(&self.prefix, cluster),
                None,
                None,
                None,
                Some(1),
            )
            .await
            .map(|_| ())
            .map_err(|e| self.classify("list the backups", e))
    }

    /// Every key (with its size) under the cluster's prefix, or under the whole prefix.
    pub async fn list_keys(&self, cluster: Option<&str>) -> Result<Vec<(String, u64)>, Error> {
        let prefix = match cluster {
            Some(c) => backup::cluster_prefix(&self.prefix, c),
            None => backup::root_prefix(&self.prefix),
        };
        let pages = self
            .bucket
            .list(prefix, None)
            .await
            .map_err(|e| self.classify("list the backups", e))?;
        Ok(pages
            .into_iter()
            .flat_map(|p| p.contents)
            .map(|o| (o.key, o.size))
            .collect())
    }

    /// HEAD one object: its size, ETag (unquoted) and user metadata.
    pub async fn head(&self, key: &str) -> Result<ObjectInfo, Error> {
        let (head, _) = self.bucket.head_object(key).await.map_err(|e| match e {
            S3Error::HttpFailWithBody(404, _) => Error::NotFound {
                key: key.to_string(),
                bucket: self.bucket_name.clone(),
            },
            e => self.classify(&format!("read the metadata of {key}"), e),
        })?;
        Ok(ObjectInfo {
            size: head.content_length.and_then(|n| u64::try_from(n).ok()),
            etag: head.e_tag.map(|t| t.trim_matches('"').to_string()),
            metadata: head.metadata.unwrap_or_default(),
        })
    }

    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        self.bucket
            .delete_object(key)
            .await
            .map(|_| ())
            .map_err(|e| self.classify(&format!("delete {key}"), e))
    }

    /// The multipart uploads in progress under one cluster's prefix.
    ///
    /// S3 lists uploads by prefix. MinIO does not: with a prefix it lists only uploads of exactly that key,
    /// and with none it lists the uploads started since it last restarted. So an empty prefixed answer is
    /// followed by a bucket-wide listing filtered here. (MinIO also expires stale uploads itself, after 24h
    /// by default, which covers uploads orphaned across one of its restarts.)
    pub async fn multipart_uploads(&self, cluster: &str) -> Result<Vec<PendingUpload>, Error> {
        let prefix = backup::cluster_prefix(&self.prefix, cluster);
        let mut uploads = self.list_uploads(Some(&prefix)).await?;
        if uploads.is_empty() {
            uploads = self.list_uploads(None).await?;
        }
        uploads.retain(|u| u.key.starts_with(&prefix));
        Ok(uploads)
    }

    /// The unfinished multipart uploads of exactly `key` (a prefix listing every store answers the same).
    pub async fn uploads_of_key(&self, key: &str) -> Result<Vec<PendingUpload>, Error> {
        let mut uploads = self.list_uploads(Some(key)).await?;
        uploads.retain(|u| u.key == key);
        Ok(uploads)
    }

    async fn list_uploads(&self, prefix: Option<&str>) -> Result<Vec<PendingUpload>, Error> {
        let pages = self
            .bucket
            .list_multiparts_uploads(prefix, None)
            .await
            .map_err(|e| self.classify("list unfinished uploads", e))?;
        Ok(pages
            .into_iter()
            .flat_map(|p| p.uploads)
            .map(|u| PendingUpload {
                initiated: chrono::DateTime::parse_from_rfc3339(&u.initiated)
                    .ok()
                    .map(|t| t.with_timezone(&chrono::Utc)),
                key: u.key,
                upload_id: u.id,
            })
            .collect())
    }

    pub async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), Error> {
        self.bucket
            .abort_upload(key, upload_id)
            .await
            .map_err(|e| self.classify(&format!("abort the upload of {key}"), e))
    }

    /// Aborts this cluster's multipart uploads (of etcdbak-named keys) started before `older_than` ago.
    /// Younger ones may belong to a run still in progress and are left alone. Returns how many were aborted.
    pub async fn abort_stale_uploads(
        &self,
        cluster: &str,
        older_than: Duration,
    ) -> Result<usize, Error> {
        let now = chrono::Utc::now();
        let cutoff = chrono::Duration::from_std(older_than)
            .ok()
            .and_then(|d| now.checked_sub_signed(d))
            .unwrap_or(now);
        let mut aborted = 0;
        for upload in self.multipart_uploads(cluster).await? {
            let ours =
                backup::parse_key(&self.prefix, &upload.key).is_some_and(|(c, _)| c == cluster);
            let stale = upload.initiated.is_some_and(|t| t <= cutoff);
            if ours && stale {
                self.abort_upload(&upload.key, &upload.upload_id).await?;
                tracing::info!(key = %upload.key, initiated = ?upload.initiated, "aborted a stale multipart upload");
                aborted += 1;
            }
        }
        Ok(aborted)
    }
}

/// What a HEAD says about an object.
#[derive(Debug, Clone, Default)]
pub struct ObjectInfo {
    pub size: Option<u64>,
    pub etag: Option<String>,
    /// User metadata (x-amz-meta-*), keys without the prefix.
    pub metadata: HashMap<String, String>,
}

/// A multipart upload that was started and not yet completed or aborted.
#[derive(Debug, Clone)]
pub struct PendingUpload {
    pub key: String,
    pub upload_id: String,
    pub initiated: Option<chrono::DateTime<chrono::Utc>>,
}

/// The text of `<tag>...</tag>` in an S3 XML error body.
fn xml_tag(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&close)? + start;
    let text = body[start..end].trim();
    // Codes are short identifiers; anything else is not a code worth repeating.
    (!text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| text.to_string())
}

/// The innermost cause of a transport error ("Connection refused (os error 111)"), never its URL: a
/// presigned URL carries the access key id.
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    strip_urls(&last)
}

/// rust-s3 errors other than HTTP failures, described without URLs.
fn describe(e: &S3Error) -> String {
    match e {
        S3Error::Reqwest(r) => root_cause(r),
        other => strip_urls(&other.to_string()),
    }
}

fn strip_urls(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let bare = w.trim_start_matches(['(', '"', '\'']);
            if bare.starts_with("http://") || bare.starts_with("https://") {
                "<url>"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> S3Client {
        let args = S3Args {
            endpoint: Some("http://127.0.0.1:9/".into()),
            region: "us-east-1".into(),
            bucket: "backups".into(),
            prefix: "/etcdbak/".into(),
            path_style: true,
            content_md5: true,
            request_timeout: None,
        };
        // Built with explicit credentials rather than the environment, which tests share.
        let bucket = Bucket::new(
            "backups",
            Region::Custom {
                region: "us-east-1".into(),
                endpoint: "http://127.0.0.1:9".into(),
            },
            Credentials::new(Some("AKIDTEST"), Some("SECRETTEST"), None, None, None)
                .expect("credentials"),
        )
        .expect("bucket");
        S3Client {
            bucket,
            endpoint: "http://127.0.0.1:9".into(),
            bucket_name: args.bucket,
            prefix: backup::normalize_prefix(&args.prefix).into(),
            content_md5: args.content_md5,
            request_timeout: args.request_timeout,
        }
    }

    #[test]
    fn status_codes_become_errors_that_name_the_fix() {
        let c = client();
        let cases: [(u16, &str, crate::exit::Class, &str); 6] = [
            (
                404,
                "<Error><Code>NoSuchBucket</Code><Message>x</Message></Error>",
                crate::exit::Class::Storage,
                "bucket \"backups\" does not exist",
            ),
            (
                403,
                "<Error><Code>InvalidAccessKeyId</Code><AWSAccessKeyId>AKIDTEST</AWSAccessKeyId></Error>",
                crate::exit::Class::Auth,
                "AWS_ACCESS_KEY_ID",
            ),
            (
                403,
                "<Error><Code>SignatureDoesNotMatch</Code></Error>",
                crate::exit::Class::Auth,
                "AWS_SECRET_ACCESS_KEY",
            ),
            (403, "", crate::exit::Class::Auth, "HTTP 403"),
            (
                500,
                "<Error><Code>InternalError</Code></Error>",
                crate::exit::Class::Storage,
                "HTTP 500 InternalError",
            ),
            (
                503,
                "<html>proxy</html>",
                crate::exit::Class::Storage,
                "HTTP 503",
            ),
        ];
        for (status, body, exit, text) in cases {
            let e = c.classify_status("upload", status, body);
            let msg = e.to_string();
            assert_eq!(e.class(), exit, "{msg}");
            assert!(msg.contains(text), "{msg:?} lacks {text:?}");
            assert!(!msg.contains("AKIDTEST"), "{msg:?} leaks the key id");
        }
    }

    #[test]
    fn debug_output_never_shows_credentials() {
        let dbg = format!("{:?}", client());
        assert!(dbg.contains("backups") && dbg.contains("etcdbak"));
        assert!(
            !dbg.contains("AKIDTEST") && !dbg.contains("SECRETTEST"),
            "{dbg}"
        );
    }

    #[test]
    fn urls_are_stripped_from_transport_errors() {
        assert_eq!(
            strip_urls("error sending request for url (http://h/b/k?X-Amz-Credential=AKID%2F) x"),
            "error sending request for url <url> x"
        );
    }

    #[test]
    fn xml_codes_are_read_strictly() {
        assert_eq!(
            xml_tag("<Error><Code>NoSuchKey</Code></Error>", "Code").as_deref(),
            Some("NoSuchKey")
        );
        assert_eq!(xml_tag("<Code>has space</Code>", "Code"), None);
        assert_eq!(xml_tag("no xml", "Code"), None);
    }
}
