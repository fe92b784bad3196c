//! Continuous backups: etcd's watch stream cut into segments beside the full backups, and the replay that
//! brings a restored cluster to a chosen revision or time.
//!
//! Pure: [`segment`] (the plaintext format), [`chain`] (chains, gaps, restore plans,
//! which segments retention may drop), [`buffer`] (when a segment closes), [`verdict`] (a segment's events
//! against its name and metadata). I/O: [`objects`] (segments in the bucket, through the pipeline),
//! [`follow`] (the follower loop), [`replay`] (applying a chain to etcd), [`lease`] (the follower's
//! [`heartbeat`] in a Lease, for the controller), [`check`] (a backup's chain read end to end, for
//! `etcdbak verify`).

pub mod buffer;
pub mod chain;
pub mod check;
mod error;
pub mod follow;
pub mod heartbeat;
pub mod lease;
pub mod objects;
pub mod replay;
pub mod segment;
pub mod verdict;

pub use crate::naming::segment::SegmentName;
pub use error::Error;
