//! A destination beyond the first: where `store` also sends every backup, and where `list`, `download`,
//! `verify` and `restore-guide --destination NAME` read. Spelt as one line of `key=value` pairs, so the
//! same text works as a flag, an environment variable and what the controller renders into a store
//! container (docs/DESTINATIONS.md). Pure: parsing, checking and rendering.
//!
//! ```text
//! name=dr,bucket=etcd-dr,endpoint=https://s3.eu-central-1.amazonaws.com,region=eu-central-1,credentials=env:DR_
//! ```
//!
//! Keys not given take the first destination's flag defaults (region us-east-1, prefix etcdbak,
//! path-style true, no endpoint: AWS), never the first destination's values: a copy meant for another
//! region or account must not land in the first one's bucket by omission.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::lock::{parse_retain, LockMode, ObjectLock};

/// Where a destination's credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// The AWS credential chain over this process's `AWS_*` variables: the first destination's keys.
    Chain,
    /// The same chain over the variables named `<prefix>AWS_*` instead (`DR_AWS_ACCESS_KEY_ID`,
    /// `DR_AWS_ROLE_ARN`, `DR_AWS_PROFILE`, ...): another account's keys without touching the first's.
    EnvPrefix(String),
}

/// The first destination's name when none is given (`--destination-name`).
pub const FIRST_NAME: &str = "primary";

/// One more destination, as its line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationSpec {
    /// A DNS-1123 label, unique among the run's destinations: what `--destination`, logs and errors say.
    pub name: String,
    /// `None`: AWS S3 in `region`.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub prefix: String,
    pub path_style: bool,
    pub credentials: CredentialSource,
    /// Object Lock on what `store` writes there; `None`: unlocked.
    pub object_lock: Option<ObjectLock>,
}

impl DestinationSpec {
    /// A destination with every optional key at its default.
    pub fn new(name: &str, bucket: &str) -> DestinationSpec {
        DestinationSpec {
            name: name.into(),
            endpoint: None,
            region: "us-east-1".into(),
            bucket: bucket.into(),
            prefix: "etcdbak".into(),
            path_style: true,
            credentials: CredentialSource::Chain,
            object_lock: None,
        }
    }
}

/// The keys a line may carry, for the error that names an unknown one.
const KEYS: &str = "name, bucket, endpoint, region, prefix, path-style, credentials, object-lock-mode, object-lock-retain";

impl FromStr for DestinationSpec {
    type Err = String;

    fn from_str(line: &str) -> Result<DestinationSpec, String> {
        let mut spec = DestinationSpec::new("", "");
        let (mut mode, mut retain) = (None, None);
        for pair in line.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(format!("{pair:?} is not key=value (keys: {KEYS})"));
            };
            let value = value.trim();
            match key.trim() {
                "name" => spec.name = value.into(),
                "bucket" => spec.bucket = value.into(),
                "endpoint" => spec.endpoint = Some(value.into()).filter(|v: &String| !v.is_empty()),
                "region" => spec.region = value.into(),
                "prefix" => spec.prefix = value.into(),
                "path-style" => spec.path_style = parse_bool(value)?,
                "credentials" => spec.credentials = parse_credentials(value)?,
                "object-lock-mode" => mode = Some(value.parse::<LockMode>()?),
                "object-lock-retain" => retain = Some(parse_retain(value)?),
                other => return Err(format!("unknown key {other:?} (keys: {KEYS})")),
            }
        }
        spec.object_lock = match (mode, retain) {
            (None, None) => None,
            (Some(mode), Some(retain)) => Some(ObjectLock { mode, retain }),
            _ => return Err("object-lock-mode and object-lock-retain come together".into()),
        };
        check(&spec)?;
        Ok(spec)
    }
}

/// What every line must satisfy, whatever its other keys. The endpoint's form is checked where the
/// client is built, with the message every command gives.
fn check(spec: &DestinationSpec) -> Result<(), String> {
    if !crate::naming::is_dns_label(&spec.name) {
        return Err(format!(
            "destination name {:?} is not a DNS-1123 label (lower-case letters, digits, '-'; give name=...)",
            spec.name
        ));
    }
    if spec.bucket.is_empty() {
        return Err(format!("destination {:?} names no bucket=", spec.name));
    }
    if spec.region.is_empty() {
        return Err(format!("destination {:?} has an empty region=", spec.name));
    }
    Ok(())
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format!("path-style={s:?} is not true or false")),
    }
}

/// `chain`, or `env:PREFIX` with a prefix of upper-case letters, digits and '_'.
fn parse_credentials(s: &str) -> Result<CredentialSource, String> {
    if s == "chain" {
        return Ok(CredentialSource::Chain);
    }
    let prefix = s.strip_prefix("env:").unwrap_or_default();
    let ok = !prefix.is_empty()
        && prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(format!(
            "credentials={s:?} is not `chain` or `env:PREFIX` (PREFIX of A-Z, 0-9, _; the keys are then PREFIXAWS_ACCESS_KEY_ID and the rest of the chain's variables)"
        ));
    }
    Ok(CredentialSource::EnvPrefix(prefix.into()))
}

