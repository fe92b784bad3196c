//! etcd failures turned into errors: which flag or file to check, and which failure to report when
//! several endpoints fail.

use super::classify::{Failure, FailureKind, TlsProblem};
use super::select::SelectError;
use super::setup::Setup;
use super::Error;
use crate::exit::Setting;

impl Setup {
    /// The sentence that tells the user which file to fix for a TLS failure.
    fn tls_hint(&self, problem: TlsProblem, endpoint: &str) -> String {
        let cacert = self
            .cacert
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        match problem {
            TlsProblem::ServerCertUntrusted => format!(
                "check {} {cacert}: it must be the CA that signed etcd's server certificate",
                Setting::EtcdCa
            ),
            TlsProblem::ServerNameMismatch => format!(
                "etcd's server certificate does not name the host in {endpoint}: use a host or IP from its \
                 subject alternative names in {}",
                Setting::Endpoints
            ),
            TlsProblem::ClientCertRejected => match &self.cert {
                Some((cert, key)) => format!(
                    "check {} {} and {} {}: etcd does not accept that client certificate (it must be \
                     signed by the CA in etcd's --trusted-ca-file)",
                    Setting::EtcdCert,
                    cert.display(),
                    Setting::EtcdKey,
                    key.display()
                ),
                None => format!("etcd rejected the connection: pass {} and {}", Setting::EtcdCert, Setting::EtcdKey),
            },
            TlsProblem::ClientCertRequired => {
                format!("etcd requires a client certificate: pass {} and {}", Setting::EtcdCert, Setting::EtcdKey)
            }
            TlsProblem::NotTls => format!(
                "{endpoint} does not speak TLS: use http:// for it (and drop {}), or check the port",
                Setting::EtcdCa
            ),
            TlsProblem::Other => format!("check {} {cacert}, {} and {}", Setting::EtcdCa, Setting::EtcdCert, Setting::EtcdKey),
        }
    }

    pub(super) fn failure_error(&self, endpoint: &str, call: &'static str, f: Failure) -> Error {
        match f.kind {
            FailureKind::Tls(problem) => Error::Tls {
                endpoint: endpoint.to_string(),
                hint: self.tls_hint(problem, endpoint),
                detail: f.detail,
            },
            FailureKind::Denied => Error::Denied {
                endpoint: endpoint.to_string(),
                detail: f.detail,
            },
            FailureKind::Unreachable | FailureKind::Timeout => Error::Unreachable {
                report: format!("{endpoint} ({})", f.detail),
            },
            kind => Error::Etcd {
                endpoint: endpoint.to_string(),
                call,
                detail: f.detail,
                kind,
            },
        }
    }

    pub(super) fn selection_error(&self, e: SelectError) -> Error {
        match e {
            SelectError::NoneAnswered(list) => {
                // A TLS failure is the one to report: the other endpoints likely fail the same way once
                // they are up, and "check --endpoints" would send the user the wrong way.
                if let Some((ep, f)) = list
                    .iter()
                    .find(|(_, f)| matches!(f.kind, FailureKind::Tls(_) | FailureKind::Denied))
                {
                    return self.failure_error(ep, "status", f.clone());
                }
                Error::Unreachable {
                    report: SelectError::NoneAnswered(list).to_string(),
                }
            }
            e @ SelectError::NoneHealthy(_) => Error::NoHealthyMember {
                report: e.to_string(),
            },
        }
    }
}
