//! The config's `destinations`: where the store container sends every backup besides `s3` (which stays the
//! first destination, `primary`). Each becomes one `--add-destination` line in the store container's
//! `ETCDBAK_DESTINATIONS`, and a destination with its own `credentialsSecret` gets that Secret's two keys as
//! `ETCDBAK_DESTINATION_<NAME>_AWS_ACCESS_KEY_ID` and `..._AWS_SECRET_ACCESS_KEY` (docs/DESTINATIONS.md). Pure.

use serde::{Deserialize, Serialize};

use crate::crd::ObjectLockSpec;
use crate::s3::destination::FIRST_NAME;
use crate::s3::{CredentialSource, DestinationSpec, LockMode, ObjectLock};

/// One destination beyond `s3`, as the config writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationConfig {
    /// A DNS-1123 label, unique, not `primary` (the `s3` section's).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub bucket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_style: Option<bool>,
    /// A Secret in `jobNamespace` with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` for this destination;
    /// unset: the store container's own credentials (the `s3` section's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<ObjectLockSpec>,
}

/// The two keys a `credentialsSecret` must hold.
pub const SECRET_KEYS: [&str; 2] = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];

impl DestinationConfig {
    /// The prefix of this destination's credential variables: `ETCDBAK_DESTINATION_DR_EU_` for `dr-eu`.
    pub fn env_prefix(&self) -> String {
        format!(
            "ETCDBAK_DESTINATION_{}_",
            self.name.to_ascii_uppercase().replace('-', "_")
        )
    }

    /// The destination as `etcdbak store` reads it. `Err` names what is wrong.
    pub fn spec(&self) -> Result<DestinationSpec, String> {
        let mut spec = DestinationSpec::new(&self.name, &self.bucket);
        spec.endpoint = self.endpoint.clone();
        if let Some(r) = &self.region {
            spec.region = r.clone();
        }
        if let Some(p) = &self.prefix {
            spec.prefix = p.clone();
        }
        if let Some(p) = self.path_style {
            spec.path_style = p;
        }
        if self.credentials_secret.is_some() {
            spec.credentials = CredentialSource::EnvPrefix(self.env_prefix());
        }
        if let Some(lock) = &self.object_lock {
            let retain = crate::s3::lock::parse_retain(&lock.retain)?;
            let mode: LockMode = lock.mode.as_str().parse()?;
            spec.object_lock = Some(ObjectLock { mode, retain });
        }
        // The line it renders must read back as the same destination, or `store` would refuse it.
        let line = spec.to_string();
        match line.parse::<DestinationSpec>() {
            Ok(back) if back == spec => Ok(spec),
            Ok(_) => Err(format!(
                "{:?} does not survive as a line ({line})",
                self.name
            )),
            Err(e) => Err(e),
        }
    }
}

/// Every destination checked: each one's values, names unique and none `primary`. `Err` is (index, why).
pub fn check(all: &[DestinationConfig]) -> Result<(), String> {
    let mut names = vec![FIRST_NAME.to_string()];
    for (i, d) in all.iter().enumerate() {
        d.spec().map_err(|e| format!("[{i}]: {e}"))?;
        if names.contains(&d.name) {
            return Err(format!(
                "[{i}]: the name {:?} is taken (`primary` is the s3 section's)",
                d.name
            ));
        }
        if let Some(s) = d.credentials_secret.as_deref() {
            if !crate::naming::is_dns_subdomain(s) {
                return Err(format!(
                    "[{i}].credentialsSecret: {s:?} is not a Secret name"
                ));
            }
        }
        names.push(d.name.clone());
    }
    Ok(())
}

/// `ETCDBAK_DESTINATIONS` for the store container: the lines joined by ';'; `None` without destinations.
pub fn lines(all: &[DestinationConfig]) -> Option<String> {
    let lines: Vec<String> = all
        .iter()
        .filter_map(|d| d.spec().ok())
        .map(|s| s.to_string())
        .collect();
    (!lines.is_empty()).then(|| lines.join(";"))
}

/// The credential variables the store container gets from each destination's Secret: (variable, Secret,
/// key).
pub fn secret_env(all: &[DestinationConfig]) -> Vec<(String, String, &'static str)> {
    all.iter()
        .filter_map(|d| Some((d.env_prefix(), d.credentials_secret.clone()?)))
        .flat_map(|(prefix, secret)| {
            SECRET_KEYS.map(|key| (format!("{prefix}{key}"), secret.clone(), key))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::ObjectLockMode;

    fn dr() -> DestinationConfig {
        DestinationConfig {
            name: "dr-eu".into(),
            endpoint: Some("https://s3.eu-central-1.amazonaws.com".into()),
            region: Some("eu-central-1".into()),
            bucket: "etcd-dr".into(),
            prefix: None,
            path_style: Some(false),
            credentials_secret: Some("etcdbak-s3-dr".into()),
            object_lock: Some(ObjectLockSpec {
                mode: ObjectLockMode::Compliance,
                retain: "30d".into(),
            }),
        }
    }

    #[test]
    fn a_destination_becomes_one_line_and_its_secret_two_variables() {
        let plain = DestinationConfig {
            name: "copy".into(),
            endpoint: None,
            region: None,
            bucket: "b".into(),
            prefix: Some("other".into()),
            path_style: None,
            credentials_secret: None,
            object_lock: None,
        };
        assert_eq!(
            lines(&[dr(), plain.clone()]).as_deref(),
            Some("name=dr-eu,bucket=etcd-dr,endpoint=https://s3.eu-central-1.amazonaws.com,region=eu-central-1,path-style=false,credentials=env:ETCDBAK_DESTINATION_DR_EU_,object-lock-mode=compliance,object-lock-retain=30d;name=copy,bucket=b,prefix=other")
        );
        assert_eq!(lines(&[]), None);
        assert_eq!(
            secret_env(&[dr(), plain]),
            [
                (
                    "ETCDBAK_DESTINATION_DR_EU_AWS_ACCESS_KEY_ID".to_string(),
                    "etcdbak-s3-dr".to_string(),
                    "AWS_ACCESS_KEY_ID"
                ),
                (
                    "ETCDBAK_DESTINATION_DR_EU_AWS_SECRET_ACCESS_KEY".to_string(),
                    "etcdbak-s3-dr".to_string(),
                    "AWS_SECRET_ACCESS_KEY"
                ),
            ]
        );
    }

    #[test]
    fn bad_destinations_are_refused_with_the_field() {
        assert_eq!(check(&[dr()]), Ok(()));
        let with = |f: fn(&mut DestinationConfig)| {
            let mut d = dr();
            f(&mut d);
            check(&[d]).expect_err("refused")
        };
        assert!(with(|d| d.name = "primary".into()).contains("is taken"));
        assert!(with(|d| d.name = "DR".into()).contains("DNS-1123"));
        assert!(with(|d| d.bucket = String::new()).contains("no bucket"));
        assert!(with(|d| d.prefix = Some("a,b".into())).contains("[0]"));
        assert!(
            with(|d| d.credentials_secret = Some("Bad Name".into())).contains("credentialsSecret")
        );
        assert!(with(|d| {
            d.object_lock = Some(ObjectLockSpec {
                mode: ObjectLockMode::Governance,
                retain: "forever".into(),
            })
        })
        .contains("retention period"));
        assert!(check(&[dr(), dr()]).expect_err("twice").contains("[1]"));
    }
}
