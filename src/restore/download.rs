//! The runbook's download step, which depends on the backup's format: `etcdbak download` reverses
//! compression and encryption and verifies; for a compressed or encrypted backup the step also shows the way
//! without etcdbak, with the standard `age` and `zstd` tools.

use super::facts::{Manual, RestorePlan, S3Location, Step};
use super::shell::{cmd, join, sh};
use crate::exit::Setting;
use crate::pipeline::Format;

/// Stands in for the age identity file when the guide was made without `--identity`.
pub const IDENTITY_PLACEHOLDER: &str = "IDENTITY_FILE";

impl RestorePlan {
    pub(super) fn snapshot_file(&self) -> String {
        format!("{}/snapshot.db", self.workdir.trim_end_matches('/'))
    }

    /// Where the manual path puts the object as stored (its own file name, so its suffix says what it is).
    fn object_file(&self) -> String {
        let name = self
            .snapshot
            .key
            .rsplit('/')
            .next()
            .unwrap_or(&self.snapshot.key);
        format!("{}/{name}", self.workdir.trim_end_matches('/'))
    }

    /// Where the backups are, as etcdbak's S3 flags spell it.
    pub(super) fn s3_words(&self) -> Vec<String> {
        s3_words(&self.s3)
    }

    pub(super) fn identity_file(&self) -> &str {
        self.identity.as_deref().unwrap_or(IDENTITY_PLACEHOLDER)
    }
}

/// A destination as the runbook names it: its name, its bucket, and its endpoint when it has one.
pub(super) fn located(name: &str, s3: &S3Location) -> String {
    match &s3.endpoint {
        Some(e) => format!("{name} (bucket {} at {e})", s3.bucket),
        None => format!("{name} (bucket {}, AWS {})", s3.bucket, s3.region),
    }
}

/// A bucket as etcdbak's S3 flags spell it.
fn s3_words(s3: &S3Location) -> Vec<String> {
    let mut words = Vec::new();
    if let Some(e) = &s3.endpoint {
        words.extend(["--s3-endpoint".to_string(), e.clone()]);
    }
    words.extend([
        "--region".to_string(),
        s3.region.clone(),
        "--bucket".to_string(),
        s3.bucket.clone(),
        "--prefix".to_string(),
        s3.prefix.clone(),
    ]);
    words
}

/// `etcdbak download` of the chosen snapshot into the work dir, with the S3 location spelled out.
fn download_command(p: &RestorePlan) -> String {
    download_from(p, &p.s3_words(), &p.snapshot.key)
}

/// `etcdbak download` of `key` into the work dir, with the S3 flags `s3`.
fn download_from(p: &RestorePlan, s3: &[String], key: &str) -> String {
    let mut download = vec!["etcdbak".to_string(), "download".to_string()];
    download.extend(s3.iter().cloned());
    download.extend(["--key".to_string(), key.to_string()]);
    if p.snapshot.format.encrypted {
        download.extend(["--identity".to_string(), p.identity_file().to_string()]);
    }
    download.extend(["--output".to_string(), p.snapshot_file()]);
    join(&download)
}

fn title(format: Format) -> &'static str {
    match (format.compressed, format.encrypted) {
        (false, false) => "Download the snapshot and verify it",
        (true, false) => "Download the snapshot, decompress it and verify it",
        (false, true) => "Download the snapshot, decrypt it and verify it",
        (true, true) => "Download the snapshot, decrypt and decompress it, and verify it",
    }
}

fn why(format: Format) -> String {
    const CREDENTIALS: &str = "S3 credentials come from the AWS credential chain, as for the backups: \
        AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a web identity (AWS_WEB_IDENTITY_TOKEN_FILE and \
        AWS_ROLE_ARN), container credentials, AWS_PROFILE, or instance metadata with ETCDBAK_IMDS=true \
        (etcdbak store --help lists the order).";
    let (what, wrong_key, identity) = match (format.compressed, format.encrypted) {
        (false, false) => {
            return format!(
                "etcdbak download checks the SHA-256 recorded at upload and etcd's own hash trailer, so a \
                 damaged object stops you here, before anything is destroyed. {CREDENTIALS}"
            )
        }
        (true, false) => ("compressed with zstd", "", ""),
        (false, true) => ("encrypted with age", " or the wrong identity", IDENTITY_WHY),
        (true, true) => (
            "compressed with zstd, then encrypted with age",
            " or the wrong identity",
            IDENTITY_WHY,
        ),
    };
    format!(
        "This backup is {what} ({}). etcdbak download reverses that as it streams, then checks the SHA-256 of \
         the snapshot recorded at upload and etcd's own hash trailer, and only then writes snapshot.db, so a \
         damaged object{wrong_key} stops you here, before anything is destroyed. {CREDENTIALS}{identity}",
        format.suffix()
    )
}

