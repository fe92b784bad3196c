//! The controller's Prometheus metrics.
//! OWNER: controller (runtime) helper.
