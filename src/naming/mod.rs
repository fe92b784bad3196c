//! Every name etcdbak gives or accepts, in one place: the DNS-label rule, the object names and keys in the
//! bucket, and the names of the Kubernetes objects rendered for a Cluster.
//!
//! This module depends on nothing else in the crate, so anything (the CRD's patterns, the store, the
//! renderer, the restore runbook) can ask it without an import cycle.

mod dns;
mod key;
mod kube;
mod object;
pub mod segment;

pub use dns::{
    is_dns_label, is_dns_subdomain, validate_cluster_name, CLUSTER_NAME_RULE, DNS_LABEL_PATTERN,
    DNS_SUBDOMAIN_PATTERN,
};
pub use key::{
    bare_prefix, cluster_prefix, object_key, parse_key, root_prefix, verified_backup_of,
    verified_record_key, VERIFIED_SUFFIX,
};
pub use kube::{
    cleanup_job_name, cron_job_name, follower_name, tls_secret_name, verify_cron_job_name,
};
pub use object::{ObjectName, SHA_PREFIX_LEN};
