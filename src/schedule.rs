//! Cron schedules: validation and `H` expansion (a stable per-cluster hash). Pure.
//! OWNER: controller (pure parts) helper.
