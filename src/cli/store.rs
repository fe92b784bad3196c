//! `etcdbak store`: its flags, and the run that turns them into [`crate::store::Options`].

use std::path::PathBuf;
use std::time::Duration;

use super::retention::RetentionArgs;
use super::s3::S3Args;
use crate::pipeline::{Compression, Encoding, Recipients};
use crate::s3::upload::{MAX_PART_SIZE, MIN_PART_SIZE};
use crate::s3::UploadPlan;
use crate::store::{self, DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE};

/// `etcdbak store --help`: what the command does, and where its S3 credentials come from, since they are
/// deliberately not flags and a Job author has to know which of these to provide.
pub const LONG_ABOUT: &str = "\
Upload a snapshot to S3, verify it, then apply retention (the default store container).

With --add-destination (ETCDBAK_DESTINATIONS) the snapshot is read once and the same parts go
to every destination at once; each object is verified and each destination's retention applied
on its own. A destination that fails drops out and the others finish; the run then fails with
that destination's exit code and a line naming it (docs/DESTINATIONS.md).

S3 credentials are never flags. They come from the AWS credential chain; the first source that is
configured is used, and one that is configured but fails is an error naming it (exit 4):
  1. environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)
  2. web identity (EKS IRSA): AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, exchanged at STS
     (AWS_ENDPOINT_URL_STS, or the regional endpoint of AWS_REGION)
  3. container credentials (EKS Pod Identity, ECS): AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI,
     with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or _TOKEN
  4. the shared credentials file: AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials), AWS_PROFILE
  5. instance metadata (IMDSv2), only with ETCDBAK_IMDS=true or AWS_EC2_METADATA_SERVICE_ENDPOINT

Temporary credentials (2, 3 and 5) are refreshed from the same source before they expire (five minutes
ahead, or a tenth of their lifetime if that is shorter), so an upload may outlast them. A failed refresh
is a warning while the old credentials still work, and an error once they have expired. Keys from the
environment or a profile file are used as they are.";

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub destinations: super::destination::DestinationArgs,
    /// Directory holding snapshot.db and snapshot.json, as `etcdbak snapshot` leaves them.
    #[arg(
        long,
        env = "ETCDBAK_DIR",
        default_value = "/backup",
        value_name = "DIR"
    )]
    pub dir: PathBuf,
    /// Cluster name (a DNS-1123 label) that names the backup prefix `<prefix>/<cluster>/`. Defaults to the
    /// cluster recorded in snapshot.json; if both are set they must agree.
    #[arg(long, env = "ETCDBAK_CLUSTER", value_name = "NAME")]
    pub cluster: Option<String>,
    /// What retention keeps after a verified upload.
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// Size of each uploaded part (e.g. 8MiB, 16MiB; at least 5MiB). Memory use is about part size times
    /// --upload-concurrency, whatever the snapshot's size.
    #[arg(long, env = "ETCDBAK_PART_SIZE", default_value = DEFAULT_PART_SIZE,
          value_parser = parse_part_size, value_name = "BYTES")]
    pub part_size: u64,
    /// How many parts are uploaded at once.
    #[arg(long, env = "ETCDBAK_UPLOAD_CONCURRENCY", default_value_t = DEFAULT_CONCURRENCY,
          value_parser = clap::value_parser!(u16).range(1..=64), value_name = "N")]
    pub upload_concurrency: u16,
    /// Abort this cluster's unfinished multipart uploads older than this (left by killed runs). Keep it
    /// well above the longest upload so a concurrent run's live upload is never aborted (1m to 30d).
    #[arg(long, env = "ETCDBAK_STALE_UPLOAD_AGE", default_value = "2h",
          value_parser = super::bounds::stale_upload_age, value_name = "DURATION")]
    pub stale_upload_age: Duration,
    /// How to compress the snapshot in the bucket: none, zstd (level 1) or zstd:LEVEL (1-19). The file in
    /// --dir stays exactly as `etcdbak snapshot` wrote it.
    #[arg(
        long,
        env = "ETCDBAK_COMPRESS",
        default_value = "zstd:1",
        value_name = "none|zstd[:LEVEL]"
    )]
    pub compress: Compression,
    /// Encrypt the backup with age to this X25519 recipient (an `age1…` public key). Repeat it or give a
    /// comma-separated list for several recipients (key rotation: any one identity decrypts).
    #[arg(
        long,
        env = "ETCDBAK_ENCRYPT_TO",
        value_delimiter = ',',
        value_name = "RECIPIENT"
    )]
    pub encrypt_to: Vec<String>,
    /// Encrypt to the recipients in this file (`age -R` format: one `age1…` per line, # comments), e.g. a
    /// mounted Secret or ConfigMap. Combines with --encrypt-to.
    #[arg(long, env = "ETCDBAK_ENCRYPT_TO_FILE", value_name = "FILE")]
    pub encrypt_to_file: Option<PathBuf>,
    /// S3 Object Lock on each backup (docs/OBJECT-LOCK.md).
    #[command(flatten)]
    pub lock: super::lock::LockArgs,
}