/// A period in the spelling `parse_retain` reads (`30d`, `1d12h`).
pub fn format_retain(d: Duration) -> String {
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, size) in [('d', 86400), ('h', 3600), ('m', 60), ('s', 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// The line that parses back into the same destination (only keys that differ from the defaults).
impl fmt::Display for DestinationSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let default = DestinationSpec::new(&self.name, &self.bucket);
        write!(f, "name={},bucket={}", self.name, self.bucket)?;
        if let Some(e) = &self.endpoint {
            write!(f, ",endpoint={e}")?;
        }
        if self.region != default.region {
            write!(f, ",region={}", self.region)?;
        }
        if self.prefix != default.prefix {
            write!(f, ",prefix={}", self.prefix)?;
        }
        if !self.path_style {
            f.write_str(",path-style=false")?;
        }
        if let CredentialSource::EnvPrefix(p) = &self.credentials {
            write!(f, ",credentials=env:{p}")?;
        }
        if let Some(lock) = &self.object_lock {
            let retain = format_retain(lock.retain);
            write!(
                f,
                ",object-lock-mode={},object-lock-retain={retain}",
                lock.mode
            )?;
        }
        Ok(())
    }
}

/// The names must differ from each other and from the first destination's (`first`).
pub fn check_names(first: &str, more: &[DestinationSpec]) -> Result<(), String> {
    if !crate::naming::is_dns_label(first) {
        return Err(format!(
            "destination name {first:?} is not a DNS-1123 label (lower-case letters, digits, '-')"
        ));
    }
    let mut seen = vec![first];
    for spec in more {
        if seen.contains(&spec.name.as_str()) {
            return Err(format!("two destinations are named {:?}", spec.name));
        }
        seen.push(&spec.name);
    }
    Ok(())
}

/// The environment the chain reads for `prefix`: every `<prefix>AWS_*` variable as `AWS_*`, and nothing
/// of the unprefixed ones, so a destination with its own keys never falls back to the first's.
pub fn prefixed_vars(
    vars: impl IntoIterator<Item = (String, String)>,
    prefix: &str,
) -> Vec<(String, String)> {
    vars.into_iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix(prefix)?;
            rest.starts_with("AWS_").then(|| (rest.to_string(), v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_into_destinations_and_render_back() {
        let dr = DestinationSpec {
            endpoint: Some("https://s3.eu-central-1.amazonaws.com".into()),
            region: "eu-central-1".into(),
            prefix: "backups/etcd".into(),
            path_style: false,
            credentials: CredentialSource::EnvPrefix("DR_".into()),
            object_lock: Some(ObjectLock {
                mode: LockMode::Compliance,
                retain: Duration::from_secs(90 * 86400 + 3600),
            }),
            ..DestinationSpec::new("dr", "etcd-dr")
        };
        for (line, want) in [
            ("name=b,bucket=x", DestinationSpec::new("b", "x")),
            (
                " bucket = x , name = b , credentials = chain ,",
                DestinationSpec::new("b", "x"),
            ),
            (
                "name=dr,bucket=etcd-dr,endpoint=https://s3.eu-central-1.amazonaws.com,region=eu-central-1,prefix=backups/etcd,path-style=false,credentials=env:DR_,object-lock-mode=compliance,object-lock-retain=90d1h",
                dr.clone(),
            ),
        ] {
            let got: DestinationSpec = line.parse().unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(got, want, "{line}");
            assert_eq!(got.to_string().parse::<DestinationSpec>(), Ok(want), "{line}");
        }
    }

    #[test]
    fn a_bad_line_names_what_to_fix() {
        for (line, says) in [
            ("bucket=x", "not a DNS-1123 label"),
            ("name=Dr,bucket=x", "not a DNS-1123 label"),
            ("name=dr", "names no bucket"),
            ("name=dr,bucket=x,colour=blue", "unknown key \"colour\""),
            ("name=dr,bucket", "not key=value"),
            ("name=dr,bucket=x,path-style=maybe", "not true or false"),
            (
                "name=dr,bucket=x,credentials=AKIA123",
                "not `chain` or `env:PREFIX`",
            ),
            (
                "name=dr,bucket=x,credentials=env:dr_",
                "not `chain` or `env:PREFIX`",
            ),
            (
                "name=dr,bucket=x,object-lock-mode=compliance",
                "come together",
            ),
            ("name=dr,bucket=x,object-lock-retain=1d", "come together"),
            (
                "name=dr,bucket=x,object-lock-mode=strict,object-lock-retain=1d",
                "not an Object Lock mode",
            ),
            ("name=dr,bucket=x,region=", "empty region"),
        ] {
            let e = line.parse::<DestinationSpec>().expect_err(line);
            assert!(e.contains(says), "{line}: {e}");
        }
    }

    #[test]
    fn names_are_unique_across_every_destination() {
        let dr = DestinationSpec::new("dr", "x");
        assert_eq!(check_names("primary", std::slice::from_ref(&dr)), Ok(()));
        assert!(check_names("dr", std::slice::from_ref(&dr)).is_err());
        assert!(check_names("primary", &[dr.clone(), dr]).is_err());
        assert!(check_names("Primary", &[]).is_err());
    }

    #[test]
    fn a_prefix_takes_only_its_own_variables() {
        let vars = [
            ("AWS_ACCESS_KEY_ID", "first"),
            ("DR_AWS_ACCESS_KEY_ID", "second"),
            ("DR_AWS_SECRET_ACCESS_KEY", "s"),
            ("DR_OTHER", "x"),
            ("XDR_AWS_PROFILE", "p"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let mut got = prefixed_vars(vars, "DR_");
        got.sort();
        assert_eq!(
            got,
            [
                ("AWS_ACCESS_KEY_ID".to_string(), "second".to_string()),
                ("AWS_SECRET_ACCESS_KEY".to_string(), "s".to_string()),
            ]
        );
        assert_eq!(format_retain(Duration::from_secs(86400 + 90)), "1d1m30s");
    }
}
