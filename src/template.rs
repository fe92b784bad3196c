//! Rendering: Cluster + config -> the desired CronJob, mirrored Secret and cleanup Job. Pure.
//! OWNER: controller (pure parts) helper.
