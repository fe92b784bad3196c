//! The S3 client: a connected bucket plus the settings around it, and the few operations backups need.

use crate::exit::Setting;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use s3::creds::Credentials;
use s3::error::S3Error;
use s3::{Bucket, Region};

use super::classify::{describe, root_cause};
use super::stall;
use super::{Error, Settings};
use crate::backup::Backup;
use crate::naming;

/// A connected bucket plus the settings around it. `Debug` shows where it points, never its credentials.
#[derive(Clone)]
pub struct Client {
    /// The configured bucket with the credentials it was built with. Requests go through
    /// [`Client::fresh`], never this directly, so temporary credentials are current when signing.
    base: Box<Bucket>,
    /// Where current credentials come from; `None` when the bucket's own keys never change.
    provider: Option<crate::credentials::Provider>,
    /// The credential source, for the access-denied error (never a key).
    pub(crate) credentials_from: &'static str,
    /// The endpoint as the user gave it (or the AWS one), for error messages.
    pub endpoint: String,
    /// The bucket name, for error messages.
    pub bucket_name: String,
    /// The key prefix, normalised (no leading or trailing '/').
    pub prefix: String,
    pub(crate) content_md5: bool,
    pub(crate) request_timeout: Option<Duration>,
    /// Set once the run has warned that the store cannot list multipart uploads: one warning per run.
    pub(crate) warned_no_upload_listing: Arc<AtomicBool>,
    /// Set once the store refused a Content-MD5 header as unsupported: later PUTs go without it.
    content_md5_refused: Arc<AtomicBool>,
    /// For the part and object PUTs etcdbak sends itself: with the connect timeout.
    pub(crate) http: reqwest::Client,
    pub(crate) connect_timeout: Duration,
    pub(crate) stall_timeout: Duration,
    pub(crate) sse: super::Sse,
    /// The lock `store` puts on each backup; `None`: unlocked.
    pub(crate) lock: Option<super::ObjectLock>,
    /// For the requests signed by `s3::sign` (those naming a version): the region, the addressing style
    /// and the credentials, always current.
    pub(crate) region: String,
    pub(crate) path_style: bool,
    pub(crate) credentials: crate::credentials::Provider,
    /// Where uploads and downloads report how far they got.
    pub(crate) progress: crate::progress::Reporter,
    /// Whether the endpoint accepted a connection within the connect timeout (asked once per client).
    reached: Arc<tokio::sync::OnceCell<Result<(), String>>>,
    /// Whether the bucket keeps versions (asked once per client, by the first delete that needs to know).
    pub(crate) versioning: Arc<tokio::sync::OnceCell<bool>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Client")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket_name)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds a client from the settings, credentials included. No request is sent yet.
    pub fn connect(args: &Settings) -> Result<Client, Error> {
        if args.bucket.trim().is_empty() {
            return Err(Error::Settings(format!(
                "the bucket name is empty: set {:#}",
                Setting::Bucket
            )));
        }
        let (region, endpoint) = place(args.endpoint.as_deref(), &args.region)?;
        let credentials = signing_keys(&args.credentials.peek())?;
        let mut bucket = Bucket::new(&args.bucket, region, credentials).map_err(|e| {
            Error::Settings(format!(
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
        let mut client = Client::assemble(bucket, endpoint, args)?;
        client.credentials_from = args.credentials.source().describe();
        client.provider = Some(args.credentials.clone()).filter(|p| p.refreshes());
        Ok(client)
    }

    /// The bucket to sign the next request with: with credentials refreshed first when temporary ones are
    /// about to expire. Every request and presigned URL is built from this, so a long upload keeps working
    /// past the lifetime of the credentials it started with. A clone is cheap (its HTTP client is shared).
    pub(crate) async fn fresh(&self) -> Result<Box<Bucket>, Error> {
        let mut bucket = self.base.clone();
        if let Some(p) = &self.provider {
            bucket.set_credentials(signing_keys(&p.current().await?)?);
        }
        Ok(bucket)
    }

    /// The client around a configured bucket.
    pub(crate) fn assemble(
        bucket: Box<Bucket>,
        endpoint: String,
        args: &Settings,
    ) -> Result<Client, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(args.connect_timeout)
            .build()
            .map_err(|e| {
                Error::Settings(format!("cannot set up the HTTP client: {}", root_cause(&e)))
            })?;
        Ok(Client {
            base: bucket,
            provider: None,
            credentials_from: crate::credentials::Source::Environment.describe(),
            endpoint,
            bucket_name: args.bucket.clone(),
            prefix: naming::bare_prefix(&args.prefix).to_string(),
            content_md5: args.content_md5,
            request_timeout: args.request_timeout,
            warned_no_upload_listing: Arc::default(),
            content_md5_refused: Arc::default(),
            http,
            connect_timeout: args.connect_timeout,
            stall_timeout: args.stall_timeout,
            sse: args.sse,
            lock: args.object_lock,
            region: args.region.clone(),
            path_style: args.path_style,
            credentials: args.credentials.clone(),
            progress: args.progress.clone(),
            reached: Arc::default(),
            versioning: Arc::default(),
        })
    }

    /// Fails fast, with the connect timeout, when the endpoint does not accept a connection; rust-s3's own
    /// connections have no connect timeout, so this is asked before its first request.
    pub(crate) async fn reach(&self) -> Result<(), Error> {
        let limit = self.connect_timeout;
        let outcome = self
            .reached
            .get_or_init(|| connect_probe(&self.endpoint, limit))
            .await;
        outcome.clone().map_err(|reason| Error::Unreachable {
            endpoint: self.endpoint.clone(),
            reason,
        })
    }

    /// One request through rust-s3, once the endpoint is reachable, bounded by the stall timeout (these
    /// requests move few bytes, so a long silence is a stall). The inner result is rust-s3's own.
    pub(crate) async fn send<T>(
        &self,
        op: &str,
        request: impl std::future::Future<Output = Result<T, S3Error>>,
    ) -> Result<Result<T, S3Error>, Error> {
        self.reach().await?;
        stall::bounded(self.stall_timeout, request)
            .await
            .ok_or_else(|| Error::Request {
                op: op.to_string(),
                reason: stall::reason(self.stall_timeout),
            })
    }

    /// [`Client::send`] with S3 failures classified.
    pub(crate) async fn call<T>(
        &self,
        op: &str,
        request: impl std::future::Future<Output = Result<T, S3Error>>,
    ) -> Result<T, Error> {
        self.send(op, request)
            .await?
            .map_err(|e| self.classify(op, e))
    }

    /// Every backup under the prefix (of one cluster, or of all), newest first. Keys that are not exactly
    /// `<prefix>/<cluster>/<name>` in etcdbak's naming scheme are skipped, never reported as backups.
    pub async fn list_backups(&self, cluster: Option<&str>) -> Result<Vec<Backup>, Error> {
        let objects = self.list_keys(cluster).await?;
        Ok(crate::backup::from_listing(&self.prefix, &objects, cluster))
    }

    /// One cheap request (a one-key listing of the cluster's prefix) that fails the way real work would:
    /// unreachable endpoint, missing bucket, bad credentials. Lets `store` report those before it spends
    /// time reading a large snapshot.
    pub async fn check_access(&self, cluster: &str) -> Result<(), Error> {
        let prefix = naming::cluster_prefix(&self.prefix, cluster);
        self.call(
            "list the backups",
            self.fresh()
                .await?
                .list_page(prefix, None, None, None, Some(1)),
        )
        .await
        .map(|_| ())
    }

    /// Every key (with its size) under the cluster's prefix, or under the whole prefix.
    pub async fn list_keys(&self, cluster: Option<&str>) -> Result<Vec<(String, u64)>, Error> {
        let prefix = match cluster {
            Some(c) => naming::cluster_prefix(&self.prefix, c),
            None => naming::root_prefix(&self.prefix),
        };
        let pages = self
            .call("list the backups", self.fresh().await?.list(prefix, None))
            .await?;
        Ok(pages
            .into_iter()
            .flat_map(|p| p.contents)
            .map(|o| (o.key, o.size))
            .collect())
    }

    /// Every object under `prefix` (taken as given, not normalised) with its size and modification time:
    /// what the exporter summarises.
    pub async fn list_objects(&self, prefix: &str) -> Result<Vec<ListedObject>, Error> {
        let pages = self
            .call(
                "list the backups",
                self.fresh().await?.list(prefix.to_string(), None),
            )
            .await?;
        let mut out = Vec::new();
        for o in pages.into_iter().flat_map(|p| p.contents) {
            let last_modified = chrono::DateTime::parse_from_rfc3339(&o.last_modified)
                .map_err(|e| Error::Request {
                    op: "list the backups".into(),
                    reason: format!("object {} has an unreadable LastModified: {e}", o.key),
                })?
                .with_timezone(&chrono::Utc);
            out.push(ListedObject {
                key: o.key,
                last_modified,
                size: o.size,
            });
        }
        Ok(out)
    }

    /// HEAD one object: its size, ETag (unquoted) and user metadata.
    pub async fn head(&self, key: &str) -> Result<ObjectHead, Error> {
        let op = format!("read the metadata of {key}");
        let head = self.send(&op, self.fresh().await?.head_object(key)).await?;
        let (head, _) = head.map_err(|e| match e {
            S3Error::HttpFailWithBody(404, _) => Error::NotFound {
                key: key.to_string(),
                bucket: self.bucket_name.clone(),
            },
            e => self.classify(&op, e),
        })?;
        Ok(ObjectHead {
            size: head.content_length.and_then(|n| u64::try_from(n).ok()),
            etag: head.e_tag.map(|t| t.trim_matches('"').to_string()),
            metadata: head.metadata.unwrap_or_default(),
        })
    }

    /// A small object's bytes (a segment), refused when it is longer than `limit`.
    pub async fn get_small(&self, key: &str, limit: u64) -> Result<Vec<u8>, Error> {
        let op = format!("download {key}");
        let response = self.call(&op, self.fresh().await?.get_object(key)).await?;
        let bytes = response.bytes();
        if bytes.len() as u64 > limit {
            return Err(Error::Request {
                op,
                reason: format!(
                    "it is {} bytes, more than the {limit} expected",
                    bytes.len()
                ),
            });
        }
        Ok(bytes.to_vec())
    }

    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        self.call(
            &format!("delete {key}"),
            self.fresh().await?.delete_object(key),
        )
        .await
        .map(|_| ())
    }

    /// The multipart uploads in progress under one cluster's prefix.
    ///
    /// S3 lists uploads by prefix. MinIO does not: with a prefix it lists only uploads of exactly that key,
    /// and with none it lists the uploads started since it last restarted. So an empty prefixed answer is
    /// followed by a bucket-wide listing filtered here. (MinIO also expires stale uploads itself, after 24h
    /// by default, which covers uploads orphaned across one of its restarts.)
    ///
    /// A store that does not implement ListMultipartUploads answers with none (and one warning per run):
    /// the sweep of stale uploads is skipped there, which only leaves what such a store's own expiry of
    /// unfinished uploads cleans up.
    pub async fn multipart_uploads(&self, cluster: &str) -> Result<Vec<PendingUpload>, Error> {
        let prefix = naming::cluster_prefix(&self.prefix, cluster);
        let mut uploads = self.tolerate(self.list_uploads(Some(&prefix)).await)?;
        if uploads.is_empty() {
            uploads = self.tolerate(self.list_uploads(None).await)?;
        }
        uploads.retain(|u| u.key.starts_with(&prefix));
        Ok(uploads)
    }

    /// The unfinished multipart uploads of exactly `key` (a prefix listing every store answers the same);
    /// none where the store cannot list them.
    pub async fn uploads_of_key(&self, key: &str) -> Result<Vec<PendingUpload>, Error> {
        let mut uploads = self.tolerate(self.list_uploads(Some(key)).await)?;
        uploads.retain(|u| u.key == key);
        Ok(uploads)
    }

    /// Whether PUTs carry Content-MD5: asked for (or needed by a lock), and not refused by this store
    /// during the run.
    pub(crate) fn sends_content_md5(&self) -> bool {
        (self.content_md5 || self.lock.is_some())
            && !self.content_md5_refused.load(Ordering::SeqCst)
    }

    /// Records that the store refused Content-MD5 as unsupported, warning once per run.
    pub(crate) fn refuse_content_md5(&self, answer: &Error) {
        if !self.content_md5_refused.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                endpoint = %self.endpoint, error = %answer,
                "the store does not support Content-MD5: sending without it (each part's ETag is still compared with its MD5); {}=false avoids the retry",
                Setting::ContentMd5
            );
        }
    }

