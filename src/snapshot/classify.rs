//! What went wrong talking to an endpoint, read from the error chain tonic/hyper/rustls hand back.
//!
//! The distinction matters to the person fixing it: "connection refused" means the endpoint list is wrong or
//! etcd is down (exit 3, check --endpoints); a TLS failure means a certificate file is wrong (exit 4, and
//! which file depends on who rejected whom). The chain is flattened into text plus any `io::ErrorKind` so
//! the decision itself is a pure function with table tests.

use crate::exit::Setting;
use std::io::ErrorKind;

/// Which side of the TLS handshake refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProblem {
    /// We do not trust the server's certificate: --cacert is not the CA that signed it.
    ServerCertUntrusted,
    /// The server's certificate does not name the host in the endpoint URL.
    ServerNameMismatch,
    /// The server refused our client certificate (--cert/--key signed by a CA it does not trust).
    ClientCertRejected,
    /// The server wants a client certificate and none was given.
    ClientCertRequired,
    /// The endpoint does not speak TLS (an https:// URL pointed at a plain-text port).
    NotTls,
    /// Anything else in the handshake or in loading the certificate files.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    Unreachable,
    Timeout,
    Tls(TlsProblem),
    /// etcd answered but refused the call (authentication or permission).
    Denied,
    Other,
}

/// A classified failure with a short human detail ("connection refused").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub detail: String,
}

impl Failure {
    pub fn timeout(after: std::time::Duration) -> Failure {
        Failure {
            kind: FailureKind::Timeout,
            detail: format!("no answer within {}", humantime::format_duration(after)),
        }
    }
}

/// One error in a source chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub text: String,
    pub io_kind: Option<ErrorKind>,
}

/// gRPC status codes that mean "etcd refused you" rather than "could not talk to etcd".
const GRPC_PERMISSION_DENIED: i32 = 7;
const GRPC_UNAUTHENTICATED: i32 = 16;

/// Classifies a failure from its gRPC status code (if the call got that far) and its flattened chain.
pub fn classify(grpc_code: Option<i32>, links: &[Link]) -> Failure {
    let chain = Chain::new(links);
    tls_failure(&chain).unwrap_or_else(|| transport_failure(grpc_code, &chain))
}

/// A flattened error chain with each link's text lower-cased once, for case-insensitive searches.
struct Chain<'a> {
    links: &'a [Link],
    lower: Vec<String>,
}

impl<'a> Chain<'a> {
    fn new(links: &'a [Link]) -> Self {
        Chain {
            links,
            lower: links.iter().map(|l| l.text.to_lowercase()).collect(),
        }
    }

    /// The original text of the first link that mentions `needle` (lower case).
    fn find(&self, needle: &str) -> Option<String> {
        self.links
            .iter()
            .zip(&self.lower)
            .find(|(_, t)| t.contains(needle))
            .map(|(l, _)| l.text.clone())
    }
}

