//! The DNS-1123 rules Kubernetes applies to names, as one predicate each, and the same rules as the
//! patterns the CRD hands to the apiserver.

/// A DNS-1123 label, as an OpenAPI pattern (RE2 and Rust's regex read it alike).
pub const DNS_LABEL_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// A DNS-1123 subdomain: labels joined by dots.
pub const DNS_SUBDOMAIN_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// CEL on the CRD's root schema (which may read `metadata.name`): [`validate_cluster_name`] for the
/// apiserver.
pub const CLUSTER_NAME_RULE: &str =
    "self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')";

const LABEL_MAX: usize = 63;
const SUBDOMAIN_MAX: usize = 253;

/// Why a string is not a DNS-1123 label.
enum LabelProblem {
    Empty,
    TooLong,
    BadCharacter,
    BadEdge,
}

fn label_problem(s: &str) -> Option<LabelProblem> {
    if s.is_empty() {
        return Some(LabelProblem::Empty);
    }
    if s.len() > LABEL_MAX {
        return Some(LabelProblem::TooLong);
    }
    if !s
        .bytes()
        .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
    {
        return Some(LabelProblem::BadCharacter);
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Some(LabelProblem::BadEdge);
    }
    None
}

/// 1-63 characters of `a-z`, `0-9` and `-`, starting and ending with a letter or digit.
pub fn is_dns_label(s: &str) -> bool {
    label_problem(s).is_none()
}

/// Up to 253 characters of DNS labels joined by dots.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= SUBDOMAIN_MAX && s.split('.').all(is_dns_label)
}

/// Cluster names are DNS-1123 labels (as Kubernetes object names that become CronJob names are). This also
/// keeps them safe as one S3 key component. The error is a sentence naming the problem.
pub fn validate_cluster_name(name: &str) -> Result<(), String> {
    match label_problem(name) {
        None => Ok(()),
        Some(LabelProblem::Empty) => Err("the cluster name is empty".into()),
        Some(LabelProblem::TooLong) => Err(format!(
            "the cluster name {name:?} is {} characters, more than the 63 a DNS-1123 label allows",
            name.len()
        )),
        Some(LabelProblem::BadCharacter) => Err(format!(
            "the cluster name {name:?} may contain only lower-case letters, digits and '-' (a DNS-1123 label)"
        )),
        Some(LabelProblem::BadEdge) => Err(format!(
            "the cluster name {name:?} must start and end with a letter or digit (a DNS-1123 label)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names_are_dns_1123_labels() {
        for ok in ["a", "prod", "prod-eu-1", "0", &"a".repeat(63)] {
            assert!(validate_cluster_name(ok).is_ok(), "{ok} refused");
            assert!(is_dns_label(ok), "{ok} refused");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "Prod",
            "a_b",
            "a.b",
            "a/b",
            "a b",
            &"a".repeat(64),
        ] {
            assert!(validate_cluster_name(bad).is_err(), "{bad:?} accepted");
            assert!(!is_dns_label(bad), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_patterns_say_what_the_predicates_say() {
        let label = regex::Regex::new(DNS_LABEL_PATTERN).unwrap();
        let subdomain = regex::Regex::new(DNS_SUBDOMAIN_PATTERN).unwrap();
        for s in [
            "etcd",
            "kube-system",
            "a1",
            "",
            "Etcd",
            "-etcd",
            "etcd-",
            "a.b",
            "a_b",
            "tls.etcd",
            "a..b",
            ".a",
            "0",
        ] {
            // The patterns leave the length to the schema's maxLength.
            assert_eq!(label.is_match(s), is_dns_label(s), "label {s:?}");
            assert_eq!(
                subdomain.is_match(s),
                is_dns_subdomain(s),
                "subdomain {s:?}"
            );
        }
        assert!(CLUSTER_NAME_RULE.contains(DNS_LABEL_PATTERN));
    }
}
