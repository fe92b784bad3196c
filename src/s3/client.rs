//! The S3 client: a connected bucket plus the settings around it, and the few operations backups need.

use std::collections::HashMap;
use std::time::Duration;

use s3::creds::Credentials;
use s3::error::S3Error;
use s3::{Bucket, Region};

use super::classify::describe;
use super::{Error, Settings};
use crate::backup::{self, Backup};

/// A connected bucket plus the settings around it. `Debug` shows where it points, never its credentials.
#[derive(Clone)]
pub struct Client {
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

impl std::fmt::Debug for Client {
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

impl Client {
    /// Builds a client from the settings and the AWS_* credential variables. No request is sent yet.
    pub fn connect(args: &Settings) -> Result<Client, Error> {
        if args.bucket.trim().is_empty() {
            return Err(Error::Settings(
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
                    return Err(Error::Settings(format!(
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
                    Error::Settings(format!(
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
        Ok(Client {
            bucket,
            endpoint,
            bucket_name: args.bucket.clone(),
            prefix: backup::normalize_prefix(&args.prefix).to_string(),
            content_md5: args.content_md5,
            request_timeout: args.request_timeout,
        })
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

    /// Every object under `prefix` (taken as given, not normalised) with its size and modification time:
    /// what the exporter summarises.
    pub async fn list_objects(&self, prefix: &str) -> Result<Vec<ListedObject>, Error> {
        let pages = self
            .bucket
            .list(prefix.to_string(), None)
            .await
            .map_err(|e| self.classify("list the backups", e))?;
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
        let (head, _) = self.bucket.head_object(key).await.map_err(|e| match e {
            S3Error::HttpFailWithBody(404, _) => Error::NotFound {
                key: key.to_string(),
                bucket: self.bucket_name.clone(),
            },
            e => self.classify(&format!("read the metadata of {key}"), e),
        })?;
        Ok(ObjectHead {
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
