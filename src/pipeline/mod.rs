//! The backup pipeline: what a stored object is and how its bytes are made from a snapshot and back.
//!
//! Encoding is `plaintext -> SHA-256 and size -> zstd -> age (X25519) -> sink`; decoding reverses it with a
//! decompression limit and checks the plaintext digest and size at the end. Both are streaming adapters over
//! `std::io` with bounded buffers (no temp files, nothing proportional to the snapshot), so the store and
//! download code plug them between a file and an S3 stream. They are synchronous and CPU-bound: async callers
//! run them on a blocking thread.
//!
//! - [`format`]: the four object kinds (`.db`, `.db.zst`, `.db.age`, `.db.zst.age`), compression levels and
//!   the `pipeline` string recorded in metadata.
//! - [`metadata`]: the pipeline's S3 user-metadata fields as a pure codec.
//! - [`keys`]: age recipients and identities parsed from text, files and env values.
//! - [`encode`] and [`decode`]: the adapter chains.

pub mod decode;
pub mod encode;
mod error;
pub mod format;
pub mod keys;
pub mod metadata;
mod tap;

pub use decode::{decode, Decoded, Decoder, Expected};
pub use encode::{encode, EncodeReader, Encoder, Encoding};
pub use error::Error;
pub use format::{Compression, Format, Pipeline, DEFAULT_ZSTD_LEVEL};
pub use keys::{Identities, Recipients};
pub use metadata::{MetadataError, ObjectFacts};

#[cfg(test)]
mod tests;
