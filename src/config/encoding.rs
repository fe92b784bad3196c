//! How backups are stored in the bucket: compression, and the age recipients they are encrypted to. The
//! config sets the fleet's default; a Cluster may choose its own compression and add recipients (the
//! platform's are always kept, so scheduled verification and the platform's restores keep working).

use serde::{Deserialize, Serialize};

use crate::pipeline::{Compression, Recipients};

/// `compression` and `encryption` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct EncodingConfig {
    /// `none`, `zstd` or `zstd:LEVEL`, as `etcdbak store --compress` takes it.
    pub compression: String,
    pub encryption: EncryptionConfig,
}

impl Default for EncodingConfig {
    fn default() -> Self {
        EncodingConfig {
            compression: crate::pipeline::Compression::default().to_string(),
            encryption: EncryptionConfig::default(),
        }
    }
}

/// Client-side age encryption; no recipients means backups are not encrypted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct EncryptionConfig {
    /// X25519 recipients (`age1…` public keys). Several allow key rotation: any one identity decrypts.
    pub recipients: Vec<String>,
}

/// What the store container is told: the compression to use and every recipient, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    pub compression: String,
    /// Comma-separated, as `ETCDBAK_ENCRYPT_TO` takes them; empty when not encrypted.
    pub recipients: String,
}

/// The effective encoding of one Cluster: its own compression or the config's, and the config's recipients
/// followed by the Cluster's. `Err` names the field that is wrong (without printing a key).
pub fn effective(
    config: &EncodingConfig,
    compression: Option<&str>,
    extra_recipients: &[String],
) -> Result<Effective, String> {
    let compression = compression.unwrap_or(&config.compression).trim();
    compression
        .parse::<Compression>()
        .map_err(|e| format!("compression {compression:?}: {e}"))?;
    let mut all: Vec<&str> = Vec::new();
    for r in config.encryption.recipients.iter().chain(extra_recipients) {
        let r = r.trim();
        if !r.is_empty() && !all.contains(&r) {
            all.push(r);
        }
    }
    if !all.is_empty() {
        Recipients::parse(&all.join("\n"), "encryption.recipients").map_err(|e| e.to_string())?;
    }
    Ok(Effective {
        compression: compression.to_string(),
        recipients: all.join(","),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipient() -> String {
        age::x25519::Identity::generate().to_public().to_string()
    }

    #[test]
    fn the_cluster_chooses_compression_and_adds_recipients() {
        let (platform, other) = (recipient(), recipient());
        let config = EncodingConfig {
            compression: "zstd:3".into(),
            encryption: EncryptionConfig {
                recipients: vec![platform.clone()],
            },
        };
        let e = effective(&config, Some("none"), &[other.clone(), platform.clone()]).unwrap();
        assert_eq!(e.compression, "none");
        assert_eq!(e.recipients, format!("{platform},{other}"));
        let e = effective(&EncodingConfig::default(), None, &[]).unwrap();
        assert_eq!(
            e,
            Effective {
                compression: "zstd:1".into(),
                recipients: String::new()
            }
        );
    }

    #[test]
    fn bad_values_name_the_field() {
        let config = EncodingConfig::default();
        let e = effective(&config, Some("gzip"), &[]).unwrap_err();
        assert!(e.starts_with("compression \"gzip\""), "{e}");
        let e = effective(&config, None, &["age1nope".into()]).unwrap_err();
        assert!(e.contains("encryption.recipients"), "{e}");
        // A secret key given by mistake is refused without being printed.
        use age::secrecy::ExposeSecret;
        let id = age::x25519::Identity::generate();
        let secret = id.to_string().expose_secret().to_string();
        let e = effective(&config, None, std::slice::from_ref(&secret)).unwrap_err();
        assert!(!e.contains(&secret), "{e}");
    }
}
