//! Post-upload verification: the object S3 now holds must be the snapshot that was verified and sent.

use super::Error;
use crate::backup::SnapshotMetadata;
use crate::s3::{meta, Client, ObjectHead, Uploaded};

/// Reads the object back (HEAD) and compares it with what was sent. `Ok(Err(what))` names the mismatch.
pub(crate) async fn check_uploaded(
    client: &Client,
    key: &str,
    meta: &SnapshotMetadata,
    uploaded: &Uploaded,
) -> Result<Result<(), String>, Error> {
    if !uploaded.sha256.eq_ignore_ascii_case(&meta.sha256) {
        return Ok(Err(format!(
            "the bytes sent hash to {}, not the verified {} (the file changed during the upload)",
            uploaded.sha256, meta.sha256
        )));
    }
    let info = client.head(key).await?;
    Ok(compare_object(&info, meta, uploaded))
}

/// The pure part of post-upload verification.
pub(crate) fn compare_object(
    info: &ObjectHead,
    snapshot: &SnapshotMetadata,
    uploaded: &Uploaded,
) -> Result<(), String> {
    match info.size {
        Some(size) if size == snapshot.file_size => {}
        Some(size) => {
            return Err(format!(
                "it is {size} bytes, the snapshot is {}",
                snapshot.file_size
            ))
        }
        None => return Err("the store reported no size for it".into()),
    }
    match meta::decode(&info.metadata).sha256 {
        Some(sha) if sha.eq_ignore_ascii_case(&snapshot.sha256) => {}
        Some(sha) => {
            return Err(format!(
                "its sha256 metadata is {sha}, not {}",
                snapshot.sha256
            ))
        }
        None => return Err("it carries no sha256 metadata".into()),
    }
    // Only an ETag of the multipart form is comparable; encrypted stores return other shapes.
    if let Some(etag) = &info.etag {
        if is_multipart_etag(etag) && !etag.eq_ignore_ascii_case(&uploaded.multipart_etag) {
            return Err(format!(
                "its ETag is {etag}, the parts sent make {}",
                uploaded.multipart_etag
            ));
        }
    }
    Ok(())
}

fn is_multipart_etag(etag: &str) -> bool {
    match etag.split_once('-') {
        Some((hash, n)) => {
            hash.len() == 32
                && hash.bytes().all(|b| b.is_ascii_hexdigit())
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::input::tests::meta;

    #[test]
    fn uploaded_objects_must_match_size_sha_and_etag() {
        let m = meta();
        let up = Uploaded {
            size: 100,
            parts: 1,
            sha256: m.sha256.clone(),
            multipart_etag: format!("{}-1", "0".repeat(32)),
        };
        let good = ObjectHead {
            size: Some(100),
            etag: Some(up.multipart_etag.clone()),
            metadata: [(meta::SHA256.to_string(), m.sha256.clone())].into(),
        };
        assert_eq!(compare_object(&good, &m, &up), Ok(()));
        let cases: Vec<(&str, ObjectHead)> = vec![
            (
                "size",
                ObjectHead {
                    size: Some(99),
                    ..good.clone()
                },
            ),
            (
                "no size",
                ObjectHead {
                    size: None,
                    ..good.clone()
                },
            ),
            (
                "sha",
                ObjectHead {
                    metadata: [(meta::SHA256.to_string(), "cd".repeat(32))].into(),
                    ..good.clone()
                },
            ),
            (
                "no sha",
                ObjectHead {
                    metadata: Default::default(),
                    ..good.clone()
                },
            ),
            (
                "etag",
                ObjectHead {
                    etag: Some(format!("{}-1", "1".repeat(32))),
                    ..good.clone()
                },
            ),
        ];
        for (what, info) in cases {
            assert!(compare_object(&info, &m, &up).is_err(), "{what} accepted");
        }
        // An ETag that is not of the multipart form (SSE-KMS, other stores) is not compared.
        let other = ObjectHead {
            etag: Some("opaque".into()),
            ..good
        };
        assert_eq!(compare_object(&other, &m, &up), Ok(()));
    }
}
