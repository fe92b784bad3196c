//! The destination flags `store`, `list`, `download`, `verify` and `restore-guide` share: the name of the
//! first destination (the one the S3 flags describe), the further destinations (`--add-destination`, or
//! `ETCDBAK_DESTINATIONS` separated by ';'), and for the readers which one to read (`--destination`).

use super::s3::{resolve_credentials, S3Args};
use crate::s3::client::endpoint_of;
use crate::s3::destination::{check_names, FIRST_NAME};
use crate::s3::{Client, CredentialSource, DestinationSpec, ObjectLock, Settings};
use crate::store::destinations::Failed;
use crate::store::Destination;

/// Every destination beyond the first, and the first one's name.
#[derive(Debug, Clone, clap::Args)]
pub struct DestinationArgs {
    /// The name of the destination the S3 flags (--bucket, --s3-endpoint, ...) describe: the first
    /// destination, which --destination picks by default.
    #[arg(id = "destination_name", long = "destination-name", env = "ETCDBAK_DESTINATION_NAME",
          default_value = FIRST_NAME, value_name = "NAME")]
    pub first: String,
    /// Another destination: `store` sends every backup there too, from the same read. Comma-separated
    /// key=value pairs: name and bucket (required), endpoint, region (us-east-1), prefix (etcdbak),
    /// path-style (true), credentials (`chain`: the AWS_* chain, the default; `env:PREFIX`: the same chain
    /// over PREFIXAWS_* variables), object-lock-mode and object-lock-retain. Repeat the flag, or separate
    /// destinations with ';' in the variable. See docs/DESTINATIONS.md.
    #[arg(
        id = "add_destination",
        long = "add-destination",
        env = "ETCDBAK_DESTINATIONS",
        value_delimiter = ';',
        value_name = "SPEC"
    )]
    pub more: Vec<DestinationSpec>,
}

/// The destination flags of a command that reads one destination.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadArgs {
    #[command(flatten)]
    pub all: DestinationArgs,
    /// The destination to read: the first (--destination-name) unless another is named.
    #[arg(long, env = "ETCDBAK_DESTINATION", value_name = "NAME")]
    pub destination: Option<String>,
}

/// `store`'s destinations: those it can talk to, and the further ones whose credentials did not resolve
/// (each a failed destination of the run, not a failed run: the others still get their copy).
pub struct StoreTargets {
    pub ready: Vec<Destination>,
    pub unready: Vec<Failed>,
}

impl DestinationArgs {
    /// Every destination for `store`: the first from `first` (the S3 flags' settings, its lock included),
    /// then each `--add-destination`, in order. A line that does not parse or names a bad endpoint fails
    /// the run (exit 2); a further destination without credentials only drops out.
    pub async fn all(&self, s3: &S3Args, first: Settings) -> super::Result<StoreTargets> {
        check_names(&self.first, &self.more).map_err(crate::exit::Usage)?;
        let mut out = StoreTargets {
            ready: vec![Destination {
                name: self.first.clone(),
                client: Client::connect(&first)?,
            }],
            unready: Vec::new(),
        };
        for spec in &self.more {
            let settings = match settings_for(spec, s3, &first).await {
                Ok(settings) => settings,
                Err(e) => {
                    out.unready.push(unready(spec, &e)?);
                    continue;
                }
            };
            out.ready.push(Destination {
                name: spec.name.clone(),
                client: connect(spec, &settings)?,
            });
        }
        Ok(out)
    }
}

/// A further destination whose credentials did not resolve, as a failed destination of the run.
fn unready(spec: &DestinationSpec, e: &super::Error) -> super::Result<Failed> {
    let endpoint = endpoint_of(spec.endpoint.as_deref(), &spec.region).map_err(|bad| {
        super::Error::Usage(crate::exit::Usage(format!(
            "destination {:?}: {bad}",
            spec.name
        )))
    })?;
    tracing::warn!(destination = %spec.name, bucket = %spec.bucket, error = %e, "destination has no credentials; the others go on");
    Ok(Failed::unready(
        &spec.name,
        &spec.bucket,
        &endpoint,
        crate::exit::chain(e),
    ))
}

/// The destination a reader reads, and the others as they are spelt (the runbook names every copy).
#[derive(Debug)]
pub struct Chosen {
    pub dest: Destination,
    /// How the chosen destination is spelt (the first one's from the S3 flags).
    pub spec: DestinationSpec,
    pub others: Vec<DestinationSpec>,
}

impl ReadArgs {
    /// The destination to read, connected.
    pub async fn client(&self, s3: &S3Args) -> super::Result<Client> {
        Ok(self.chosen(s3).await?.dest.client)
    }

