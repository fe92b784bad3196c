//! The pipeline's fields in an object's S3 user metadata (x-amz-meta-*), as a pure codec.
//!
//! Objects written before the pipeline carry none of these keys and decode to `None`; an object that carries
//! some but not all of them, or a malformed value, is refused rather than guessed at.

use std::collections::BTreeMap;

use super::format::{Compression, Format, Pipeline};

/// Metadata key names. Short and lower-case (S3 lower-cases them anyway), and no name is a prefix of another
/// (nor of the store's own keys): rust-s3 0.38 sorts `name:value` strings for SigV4, which orders `a` and
/// `a-b` differently from S3 and makes it answer SignatureDoesNotMatch.
pub mod key {
    pub const PIPELINE: &str = "pipeline";
    pub const PLAIN_SHA256: &str = "plain-sha256";
    pub const PLAIN_SIZE: &str = "plain-size";
    pub const STORED_SIZE: &str = "stored-size";
    pub const ALL: [&str; 4] = [PIPELINE, PLAIN_SHA256, PLAIN_SIZE, STORED_SIZE];
}

/// What the pipeline did to one object, as recorded when it was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectFacts {
    pub pipeline: Pipeline,
    /// SHA-256 of the plaintext: the snapshot file exactly as `etcdctl snapshot save` wrote it.
    pub plaintext_sha256: [u8; 32],
    pub plaintext_size: u64,
    /// Bytes in the object itself (after compression and encryption). Known only once the last byte is
    /// sent, so objects stored in one pass do not record it (their own size is it); recorded ones are
    /// checked.
    pub stored_size: Option<u64>,
}

/// A pipeline metadata field that is missing or malformed; names the key and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("backup metadata x-amz-meta-{key}: {reason}")]
pub struct MetadataError {
    pub key: &'static str,
    pub reason: String,
}

impl ObjectFacts {
    /// The key/value pairs, ready to become x-amz-meta-* headers.
    pub fn to_metadata(&self) -> BTreeMap<String, String> {
        let stored = self.stored_size.map(|s| (key::STORED_SIZE, s.to_string()));
        [
            (key::PIPELINE, self.pipeline.to_string()),
            (key::PLAIN_SHA256, hex::encode(self.plaintext_sha256)),
            (key::PLAIN_SIZE, self.plaintext_size.to_string()),
        ]
        .into_iter()
        .chain(stored)
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Equal in what both record: a missing stored size is not a difference.
    pub fn agrees_with(&self, other: &ObjectFacts) -> bool {
        let stored = match (self.stored_size, other.stored_size) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        stored
            && self.pipeline == other.pipeline
            && self.plaintext_sha256 == other.plaintext_sha256
            && self.plaintext_size == other.plaintext_size
    }

    /// Reads the fields back from an object's metadata (a `HashMap` or `BTreeMap`, keys compared without
    /// case as HTTP headers are). `Ok(None)`: none of the keys is present, an object from before the pipeline.
    pub fn from_metadata<'a, I>(pairs: I) -> Result<Option<ObjectFacts>, MetadataError>
    where
        I: IntoIterator<Item = (&'a String, &'a String)>,
    {
        let mut found: [Option<&str>; 4] = [None; 4];
        for (k, v) in pairs {
            let Some(i) = key::ALL.iter().position(|n| n.eq_ignore_ascii_case(k)) else {
                continue;
            };
            if found[i].replace(v.as_str()).is_some() {
                return Err(bad(
                    key::ALL[i],
                    "appears twice (keys differing only in case)",
                ));
            }
        }
        if found.iter().all(Option::is_none) {
            return Ok(None);
        }
        let get = |i: usize| {
            found[i].ok_or_else(|| bad(key::ALL[i], "missing (the other pipeline keys are set)"))
        };
        let pipeline: Pipeline = get(0)?.parse().map_err(|()| {
            bad(
                key::PIPELINE,
                "expected none, zstd:LEVEL, age or zstd:LEVEL+age",
            )
        })?;
        let recorded = ObjectFacts {
            pipeline,
            plaintext_sha256: parse_sha256(get(1)?)?,
            plaintext_size: parse_size(key::PLAIN_SIZE, get(2)?)?,
            stored_size: found[3]
                .map(|v| parse_size(key::STORED_SIZE, v))
                .transpose()?,
        };
        if pipeline.compression == Compression::None
            && !pipeline.encrypted
            && recorded
                .stored_size
                .is_some_and(|s| s != recorded.plaintext_size)
        {
            return Err(bad(
                key::STORED_SIZE,
                "differs from plain-size although the pipeline is none",
            ));
        }
        Ok(Some(recorded))
    }
}

impl ObjectFacts {
    /// Refuses a record whose pipeline is not what the object's name says (`a.db.zst` recorded as `age`):
    /// one of the two was changed after the object was stored, and reading by either could be wrong.
    pub fn check_name(&self, named: Format) -> Result<(), MetadataError> {
        if self.pipeline.format() == named {
            return Ok(());
        }
        Err(bad(
            key::PIPELINE,
            &format!(
                "{} does not match the object name's suffix {}",
                self.pipeline,
                named.suffix()
            ),
        ))
    }
}

fn bad(key: &'static str, reason: &str) -> MetadataError {
    MetadataError {
        key,
        reason: reason.to_string(),
    }
}

fn parse_sha256(v: &str) -> Result<[u8; 32], MetadataError> {
    let why = "expected 64 lower-case hex digits";
    if v.len() != 64 || !v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad(key::PLAIN_SHA256, why));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(v, &mut out).map_err(|_| bad(key::PLAIN_SHA256, why))?;
    Ok(out)
}

fn parse_size(key: &'static str, v: &str) -> Result<u64, MetadataError> {
    let why = "expected a byte count (decimal digits)";
    // Digits only, no sign or leading zeros, so one size has one spelling.
    let canonical =
        !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) && (v == "0" || !v.starts_with('0'));
    if !canonical {
        return Err(bad(key, why));
    }
    v.parse().map_err(|_| bad(key, why))
}

#[cfg(test)]
mod tests;
