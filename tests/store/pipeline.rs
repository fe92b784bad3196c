//! Compression, encryption and server-side encryption through `store`, `list`, `download` and `verify`:
//! every pipeline round-trips, and a damaged or wrongly-keyed object is refused with one line.

use crate::common::damage::flip_a_bit_that_matters;
use crate::common::minio::Minio;
use crate::common::store::*;

#[test]
fn every_pipeline_round_trips_through_store_list_download() {
    let m = Minio::start();
    let keys = tempfile::tempdir().expect("tempdir");
    let (identity, recipient) = age_key(keys.path(), "id.txt");
    let (other_identity, _) = age_key(keys.path(), "other.txt");
    let original = std::fs::read(fixture()).expect("fixture");
    let sha = fixture_sha();
    // A value written into etcd: the snapshot holds the key names in the clear.
    let known = b"/big/3";
    assert!(original.windows(known.len()).any(|w| w == known));
    let cases = [
        ("none", false, ".db", 1),
        ("zstd", false, ".db.zst", 2),
        ("none", true, ".db.age", 3),
        ("zstd:5", true, ".db.zst.age", 4),
    ];
    for (compress, encrypt, suffix, rev) in cases {
        let dir = backup_dir("prod", rev, &format!("2026-11-25T10:0{rev}:00.000Z"));
        let mut args = vec!["--compress", compress, "--part-size", "5MiB"];
        if encrypt {
            args.extend(["--encrypt-to", &recipient]);
        }
        assert_ok(&store(&m, dir.path(), &args));
        let key = format!(
            "etcdbak/prod/20261125T100{rev}00.000Z-r{rev}-{}{suffix}",
            &sha[..8]
        );
        assert!(m.keys("").contains(&key), "{key} not in {:?}", m.keys(""));
        let stored = m.get(&key);
        let (meta, size) = m.head(&key);
        assert_eq!(size, stored.len() as u64);
        assert_eq!(
            meta.get("sha256"),
            Some(&sha.to_string()),
            "{key}: plaintext sha256"
        );
        assert_eq!(meta.get("plain-size"), Some(&original.len().to_string()));
        // One pass: an encoded object's size is known only at its end, so only a plain one records it.
        let recorded_size = (compress == "none" && !encrypt).then(|| stored.len().to_string());
        assert_eq!(meta.get("stored-size"), recorded_size.as_ref(), "{key}");
        if compress != "none" {
            assert!(stored.len() < original.len() / 2, "{key} is not compressed");
        }
        if encrypt {
            assert!(stored.starts_with(b"age-encryption.org/v1\n"));
            assert!(
                !stored.windows(known.len()).any(|w| w == known),
                "{key}: a value from etcd is readable in the encrypted object"
            );
        }
        let out = tempfile::tempdir().expect("tempdir");
        let target = out.path().join("restored.db");
        let d = download_to(&m, &key, &target, encrypt.then_some(identity.as_path()));
        assert_ok(&d);
        assert_eq!(
            std::fs::read(&target).expect("downloaded"),
            original,
            "{key}"
        );
        if encrypt {
            // Missing and wrong identities are refused with one line, and leave no file behind.
            for id in [None, Some(other_identity.as_path())] {
                let target = out.path().join("refused.db");
                let d = download_to(&m, &key, &target, id);
                assert!(!d.status.success(), "{key} decrypted with {id:?}");
                assert_eq!(error_lines(&d), 1, "{}", stderr(&d));
                assert!(!target.exists() && !out.path().join("refused.db.part").exists());
            }
        }
    }
    let json = run(&mut etcdbak_s3(&m, "list", &["-o", "json"]));
    assert_ok(&json);
    let listed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let listed = listed.as_array().expect("array");
    assert_eq!(listed.len(), 4);
    for b in listed {
        let key = b["key"].as_str().expect("key");
        assert_eq!(b["plaintextBytes"], original.len() as u64, "{key}");
        assert_eq!(b["encrypted"], key.ends_with(".age"), "{key}");
        assert_eq!(b["compressed"], key.contains(".zst"), "{key}");
    }
    let table = run(&mut etcdbak_s3(&m, "list", &[]));
    assert_ok(&table);
    assert!(stdout(&table).contains("ENCRYPTED"), "{}", stdout(&table));
}

#[test]
fn damaged_compressed_and_encrypted_objects_are_refused() {
    let m = Minio::start();
    let keys = tempfile::tempdir().expect("tempdir");
    let (identity, recipient) = age_key(keys.path(), "id.txt");
    let original = std::fs::read(fixture()).expect("fixture");
    let sha = fixture_sha();
    for (encrypt, suffix, rev) in [(false, ".db.zst", 1), (true, ".db.zst.age", 2)] {
        let dir = backup_dir("prod", rev, &format!("2026-11-25T11:0{rev}:00.000Z"));
        let mut args = vec!["--compress", "zstd"];
        if encrypt {
            args.extend(["--encrypt-to", &recipient]);
        }
        assert_ok(&store(&m, dir.path(), &args));
        let key = format!(
            "etcdbak/prod/20261125T110{rev}00.000Z-r{rev}-{}{suffix}",
            &sha[..8]
        );
        let stored = m.get(&key);
        let (meta, _) = m.head(&key);
        let mut truncated = stored[..stored.len() - 100].to_vec();
        let flipped = flip_a_bit_that_matters(&stored, &original);
        let mut damaged = vec![
            ("truncated", std::mem::take(&mut truncated)),
            ("flipped", flipped),
        ];
        // A decompression bomb: the recorded plaintext size is smaller than what the object holds.
        damaged.push(("bomb", stored.clone()));
        for (i, (what, bytes)) in damaged.into_iter().enumerate() {
            let bad_key = format!(
                "etcdbak/prod/20261125T12{i}{rev}00.000Z-r{rev}-{}{suffix}",
                &sha[..8]
            );
            let mut meta = meta.clone();
            meta.insert("stored-size".into(), bytes.len().to_string());
            if what == "bomb" {
                meta.insert("plain-size".into(), (original.len() / 2).to_string());
            }
            let pairs: Vec<(&str, &str)> =
                meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            m.put_with_metadata(&bad_key, &bytes, &pairs);
            let out = tempfile::tempdir().expect("tempdir");
            let target = out.path().join("x.db");
            let d = download_to(&m, &bad_key, &target, Some(&identity));
            assert!(!d.status.success(), "{what} {suffix} accepted");
            assert_eq!(error_lines(&d), 1, "{what}: {}", stderr(&d));
            assert!(
                !target.exists() && !out.path().join("x.db.part").exists(),
                "{what}"
            );
        }
    }
}

