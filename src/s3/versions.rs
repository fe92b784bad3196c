//! Object Lock and versions on the wire: whether the bucket can lock, what holds an object back, and a
//! delete that leaves nothing behind on a versioned bucket (every version of the key deleted by its id,
//! delete markers too), or reports the lock that keeps it. Requests are signed by `s3::sign`, since
//! rust-s3 0.38 cannot name a version.

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::Method;

use super::lock::{self, Hold, Locked, Version};
use super::sign;
use super::{Client, Error};

/// What a HEAD says about the current version of a key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Current {
    /// `x-amz-version-id`; `None` on a bucket that never had versioning. `null` (an object written before
    /// versioning was turned on, or while it was suspended) is a version like any other.
    pub version_id: Option<String>,
    pub hold: Hold,
}

/// What [`Client::remove`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Deleted (every version, on a versioned bucket), or already gone.
    Gone,
    /// Left in place: a version of it is still locked.
    Locked(Locked),
}

/// An answer to a request signed here.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Client {
    /// Fails with a line naming the bucket unless Object Lock is enabled on it: a lock asked for on a bucket
    /// that cannot keep it must not become a silent unlocked upload.
    pub async fn require_object_lock(&self) -> Result<(), Error> {
        if !self.object_lock_enabled().await? {
            return Err(Error::ObjectLockOff {
                bucket: self.bucket_name.clone(),
            });
        }
        Ok(())
    }

    /// Whether Object Lock is enabled on the bucket (one GET `?object-lock`); a store without the feature
    /// says no.
    pub async fn object_lock_enabled(&self) -> Result<bool, Error> {
        let op = "read the bucket's Object Lock configuration";
        let query = [("object-lock".to_string(), String::new())];
        let answer = self.signed(op, Method::GET, None, &query).await?;
        let enabled = match answer.status {
            200..=299 => lock::bucket_lock_enabled(&answer.body),
            _ => match self.classify_status(op, answer.status, &answer.body) {
                // S3 and MinIO: ObjectLockConfigurationNotFoundError; a store without the feature: 501.
                Error::Request { reason, .. }
                    if reason.contains("ObjectLockConfigurationNotFound") =>
                {
                    false
                }
                Error::Unsupported { .. } => false,
                e => return Err(e),
            },
        };
        Ok(enabled)
    }

    /// HEAD one version of `key` (the current one with `version` unset): its version id and lock. `None`
    /// when there is no such object.
    pub async fn current(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<Current>, Error> {
        let op = format!("read the lock of {key}");
        let query: Vec<(String, String)> = version
            .map(|v| ("versionId".to_string(), v.to_string()))
            .into_iter()
            .collect();
        let answer = self.signed(&op, Method::HEAD, Some(key), &query).await?;
        match answer.status {
            200..=299 => {}
            404 => return Ok(None),
            status => return Err(self.classify_status(&op, status, "")),
        }
        let pairs: Vec<(&str, &str)> = answer
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let version_id = pairs
            .iter()
            .find(|(k, _)| *k == "x-amz-version-id")
            .map(|(_, v)| v.to_string())
            .filter(|v| !v.is_empty());
        Ok(Some(Current {
            version_id,
            hold: Hold::from_headers(pairs),
        }))
    }

    /// Every version and delete marker of exactly `key`.
    pub async fn versions(&self, key: &str) -> Result<Vec<Version>, Error> {
        let op = format!("list the versions of {key}");
        let mut query = vec![
            ("versions".to_string(), String::new()),
            ("prefix".to_string(), key.to_string()),
        ];
        let mut out = Vec::new();
        // A key has a handful of versions; the pages only matter for a key rewritten very often.
        for _ in 0..100 {
            let answer = self.signed(&op, Method::GET, None, &query).await?;
            if !(200..300).contains(&answer.status) {
                return Err(self.classify_status(&op, answer.status, &answer.body));
            }
            out.extend(lock::versions_of(&answer.body, key));
            match lock::next_page(&answer.body) {
                Some((k, v)) => {
                    query.retain(|(name, _)| name == "versions" || name == "prefix");
                    query.push(("key-marker".into(), k));
                    query.push(("version-id-marker".into(), v));
                }
                None => break,
            }
        }
        Ok(out)
    }

    /// DELETE one version by its id: on a versioned bucket, the only delete that removes data.
    pub async fn delete_version(&self, key: &str, version_id: &str) -> Result<(), Error> {
        let op = format!("delete version {version_id} of {key}");
        let query = [("versionId".to_string(), version_id.to_string())];
        let answer = self.signed(&op, Method::DELETE, Some(key), &query).await?;
        match answer.status {
            200..=299 | 404 => Ok(()),
            status => Err(self.classify_status(&op, status, &answer.body)),
        }
    }

    /// Deletes `key` unless a lock holds it: a plain DELETE on an unversioned bucket, every version and
    /// delete marker on a versioned one.
    pub async fn remove(&self, key: &str) -> Result<Removal, Error> {
        match self.current(key, None).await? {
            None => Ok(Removal::Gone),
            Some(current) => self.remove_current(key, &current, Utc::now()).await,
        }
    }

    /// [`Client::remove`] with the key's HEAD already read (retention reads it to plan).
    pub async fn remove_current(
        &self,
        key: &str,
        current: &Current,
        now: DateTime<Utc>,
    ) -> Result<Removal, Error> {
        if let Some(locked) = current.hold.locked_at(now) {
            return Ok(Removal::Locked(locked));
        }
        // MinIO names no version for an object written before versioning was turned on, so the
        // bucket is asked too.
        if current.version_id.is_none() && !self.versioned().await? {
            self.delete(key).await?;
            return Ok(Removal::Gone);
        }
        let id = current.version_id.as_deref();
        let mut versions = match self.versions(key).await {
            Ok(versions) => versions,
            // A store that cannot list versions keeps none to leave behind but this one.
            Err(Error::Unsupported { .. }) => {
                match id {
                    Some(id) => self.delete_version(key, id).await?,
                    None => self.delete(key).await?,
                }
                return Ok(Removal::Gone);
            }
            Err(e) => return Err(e),
        };
        if let Some(id) = id.filter(|id| !versions.iter().any(|v| v.version_id == *id)) {
            versions.insert(
                0,
                Version {
                    key: key.to_string(),
                    version_id: id.to_string(),
                    delete_marker: false,
                },
            );
        }
        let mut locked = None;
        for v in versions
            .iter()
            .filter(|v| !v.delete_marker && Some(v.version_id.as_str()) != id)
        {
            if let Some(older) = self.current(key, Some(&v.version_id)).await? {
                locked = lock::later(locked, older.hold.locked_at(now));
            }
        }
        if let Some(locked) = locked {
            return Ok(Removal::Locked(locked));
        }
        self.delete_versions(key, &versions, current, now).await
    }

    /// Deletes every version and delete marker in `versions`, once none is locked.
    async fn delete_versions(
        &self,
        key: &str,
        versions: &[Version],
        current: &Current,
        now: DateTime<Utc>,
    ) -> Result<Removal, Error> {
        for v in versions {
            match self.delete_version(key, &v.version_id).await {
                Ok(()) => {}
                // Our clock says the lock has expired, the store's does not yet.
                Err(Error::AccessDenied { .. }) if current.hold.until.is_some() => {
                    let until = current.hold.until.unwrap_or(now);
                    tracing::warn!(%key, version = %v.version_id, until = %lock::rfc3339(until), "the store still holds this version's lock: is this machine's clock ahead of the store's?");
                    return Ok(Removal::Locked(Locked::Until(until)));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Removal::Gone)
    }

    /// Whether the bucket has (or had, now suspended) versioning on; asked once per client.
    async fn versioned(&self) -> Result<bool, Error> {
        let op = "read the bucket's versioning";
        let ask = || async {
            let query = [("versioning".to_string(), String::new())];
            let answer = self.signed(op, Method::GET, None, &query).await?;
            match answer.status {
                200..=299 => Ok(lock::versioning_on(&answer.body)),
                status => match self.classify_status(op, status, &answer.body) {
                    Error::Unsupported { .. } => Ok(false),
                    // As before versions were handled: a plain DELETE (on a versioned bucket it leaves
                    // the versions behind a delete marker).
                    e @ Error::AccessDenied { .. } => {
                        tracing::warn!(error = %e, "cannot tell whether the bucket keeps versions: deleting without version ids (grant s3:GetBucketVersioning)");
                        Ok(false)
                    }
                    e => Err(e),
                },
            }
        };
        self.versioning.get_or_try_init(ask).await.copied()
    }

    /// The URL path of the bucket (and key): `/bucket/key` in path style, `/key` on the bucket's host.
    fn signed_url(&self, key: Option<&str>) -> Result<(reqwest::Url, String), Error> {
        let (base, path) = url_parts(&self.endpoint, &self.bucket_name, self.path_style, key);
        let url = format!("{base}{}", sign::uri_encode(&path, false));
        let url = reqwest::Url::parse(&url).map_err(|e| {
            Error::Settings(format!(
                "cannot build the URL of bucket {:?}: {e}",
                self.bucket_name
            ))
        })?;
        Ok((url, path))
    }

    /// Sends one request signed by `s3::sign` (SigV4 headers, the current credentials), within the stall
    /// timeout. Any HTTP status is an answer; only transport failures are errors here.
    async fn signed(
        &self,
        op: &str,
        method: Method,
        key: Option<&str>,
        query: &[(String, String)],
    ) -> Result<Answer, Error> {
        let (mut url, path) = self.signed_url(key)?;
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        sign::uri_encode(k, true),
                        sign::uri_encode(v, true)
                    )
                })
                .collect();
            url.set_query(Some(&q.join("&")));
        }
        let (authorization, headers) = self.sign(&method, &url, &path, query).await?;
        let mut req = self
            .http
            .request(method, url)
            .header("authorization", authorization);
        for (name, value) in &headers {
            req = req.header(name.as_str(), value.as_str());
        }
        if let Some(t) = self.request_timeout {
            req = req.timeout(t);
        }
        self.reach().await?;
        let sent = super::stall::bounded(self.stall_timeout, async {
            let resp = req.send().await?;
            let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
            let body = resp.text().await?;
            Ok::<_, reqwest::Error>(Answer {
                status,
                headers,
                body,
            })
        })
        .await
        .ok_or_else(|| Error::Request {
            op: op.to_string(),
            reason: super::stall::reason(self.stall_timeout),
        })?;
        sent.map_err(|e| self.classify_transport(op, &e))
    }

    /// The `Authorization` header and the other signed headers (all but `host`, which reqwest sends
    /// itself) of one request, with the current credentials.
    async fn sign(
        &self,
        method: &Method,
        url: &reqwest::Url,
        path: &str,
        query: &[(String, String)],
    ) -> Result<(String, Vec<(String, String)>), Error> {
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => {
                return Err(Error::Settings(format!(
                    "the S3 endpoint {} has no host",
                    self.endpoint
                )))
            }
        };
        let keys = self.credentials.current().await?;
        let date = sign::amz_date(Utc::now());
        let mut headers = vec![
            ("host".to_string(), host),
            (
                "x-amz-content-sha256".to_string(),
                sign::EMPTY_SHA256.to_string(),
            ),
            ("x-amz-date".to_string(), date.clone()),
        ];
        if let Some(token) = &keys.session_token {
            headers.push(("x-amz-security-token".to_string(), token.clone()));
        }
        let request = sign::Request {
            method: method.as_str(),
            path,
            query,
            headers: &headers,
            payload_sha256: sign::EMPTY_SHA256,
        };
        let signing = sign::Keys {
            access_key: &keys.access_key,
            secret_key: &keys.secret_key,
        };
        let authorization = sign::authorization(&request, &signing, &self.region, &date);
        headers.retain(|(name, _)| name != "host");
        Ok((authorization, headers))
    }
}

