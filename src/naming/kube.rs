//! Names of the Kubernetes objects rendered for a Cluster. All are deterministic, so a restarted controller
//! (and `etcdbak restore-guide`) finds what an earlier run created without a lookup.
//!
//! A Cluster's name is already a DNS-1123 label (the CRD's CEL rule and [`super::validate_cluster_name`]
//! refuse anything else before an object is rendered), so the only thing left to do here is to fit the
//! prefix and name into Kubernetes' length limits.

use sha2::{Digest, Sha256};

/// The CronJob controller appends `-<11 digits>` to name the Jobs, and a Job name must stay a label.
const CRON_JOB_NAME_MAX: usize = 52;
const NAME_MAX: usize = 63;

/// `etcdbak-<cluster>`, shortened to 52 characters (CronJob's limit) with a hash suffix when needed.
pub fn cron_job_name(cluster: &str) -> String {
    object_name("etcdbak-", cluster, CRON_JOB_NAME_MAX)
}

/// `etcdbak-verify-<cluster>`: the CronJob that verifies the newest backup on its own schedule.
pub fn verify_cron_job_name(cluster: &str) -> String {
    object_name("etcdbak-verify-", cluster, CRON_JOB_NAME_MAX)
}

/// `etcdbak-cleanup-<cluster>`: deterministic, so a restarted controller finds the Job it already created.
pub fn cleanup_job_name(cluster: &str) -> String {
    object_name("etcdbak-cleanup-", cluster, NAME_MAX)
}

/// `etcdbak-tls-<cluster>`: the mirrored client-TLS Secret in the job namespace.
pub fn tls_secret_name(cluster: &str) -> String {
    object_name("etcdbak-tls-", cluster, NAME_MAX)
}

/// `etcdbak-follow-<cluster>`: the continuous-backup follower's Deployment, and the Lease it renews to say
/// how far its segments reach.
pub fn follower_name(cluster: &str) -> String {
    object_name("etcdbak-follow-", cluster, NAME_MAX)
}

/// `<prefix><cluster>`, or, when that is longer than `max`, as much of the name as fits plus a hash of the
/// whole name (two long names sharing their start must not share an object).
fn object_name(prefix: &str, cluster: &str, max: usize) -> String {
    let full = format!("{prefix}{cluster}");
    if full.len() <= max {
        return full;
    }
    let hash = short_hash(cluster);
    let room = max.saturating_sub(prefix.len() + hash.len() + 1);
    // A label is ASCII, so any byte offset is a character boundary; `get` keeps this total for other input.
    let head = cluster
        .get(..cluster.len().min(room))
        .unwrap_or("")
        .trim_end_matches('-');
    if head.is_empty() {
        format!("{prefix}{hash}")
    } else {
        format!("{prefix}{head}-{hash}")
    }
}

fn short_hash(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..4])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::{is_dns_label, validate_cluster_name};

    #[test]
    fn names_stay_dns_safe_and_within_limits() {
        let long = "a".repeat(60);
        assert_eq!(
            (
                cron_job_name("orders-etcd"),
                cleanup_job_name("orders-etcd"),
                tls_secret_name("orders-etcd"),
                verify_cron_job_name("orders-etcd"),
            ),
            (
                "etcdbak-orders-etcd".to_string(),
                "etcdbak-cleanup-orders-etcd".to_string(),
                "etcdbak-tls-orders-etcd".to_string(),
                "etcdbak-verify-orders-etcd".to_string(),
            )
        );
        let at_limit = "c".repeat(52 - "etcdbak-".len());
        assert_eq!(cron_job_name(&at_limit), format!("etcdbak-{at_limit}"));
        let over = "c".repeat(52 - "etcdbak-".len() + 1);
        let max_label = "m".repeat(63);
        for (name, max) in [
            (cron_job_name(&over), 52),
            (cron_job_name(&long), 52),
            (cron_job_name(&max_label), 52),
            (verify_cron_job_name(&long), 52),
            (cleanup_job_name(&long), 63),
            (cleanup_job_name(&max_label), 63),
            (tls_secret_name(&long), 63),
            (tls_secret_name(&max_label), 63),
        ] {
            assert!(name.len() <= max, "{name} longer than {max}");
            assert!(is_dns_label(&name), "{name} is not a DNS label");
        }
        // A shortened name keeps its start and ends in 8 hex digits of the whole name's hash.
        let short = cron_job_name(&long);
        assert!(short.starts_with("etcdbak-aaaa"), "{short}");
        assert_eq!(short.rsplit('-').next().map(str::len), Some(8), "{short}");
        assert_ne!(
            cron_job_name(&format!("{long}1")),
            cron_job_name(&format!("{long}2"))
        );
        assert_ne!(cron_job_name(&long), verify_cron_job_name(&long));
        assert_eq!(cron_job_name(&long), cron_job_name(&long));
        // A dash where the cut falls is dropped, so the name still ends in a letter or digit.
        let dashed = format!("{}-{}", "d".repeat(34), "e".repeat(30));
        assert!(is_dns_label(&cron_job_name(&dashed)));
    }

    #[test]
    fn names_that_are_not_labels_never_get_this_far() {
        // Dots, capitals and over-long names are refused before anything is rendered, which is why these
        // functions only shorten and never rewrite characters.
        for bad in ["tenant-42.events", "Orders", &"x".repeat(64)] {
            assert!(validate_cluster_name(bad).is_err(), "{bad}");
        }
    }
}
