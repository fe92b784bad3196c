//! The files a command authenticates to etcd with (`snapshot`, `follow`, `replay`), defined once.

use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct EtcdTlsArgs {
    /// CA certificate (PEM) that signed the etcd server certificates. Required for https:// endpoints.
    #[arg(long, env = "ETCDBAK_CACERT", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM) for etcd's client-cert-auth. Needs --key.
    #[arg(long, env = "ETCDBAK_CERT", value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert. Its contents are never logged.
    #[arg(long, env = "ETCDBAK_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,
}
