//! Post-upload verification: the object S3 now holds must be the snapshot that was verified and sent.

use super::Error;
use crate::backup::SnapshotMetadata;
use crate::pipeline::ObjectFacts;
use crate::s3::lock::{rfc3339, Hold};
use crate::s3::{meta, Client, ObjectHead, ObjectLock, Uploaded};

/// Reads the object back (HEAD) and compares it with what was sent. `Ok(Err(what))` names the mismatch.
pub(crate) async fn check_uploaded(
    client: &Client,
    key: &str,
    meta: &SnapshotMetadata,
    recorded: &ObjectFacts,
    uploaded: &Uploaded,
) -> Result<Result<(), String>, Error> {
    if !uploaded.sha256.eq_ignore_ascii_case(&meta.sha256) {
        return Ok(Err(format!(
            "the bytes sent hash to {}, not the verified {} (the file changed during the upload)",
            uploaded.sha256, meta.sha256
        )));
    }
    let mut info = client.head(key).await?;
    if !client.sse.etag_is_md5() {
        // Encrypted stores' ETags are not MD5s of what was sent; size and SHA-256 are still compared.
        info.etag = None;
    }
    Ok(compare_object(&info, meta, uploaded).and_then(|()| {
        let sent = uploaded.recorded.unwrap_or(*recorded);
        compare_record(&info, &sent)
    }))
}

/// With a lock asked for, the object must hold it: the mode asked for, until no earlier than `lock` counted
/// from `started` (the upload dated it later). A store that takes the headers and ignores them would
/// otherwise leave an unlocked backup that looks locked. `Ok(Err(what))` names the mismatch.
pub(crate) async fn check_locked(
    client: &Client,
    key: &str,
    lock: &ObjectLock,
    started: chrono::DateTime<chrono::Utc>,
) -> Result<Result<(), String>, Error> {
    let hold = client.current(key, None).await?.unwrap_or_default().hold;
    Ok(compare_lock(&hold, lock, started))
}

/// The pure part of [`check_locked`].
pub(crate) fn compare_lock(
    hold: &Hold,
    lock: &ObjectLock,
    started: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    let want = lock.retain_until(started);
    match (hold.mode, hold.until) {
        (Some(mode), Some(until)) if mode == lock.mode && until >= want => Ok(()),
        (None, _) | (_, None) => Err(format!(
            "it is not locked, though {} mode until {} was asked for",
            lock.mode,
            rfc3339(want)
        )),
        (Some(mode), Some(until)) => Err(format!(
            "it is locked in {mode} mode until {}, not {} mode until {} as asked",
            rfc3339(until),
            lock.mode,
            rfc3339(want)
        )),
    }
}

/// The pure part of post-upload verification.
pub(crate) fn compare_object(
    info: &ObjectHead,
    snapshot: &SnapshotMetadata,
    uploaded: &Uploaded,
) -> Result<(), String> {
    match info.size {
        Some(size) if size == uploaded.size => {}
        Some(size) => {
            return Err(format!(
                "it is {size} bytes, {} were sent (the snapshot is {})",
                uploaded.size, snapshot.file_size
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
    // Only an ETag of the form S3 gives what was sent (multipart, or an MD5 for a single PUT) is
    // comparable; encrypted stores return other shapes.
    if let Some(etag) = &info.etag {
        let comparable = if uploaded.single {
            is_md5_hex(etag)
        } else {
            is_multipart_etag(etag)
        };
        if comparable && !etag.eq_ignore_ascii_case(&uploaded.etag) {
            return Err(format!(
                "its ETag is {etag}, the bytes sent make {}",
                uploaded.etag
            ));
        }
    }
    Ok(())
}

/// The pipeline metadata the object carries must be what was recorded while sending it.
fn compare_record(info: &ObjectHead, recorded: &ObjectFacts) -> Result<(), String> {
    match ObjectFacts::from_metadata(&info.metadata) {
        Ok(Some(r)) if r.agrees_with(recorded) => Ok(()),
        Ok(Some(r)) => Err(format!(
            "its pipeline metadata ({}, {} plaintext bytes) is not what was sent",
            r.pipeline, r.plaintext_size
        )),
        Ok(None) => Err("it carries no pipeline metadata".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn is_md5_hex(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
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
            etag: format!("{}-1", "0".repeat(32)),
            single: false,
            recorded: None,
        };
        let good = ObjectHead {
            size: Some(100),
            etag: Some(up.etag.clone()),
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
        // A single PUT's ETag is its MD5: compared when it has that shape.
        let single = Uploaded {
            etag: "0".repeat(32),
            single: true,
            ..up
        };
        let plain = |etag: &str| ObjectHead {
            etag: Some(etag.into()),
            ..other.clone()
        };
        assert_eq!(compare_object(&plain(&"0".repeat(32)), &m, &single), Ok(()));
        assert!(compare_object(&plain(&"1".repeat(32)), &m, &single).is_err());
        assert_eq!(compare_object(&plain("opaque"), &m, &single), Ok(()));
    }
}

#[cfg(test)]
mod lock_tests {
    use super::*;
    use crate::s3::LockMode;

    #[test]
    fn the_object_must_hold_the_lock_asked_for() {
        let started = chrono::DateTime::parse_from_rfc3339("2026-12-03T09:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let lock = ObjectLock {
            mode: LockMode::Compliance,
            retain: std::time::Duration::from_secs(86400),
        };
        let held = |mode, until: &str| Hold {
            mode,
            until: chrono::DateTime::parse_from_rfc3339(until)
                .ok()
                .map(|t| t.with_timezone(&chrono::Utc)),
            legal_hold: false,
        };
        let compliance = Some(LockMode::Compliance);
        assert_eq!(
            compare_lock(&held(compliance, "2026-12-04T09:00:01Z"), &lock, started),
            Ok(())
        );
        for (hold, want) in [
            (Hold::default(), "it is not locked, though compliance mode until 2026-12-04T09:00:00Z was asked for"),
            (
                held(compliance, "2026-12-04T08:59:59Z"),
                "it is locked in compliance mode until 2026-12-04T08:59:59Z, not compliance mode until 2026-12-04T09:00:00Z as asked",
            ),
            (
                held(Some(LockMode::Governance), "2026-12-05T00:00:00Z"),
                "it is locked in governance mode until 2026-12-05T00:00:00Z, not compliance mode until 2026-12-04T09:00:00Z as asked",
            ),
        ] {
            assert_eq!(compare_lock(&hold, &lock, started), Err(want.to_string()));
        }
    }
}
