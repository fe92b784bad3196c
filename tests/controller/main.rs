//! The controller against a real kube-apiserver (tests/common/kube.rs), one test binary with one apiserver
//! shared by its modules (starting one costs seconds). No kubelet or controller-manager runs there, so Job
//! outcomes are written through the Job's status subresource, and nothing is garbage collected. Every test
//! holds `serial()`: they share one apiserver and count its writes. The shared helpers are in
//! tests/common/controller.rs (Clusters, config, one reconcile) and tests/common/watch.rs (`etcdbak watch`).
#[path = "../common/mod.rs"]
mod common;

mod continuous;
mod deletion;
mod scale;
mod schedule;
mod status;
mod watch;