    /// The destination to read, connected, and the other destinations as they are spelt.
    pub async fn chosen(&self, s3: &S3Args) -> super::Result<Chosen> {
        let names = &self.all;
        check_names(&names.first, &names.more).map_err(crate::exit::Usage)?;
        let first = s3.resolved().await?;
        let wanted = self.destination.as_deref().unwrap_or(&names.first);
        let mut every = vec![first_spec(&names.first, s3)];
        every.extend(names.more.iter().cloned());
        let Some(at) = every.iter().position(|s| s.name == wanted) else {
            let known: Vec<&str> = every.iter().map(|s| s.name.as_str()).collect();
            return Err(super::Error::Usage(crate::exit::Usage(format!(
                "no destination is named {wanted:?} (known: {}); --add-destination or ETCDBAK_DESTINATIONS defines the others",
                known.join(", ")
            ))));
        };
        let spec = every.remove(at);
        let client = match at {
            0 => Client::connect(&first)?,
            _ => connect(&spec, &settings_for(&spec, s3, &first).await?)?,
        };
        let dest = Destination {
            name: spec.name.clone(),
            client,
        };
        Ok(Chosen {
            dest,
            spec,
            others: every,
        })
    }

    /// `specs` connected, for the runbook's look for copies (the first destination's credentials serve
    /// those that take theirs from the chain).
    pub async fn connect_all(
        &self,
        s3: &S3Args,
        specs: &[DestinationSpec],
    ) -> super::Result<Vec<(DestinationSpec, Client)>> {
        let first = s3.resolved().await?;
        let mut out = Vec::new();
        for spec in specs {
            let settings = settings_for(spec, s3, &first).await?;
            out.push((spec.clone(), connect(spec, &settings)?));
        }
        Ok(out)
    }
}

/// The first destination as a line would spell it (its credentials are the chain's).
fn first_spec(name: &str, s3: &S3Args) -> DestinationSpec {
    DestinationSpec {
        endpoint: s3.endpoint.clone(),
        region: s3.region.clone(),
        prefix: s3.prefix.clone(),
        path_style: s3.path_style,
        ..DestinationSpec::new(name, &s3.bucket)
    }
}

fn connect(spec: &DestinationSpec, settings: &Settings) -> super::Result<Client> {
    Client::connect(settings).map_err(|e| {
        super::Error::Usage(crate::exit::Usage(format!(
            "--add-destination {:?}: {e}",
            spec.name
        )))
    })
}

/// A further destination's settings: its own place, credentials and lock; the transfer flags (timeouts,
/// Content-MD5, server-side encryption) are the first destination's.
async fn settings_for(
    spec: &DestinationSpec,
    s3: &S3Args,
    first: &Settings,
) -> super::Result<Settings> {
    let credentials = match &spec.credentials {
        CredentialSource::Chain => first.credentials.clone(),
        CredentialSource::EnvPrefix(prefix) => {
            let Some(env) = super::environment::credentials_with_prefix(prefix) else {
                return Err(super::Error::Usage(crate::exit::Usage(format!(
                    "destination {:?} takes its credentials from {prefix}AWS_* variables (credentials=env:{prefix}), and none is set",
                    spec.name
                ))));
            };
            resolve_credentials(env).await?
        }
    };
    let lock: Option<ObjectLock> = spec.object_lock;
    Ok(Settings {
        endpoint: spec.endpoint.clone(),
        region: spec.region.clone(),
        bucket: spec.bucket.clone(),
        prefix: spec.prefix.clone(),
        path_style: spec.path_style,
        object_lock: lock,
        ..s3.settings(credentials)
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        s3: S3Args,
        #[command(flatten)]
        read: ReadArgs,
    }

    fn parse(args: &[&str]) -> Result<Probe, clap::Error> {
        let argv = ["probe", "--bucket", "b"].iter().chain(args);
        Probe::try_parse_from(argv)
    }

    #[test]
    fn destinations_come_from_repeated_flags_and_default_to_the_first() {
        let p = parse(&[]).expect("defaults");
        assert_eq!(p.read.all.first, "primary");
        assert!(p.read.all.more.is_empty() && p.read.destination.is_none());
        let p = parse(&[
            "--add-destination",
            "name=dr,bucket=x;name=dr2,bucket=y",
            "--add-destination",
            "name=dr3,bucket=z,credentials=env:DR3_",
            "--destination",
            "dr2",
            "--destination-name",
            "main",
        ])
        .expect("three more");
        let names: Vec<&str> = p.read.all.more.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["dr", "dr2", "dr3"]);
        assert_eq!(p.read.all.first, "main");
        let e = parse(&["--add-destination", "name=dr"])
            .err()
            .expect("no bucket");
        assert!(e.to_string().contains("names no bucket"), "{e}");
    }

    #[test]
    fn the_first_destination_is_spelt_by_the_s3_flags() {
        let p = parse(&["--s3-endpoint", "http://m:9000", "--prefix", "p"]).expect("flags");
        let spec = first_spec("primary", &p.s3);
        assert_eq!(
            spec.to_string(),
            "name=primary,bucket=b,endpoint=http://m:9000,prefix=p"
        );
    }
}
