//! The config's values checked once it is read: every field that is wrong is refused with one line that
//! names it, so a controller never starts with a config whose Jobs could only fail (a missing bucket used
//! to surface as every Job exiting 2 while the Cluster said `BackupScheduled=True`).

use super::{
    continuous, effective_encoding, effective_object_lock, retention, Config, Error, JobConfig,
    PodConfig, S3Config,
};
use crate::naming::{is_dns_label, is_dns_subdomain};

pub(super) fn validate(c: &Config, file: &str) -> Result<(), Error> {
    check_defaults(c)
        .and_then(|()| check_job(&c.job))
        .and_then(|()| check_templates(c))
        .and_then(|()| check_backup_volume(&c.pod))
        .and_then(|()| check_time_zone(&c.time_zone))
        .and_then(|()| check_s3(&c.s3))
        .and_then(|()| super::destinations::check(&c.destinations).map_err(|e| ("destinations", e)))
        .and_then(|()| check_destination_endpoints(&c.destinations))
        .map_err(|(field, problem)| Error::Invalid {
            file: file.to_string(),
            field,
            problem,
        })
}

/// A field that is wrong, and what is wrong with it.
type Problem = (&'static str, String);

fn check_defaults(c: &Config) -> Result<(), Problem> {
    effective_encoding(&c.encoding, None, &[]).map_err(|e| ("compression/encryption", e))?;
    effective_object_lock(c.object_lock.as_ref(), None).map_err(|e| ("objectLock", e))?;
    crate::schedule::expand(&c.default_schedule, "example")
        .map_err(|e| ("defaultSchedule", format!("is not usable: {e}")))?;
    crate::schedule::expand(&c.verify.schedule, "example")
        .map_err(|e| ("verify.schedule", format!("is not usable: {e}")))?;
    continuous::parse_interval(&c.continuous.interval)
        .map_err(|e| ("continuous.interval", format!("is not usable: {e}")))?;
    if !(1..=10000).contains(&c.default_keep) {
        return Err((
            "defaultKeep",
            format!("is {}: keep between 1 and 10000 snapshots", c.default_keep),
        ));
    }
    if let Some(r) = &c.retention {
        retention::check(r, c.default_keep).map_err(|e| ("retention", e))?;
    }
    if !is_dns_label(&c.job_namespace) {
        return Err((
            "jobNamespace",
            format!(
                "{:?} is not a namespace name (lower-case letters, digits and '-', at most 63)",
                c.job_namespace
            ),
        ));
    }
    if c.image.trim().is_empty() {
        return Err(("image", "is empty: name the etcdbak image".into()));
    }
    if !["Always", "IfNotPresent", "Never"].contains(&c.image_pull_policy.as_str()) {
        return Err((
            "imagePullPolicy",
            format!(
                "is {:?}: use Always, IfNotPresent or Never",
                c.image_pull_policy
            ),
        ));
    }
    for (field, sa) in [
        ("serviceAccountName", &c.service_account_name),
        (
            "continuous.serviceAccountName",
            &c.continuous.service_account_name,
        ),
    ] {
        if let Some(sa) = sa.as_deref().filter(|sa| !is_dns_subdomain(sa)) {
            return Err((field, format!("{sa:?} is not a valid ServiceAccount name")));
        }
    }
    Ok(())
}

fn check_job(j: &JobConfig) -> Result<(), Problem> {
    const DAY: i64 = 86400;
    // Bounds wide enough for any real schedule; past them a value is a typo (seconds for minutes, an extra
    // zero), and a history of thousands of Jobs is an apiserver's worth of objects.
    let ranges: [(&'static str, i64, i64, i64); 6] = [
        (
            "job.startingDeadlineSeconds",
            j.starting_deadline_seconds,
            1,
            DAY,
        ),
        (
            "job.activeDeadlineSeconds",
            j.active_deadline_seconds,
            1,
            7 * DAY,
        ),
        (
            "job.successfulJobsHistoryLimit",
            j.successful_jobs_history_limit.into(),
            0,
            100,
        ),
        (
            "job.failedJobsHistoryLimit",
            j.failed_jobs_history_limit.into(),
            0,
            100,
        ),
        ("job.backoffLimit", j.backoff_limit.into(), 0, 100),
        (
            "job.cleanupTtlSecondsAfterFinished",
            j.cleanup_ttl_seconds_after_finished.into(),
            0,
            30 * DAY,
        ),
    ];
    for (field, value, min, max) in ranges {
        if value < min {
            return Err((
                field,
                match min {
                    0 => format!("is {value}: it cannot be negative"),
                    _ => format!("is {value}: give at least {min} second"),
                },
            ));
        }
        if value > max {
            return Err((field, format!("is {value}: give at most {max}")));
        }
    }
    Ok(())
}

fn check_templates(c: &Config) -> Result<(), Problem> {
    for (field, container) in [
        ("storeContainer", &c.store_container),
        ("cleanupContainer", &c.cleanup_container),
        ("verifyContainer", &c.verify_container),
        ("followerContainer", &c.follower_container),
    ] {
        if container.name.is_empty() {
            return Err((
                field,
                "has no name: give the container one, e.g. `name: store`".into(),
            ));
        }
        if !is_dns_label(&container.name) {
            return Err((
                field,
                format!(
                    "has the name {:?}: a container name is lower-case letters, digits and '-'",
                    container.name
                ),
            ));
        }
    }
    Ok(())
}

/// The CronJobs' `timeZone`: an IANA name the apiserver will load. Checked against the tz database compiled
/// into etcdbak (the image has no /usr/share/zoneinfo), as the apiserver checks against Go's.
fn check_time_zone(tz: &str) -> Result<(), Problem> {
    if tz.trim().is_empty() {
        return Err((
            "timeZone",
            "is empty: use an IANA name such as UTC or Europe/Berlin".into(),
        ));
    }
    // Kubernetes refuses "Local" (the controller-manager's own zone) and anything with spaces.
    let known =
        tz.trim() == tz && !tz.eq_ignore_ascii_case("local") && jiff::tz::db().get(tz).is_ok();
    if !known {
        return Err((
            "timeZone",
            format!("{tz:?} is not an IANA time zone: use a name such as UTC or Europe/Berlin"),
        ));
    }
    Ok(())
}

/// The object store the default templates reach: a bucket, and an endpoint or (for AWS S3) a region.
fn check_s3(s3: &S3Config) -> Result<(), Problem> {
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    if !set(&s3.bucket) {
        return Err((
            "s3.bucket",
            "is unset: name the bucket the backups go to (the store, verify, cleanup and follower containers get it as ETCDBAK_S3_BUCKET)".into(),
        ));
    }
    if let Some(bad) = s3.bucket.as_deref().filter(|b| b.contains(['/', ' ', ':'])) {
        return Err(("s3.bucket", format!("{bad:?} is not a bucket name")));
    }
    match s3.endpoint.as_deref() {
        None | Some("") if set(&s3.region) => Ok(()),
        None | Some("") => Err((
            "s3.endpoint",
            "is unset: give the object store's URL (e.g. http://minio.etcdbak.svc:9000), or s3.region for AWS S3".into(),
        )),
        Some(url) => endpoint_problem(url).map_or(Ok(()), |p| Err(("s3.endpoint", p))),
    }
}

/// A further destination's endpoint, checked like `s3.endpoint` when the config is read (not when a store
/// container first connects): it goes into every store container's environment.
fn check_destination_endpoints(
    all: &[super::destinations::DestinationConfig],
) -> Result<(), Problem> {
    for (i, d) in all.iter().enumerate() {
        if let Some(p) = d.endpoint.as_deref().and_then(endpoint_problem) {
            return Err(("destinations", format!("[{i}].endpoint {p}")));
        }
    }
    Ok(())
}

/// What is wrong with an S3 endpoint URL. Credentials in it (`user:pass@`) are refused without repeating
/// them: keys come from the credential chain, never from a URL that ends up in every pod spec.
fn endpoint_problem(url: &str) -> Option<String> {
    let Some((scheme, rest)) = url.trim().trim_end_matches('/').split_once("://") else {
        return Some(format!(
            "{url:?} is not a URL like http://minio.etcdbak.svc:9000"
        ));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Some(
            "carries credentials (user:password@): remove them; the containers take keys from the AWS credential chain".into(),
        );
    }
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains(['/', ' ', '?', '#'])
    {
        return Some(format!(
            "{url:?} is not a URL like http://minio.etcdbak.svc:9000"
        ));
    }
    None
}

/// `pod.backupVolumeSizeLimit`: a Kubernetes quantity of at least 64Mi (below that no real snapshot fits,
/// and the kubelet would evict every backup pod).
fn check_backup_volume(p: &PodConfig) -> Result<(), Problem> {
    let Some(q) = &p.backup_volume_size_limit else {
        return Ok(());
    };
    match quantity_bytes(&q.0) {
        Some(bytes) if bytes >= 64 << 20 => Ok(()),
        Some(_) => Err((
            "pod.backupVolumeSizeLimit",
            format!(
                "is {:?}: give at least 64Mi (the snapshot is as large as the database)",
                q.0
            ),
        )),
        None => Err((
            "pod.backupVolumeSizeLimit",
            format!("{:?} is not a size like 10Gi or 512Mi", q.0),
        )),
    }
}

/// The bytes a whole-number Kubernetes quantity such as `10Gi` or `500M` names; `None` otherwise (fractions
/// and exponents are refused: nobody sizes a volume as `1.5Gi` by mistake, and the message says the form).
fn quantity_bytes(q: &str) -> Option<u128> {
    let q = q.trim();
    let split = q.find(|c: char| !c.is_ascii_digit()).unwrap_or(q.len());
    let (digits, suffix) = q.split_at(split);
    let n: u128 = digits.parse().ok()?;
    let factor: u128 = match suffix {
        "" => 1,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(factor)
}
