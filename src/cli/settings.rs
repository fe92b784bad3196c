//! How the command line spells each [`Setting`] a library message names: its flag, and with `{:#}` its
//! flag and environment variable. The library says which input is wrong; only this file knows what a user
//! types to change it, so a renamed flag cannot leave a stale hint behind (the test below checks each).

use std::fmt;

use crate::exit::Setting;

impl Setting {
    /// The long flag, without its dashes, and the `ETCDBAK_*` variable when the flag has one.
    pub fn flag_and_env(self) -> (&'static str, Option<&'static str>) {
        match self {
            Setting::Cluster => ("cluster", Some("ETCDBAK_CLUSTER")),
            Setting::Endpoints => ("endpoints", Some("ETCDBAK_ENDPOINTS")),
            Setting::EtcdCa => ("cacert", Some("ETCDBAK_CACERT")),
            Setting::EtcdCert => ("cert", Some("ETCDBAK_CERT")),
            Setting::EtcdKey => ("key", Some("ETCDBAK_KEY")),
            Setting::SnapshotDir => ("dir", Some("ETCDBAK_DIR")),
            Setting::SnapshotTimeout => ("timeout", Some("ETCDBAK_TIMEOUT")),
            Setting::Bucket => ("bucket", Some("ETCDBAK_S3_BUCKET")),
            Setting::Region => ("region", Some("ETCDBAK_S3_REGION")),
            Setting::S3Endpoint => ("s3-endpoint", Some("ETCDBAK_S3_ENDPOINT")),
            Setting::ContentMd5 => ("content-md5", Some("ETCDBAK_S3_CONTENT_MD5")),
            Setting::ConnectTimeout => ("connect-timeout", Some("ETCDBAK_S3_CONNECT_TIMEOUT")),
            Setting::StallTimeout => ("stall-timeout", Some("ETCDBAK_S3_STALL_TIMEOUT")),
            Setting::RequestTimeout => ("request-timeout", Some("ETCDBAK_S3_REQUEST_TIMEOUT")),
            Setting::ObjectLockMode => ("object-lock-mode", Some("ETCDBAK_OBJECT_LOCK_MODE")),
            Setting::DownloadOutput => ("output", None),
            Setting::Replicas => ("replicas", Some("ETCDBAK_RESTORE_REPLICAS")),
            Setting::Member => ("member", Some("ETCDBAK_RESTORE_MEMBERS")),
            Setting::DataDir => ("data-dir", Some("ETCDBAK_RESTORE_DATA_DIR")),
            Setting::VolumeMountPath => (
                "volume-mount-path",
                Some("ETCDBAK_RESTORE_VOLUME_MOUNT_PATH"),
            ),
            Setting::CronJob => ("cronjob", Some("ETCDBAK_RESTORE_CRONJOB")),
            Setting::Owner => ("owner", Some("ETCDBAK_RESTORE_OWNER")),
            Setting::ApiServer => ("apiserver", Some("ETCDBAK_RESTORE_APISERVER")),
            Setting::RestoreSnapshot => ("snapshot", Some("ETCDBAK_RESTORE_SNAPSHOT")),
            Setting::Listen => ("listen", Some("ETCDBAK_EXPORTER_LISTEN")),
            Setting::ProbeAllow => ("probe-allow", Some("ETCDBAK_EXPORTER_PROBE_ALLOW")),
            Setting::MetricsAddr => ("metrics-addr", Some("ETCDBAK_METRICS_ADDR")),
            Setting::PruneAll => ("all", None),
            Setting::Identity => ("identity", Some("ETCDBAK_IDENTITY")),
            Setting::WithEtcdutl => ("with-etcdutl", None),
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (flag, env) = self.flag_and_env();
        match env {
            Some(env) if f.alternate() => write!(f, "--{flag} (or {env})"),
            _ => write!(f, "--{flag}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every (flag, variable) pair a setting names, as some command defines it.
    fn defined(cmd: &clap::Command, out: &mut Vec<(String, Option<String>)>) {
        for a in cmd.get_arguments() {
            if let Some(long) = a.get_long() {
                let env = a.get_env().map(|e| e.to_string_lossy().into_owned());
                out.push((long.to_string(), env));
            }
        }
        for sub in cmd.get_subcommands() {
            defined(sub, out);
        }
    }

    #[test]
    fn every_setting_a_message_names_is_a_flag_with_that_variable() {
        let mut flags = Vec::new();
        defined(&crate::cli::Cli::command(), &mut flags);
        let missing: Vec<_> = Setting::ALL
            .iter()
            .map(|s| (s, s.flag_and_env()))
            .filter(|(_, (flag, env))| {
                !flags.contains(&(flag.to_string(), env.map(str::to_string)))
            })
            .collect();
        assert!(missing.is_empty(), "no command defines these: {missing:?}");
    }

    #[test]
    fn a_setting_reads_as_its_flag_and_with_alternate_as_its_variable_too() {
        assert_eq!(Setting::EtcdCa.to_string(), "--cacert");
        assert_eq!(
            format!("{:#}", Setting::Cluster),
            "--cluster (or ETCDBAK_CLUSTER)"
        );
        assert_eq!(format!("{:#}", Setting::PruneAll), "--all");
    }
}
