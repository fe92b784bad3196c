//! Throwaway PKI for tests: a CA, a server/peer certificate and a client certificate, plus an unrelated
//! second CA (and a client certificate it signed) for the wrong-CA and bad-client-cert cases.
//!
//! API:
//! - `Certs::generate() -> Certs`: writes every PEM file into its own temp dir (removed on drop).
//! - `certs.ca`, `certs.server_cert`/`server_key` (SANs 127.0.0.1 and localhost, usable for both server and
//!   peer TLS since etcd also dials peers with it), `certs.client_cert`/`client_key` (CN `etcdbak-test`),
//!   `certs.other_ca`, `certs.other_client_cert`/`other_client_key` (signed by the unrelated CA).
//! - `certs.client()`: the `ClientTls` (cacert, cert, key) a client of a cluster using these certs needs;
//!   `ClientTls::args()` renders it as etcdbak's `--cacert/--cert/--key` flags.
//!
//! Keys are ECDSA P-256 (rcgen's default), which both Go's TLS and rustls accept.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// PEM paths of one client identity.
#[derive(Debug, Clone)]
pub struct ClientTls {
    pub cacert: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl ClientTls {
    /// `--cacert X --cert Y --key Z`, as etcdbak and etcdctl both spell them.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--cacert".into(),
            self.cacert.display().to_string(),
            "--cert".into(),
            self.cert.display().to_string(),
            "--key".into(),
            self.key.display().to_string(),
        ]
    }
}

pub struct Certs {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub other_ca: PathBuf,
    pub other_client_cert: PathBuf,
    pub other_client_key: PathBuf,
}

fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("self-signed CA");
    (cert.pem(), Issuer::new(params, key))
}

fn leaf(
    cn: &str,
    sans: &[&str],
    usages: &[ExtendedKeyUsagePurpose],
    issuer: &Issuer<'static, KeyPair>,
) -> (String, String) {
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(sans).expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = usages.to_vec();
    let key = KeyPair::generate().expect("leaf key");
    let cert = params.signed_by(&key, issuer).expect("signed leaf");
    (cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).expect("write PEM");
    path
}

impl Certs {
    pub fn generate() -> Certs {
        let dir = tempfile::Builder::new()
            .prefix("etcdbak-certs-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path().to_path_buf();
        let (ca_pem, ca) = new_ca("etcdbak test CA");
        let (other_ca_pem, other) = new_ca("unrelated test CA");
        let both = [
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let (server_pem, server_key) = leaf("etcd", &["127.0.0.1", "localhost"], &both, &ca);
        let client_only = [ExtendedKeyUsagePurpose::ClientAuth];
        let (client_pem, client_key) = leaf("etcdbak-test", &[], &client_only, &ca);
        let (oclient_pem, oclient_key) = leaf("intruder", &[], &client_only, &other);
        Certs {
            ca: write(&d, "ca.pem", &ca_pem),
            server_cert: write(&d, "server.pem", &server_pem),
            server_key: write(&d, "server-key.pem", &server_key),
            client_cert: write(&d, "client.pem", &client_pem),
            client_key: write(&d, "client-key.pem", &client_key),
            other_ca: write(&d, "other-ca.pem", &other_ca_pem),
            other_client_cert: write(&d, "other-client.pem", &oclient_pem),
            other_client_key: write(&d, "other-client-key.pem", &oclient_key),
            dir,
        }
    }

    /// The identity a legitimate client of a cluster using these certs presents.
    pub fn client(&self) -> ClientTls {
        ClientTls {
            cacert: self.ca.clone(),
            cert: self.client_cert.clone(),
            key: self.client_key.clone(),
        }
    }
}
