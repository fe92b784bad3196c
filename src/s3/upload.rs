//! The requests of an upload: the plan (part size, concurrency), the headers that create an object, starting
//! a multipart upload, and the part and object PUTs with their retries, Content-MD5 and ETag checks. The one
//! pass over the snapshot that drives them, to one destination or several, is `s3::fanout`.
//!
//! The multipart upload's memory is bounded by `part_size x concurrency`, whatever the file's size.
//!
//! rust-s3's `put_object_stream` keeps up to 100 parts of 8 MiB in flight (173 MiB RSS on a 354 MB file),
//! and its `put_multipart_chunk` copies each part once more into the request body. Here each part is read
//! into one buffer, hashed, and sent from that same buffer (as `Bytes`, so a retry does not copy it) to a
//! presigned part URL; at most `concurrency` buffers exist at any time. Presigned part URLs also let the
//! Content-MD5 header be optional, which rust-s3's own part upload always sends.
//!
//! The upload is aborted on every error path and on SIGTERM/SIGINT, so no orphaned parts are left behind
//! by a failed run; `abort_stale_uploads` cleans up after runs that were killed outright.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use md5::{Digest as _, Md5};
use tokio::sync::watch;

use super::meta::header_safe;
use super::stall::{watched_body, Progress};
use super::{Client, Error};

/// S3 refuses parts under 5 MiB (except the last) and more than 10,000 parts per upload.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
pub const MAX_PARTS: u64 = 10_000;
/// Extra attempts per part after a transport error or a 5xx answer.
const PART_RETRIES: u32 = 2;
/// Presigned part URLs live long enough for any one part; each attempt signs a fresh one.
const PRESIGN_SECS: u32 = 24 * 3600;

/// How to cut and send the file.
#[derive(Debug, Clone, Copy)]
pub struct UploadPlan {
    pub part_size: u64,
    pub concurrency: usize,
}

impl UploadPlan {
    /// The part size actually used for a file: the requested one, raised if the file would otherwise
    /// need more than S3's 10,000 parts.
    pub fn effective_part_size(&self, file_size: u64) -> u64 {
        let needed = file_size.div_ceil(MAX_PARTS);
        self.part_size
            .max(needed)
            .clamp(MIN_PART_SIZE, MAX_PART_SIZE)
    }
}

/// What was uploaded, as computed locally while sending it.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub size: u64,
    /// 1 for a single PUT.
    pub parts: u32,
    /// Lower-case hex SHA-256 of the snapshot (the plaintext) the bytes sent were made from.
    pub sha256: String,
    /// The ETag S3 gives the unencrypted object: the MD5 of a single PUT, or the MD5 of the concatenated
    /// part MD5s, "-", parts.
    pub etag: String,
    /// True when sent as a single PUT.
    pub single: bool,
    /// What an encoded object's pipeline metadata records (as sent); `None` for a plain one.
    pub recorded: Option<crate::pipeline::ObjectFacts>,
}

/// The multipart ETag from the parts' MD5 digests.
pub fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    let mut h = Md5::new();
    for d in part_md5s {
        h.update(d);
    }
    format!("{}-{}", hex::encode(h.finalize()), part_md5s.len())
}

/// The most bytes an encoded snapshot of `plain` bytes can take (zstd's worst case adds under 1/256, age
/// 16 bytes per 64 KiB chunk plus its header), so the part size keeps any object within 10,000 parts.
pub(super) fn encoded_bound(plain: u64) -> u64 {
    plain + plain / 128 + (1 << 20)
}

/// The headers of the request that creates the object in `client`'s bucket: the metadata, the store's
/// server-side encryption and, when it locks, the Object Lock dated from now (before the first byte is
/// read, so the lock never ends earlier than asked).
pub(super) fn create_headers(
    client: &Client,
    metadata: &[(String, String)],
) -> Result<reqwest::header::HeaderMap, Error> {
    let mut headers = metadata_headers(metadata)?;
    add_headers(&mut headers, &client.sse.create_headers());
    if let Some(lock) = client.lock {
        add_lock_headers(&mut headers, &lock.create_headers(chrono::Utc::now()))?;
    }
    Ok(headers)
}

/// Aborts earlier attempts at this key and starts its multipart upload; returns the upload id.
pub(super) async fn start_multipart(
    client: &Client,
    key: &str,
    headers: reqwest::header::HeaderMap,
) -> Result<String, Error> {
    // Metadata rides on the initiate request only; rust-s3 drops x-amz-meta-* from part and complete
    // requests, and this bucket copy is used for nothing else.
    let initiator = client
        .fresh()
        .await?
        .with_extra_headers(headers)
        .map_err(|e| client.classify("start the upload", e))?;
    // An unfinished upload of this very key is an earlier attempt at the same snapshot (a restarted store
    // container): nothing else writes this key, so it is aborted whatever its age.
    for earlier in client.uploads_of_key(key).await? {
        client.abort_upload(key, &earlier.upload_id).await?;
        tracing::info!(%key, upload_id = %earlier.upload_id, "aborted an earlier attempt's unfinished upload");
    }
    let started = client
        .call(
            &format!("start the upload of {key}"),
            initiator.initiate_multipart_upload(key, "application/octet-stream"),
        )
        .await?;
    tracing::info!(%key, upload_id = %started.upload_id, "multipart upload started");
    Ok(started.upload_id)
}

