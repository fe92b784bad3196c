//! Retention as a pure decision: a list of backups in, the ones to delete out.
//! OWNER: data-path (S3 side) helper.