/// The recipients the flags name; `None` when the backup is not encrypted (`follow` takes the same flags).
pub(super) fn recipients(
    given: &[String],
    file: Option<&std::path::Path>,
) -> Result<Option<Recipients>, crate::pipeline::Error> {
    let given: Vec<&str> = given
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    let mut out = match given.is_empty() {
        true => None,
        false => Some(Recipients::parse(&given.join("\n"), "--encrypt-to")?),
    };
    if let Some(path) = file {
        let from_file = Recipients::from_file(path)?;
        match &mut out {
            Some(r) => r.extend(from_file),
            None => out = Some(from_file),
        }
    }
    Ok(out)
}

pub async fn run(args: Args) -> super::Result<()> {
    let retention = args.retention.policy()?;
    let recipients = recipients(&args.encrypt_to, args.encrypt_to_file.as_deref())
        .map_err(store::Error::from)?;
    let mut settings = args.s3.resolved().await?;
    settings.object_lock = args.lock.lock();
    let dests = args.destinations.all(&args.s3, settings).await?;
    let opts = store::Options {
        dir: args.dir,
        cluster: args.cluster,
        retention,
        plan: UploadPlan {
            part_size: args.part_size,
            concurrency: usize::from(args.upload_concurrency),
        },
        stale_upload_age: args.stale_upload_age,
        encoding: Encoding {
            compression: args.compress,
            recipients,
            threads: 0,
        },
    };
    Ok(store::run_all(&dests.ready, dests.unready, &opts).await?)
}

/// Parses sizes such as `8MiB`, `16M`, `5242880`: binary units, since sizes here are about memory.
pub(super) fn parse_bytes(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 8MiB or 16MiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?} (use KiB, MiB or GiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// A part size within S3's limits.
pub fn parse_part_size(s: &str) -> std::result::Result<u64, String> {
    let bytes = parse_bytes(s)?;
    if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&bytes) {
        return Err(format!(
            "{s:?} is outside S3's part size limits of 5MiB to 5GiB"
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_come_from_flags_and_the_file_or_not_at_all() {
        assert!(recipients(&[], None).expect("none").is_none());
        assert!(recipients(&[" ".into()], None).expect("blank").is_none());
        assert!(recipients(&["not-a-key".into()], None).is_err());
        let missing = std::path::Path::new("/nonexistent/recipients");
        assert!(recipients(&[], Some(missing)).is_err());
    }

    #[test]
    fn part_sizes_parse_in_binary_units_within_s3_limits() {
        assert_eq!(parse_part_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_part_size("16M"), Ok(16 << 20));
        assert_eq!(parse_part_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_part_size("5242880"), Ok(5 << 20));
        for bad in [
            "",
            "4MiB",
            "6GiB",
            "8XB",
            "-8MiB",
            "MiB",
            "99999999999999999999GiB",
        ] {
            assert!(parse_part_size(bad).is_err(), "{bad:?} accepted");
        }
    }
}
