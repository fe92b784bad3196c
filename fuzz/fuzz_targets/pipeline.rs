//! The backup pipeline's parsers and decoder on untrusted input: object-name suffixes, `--compress` values,
//! the recorded `pipeline` string and metadata, and stored bytes.
//!
//! Input: first byte picks the mode. Text modes check that whatever parses prints back to exactly the input
//! (two spellings of one format would let retention see one backup as two). The decode mode checks that an
//! arbitrary object never yields more plaintext than the limit and is never accepted with a wrong digest.
#![no_main]

use std::collections::BTreeMap;
use std::io::Read;

use etcdbak::pipeline::{Compression, Decoder, Expected, Format, Pipeline, Recorded};
use libfuzzer_sys::fuzz_target;

const LIMIT: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => text(rest),
        1 => metadata(rest),
        _ => decode(rest),
    }
});

fn text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((stem, format)) = Format::split_name(text) {
        assert!(!stem.is_empty());
        assert_eq!(format!("{stem}{}", format.suffix()), text);
    }
    if let Some(format) = Format::from_suffix(text) {
        assert_eq!(format.suffix(), text);
    }
    if let Ok(c) = text.parse::<Compression>() {
        assert_eq!(c.to_string().parse::<Compression>(), Ok(c));
    }
    if let Ok(p) = text.parse::<Pipeline>() {
        assert_eq!(p.to_string(), text, "a recorded pipeline has one spelling");
    }
}

/// `key=value` lines, as S3 would hand them back.
fn metadata(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let map: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Ok(Some(recorded)) = Recorded::from_metadata(&map) {
        let again = recorded.to_metadata();
        assert_eq!(Recorded::from_metadata(&again), Ok(Some(recorded)));
    }
}

fn decode(data: &[u8]) {
    let Some((&kind, stored)) = data.split_first() else {
        return;
    };
    let format = if kind & 1 == 0 { Format::ZSTD } else { Format::PLAIN };
    let expected = Expected {
        format,
        sha256: [0; 32],
        size: None,
        limit: LIMIT,
    };
    let Ok(mut decoder) = Decoder::new(stored, &expected, None) else {
        return;
    };
    let mut out = Vec::new();
    let result = decoder.read_to_end(&mut out);
    assert!(out.len() as u64 <= LIMIT, "decoded past the limit");
    // The expected digest is all zeros, which no plaintext hashes to: nothing may be accepted.
    assert!(result.is_err(), "an object with the wrong digest was accepted");
}
