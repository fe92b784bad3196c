//! Failure classes: the leaf every domain error maps into, so the exit code is chosen once, in `cli`.
//!
//! The numbers are part of the store-container contract (docs/CONTRACT.md, the README's exit codes), so
//! they are defined here and nowhere else. This module imports nothing from the crate.

/// An error and its causes on one line, skipping causes whose text the parent already repeats.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Why a command failed, as a class the caller (a person, a Job's restartPolicy, an alert) can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Anything without a more specific class (disk, timeout, interruption).
    Failure,
    /// A flag, argument or name is wrong; clap uses the same code for its own parse errors.
    Usage,
    /// No etcd endpoint answered, or none was healthy.
    EtcdUnavailable,
    /// TLS or credential problem (wrong CA, bad client cert, access denied).
    Auth,
    /// The snapshot or backup is corrupt, truncated, or not an etcd database.
    CorruptSnapshot,
    /// The object store failed (unreachable, bucket missing, upload or verification failed).
    Storage,
    /// The config file, a template, or a Cluster spec is invalid.
    Config,
}

impl Class {
    /// The process exit code for this class.
    pub const fn code(self) -> i32 {
        match self {
            Class::Failure => 1,
            Class::Usage => 2,
            Class::EtcdUnavailable => 3,
            Class::Auth => 4,
            Class::CorruptSnapshot => 5,
            Class::Storage => 6,
            Class::Config => 7,
        }
    }
}

/// An input a user can fix, named for what it is. Library messages name the one to fix by this value and
/// never spell a flag: the command line owns flag and variable names (`cli/settings.rs` renders each as its
/// flag, and with `{:#}` as its flag and `ETCDBAK_*` variable; a test checks every flag exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Cluster,
    Endpoints,
    EtcdCa,
    EtcdCert,
    EtcdKey,
    SnapshotDir,
    SnapshotTimeout,
    Bucket,
    Region,
    S3Endpoint,
    ContentMd5,
    ConnectTimeout,
    StallTimeout,
    RequestTimeout,
    ObjectLockMode,
    DownloadOutput,
    Replicas,
    Member,
    DataDir,
    VolumeMountPath,
    CronJob,
    Owner,
    ApiServer,
    RestoreSnapshot,
    Listen,
    ProbeAllow,
    MetricsAddr,
    PruneAll,
    Identity,
    WithEtcdutl,
}

impl Setting {
    /// Every setting, for the test that checks each is a real flag.
    pub const ALL: [Setting; 30] = [
        Setting::Cluster,
        Setting::Endpoints,
        Setting::EtcdCa,
        Setting::EtcdCert,
        Setting::EtcdKey,
        Setting::SnapshotDir,
        Setting::SnapshotTimeout,
        Setting::Bucket,
        Setting::Region,
        Setting::S3Endpoint,
        Setting::ContentMd5,
        Setting::ConnectTimeout,
        Setting::StallTimeout,
        Setting::RequestTimeout,
        Setting::ObjectLockMode,
        Setting::DownloadOutput,
        Setting::Replicas,
        Setting::Member,
        Setting::DataDir,
        Setting::VolumeMountPath,
        Setting::CronJob,
        Setting::Owner,
        Setting::ApiServer,
        Setting::RestoreSnapshot,
        Setting::Listen,
        Setting::ProbeAllow,
        Setting::MetricsAddr,
        Setting::PruneAll,
        Setting::Identity,
        Setting::WithEtcdutl,
    ];
}

/// A flag, argument or name the user must change: always [`Class::Usage`]. The command line and the
/// domains that parse user-given names (store's keys, restore's references) all wrap this one.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// A local I/O failure, with what was being done when it happened: always [`Class::Failure`]. The domain
/// errors that read or write files wrap this one instead of each spelling its own.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct IoError {
    pub context: String,
    #[source]
    pub source: std::io::Error,
}

impl IoError {
    pub fn new(context: impl Into<String>, source: std::io::Error) -> IoError {
        IoError {
            context: context.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Class;

    #[test]
    fn codes_follow_the_contract() {
        let table = [
            (Class::Failure, 1),
            (Class::Usage, 2),
            (Class::EtcdUnavailable, 3),
            (Class::Auth, 4),
            (Class::CorruptSnapshot, 5),
            (Class::Storage, 6),
            (Class::Config, 7),
        ];
        for (class, code) in table {
            assert_eq!(class.code(), code, "{class:?}");
        }
    }
}