const IDENTITY_WHY: &str = " The identity is the age private key of one of the recipients the backup was \
                            encrypted to (after a key rotation, the old key still opens the old backups).";

fn check(p: &RestorePlan) -> String {
    let mut check = format!(
        "download ends without error; the status table shows REVISION {}.",
        p.snapshot.revision
    );
    for copy in &p.copies {
        let words = s3_words(&copy.s3);
        check.push_str(&format!(
            " If this store is unreachable or the download fails, the same backup is in destination {}: \
             {} (with that destination's credentials in the AWS_* variables).",
            located(&copy.destination, &copy.s3),
            download_from(p, &words, &copy.key)
        ));
    }
    if p.snapshot.format.encrypted && p.identity.is_none() {
        check.push_str(&format!(
            " {IDENTITY_PLACEHOLDER} stands for your age identity file: put its path there, or regenerate \
             this guide with {} FILE.",
            Setting::Identity
        ));
    }
    check
}

pub fn download_and_verify(p: &RestorePlan) -> Step {
    Step {
        title: title(p.snapshot.format).into(),
        why: why(p.snapshot.format),
        commands: vec![
            cmd(["mkdir", "-p", &p.workdir]),
            download_command(p),
            cmd([
                "etcdutl",
                "snapshot",
                "status",
                &p.snapshot_file(),
                "--write-out",
                "table",
            ]),
        ],
        check: Some(check(p)),
        manual: manual(p),
    }
}

/// The same result with the AWS CLI and Debian's `age` and `zstd`: what an operator without etcdbak at hand
/// (or who does not trust it) runs instead. `None` for a plain backup, where the download is the only step.
fn manual(p: &RestorePlan) -> Option<Manual> {
    let format = p.snapshot.format;
    let object = p.object_file();
    let decrypt = cmd(["age", "-d", "-i", p.identity_file(), &object]);
    let decode = match (format.compressed, format.encrypted) {
        (false, false) => return None,
        (true, false) => cmd(["zstd", "-d", "-c", &object]),
        (false, true) => decrypt,
        (true, true) => format!("{decrypt} | zstd -d"),
    };
    // As etcdbak download does: a failed or cut-off decode never leaves a file under the final name.
    let part = format!("{}.part", p.snapshot_file());
    let decode = format!(
        "{decode} > {} && {}",
        sh(&part),
        cmd(["mv", &part, &p.snapshot_file()])
    );
    let tools = match format {
        Format::ZSTD => "zstd -d decompresses it (Debian package zstd)",
        Format::AGE => "age -d decrypts it with the same identity (Debian package age)",
        _ => {
            "age -d decrypts it with the same identity and zstd -d decompresses it (Debian packages age \
             and zstd)"
        }
    };
    let mut fetch = vec![
        "aws".to_string(),
        "s3".to_string(),
        "cp".to_string(),
        format!("s3://{}/{}", p.s3.bucket, p.snapshot.key),
        object.clone(),
        "--region".to_string(),
        p.s3.region.clone(),
    ];
    if let Some(e) = &p.s3.endpoint {
        fetch.extend(["--endpoint-url".to_string(), e.clone()]);
    }
    Some(Manual {
        intro: format!(
            "the AWS CLI fetches the object, {tools}. sha256sum must print the SHA-256 above; etcdutl \
             checks etcd's own hash trailer."
        ),
        commands: vec![
            join(&fetch),
            decode,
            cmd(["sha256sum", &p.snapshot_file()]),
            cmd(["etcdutl", "snapshot", "status", &p.snapshot_file(), "--write-out", "table"]),
        ],
    })
}