/// The x-amz-meta-* headers for `metadata`, values escaped to visible ASCII.
fn metadata_headers(metadata: &[(String, String)]) -> Result<reqwest::header::HeaderMap, Error> {
    let bad = |reason: String| Error::Request {
        op: "start the upload".into(),
        reason,
    };
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in metadata {
        let name = format!("x-amz-meta-{name}");
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad(format!("invalid metadata name {name:?}")))?;
        let value = reqwest::header::HeaderValue::from_str(&header_safe(value))
            .map_err(|_| bad(format!("invalid metadata value for {name}")))?;
        headers.insert(name, value);
    }
    Ok(headers)
}

/// Adds fixed headers (server-side encryption) to a request's.
fn add_headers(headers: &mut reqwest::header::HeaderMap, extra: &[(&'static str, &'static str)]) {
    for (name, value) in extra {
        headers.insert(*name, reqwest::header::HeaderValue::from_static(value));
    }
}

/// Adds the Object Lock headers (mode, retain-until date) to a request's.
fn add_lock_headers(
    headers: &mut reqwest::header::HeaderMap,
    lock: &[(&'static str, String)],
) -> Result<(), Error> {
    for (name, value) in lock {
        let value = reqwest::header::HeaderValue::from_str(value).map_err(|_| Error::Request {
            op: "start the upload".into(),
            reason: format!("invalid {name} value {value:?}"),
        })?;
        headers.insert(*name, value);
    }
    Ok(())
}

/// Resolves with the signal's name once `cancel` carries one.
pub async fn wait_cancel(cancel: &mut watch::Receiver<Option<&'static str>>) -> &'static str {
    loop {
        if let Some(signal) = *cancel.borrow_and_update() {
            return signal;
        }
        if cancel.changed().await.is_err() {
            // The sender is gone: nothing can cancel any more.
            std::future::pending::<()>().await;
        }
    }
}

/// MD5 is the costliest hash here (no CPU has instructions for it), so it runs on a blocking thread per
/// part: with parts in flight it overlaps the reader's SHA-256 of the next part instead of following it.
pub(super) async fn md5_of(buf: Vec<u8>) -> Result<(Vec<u8>, [u8; 16]), Error> {
    tokio::task::spawn_blocking(move || {
        let md5: [u8; 16] = Md5::digest(&buf).into();
        (buf, md5)
    })
    .await
    .map_err(|e| Error::Request {
        op: "hash a part".into(),
        reason: e.to_string(),
    })
}

/// A small object (a verification record) in one PUT, with the store's server-side encryption, retries,
/// Content-MD5 handling and Object Lock (the client's, dated from now) like any backup's.
pub async fn put_small(client: &Client, key: &str, body: Vec<u8>) -> Result<(), Error> {
    put_small_with(client, key, body, &[]).await
}

/// [`put_small`] with `metadata` as x-amz-meta-* headers (a segment's pipeline record and revisions).
pub async fn put_small_with(
    client: &Client,
    key: &str,
    body: Vec<u8>,
    metadata: &[(String, String)],
) -> Result<(), Error> {
    let mut headers = metadata_headers(metadata)?;
    add_headers(&mut headers, &client.sse.create_headers());
    if let Some(lock) = client.lock {
        add_lock_headers(&mut headers, &lock.create_headers(chrono::Utc::now()))?;
    }
    let (body, md5) = md5_of(body).await?;
    put_bytes(
        client,
        key,
        Target::Object(headers),
        &Bytes::from(body),
        md5,
    )
    .await
    .map(|_| ())
}

/// Where a PUT goes: one part of a multipart upload, or the whole object with its metadata headers.
pub(super) enum Target<'a> {
    Part { upload_id: &'a str, number: u32 },
    Object(reqwest::header::HeaderMap),
}

/// PUTs a part or a whole object to a presigned URL, retrying transport errors and 5xx answers. Returns
/// the ETag the store gave it, checked against the MD5 where that is possible.
pub(super) async fn put_bytes(
    client: &Client,
    key: &str,
    target: Target<'_>,
    body: &Bytes,
    md5: [u8; 16],
) -> Result<String, Error> {
    let (op, number, query, headers) = match target {
        Target::Part { upload_id, number } => {
            let query = HashMap::from([
                ("partNumber".to_string(), number.to_string()),
                ("uploadId".to_string(), upload_id.to_string()),
            ]);
            let op = format!("upload part {number} of {key}");
            (op, number, Some(query), reqwest::header::HeaderMap::new())
        }
        Target::Object(headers) => (format!("upload {key}"), 1, None, headers),
    };
    let signed = (!headers.is_empty()).then(|| headers.clone());
    let mut attempt = 0;
    loop {
        let url = client
            .fresh()
            .await?
            .presign_put(key, PRESIGN_SECS, signed.clone(), query.clone())
            .await
            .map_err(|e| client.classify(&op, e))?;
        let progress = Progress::new();
        let mut req = client
            .http
            .put(url)
            .headers(headers.clone())
            .header("content-length", body.len())
            .body(watched_body(body, &progress));
        let with_md5 = client.sends_content_md5();
        if with_md5 {
            req = req.header("content-md5", content_md5(&md5));
        }
        if let Some(t) = client.request_timeout {
            req = req.timeout(t);
        }
        let sent = tokio::select! {
            sent = req.send() => Some(sent),
            () = progress.stalled(client.stall_timeout) => None,
        };
        let failure = match sent {
            None => Error::Request {
                op: op.clone(),
                reason: super::stall::reason(client.stall_timeout),
            },
            Some(sent) => match sent {
                Ok(resp) if resp.status().is_success() => {
                    let md5_etags = client.sse.etag_is_md5();
                    return part_etag(resp.headers(), &op, key, number, md5, md5_etags);
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let text = resp.text().await.unwrap_or_default();
                    let e = client.classify_status(&op, status, &text);
                    if with_md5 && client.lock.is_none() && matches!(e, Error::Unsupported { .. }) {
                        // Optional unless locked: a refusing store gets the part without it.
                        client.refuse_content_md5(&e);
                        continue;
                    }
                    if status < 500 {
                        return Err(e);
                    }
                    e
                }
                Err(e) => client.classify_transport(&op, &e),
            },
        };
        if attempt >= PART_RETRIES {
            return Err(failure);
        }
        attempt += 1;
        tracing::warn!(part = number, attempt, error = %failure, "part upload failed; retrying");
        tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
    }
}

/// The ETag of an accepted part, checked against the MD5 of what was sent where the store makes that
/// possible.
fn part_etag(
    headers: &reqwest::header::HeaderMap,
    op: &str,
    key: &str,
    number: u32,
    md5: [u8; 16],
    md5_etags: bool,
) -> Result<String, Error> {
    let etag = headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim_matches('"').to_string())
        .unwrap_or_default();
    if etag.is_empty() {
        return Err(Error::Request {
            op: op.to_string(),
            reason: "the store returned no ETag for the part".into(),
        });
    }
    // A plain 32-hex ETag is the part's MD5 on unencrypted stores: it must be ours.
    if md5_etags && is_md5_hex(&etag) && etag != hex::encode(md5) {
        return Err(Error::Verification {
            key: key.to_string(),
            what: format!(
                "part {number}'s ETag {etag} is not the MD5 of the bytes sent ({})",
                hex::encode(md5)
            ),
        });
    }
    Ok(etag)
}

fn is_md5_hex(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Content-MD5 is the base64 of the 16 raw digest bytes.
fn content_md5(digest: &[u8; 16]) -> String {
    super::sse::base64(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_md5_is_base64_of_the_digest() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e, whose base64 is well known.
        let d: [u8; 16] = Md5::digest(b"").into();
        assert_eq!(content_md5(&d), "1B2M2Y8AsgTpgAmY7PhCfg==");
        let d: [u8; 16] = Md5::digest(b"hello").into();
        assert_eq!(content_md5(&d), "XUFAKrxLKna5cZ2REBfFkg==");
    }

    #[test]
    fn multipart_etag_matches_s3s_formula() {
        // Two parts "a" and "b": md5(md5("a") || md5("b")) + "-2".
        let a: [u8; 16] = Md5::digest(b"a").into();
        let b: [u8; 16] = Md5::digest(b"b").into();
        let mut joined = Vec::new();
        joined.extend_from_slice(&a);
        joined.extend_from_slice(&b);
        let want = format!("{}-2", hex::encode(Md5::digest(&joined)));
        assert_eq!(multipart_etag(&[a, b]), want);
    }

    #[test]
    fn part_size_is_raised_to_stay_within_10000_parts() {
        let plan = UploadPlan {
            part_size: 8 << 20,
            concurrency: 2,
        };
        assert_eq!(plan.effective_part_size(1 << 30), 8 << 20);
        let huge = 100u64 << 30;
        let p = plan.effective_part_size(huge);
        assert!(huge.div_ceil(p) <= MAX_PARTS);
        let tiny = UploadPlan {
            part_size: 1,
            concurrency: 1,
        };
        assert_eq!(tiny.effective_part_size(10), MIN_PART_SIZE);
    }
}