    /// An unsupported upload listing becomes an empty one, with one warning per run.
    fn tolerate(
        &self,
        listed: Result<Vec<PendingUpload>, Error>,
    ) -> Result<Vec<PendingUpload>, Error> {
        match listed {
            Err(Error::Unsupported { reason, .. }) => {
                if !self.warned_no_upload_listing.swap(true, Ordering::SeqCst) {
                    tracing::warn!(
                        endpoint = %self.endpoint, %reason,
                        "the store cannot list unfinished multipart uploads: skipping the sweep of stale uploads (this run still aborts its own upload on failure)"
                    );
                }
                Ok(Vec::new())
            }
            other => other,
        }
    }

    async fn list_uploads(&self, prefix: Option<&str>) -> Result<Vec<PendingUpload>, Error> {
        let pages = self
            .call(
                "list unfinished uploads",
                self.fresh().await?.list_multiparts_uploads(prefix, None),
            )
            .await?;
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
        self.call(
            &format!("abort the upload of {key}"),
            self.fresh().await?.abort_upload(key, upload_id),
        )
        .await
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
                naming::parse_key(&self.prefix, &upload.key).is_some_and(|(c, _)| c == cluster);
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

/// What a HEAD says about one object.
#[derive(Debug, Clone, Default)]
pub struct ObjectHead {
    pub size: Option<u64>,
    pub etag: Option<String>,
    /// User metadata (x-amz-meta-*), keys without the prefix.
    pub metadata: HashMap<String, String>,
}

/// One object of a listing, as much as the exporter's metrics need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub last_modified: chrono::DateTime<chrono::Utc>,
    pub size: u64,
}

/// A multipart upload that was started and not yet completed or aborted.
#[derive(Debug, Clone)]
pub struct PendingUpload {
    pub key: String,
    pub upload_id: String,
    pub initiated: Option<chrono::DateTime<chrono::Utc>>,
}

/// rust-s3's form of a key set. Its own expiry is left unset: rust-s3 would otherwise try to refresh them
/// itself, from a fixed list of sources, outside the chain's rules and error messages.
fn signing_keys(c: &crate::credentials::Credentials) -> Result<Credentials, Error> {
    let token = c.session_token.as_deref();
    Credentials::new(Some(&c.access_key), Some(&c.secret_key), token, token, None)
        .map_err(|_| Error::MissingCredentials)
}

/// Where a bucket is: the region requests are signed for and the endpoint (as given, or AWS's for the
/// region), checked. `endpoint_of` is the endpoint alone, for naming a destination without a client.
fn place(endpoint: Option<&str>, region: &str) -> Result<(Region, String), Error> {
    let placed = match endpoint {
        Some(raw) => {
            let endpoint = raw.trim().trim_end_matches('/').to_string();
            // Never repeated: the part before '@' is a password.
            if endpoint.contains('@') {
                return Err(Error::Settings(format!(
                    "the S3 endpoint carries credentials (user:password@): remove them from the endpoint ({}, or a destination's endpoint=); keys come from the AWS credential chain",
                    Setting::S3Endpoint
                ),
                ));
            }
            let ok = endpoint.split_once("://").is_some_and(|(scheme, rest)| {
                matches!(scheme, "http" | "https")
                    && !rest.is_empty()
                    && !rest.contains(['/', ' ', '?', '#'])
            });
            if !ok {
                return Err(Error::Settings(format!(
                    "the S3 endpoint {raw:?} is not a URL like http://127.0.0.1:9000 or https://s3.example.com: fix {}",
                    Setting::S3Endpoint
                )));
            }
            (
                Region::Custom {
                    region: region.to_string(),
                    endpoint: endpoint.clone(),
                },
                endpoint,
            )
        }
        None => {
            let parsed: Region = region.parse().map_err(|_| {
                Error::Settings(format!(
                    "unknown AWS region {:?}: fix {}, or set {} for an S3-compatible store",
                    region,
                    Setting::Region,
                    Setting::S3Endpoint
                ))
            })?;
            let endpoint = format!("https://{}", parsed.host());
            (parsed, endpoint)
        }
    };
    Ok(placed)
}

/// The endpoint a client for these settings would talk to (see [`place`]).
pub fn endpoint_of(endpoint: Option<&str>, region: &str) -> Result<String, Error> {
    place(endpoint, region).map(|(_, e)| e)
}

/// `host:port` of an endpoint URL, the port defaulted from the scheme. Pure.
fn authority(endpoint: &str) -> Option<String> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let host_port = rest.split('/').next().filter(|h| !h.is_empty())?;
    let has_port = match host_port.rfind(']') {
        Some(close) => host_port[close..].contains(':'),
        None => host_port.contains(':'),
    };
    if has_port {
        return Some(host_port.to_string());
    }
    let port = if scheme == "https" { 443 } else { 80 };
    Some(format!("{host_port}:{port}"))
}