/// TLS failures, named by which side's certificate is at fault; `None` when the chain is not about TLS.
fn tls_failure(chain: &Chain) -> Option<Failure> {
    let find = |needle: &str| chain.find(needle);
    let tls = |problem, detail: String| {
        Some(Failure {
            kind: FailureKind::Tls(problem),
            detail,
        })
    };

    if let Some(text) = find("invalid peer certificate") {
        let t = text.to_lowercase();
        let problem = if t.contains("notvalidforname") || t.contains("not valid for name") {
            TlsProblem::ServerNameMismatch
        } else {
            TlsProblem::ServerCertUntrusted
        };
        return tls(problem, tls_detail(&text));
    }
    if let Some(text) = find("received fatal alert") {
        let t = text.to_lowercase();
        let problem = if t.contains("certificaterequired") {
            TlsProblem::ClientCertRequired
        } else if [
            "badcertificate",
            "unknownca",
            "certificateunknown",
            "unsupportedcertificate",
            "certificaterevoked",
            "certificateexpired",
            "decrypterror",
            "accessdenied",
        ]
        .iter()
        .any(|a| t.contains(a))
        {
            TlsProblem::ClientCertRejected
        } else {
            TlsProblem::Other
        };
        return tls(problem, tls_detail(&text));
    }
    // A plain-text server answers a ClientHello with nothing it can parse, or just hangs up.
    if let Some(text) = find("corrupt message")
        .or_else(|| find("invalidcontenttype"))
        .or_else(|| find("tls handshake eof"))
    {
        return tls(TlsProblem::NotTls, tls_detail(&text));
    }
    // A peer that dies mid-connection: not a TLS problem, although rustls words it in TLS terms.
    if find("close_notify").is_some() {
        return Some(Failure {
            kind: FailureKind::Unreachable,
            detail: CLOSED.into(),
        });
    }
    // tonic's own TLS errors (unparsable certificate or key files, handshake timeout, no h2 via ALPN) and
    // rustls handshake failures that name neither side's certificate.
    for needle in [
        "parsing tls",
        "tls handshake",
        "http/2 was not negotiated",
        "peer is incompatible",
        "peer misbehaved",
    ] {
        if let Some(text) = find(needle) {
            return tls(TlsProblem::Other, tls_detail(&text));
        }
    }
    None
}

/// Everything that is not TLS: unreachable, timed out, closed, denied, or something else.
fn transport_failure(grpc_code: Option<i32>, chain: &Chain) -> Failure {
    let (links, lower) = (chain.links, &chain.lower);
    let find = |needle: &str| chain.find(needle);
    let kinds: Vec<ErrorKind> = links.iter().filter_map(|l| l.io_kind).collect();
    let unreachable = |detail: &str| Failure {
        kind: FailureKind::Unreachable,
        detail: detail.to_string(),
    };
    if kinds.contains(&ErrorKind::ConnectionRefused) || find("connection refused").is_some() {
        return unreachable("connection refused");
    }
    if find("dns error").is_some() || find("failed to lookup address").is_some() {
        return unreachable("cannot resolve the host name");
    }
    if find("no route to host").is_some() || find("network is unreachable").is_some() {
        return unreachable("no route to host");
    }
    if kinds.contains(&ErrorKind::TimedOut) || find("timed out").is_some() {
        return Failure {
            kind: FailureKind::Timeout,
            detail: "connection timed out".into(),
        };
    }
    if kinds.contains(&ErrorKind::ConnectionReset)
        || kinds.contains(&ErrorKind::ConnectionAborted)
        || kinds.contains(&ErrorKind::BrokenPipe)
        || kinds.contains(&ErrorKind::UnexpectedEof)
        || find("connection reset").is_some()
        || find("broken pipe").is_some()
        || lower.iter().any(|t| t == "connection closed")
    {
        return unreachable(CLOSED);
    }
    if matches!(
        grpc_code,
        Some(GRPC_PERMISSION_DENIED) | Some(GRPC_UNAUTHENTICATED)
    ) {
        return Failure {
            kind: FailureKind::Denied,
            detail: links.first().map(|l| l.text.clone()).unwrap_or_default(),
        };
    }
    // A connection-level failure we have no finer name for: show the innermost cause, which is usually
    // the specific one ("error trying to connect" says nothing; its source does).
    let detail = links
        .iter()
        .rev()
        .map(|l| l.text.trim())
        .find(|t| !t.is_empty())
        .unwrap_or("unknown error")
        .to_string();
    let kind = if links
        .iter()
        .any(|l| l.text.contains("error trying to connect") || l.text.contains("transport error"))
    {
        FailureKind::Unreachable
    } else {
        FailureKind::Other
    };
    Failure { kind, detail }
}

const CLOSED: &str = "the connection was closed by the server";