/// Where a request goes: the base URL and the path (not yet encoded) of the bucket, or of one key in it.
/// Path style puts the bucket in the path; virtual-hosted style in the host name. Pure.
fn url_parts(
    endpoint: &str,
    bucket: &str,
    path_style: bool,
    key: Option<&str>,
) -> (String, String) {
    let key = key.unwrap_or_default();
    if path_style {
        return (endpoint.to_string(), format!("/{bucket}/{key}"));
    }
    let (scheme, host) = endpoint.split_once("://").unwrap_or(("https", endpoint));
    (format!("{scheme}://{bucket}.{host}"), format!("/{key}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_address_the_bucket_in_the_path_or_the_host() {
        for (style, key, want) in [
            (
                true,
                Some("p/c/a.db"),
                ("http://127.0.0.1:9000", "/backups/p/c/a.db"),
            ),
            (true, None, ("http://127.0.0.1:9000", "/backups/")),
            (
                false,
                Some("p/c/a.db"),
                ("http://backups.127.0.0.1:9000", "/p/c/a.db"),
            ),
            (false, None, ("http://backups.127.0.0.1:9000", "/")),
        ] {
            let (base, path) = url_parts("http://127.0.0.1:9000", "backups", style, key);
            assert_eq!((base.as_str(), path.as_str()), want, "{style} {key:?}");
        }
    }
}
