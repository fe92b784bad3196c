use std::collections::{BTreeMap, HashMap};

use super::*;
use crate::pipeline::format::{Compression, Format};

const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn sample() -> ObjectFacts {
    ObjectFacts {
        pipeline: Pipeline::new(Compression::Zstd { level: 3 }, true),
        plaintext_sha256: hex::decode(SHA).unwrap().try_into().unwrap(),
        plaintext_size: 1 << 30,
        stored_size: Some(123_456_789),
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn encodes_the_documented_keys_and_values() {
    let want = map(&[
        ("pipeline", "zstd:3+age"),
        ("plain-sha256", SHA),
        ("plain-size", "1073741824"),
        ("stored-size", "123456789"),
    ]);
    assert_eq!(sample().to_metadata(), want);
}

#[test]
fn round_trips_through_a_btreemap_and_a_hashmap() {
    let m = sample().to_metadata();
    assert_eq!(ObjectFacts::from_metadata(&m), Ok(Some(sample())));
    let h: HashMap<String, String> = m.into_iter().collect();
    assert_eq!(ObjectFacts::from_metadata(&h), Ok(Some(sample())));
}

#[test]
fn an_object_stored_in_one_pass_records_no_stored_size() {
    let one_pass = ObjectFacts {
        stored_size: None,
        ..sample()
    };
    let m = one_pass.to_metadata();
    assert!(!m.contains_key("stored-size"), "{m:?}");
    assert_eq!(ObjectFacts::from_metadata(&m), Ok(Some(one_pass)));
    assert!(one_pass.agrees_with(&sample()) && sample().agrees_with(&one_pass));
    let other = ObjectFacts {
        plaintext_size: 1,
        ..one_pass
    };
    assert!(!other.agrees_with(&sample()));
    let bigger = ObjectFacts {
        stored_size: Some(1),
        ..sample()
    };
    assert!(!bigger.agrees_with(&sample()));
}

#[test]
fn an_object_from_before_the_pipeline_has_no_record() {
    let old = map(&[("sha256", SHA), ("revision", "5"), ("file-size", "20480")]);
    assert_eq!(ObjectFacts::from_metadata(&old), Ok(None));
}

#[test]
fn keys_are_matched_without_case() {
    let m: BTreeMap<String, String> = sample()
        .to_metadata()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_uppercase(), v))
        .collect();
    assert_eq!(ObjectFacts::from_metadata(&m), Ok(Some(sample())));
}

#[test]
fn malformed_or_partial_records_name_the_key() {
    let good = sample().to_metadata();
    let with = |k: &str, v: Option<&str>| {
        let mut m = good.clone();
        match v {
            Some(v) => m.insert(k.to_string(), v.to_string()),
            None => m.remove(k),
        };
        m
    };
    let table: &[(BTreeMap<String, String>, &str)] = &[
        (with("pipeline", None), "pipeline"),
        (with("plain-sha256", None), "plain-sha256"),
        (with("plain-size", None), "plain-size"),
        (with("pipeline", Some("zstd")), "pipeline"),
        (with("pipeline", Some("gzip:3")), "pipeline"),
        (with("pipeline", Some("ZSTD:3")), "pipeline"),
        (
            with("plain-sha256", Some(&SHA.to_ascii_uppercase())),
            "plain-sha256",
        ),
        (with("plain-sha256", Some(&SHA[..63])), "plain-sha256"),
        (
            with("plain-sha256", Some(&format!("{}g", &SHA[..63]))),
            "plain-sha256",
        ),
        (with("plain-size", Some("-1")), "plain-size"),
        (with("plain-size", Some("+1")), "plain-size"),
        (with("plain-size", Some("01")), "plain-size"),
        (with("plain-size", Some("")), "plain-size"),
        (
            with("plain-size", Some("18446744073709551616")),
            "plain-size",
        ),
        (with("stored-size", Some("1e9")), "stored-size"),
    ];
    for (m, key) in table {
        let err = ObjectFacts::from_metadata(m).unwrap_err();
        assert_eq!(err.key, *key, "{m:?}");
        assert!(
            err.to_string()
                .starts_with(&format!("backup metadata x-amz-meta-{key}: ")),
            "{err}"
        );
    }
}

#[test]
fn a_plain_pipeline_must_store_the_plaintext_size() {
    let mut r = sample();
    r.pipeline = Pipeline::new(Compression::None, false);
    r.stored_size = Some(r.plaintext_size);
    assert_eq!(ObjectFacts::from_metadata(&r.to_metadata()), Ok(Some(r)));
    r.stored_size = Some(r.plaintext_size + 1);
    assert_eq!(
        ObjectFacts::from_metadata(&r.to_metadata())
            .unwrap_err()
            .key,
        "stored-size"
    );
}

#[test]
fn a_key_written_twice_in_different_case_is_refused() {
    let mut m = sample().to_metadata();
    m.insert("Pipeline".into(), "none".into());
    assert_eq!(ObjectFacts::from_metadata(&m).unwrap_err().key, "pipeline");
}

#[test]
fn no_key_is_a_prefix_of_another_nor_of_the_stores_keys() {
    // The store's own x-amz-meta-* names (store::meta), which ride on the same request.
    let store = [
        "sha256",
        "revision",
        "member-name",
        "member-id",
        "taken-at",
        "etcd-version",
        "etcdbak-version",
        "cluster",
        "file-size",
        "db-size",
    ];
    let all: Vec<&str> = key::ALL.iter().copied().chain(store).collect();
    for k in key::ALL {
        assert!(
            k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{k}"
        );
        assert!(k.len() <= 16, "{k}");
        for other in &all {
            assert!(
                k == *other || !(other.starts_with(k) || k.starts_with(other)),
                "{k} and {other}"
            );
        }
    }
}

#[test]
fn the_record_must_match_the_object_name() {
    let r = sample();
    assert_eq!(r.check_name(Format::ZSTD_AGE), Ok(()));
    for named in [Format::PLAIN, Format::ZSTD, Format::AGE] {
        let err = r.check_name(named).unwrap_err();
        assert_eq!(err.key, "pipeline");
        assert!(err.to_string().contains(named.suffix()), "{err}");
    }
}
