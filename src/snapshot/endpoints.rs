//! The `--endpoints` and `--cluster` values, checked before any traffic. Pure.

use super::Error;
use crate::exit::Setting;

/// Resolves the cluster name: the flag/ETCDBAK_CLUSTER, else the seed contract's CLUSTER.
pub(super) fn resolve_cluster(
    flag: Option<String>,
    plain_env: Option<String>,
) -> Result<String, Error> {
    let name = flag
        .filter(|s| !s.trim().is_empty())
        .or(plain_env.filter(|s| !s.trim().is_empty()))
        .ok_or(Error::MissingCluster)?;
    // It names the S3 prefix and, through the Cluster resource, a CronJob: the same rule as everywhere else.
    crate::naming::validate_cluster_name(&name).map_err(Error::BadCluster)?;
    Ok(name)
}

/// Checks `host:port` (`[v6]:port` too; the port may be left out): what a gRPC channel can dial.
fn check_authority(authority: &str) -> Result<(), String> {
    if authority.is_empty()
        || authority
            .chars()
            .any(|c| c.is_whitespace() || "/?#@".contains(c))
    {
        return Err("expected HOST:PORT after the scheme, e.g. https://10.0.0.1:2379".into());
    }
    let port = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((_, "")) => None,
            Some((_, rest)) => Some(rest.strip_prefix(':').ok_or("expected :PORT after ]")?),
            None => return Err("unclosed [ in an IPv6 address".into()),
        },
        None => match authority.rsplit_once(':') {
            Some(("", _)) => return Err("missing host".into()),
            Some((_, port)) => Some(port),
            None => None,
        },
    };
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            _ => return Err(format!("{port:?} is not a port number (1-65535)")),
        }
    }
    Ok(())
}

/// The endpoint with its `user:password@` replaced by `***@`, when it has one.
fn without_userinfo(endpoint: &str) -> Option<String> {
    let (scheme, rest) = match endpoint.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), endpoint),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let (_, host) = authority.rsplit_once('@')?;
    let path = &rest[authority.len()..];
    Some(format!("{scheme}***@{host}{path}"))
}

/// Trims, drops empties and duplicates, adds a scheme where missing, and refuses scheme/TLS mismatches.
pub(super) fn normalize_endpoints(raw: &[String], tls: bool) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for e in raw.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        if let Some(shown) = without_userinfo(e) {
            // Never repeated as given: the part before '@' is a password.
            return Err(Error::BadEndpoint {
                endpoint: shown,
                why: format!(
                    "it carries credentials (user:password@): remove them; etcd is reached with the client certificate ({}, {})",
                    Setting::EtcdCert,
                    Setting::EtcdKey
                ),
            });
        }
        let bad = |why: &str| Error::BadEndpoint {
            endpoint: e.to_string(),
            why: why.to_string(),
        };
        let url = match e.split_once("://") {
            Some(("https", rest)) if !rest.is_empty() => {
                if !tls {
                    return Err(bad(&format!(
                        "https:// needs {}, the CA that signed etcd's server certificate",
                        Setting::EtcdCa
                    )));
                }
                e.to_string()
            }
            Some(("http", rest)) if !rest.is_empty() => {
                if tls {
                    return Err(bad(&format!(
                        "plain http:// while {} is set; use https:// for a TLS endpoint",
                        Setting::EtcdCa
                    )));
                }
                e.to_string()
            }
            Some((_, _)) => return Err(bad("use http://HOST:PORT or https://HOST:PORT")),
            None if tls => format!("https://{e}"),
            None => format!("http://{e}"),
        };
        let url = url.trim_end_matches('/').to_string();
        let authority = url.split_once("://").map_or("", |(_, a)| a);
        check_authority(authority).map_err(|why| bad(&why))?;
        if !out.contains(&url) {
            out.push(url);
        }
    }
    if out.is_empty() {
        return Err(Error::NoEndpoints);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn credentials_in_an_endpoint_are_refused_and_never_repeated() {
        for (raw, shown) in [
            (
                "http://admin:hunter2@10.0.0.1:2379",
                "http://***@10.0.0.1:2379",
            ),
            ("admin:hunter2@10.0.0.1:2379", "***@10.0.0.1:2379"),
            ("https://u@etcd:2379/x", "https://***@etcd:2379/x"),
        ] {
            let err = normalize_endpoints(&s(&[raw]), raw.starts_with("https")).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(shown) && text.contains("credentials"),
                "{text}"
            );
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert_eq!(without_userinfo("http://10.0.0.1:2379/a@b"), None);
    }

    #[test]
    fn endpoints_are_normalized() {
        assert_eq!(
            normalize_endpoints(
                &s(&["10.0.0.1:2379", " https://b:2379/ ", "10.0.0.1:2379"]),
                true
            )
            .expect("ok"),
            s(&["https://10.0.0.1:2379", "https://b:2379"])
        );
        assert_eq!(
            normalize_endpoints(
                &s(&["127.0.0.1:2379", "", "etcd-0.etcd", "[::1]:2379"]),
                false
            )
            .expect("ok"),
            s(&[
                "http://127.0.0.1:2379",
                "http://etcd-0.etcd",
                "http://[::1]:2379"
            ])
        );
    }

    #[test]
    fn endpoint_mistakes_are_named() {
        let cases = [
            (s(&["https://a:2379"]), false, "needs --cacert"),
            (s(&["http://a:2379"]), true, "use https://"),
            (s(&["ftp://a"]), false, "http://HOST:PORT"),
            (s(&["", " "]), false, "no etcd endpoints"),
            (s(&["not a url"]), false, "HOST:PORT"),
            (s(&["http://127.0.0.1:99999"]), false, "not a port"),
            (s(&["http://:2379"]), false, "missing host"),
            (s(&["https://[::1"]), true, "unclosed"),
        ];
        for (eps, tls, want) in cases {
            let err = normalize_endpoints(&eps, tls)
                .expect_err("must fail")
                .to_string();
            assert!(err.contains(want), "{eps:?}: {err}");
        }
    }

    #[test]
    fn cluster_name_falls_back_to_plain_env() {
        assert_eq!(
            resolve_cluster(Some("a".into()), Some("b".into())).expect("ok"),
            "a"
        );
        assert_eq!(resolve_cluster(None, Some("b".into())).expect("ok"), "b");
        assert_eq!(
            resolve_cluster(Some("".into()), Some("b".into())).expect("ok"),
            "b"
        );
        assert!(matches!(
            resolve_cluster(None, None),
            Err(Error::MissingCluster)
        ));
        for bad in ["a/b", "Not_A_Name", "-x", "a b"] {
            assert!(
                matches!(
                    resolve_cluster(Some(bad.into()), None),
                    Err(Error::BadCluster(_))
                ),
                "{bad}"
            );
        }
    }
}
