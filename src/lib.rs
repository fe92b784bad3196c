//! etcdbak keeps etcd clusters backed up.
//!
//! The library holds all behaviour; `main.rs` only calls [`cli::main`]. Decisions are plain functions
//! (retention, rendering, schedule expansion, object-name parsing, the restore runbook); etcd, S3 and the
//! Kubernetes apiserver are thin adapters around them.

pub mod backup;
pub mod bolt;
pub mod cli;
pub mod config;
pub mod continuous;
pub mod controller;
pub mod crd;
pub mod credentials;
pub mod exit;
pub mod exporter;
pub mod list;
pub mod metrics;
pub mod naming;
pub mod pipeline;
pub mod progress;
pub mod restore;
pub mod retention;
pub mod s3;
pub mod schedule;
pub mod shutdown;
pub mod snapshot;
pub mod store;
pub mod template;
pub mod verify;