/// Refines a failure of the first call on a fresh TLS connection. When etcd rejects the client certificate
/// (TLS 1.3 checks it after the handshake completes on the client side), the alert it sends often loses the
/// race against the request: the call then fails with a bare "connection closed". A server that completed
/// the handshake with us and then hung up at once is, in practice, refusing the client certificate, and
/// saying so points the user at the right file instead of at --endpoints.
///
/// Without TLS the same bare close is what a TLS port does to plain-text HTTP/2, so the detail says so.
pub fn after_handshake(f: Failure, tls: bool, client_cert: bool) -> Failure {
    if f.kind != FailureKind::Unreachable || f.detail != CLOSED {
        return f;
    }
    if !tls {
        return Failure {
            kind: FailureKind::Unreachable,
            detail: format!(
                "{CLOSED}; if it serves TLS, use https:// and {}",
                Setting::EtcdCa
            ),
        };
    }
    Failure {
        kind: FailureKind::Tls(if client_cert {
            TlsProblem::ClientCertRejected
        } else {
            TlsProblem::ClientCertRequired
        }),
        detail: "etcd closed the connection right after the TLS handshake".into(),
    }
}

/// rustls messages are already specific ("invalid peer certificate: UnknownIssuer"); keep just that part.
fn tls_detail(text: &str) -> String {
    text.rsplit(": error trying to connect: ")
        .next()
        .unwrap_or(text)
        .trim()
        .to_string()
}

