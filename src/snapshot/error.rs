//! What can go wrong taking a snapshot, each with the sentence that names what to fix.

use crate::exit::Setting;
use std::path::PathBuf;

use super::classify::FailureKind;
use crate::exit::Class;
use crate::verify::VerifyError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no cluster name: pass {:#} or set CLUSTER; backups are filed under it",
        Setting::Cluster
    )]
    MissingCluster,
    #[error("invalid {setting}: {0}", setting = Setting::Cluster)]
    BadCluster(String),
    #[error("invalid {} entry {endpoint:?}: {why}", Setting::Endpoints)]
    BadEndpoint { endpoint: String, why: String },
    #[error("no etcd endpoints given: pass {:#}", Setting::Endpoints)]
    NoEndpoints,
    #[error("{0}")]
    TlsConfig(String),
    #[error("cannot use {setting} {}: {why}", path.display())]
    TlsFile {
        setting: Setting,
        path: PathBuf,
        why: String,
    },
    #[error(
        "cannot reach etcd at {report}: check {} and that etcd is running there",
        Setting::Endpoints
    )]
    Unreachable { report: String },
    #[error("TLS with etcd at {endpoint} failed ({detail}): {hint}")]
    Tls {
        endpoint: String,
        detail: String,
        hint: String,
    },
    #[error("etcd at {endpoint} refused the request ({detail}): check that the client certificate's user may take snapshots")]
    Denied { endpoint: String, detail: String },
    #[error("no healthy etcd member to snapshot: {report}")]
    NoHealthyMember { report: String },
    #[error("the snapshot stream from {endpoint} broke after {received} of {total} bytes ({detail}); run again")]
    StreamBroken {
        endpoint: String,
        received: u64,
        total: String,
        detail: String,
        kind: FailureKind,
    },
    #[error("the snapshot stream from {endpoint} ended after {received} bytes, but etcd announced {expected} (truncated); run again")]
    Truncated {
        endpoint: String,
        received: u64,
        expected: u64,
    },
    #[error("the snapshot streamed from {endpoint} is corrupt: {source}")]
    Corrupt {
        endpoint: String,
        #[source]
        source: VerifyError,
    },
    #[error("cannot {action} {}: {source}", path.display())]
    Disk {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the snapshot did not finish within {after} ({setting}) while {phase}; raise {setting} for large databases or slow links", setting = Setting::SnapshotTimeout)]
    Timeout { after: String, phase: String },
    #[error("interrupted by {signal} while {phase}; partial files were removed")]
    Interrupted { signal: &'static str, phase: String },
    #[error("etcd at {endpoint} failed the {call} call ({detail})")]
    Etcd {
        endpoint: String,
        call: &'static str,
        detail: String,
        kind: FailureKind,
    },
}

fn kind_exit(kind: &FailureKind) -> Class {
    match kind {
        FailureKind::Tls(_) | FailureKind::Denied => Class::Auth,
        _ => Class::EtcdUnavailable,
    }
}

impl Error {
    pub fn class(&self) -> Class {
        match self {
            Error::MissingCluster
            | Error::BadCluster(_)
            | Error::BadEndpoint { .. }
            | Error::NoEndpoints => Class::Usage,
            Error::TlsConfig(_)
            | Error::TlsFile { .. }
            | Error::Tls { .. }
            | Error::Denied { .. } => Class::Auth,
            Error::Unreachable { .. } | Error::NoHealthyMember { .. } => Class::EtcdUnavailable,
            Error::StreamBroken { kind, .. } | Error::Etcd { kind, .. } => kind_exit(kind),
            Error::Truncated { .. } | Error::Corrupt { .. } => Class::CorruptSnapshot,
            Error::Disk { .. } | Error::Timeout { .. } | Error::Interrupted { .. } => {
                Class::Failure
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_contract() {
        let tls = Error::Tls {
            endpoint: "e".into(),
            detail: "d".into(),
            hint: "h".into(),
        };
        assert_eq!(tls.class(), Class::Auth);
        assert_eq!(
            Error::Unreachable { report: "r".into() }.class(),
            Class::EtcdUnavailable
        );
        assert_eq!(
            Error::NoHealthyMember { report: "r".into() }.class(),
            Class::EtcdUnavailable
        );
        assert_eq!(
            Error::Truncated {
                endpoint: "e".into(),
                received: 1,
                expected: 2
            }
            .class(),
            Class::CorruptSnapshot
        );
        assert_eq!(
            Error::Disk {
                action: "write",
                path: "/x".into(),
                source: std::io::Error::other("full")
            }
            .class(),
            Class::Failure
        );
    }
}
