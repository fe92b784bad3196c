//! `etcdbak store`, `list`, `download`, `verify` and `prune` against a real MinIO (and versitygw as a second
//! destination), with snapshots from a real etcd: one test binary, so the etcd snapshot fixture
//! (tests/common/store.rs) is taken once for all of its modules.
#[path = "../common/mod.rs"]
mod common;

mod destinations;
mod destinations_locked;
mod faults;
mod object_lock;
mod pipeline;
mod policies;
mod retention;
mod upload;
