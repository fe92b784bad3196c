//! etcdbak keeps etcd clusters backed up.
//!
//! The library holds all behaviour; `main.rs` only calls [`cli::main`]. Decisions are plain functions
//! (retention, rendering, schedule expansion, object-name parsing, the restore runbook); etcd, S3 and the
//! Kubernetes apiserver are thin adapters around them.

pub mod backup;
pub mod cli;
pub mod config;
pub mod controller;
pub mod crd;
pub mod exit;
pub mod exporter;
pub mod list;
pub mod logging;
pub mod metrics;
pub mod pipeline;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod shutdown;
pub mod snapshot;
pub mod store;
pub mod template;
pub mod verify;

pub use cli::{Error, Result};