/// `verify` reverses every pipeline: each kind of backup is sound, an encrypted one needs its identity, and
/// a damaged compressed object is a corrupt verdict (exit 5), not a crash or a pass.
#[test]
fn verify_passes_every_format_and_refuses_a_damaged_one() {
    let m = Minio::start();
    let keys = tempfile::tempdir().expect("tempdir");
    let (identity, recipient) = age_key(keys.path(), "id.txt");
    let (other, _) = age_key(keys.path(), "other.txt");
    let original = std::fs::read(fixture()).expect("fixture");
    let sha = fixture_sha();
    let cases = [
        ("none", false, ".db", 1),
        ("zstd", false, ".db.zst", 2),
        ("none", true, ".db.age", 3),
        ("zstd", true, ".db.zst.age", 4),
    ];
    // `verify` compares the database's revision with the recorded one: the fixture's, always 13 (it writes
    // the same keys into a fresh etcd).
    let revision = 13;
    for (compress, encrypt, suffix, n) in cases {
        let dir = backup_dir("prod", revision, &format!("2026-11-25T14:0{n}:00.000Z"));
        let mut args = vec!["--compress", compress];
        if encrypt {
            args.extend(["--encrypt-to", &recipient]);
        }
        assert_ok(&store(&m, dir.path(), &args));
        let key = format!(
            "etcdbak/prod/20261125T140{n}00.000Z-r{revision}-{}{suffix}",
            &sha[..8]
        );
        let (o, json) = verify_json(&m, &key, encrypt.then_some(identity.as_path()));
        assert_ok(&o);
        assert_eq!(json[0]["result"], "sound", "{key}: {json}");
        assert!(json[0]["keys"].as_u64().unwrap_or(0) > 0, "{json}");
        if encrypt {
            for id in [None, Some(other.as_path())] {
                let (o, _) = verify_json(&m, &key, id);
                assert!(!o.status.success(), "{key} verified with {id:?}");
                assert_ne!(o.status.code(), Some(5), "{}", stderr(&o));
                assert_eq!(error_lines(&o), 1, "{}", stderr(&o));
            }
        }
        if compress == "zstd" && !encrypt {
            let bytes = flip_a_bit_that_matters(&m.get(&key), &original);
            let bad = key.replace("T1402", "T1502");
            m.put_like(&bad, &bytes, &key);
            let (o, json) = verify_json(&m, &bad, None);
            assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
            assert_eq!(json[0]["result"], "corrupt", "{json}");
        }
    }
}

/// SSE-S3 and SSE-KMS on MinIO's built-in KMS (its default key): the store encrypts the object (single PUT
/// and multipart alike), etcdbak still checks what it holds, and download and verify read it back.
#[test]
fn server_side_encryption_s3_and_kms_store_and_read_back() {
    let m = Minio::start();
    let original = std::fs::read(fixture()).expect("fixture");
    let sha = fixture_sha();
    let cases: [(&[&str], &str, &str); 3] = [
        (&["--sse", "s3"], "AES256", "none"),
        (&["--sse", "kms"], "aws:kms", "none"),
        // Compressed, so it fits one part: the single-PUT path.
        (&["--sse", "s3"], "AES256", "zstd"),
    ];
    for (n, (sse, want, compress)) in cases.into_iter().enumerate() {
        let dir = backup_dir("prod", 13, &format!("2026-11-25T16:0{n}:00.000Z"));
        let mut args = vec!["--compress", compress, "--part-size", "5MiB"];
        args.extend_from_slice(sse);
        assert_ok(&store(&m, dir.path(), &args));
        let suffix = if compress == "none" { ".db" } else { ".db.zst" };
        let key = format!(
            "etcdbak/prod/20261125T160{n}00.000Z-r13-{}{suffix}",
            &sha[..8]
        );
        assert_eq!(
            m.server_side_encryption(&key).as_deref(),
            Some(want),
            "{key}"
        );
        let out = tempfile::tempdir().expect("tempdir");
        let target = out.path().join("back.db");
        assert_ok(&download_to(&m, &key, &target, None));
        assert_eq!(
            std::fs::read(&target).expect("downloaded"),
            original,
            "{key}"
        );
        let (o, json) = verify_json(&m, &key, None);
        assert_ok(&o);
        assert_eq!(json[0]["result"], "sound", "{json}");
    }
    let dir = backup_dir("prod", 13, "2026-11-25T17:00:00.000Z");
    let o = store(&m, dir.path(), &["--sse", "aes"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
