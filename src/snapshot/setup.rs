//! Everything a snapshot run needs, resolved from [`Options`] and checked before any network traffic.

use crate::exit::Setting;
use std::path::{Path, PathBuf};
use std::time::Duration;

use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};

use super::endpoints::{normalize_endpoints, resolve_cluster};
use super::{Error, Options};

/// Everything the run needs, resolved and checked before any network traffic.
pub(super) struct Setup {
    pub(super) cluster: String,
    pub(super) endpoints: Vec<String>,
    pub(super) tls: Option<TlsOptions>,
    pub(super) cacert: Option<PathBuf>,
    pub(super) cert: Option<(PathBuf, PathBuf)>,
    pub(super) dial_timeout: Duration,
    pub(super) timeout: Duration,
    pub(super) dir: PathBuf,
    pub(super) progress: crate::progress::Reporter,
}

fn read_pem(setting: Setting, path: &Path, marker: &str, what: &str) -> Result<Vec<u8>, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::TlsFile {
        setting,
        path: path.to_path_buf(),
        why: format!("cannot read it ({e})"),
    })?;
    // A marker check, not a parse: enough to catch a swapped or empty file with a clear message, and it
    // never echoes file contents (which may be a private key).
    if !String::from_utf8_lossy(&bytes).contains(marker) {
        return Err(Error::TlsFile {
            setting,
            path: path.to_path_buf(),
            why: format!("it does not hold a PEM {what}"),
        });
    }
    Ok(bytes)
}

impl Setup {
    /// Checks the flags in the order they matter (where, how, what to call it), all before any traffic.
    pub(super) fn from_options(args: Options) -> Result<Setup, Error> {
        let cert = match (args.cert, args.key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(Error::TlsConfig(format!(
                    "{} needs {}, the private key of the client certificate",
                    Setting::EtcdCert,
                    Setting::EtcdKey
                )))
            }
            (None, Some(_)) => {
                return Err(Error::TlsConfig(format!(
                    "{} needs {}, the client certificate it belongs to",
                    Setting::EtcdKey,
                    Setting::EtcdCert
                )))
            }
        };
        if cert.is_some() && args.cacert.is_none() {
            return Err(Error::TlsConfig(format!(
                "{}/{} need {} too (the CA that signed etcd's server certificate)",
                Setting::EtcdCert,
                Setting::EtcdKey,
                Setting::EtcdCa
            )));
        }
        let tls = match &args.cacert {
            None => None,
            Some(ca) => {
                let ca_pem = read_pem(
                    Setting::EtcdCa,
                    ca,
                    "-----BEGIN CERTIFICATE-----",
                    "certificate",
                )?;
                let mut tls = TlsOptions::new().ca_certificate(Certificate::from_pem(ca_pem));
                if let Some((cert, key)) = &cert {
                    let cert_pem = read_pem(
                        Setting::EtcdCert,
                        cert,
                        "-----BEGIN CERTIFICATE-----",
                        "certificate",
                    )?;
                    let key_pem =
                        read_pem(Setting::EtcdKey, key, "PRIVATE KEY-----", "private key")?;
                    tls = tls.identity(Identity::from_pem(cert_pem, key_pem));
                }
                Some(tls)
            }
        };
        let endpoints = normalize_endpoints(&args.endpoints, tls.is_some())?;
        let cluster = resolve_cluster(args.cluster, args.cluster_env)?;
        Ok(Setup {
            cluster,
            endpoints,
            tls,
            cacert: args.cacert,
            cert,
            dial_timeout: args.dial_timeout,
            timeout: args.timeout,
            dir: args.dir,
            progress: args.progress,
        })
    }

    pub(super) fn connect_options(&self) -> ConnectOptions {
        // HTTP/2 pings notice a member that vanished mid-stream long before --timeout would. 10 s stays
        // above etcd's --grpc-keepalive-min-time (5 s), and pings only while a call is open, because etcd
        // does not permit pings without a stream: too many of either and it closes the connection.
        let mut opts = ConnectOptions::new()
            .with_connect_timeout(self.dial_timeout)
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(20))
            .with_keep_alive_while_idle(false);
        if let Some(tls) = &self.tls {
            opts = opts.with_tls(tls.clone());
        }
        opts
    }
}