/// Opens (and drops) one TCP connection to the endpoint within `limit`.
async fn connect_probe(endpoint: &str, limit: Duration) -> Result<(), String> {
    let Some(addr) = authority(endpoint) else {
        return Err("the endpoint has no host".into());
    };
    tracing::debug!(%addr, limit = ?limit, "checking that the S3 endpoint accepts connections");
    match tokio::time::timeout(limit, tokio::net::TcpStream::connect(&addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no connection within {} ({})",
            humantime::format_duration(limit),
            Setting::ConnectTimeout
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_dials_the_endpoints_host_and_port() {
        for (endpoint, want) in [
            ("http://127.0.0.1:9000", Some("127.0.0.1:9000")),
            (
                "https://s3.eu-west-1.amazonaws.com",
                Some("s3.eu-west-1.amazonaws.com:443"),
            ),
            ("http://minio.backup.svc", Some("minio.backup.svc:80")),
            ("http://[::1]:9000", Some("[::1]:9000")),
            ("https://[::1]", Some("[::1]:443")),
            ("no-scheme", None),
            ("http://", None),
        ] {
            assert_eq!(authority(endpoint).as_deref(), want, "{endpoint}");
        }
    }

    #[tokio::test]
    async fn an_endpoint_that_refuses_fails_the_probe_with_the_reason() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let up = format!("http://127.0.0.1:{port}");
        assert_eq!(connect_probe(&up, Duration::from_secs(5)).await, Ok(()));
        drop(listener);
        let e = connect_probe(&up, Duration::from_secs(5))
            .await
            .expect_err("refused");
        assert!(e.to_lowercase().contains("refused"), "{e}");
    }
}
