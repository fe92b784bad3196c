//! What an object's pipeline metadata records, known before its first byte is sent: the pipeline, and the
//! plaintext's SHA-256 and size from snapshot.json (checked against the bytes as they are read). An encoded
//! object's stored size is known only at its end, so it is not recorded: the object's own size is it.

use super::Error;
use crate::backup::SnapshotMetadata;
use crate::pipeline::{ObjectFacts, Pipeline};

/// The record for `meta` stored through `pipeline`.
pub(crate) fn pipeline_record(
    meta: &SnapshotMetadata,
    pipeline: Pipeline,
) -> Result<ObjectFacts, Error> {
    let mut sha = [0u8; 32];
    hex::decode_to_slice(meta.sha256.to_ascii_lowercase(), &mut sha).map_err(|_| {
        Error::Usage(crate::exit::Usage(
            "snapshot.json's sha256 is not 64 hex digits".into(),
        ))
    })?;
    let plain = pipeline.format() == crate::pipeline::Format::PLAIN;
    Ok(ObjectFacts {
        pipeline,
        plaintext_sha256: sha,
        plaintext_size: meta.file_size,
        stored_size: plain.then_some(meta.file_size),
    })
}