/// Flattens an etcd-client error: its variant's inner error and every `source()` below it.
pub fn links_of(e: &etcd_client::Error) -> (Option<i32>, Vec<Link>) {
    let mut links = Vec::new();
    let mut code = None;
    let first: Option<&(dyn std::error::Error + 'static)> = match e {
        etcd_client::Error::TransportError(t) => Some(t),
        etcd_client::Error::GRpcStatus(s) => {
            code = Some(i32::from(s.code()));
            links.push(Link {
                text: s.message().to_string(),
                io_kind: None,
            });
            std::error::Error::source(s)
        }
        etcd_client::Error::IoError(io) => Some(io),
        other => {
            links.push(Link {
                text: other.to_string(),
                io_kind: None,
            });
            None
        }
    };
    let mut next = first;
    while let Some(err) = next {
        links.push(Link {
            text: err.to_string(),
            io_kind: err.downcast_ref::<std::io::Error>().map(|io| io.kind()),
        });
        next = err.source();
    }
    (code, links)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(text: &str) -> Link {
        Link {
            text: text.into(),
            io_kind: None,
        }
    }

    fn io(text: &str, kind: ErrorKind) -> Link {
        Link {
            text: text.into(),
            io_kind: Some(kind),
        }
    }

    #[test]
    fn classifies_real_chains() {
        // Chains as tonic 0.14 / hyper-util / rustls 0.23 produce them.
        let cases: Vec<(&str, Option<i32>, Vec<Link>, FailureKind)> = vec![
            (
                "refused",
                Some(14),
                vec![
                    l("error trying to connect: tcp connect error: Connection refused (os error 111)"),
                    l("transport error"),
                    l("tcp connect error"),
                    io("Connection refused (os error 111)", ErrorKind::ConnectionRefused),
                ],
                FailureKind::Unreachable,
            ),
            (
                "wrong CA",
                Some(14),
                vec![
                    l("transport error"),
                    io(
                        "invalid peer certificate: UnknownIssuer",
                        ErrorKind::InvalidData,
                    ),
                ],
                FailureKind::Tls(TlsProblem::ServerCertUntrusted),
            ),
            (
                "wrong host",
                None,
                vec![io(
                    "invalid peer certificate: certificate not valid for name \"10.0.0.9\"; certificate is only valid for IpAddress(127.0.0.1)",
                    ErrorKind::InvalidData,
                )],
                FailureKind::Tls(TlsProblem::ServerNameMismatch),
            ),
            (
                "client cert from another CA",
                Some(14),
                vec![
                    l("h2 protocol error: error reading a body from connection"),
                    io(
                        "received fatal alert: BadCertificate",
                        ErrorKind::InvalidData,
                    ),
                ],
                FailureKind::Tls(TlsProblem::ClientCertRejected),
            ),
            (
                "no client cert",
                Some(14),
                vec![io(
                    "received fatal alert: CertificateRequired",
                    ErrorKind::InvalidData,
                )],
                FailureKind::Tls(TlsProblem::ClientCertRequired),
            ),
            (
                "https to a plain port",
                Some(14),
                vec![io(
                    "received corrupt message of type InvalidContentType",
                    ErrorKind::InvalidData,
                )],
                FailureKind::Tls(TlsProblem::NotTls),
            ),
            (
                "https to a plain port, server hangs up",
                Some(14),
                vec![
                    l("tls handshake eof"),
                    l("transport error"),
                    io("tls handshake eof", ErrorKind::UnexpectedEof),
                ],
                FailureKind::Tls(TlsProblem::NotTls),
            ),
            (
                "reset mid-stream",
                Some(14),
                vec![
                    l("h2 protocol error: error reading a body from connection"),
                    io("connection reset", ErrorKind::ConnectionReset),
                ],
                FailureKind::Unreachable,
            ),
            (
                "timeout",
                Some(4),
                vec![l("Timeout expired"), io("timed out", ErrorKind::TimedOut)],
                FailureKind::Timeout,
            ),
            (
                "auth",
                Some(16),
                vec![l("etcdserver: user name is empty")],
                FailureKind::Denied,
            ),
            (
                "etcd killed mid-stream",
                Some(2),
                vec![
                    l("h2 protocol error: error reading a body from connection"),
                    io(
                        "peer closed connection without sending TLS close_notify: https://docs.rs/rustls/latest/rustls/manual/_03_howto/index.html#unexpected-eof",
                        ErrorKind::UnexpectedEof,
                    ),
                ],
                FailureKind::Unreachable,
            ),
            (
                "unparsable key file",
                Some(14),
                vec![
                    l("transport error"),
                    l("Error parsing TLS private key - no RSA or PKCS8-encoded keys found."),
                ],
                FailureKind::Tls(TlsProblem::Other),
            ),
            ("unknown", Some(2), vec![l("something odd")], FailureKind::Other),
        ];
        for (name, code, links, want) in cases {
            assert_eq!(classify(code, &links).kind, want, "case {name}");
        }
    }

    #[test]
    fn a_bare_close_after_a_tls_handshake_is_a_client_cert_problem() {
        // The chain tonic returns when the alert lost the race (seen against etcd 3.6 with a client
        // certificate from another CA, and with none).
        let chain = vec![
            l("operation was canceled"),
            l("transport error"),
            l("operation was canceled"),
            l("connection closed"),
        ];
        let f = classify(Some(1), &chain);
        assert_eq!(f.kind, FailureKind::Unreachable);
        let cases = [
            (true, true, FailureKind::Tls(TlsProblem::ClientCertRejected)),
            (
                true,
                false,
                FailureKind::Tls(TlsProblem::ClientCertRequired),
            ),
            (false, false, FailureKind::Unreachable),
        ];
        assert!(after_handshake(f.clone(), false, false)
            .detail
            .contains("use https://"));
        for (tls, cert, want) in cases {
            assert_eq!(after_handshake(f.clone(), tls, cert).kind, want);
        }
        let refused = classify(
            Some(14),
            &[io(
                "Connection refused (os error 111)",
                ErrorKind::ConnectionRefused,
            )],
        );
        assert_eq!(
            after_handshake(refused, true, true).kind,
            FailureKind::Unreachable
        );
    }

    #[test]
    fn details_are_short() {
        let f = classify(
            Some(14),
            &[io(
                "invalid peer certificate: UnknownIssuer",
                ErrorKind::InvalidData,
            )],
        );
        assert_eq!(f.detail, "invalid peer certificate: UnknownIssuer");
        let f = classify(
            Some(14),
            &[io(
                "Connection refused (os error 111)",
                ErrorKind::ConnectionRefused,
            )],
        );
        assert_eq!(f.detail, "connection refused");
    }
}
