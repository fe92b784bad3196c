//! The `Cluster` custom resource (etcdbak.io/v1alpha1), generated from these types.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::naming::{CLUSTER_NAME_RULE, DNS_LABEL_PATTERN, DNS_SUBDOMAIN_PATTERN};
use crate::retention::{Policy, Within};

/// A cron line as Kubernetes takes it (five fields, or a shorthand such as `@daily`), with `H` allowed. The
/// reconciler checks the rest (ranges, `H` forms) and reports it as a condition.
const SCHEDULE_PATTERN: &str = r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|\s*[0-9A-Za-z*?,/()-]+(\s+[0-9A-Za-z*?,/()-]+){4}\s*)$";

/// An http(s) URL without `user:password@`: etcd is reached with the client certificate, and a password in
/// a Cluster would be copied into every backup pod's environment.
const ENDPOINT_PATTERN: &str = r"^https?://[^\s,/@]+(/.*)?$";

/// One etcd cluster to keep backed up. Cluster-scoped: the etcd itself lives in `spec.namespace`.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "etcdbak.io",
    version = "v1alpha1",
    kind = "Cluster",
    plural = "clusters",
    doc = "An etcd cluster that etcdbak keeps backed up: one backup CronJob per Cluster, and a cleanup of its backups when the Cluster is deleted.",
    // Not `etcdcluster`: that is the singular of the EtcdCluster kinds of etcd-operator and friends, which run
    // beside this on the clusters it serves, and kubectl would pick one of them.
    shortname = "etcdbak",
    status = "ClusterStatus",
    printcolumn = r#"{"name":"Namespace","type":"string","jsonPath":".spec.namespace"}"#,
    printcolumn = r#"{"name":"Schedule","type":"string","jsonPath":".status.schedule"}"#,
    printcolumn = r#"{"name":"Scheduled","type":"string","jsonPath":".status.conditions[?(@.type==\"BackupScheduled\")].status"}"#,
    printcolumn = r#"{"name":"Last Backup","type":"date","jsonPath":".status.lastSuccessfulTime"}"#,
    printcolumn = r#"{"name":"Recovery Point","type":"date","jsonPath":".status.recoveryPoint"}"#,
    printcolumn = r#"{"name":"Backup","type":"string","jsonPath":".status.conditions[?(@.type==\"BackupSucceeded\")].status","priority":1}"#,
    printcolumn = r#"{"name":"Verified","type":"string","jsonPath":".status.conditions[?(@.type==\"BackupVerified\")].status","priority":1}"#,
    printcolumn = r#"{"name":"CronJob","type":"string","jsonPath":".status.cronJobName","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    // The name becomes the backup prefix component and the Jobs' CLUSTER, which must be a DNS-1123 label
    // (naming::validate_cluster_name); refusing it here beats a CronJob that fails on every run.
    validation = kube::core::Rule::new(CLUSTER_NAME_RULE).message("a Cluster's name must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters (it names the backup prefix)")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.endpoints) != has(self.service)").message("give exactly one of spec.endpoints or spec.service"))]
pub struct ClusterSpec {
    /// Namespace the etcd cluster (its StatefulSet, Service and client TLS Secret) runs in.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL_PATTERN))]
    pub namespace: String,
    /// Client URLs, e.g. `https://etcd-0.etcd.ns.svc:2379`. Give these or `service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), inner(regex(pattern = ENDPOINT_PATTERN)))]
    pub endpoints: Option<Vec<String>>,
    /// A Service in `namespace` whose DNS name serves etcd's client port. Give this or `endpoints`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceRef>,
    /// A Secret in `namespace` with the etcd client TLS material: keys `ca.crt`, `tls.crt`, `tls.key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub tls_secret: Option<String>,
    /// Cron schedule overriding the controller default. `H` in the minute or hour field is replaced by a
    /// stable hash of the cluster name, so many clusters do not snapshot at the same moment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128), regex(pattern = SCHEDULE_PATTERN))]
    pub schedule: Option<String>,
    /// How many snapshots to keep (overrides the controller default, 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub keep: Option<u32>,
    /// Tiered retention for this cluster; replaces the controller's `retention` block as a whole. Its
    /// `keepLast` wins over `keep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionSpec>,
    /// Stop scheduling backups (the CronJob is kept, suspended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Overrides the controller's scheduled verification of this cluster's newest backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifySpec>,
    /// How this cluster's backups are compressed: `none`, `zstd` or `zstd:LEVEL` (1-19); default: the
    /// controller config's `compression` (zstd:1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = COMPRESSION_PATTERN))]
    pub compression: Option<String>,
    /// Client-side age encryption of this cluster's backups, on top of the controller config's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionSpec>,
    /// Continuous backup of this cluster (overrides the controller config's `continuous`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuous: Option<ContinuousSpec>,
    /// S3 Object Lock (WORM) on this cluster's backups, replacing the controller config's `objectLock`
    /// (docs/OBJECT-LOCK.md). The bucket must have Object Lock enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<ObjectLockSpec>,
}

impl ClusterSpec {
    /// A spec for an etcd cluster in `namespace` with every optional field unset (so the controller
    /// config's defaults apply); callers set `endpoints` or `service` and what else they mean.
    pub fn in_namespace(namespace: impl Into<String>) -> Self {
        ClusterSpec {
            namespace: namespace.into(),
            endpoints: None,
            service: None,
            tls_secret: None,
            schedule: None,
            keep: None,
            retention: None,
            suspend: None,
            verify: None,
            compression: None,
            encryption: None,
            continuous: None,
            object_lock: None,
        }
    }
}

/// Days, hours, minutes, seconds in that order (`30d`, `12h`, `1d12h`); the reconciler checks the 1s to
/// 36500d bound and reports it as a condition.
const RETAIN_PATTERN: &str = r"^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$";

/// Each backup is written locked: not even the store's own credentials can delete it before `retain` has
/// passed. Retention keeps a backup until its lock expires. Also the controller config's `objectLock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectLockSpec {
    /// `governance` (lifted only with s3:BypassGovernanceRetention) or `compliance` (by nobody).
    pub mode: ObjectLockMode,
    /// How long each backup stays locked from its upload: `30d`, `12h`, `1d12h`.
    #[schemars(length(min = 2, max = 32), regex(pattern = RETAIN_PATTERN))]
    pub retain: String,
}

/// The S3 Object Lock mode, as `etcdbak store --object-lock-mode` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ObjectLockMode {
    Governance,
    Compliance,
}

impl ObjectLockMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectLockMode::Governance => "governance",
            ObjectLockMode::Compliance => "compliance",
        }
    }
}

/// A Go-style duration of seconds, minutes or hours (`20s`, `1m`, `1m30s`); the reconciler checks the 1s to
/// 1h bound and reports it as a condition.
const INTERVAL_PATTERN: &str = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$";

/// Follow this cluster's etcd changes into segments between full backups (docs/CONTINUOUS.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContinuousSpec {
    /// `true` runs a follower for this cluster, `false` stops it (default: the controller config's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Close a segment this long after its first change (1s to 1h; default: the controller config's, 20s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 16), regex(pattern = INTERVAL_PATTERN))]
    pub interval: Option<String>,
}

/// `none`, `zstd`, or `zstd:` and a level from 1 to 19.
const COMPRESSION_PATTERN: &str = r"^(none|zstd(:([1-9]|1[0-9]))?)$";

/// An age X25519 recipient: `age1` and 58 bech32 characters. Never a secret key.
const RECIPIENT_PATTERN: &str = r"^age1[02-9ac-hj-np-z]{58}$";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionSpec {
    /// Extra age recipients (`age1…` public keys) for this cluster's backups, e.g. the tenant's own key.
    /// The config's recipients are always included, so the platform can still verify and restore.
    #[serde(default)]
    #[schemars(length(max = 16), inner(regex(pattern = RECIPIENT_PATTERN)))]
    pub recipients: Vec<String>,
}

/// A span for `keepWithin` as restic writes it: years, months, days, hours, in that order (`7d`, `36h`,
/// `1y2m`).
pub const WITHIN_PATTERN: &str = r"^([0-9]+y)?([0-9]+m)?([0-9]+d)?([0-9]+h)?$";

/// Which backups the store container's retention keeps (passed as `ETCDBAK_KEEP*`; docs/CONTRACT.md).
/// Unset counts are 0, except `keepLast`, which falls back to `spec.keep` and then the controller default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(KEEPS_SOMETHING_RULE).message("retention keeps nothing: with keepLast 0, set keepHourly, keepDaily, keepWeekly, keepMonthly or keepWithin above 0"))]
pub struct RetentionSpec {
    /// Keep the newest N backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10000))]
    pub keep_last: Option<u32>,
    /// Keep the newest backup of each of the N most recent hours that have one (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10000))]
    pub keep_hourly: Option<u32>,
    /// Keep the newest backup of each of the N most recent days that have one (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10000))]
    pub keep_daily: Option<u32>,
    /// Keep the newest backup of each of the N most recent ISO weeks that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10000))]
    pub keep_weekly: Option<u32>,
    /// Keep the newest backup of each of the N most recent months that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10000))]
    pub keep_monthly: Option<u32>,
    /// Keep every backup taken within this span of the newest one: `7d`, `36h`, `1y2m3d4h` (m is months).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 32), regex(pattern = WITHIN_PATTERN))]
    pub keep_within: Option<String>,
    /// Never leave fewer than N backups, whatever the rules say (at least one always stays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10000))]
    pub keep_min: Option<u32>,
}

impl RetentionSpec {
    /// The policy this block describes; `last` is the keep-last to use when `keepLast` is unset. The error
    /// names the field to fix.
    pub fn policy(&self, last: u32) -> Result<Policy, String> {
        let within = match &self.keep_within {
            Some(w) => w
                .parse::<Within>()
                .map_err(|e| format!("keepWithin: {e}"))?,
            None => Within::default(),
        };
        let policy = Policy {
            last: self.keep_last.unwrap_or(last),
            hourly: self.keep_hourly.unwrap_or(0),
            daily: self.keep_daily.unwrap_or(0),
            weekly: self.keep_weekly.unwrap_or(0),
            monthly: self.keep_monthly.unwrap_or(0),
            within,
            min: self.keep_min.unwrap_or(1),
        };
        policy.validate().map_err(|_| {
            "keeps nothing: with keepLast 0, set keepHourly, keepDaily, keepWeekly, keepMonthly or keepWithin above 0".to_string()
        })?;
        Ok(policy)
    }
}

/// An unset keepLast falls back to a positive count, so only an explicit 0 needs another rule.
pub const KEEPS_SOMETHING_RULE: &str = "!has(self.keepLast) || self.keepLast > 0 || (has(self.keepHourly) && self.keepHourly > 0) || (has(self.keepDaily) && self.keepDaily > 0) || (has(self.keepWeekly) && self.keepWeekly > 0) || (has(self.keepMonthly) && self.keepMonthly > 0) || (has(self.keepWithin) && self.keepWithin.matches('[1-9]'))";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifySpec {
    /// `false` turns scheduled verification off for this cluster (the controller default is on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Cron schedule of the verification, `H` allowed (the controller default is `H 4 * * *`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128), regex(pattern = SCHEDULE_PATTERN))]
    pub schedule: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRef {
    /// Service name in the Cluster's namespace.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL_PATTERN))]
    pub name: String,
    /// Client port; 2379 when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub port: Option<u16>,
    /// Use `http://` instead of `https://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// One entry per condition type (server-side apply merges them by `type`).
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The backup CronJob, `namespace/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_job_name: Option<String>,
    /// The effective schedule after `H` expansion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The last reconcile error, in one sentence; cleared on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When a backup Job last succeeded (RFC3339), mirrored from the backup CronJob's
    /// `status.lastSuccessfulTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_time: Option<String>,
    /// When a backup Job was last scheduled (RFC3339), mirrored from the backup CronJob's
    /// `status.lastScheduleTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<String>,
    /// The newest finished verification Job (the condition `BackupVerified` says the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verified: Option<LastVerified>,
    /// Continuous backup only: every change up to this time (RFC3339) is stored, as the follower's Lease
    /// said at the controller's last look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_point: Option<String>,
    /// Continuous backup only: the newest revision a stored segment (or full backup) holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_revision: Option<i64>,
}

/// How the newest verification ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastVerified {
    /// The verification Job, `namespace/name`; its logs name the backup it checked.
    pub job: String,
    /// When it finished (RFC3339).
    pub time: String,
    /// `Succeeded` or `Failed`.
    pub outcome: String,
}

/// A status condition (the shape of metav1.Condition, as a plain type so the schema stays structural).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// e.g. `BackupScheduled`, `BackupSucceeded`, `BackupVerified`, `ContinuousBackup`, `CleanupPending`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: String,
    pub message: String,
    pub last_transition_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The CRD as YAML, exactly what `etcdbak crd` prints.
/// The CRD as YAML. It is built from our own types, so serialising it should not fail; if it ever does,
/// the caller says so rather than print an empty CRD and succeed.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    use kube::CustomResourceExt;
    serde_yaml::to_string(&Cluster::crd())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crd_matches_snapshot() {
        insta::assert_snapshot!(crd_yaml().unwrap());
    }

    #[test]
    fn the_short_name_collides_with_no_well_known_resource() {
        use kube::CustomResourceExt;
        let crd = Cluster::crd();
        let names = &crd.spec.names;
        // Names kubectl resolves on the clusters this runs beside: Cluster API, CloudNativePG, etcd-operator,
        // etcd-druid, Kamaji, and the built-ins' short names.
        let taken = [
            "cluster",
            "clusters",
            "cl",
            "etcdcluster",
            "etcdclusters",
            "etcd",
            "etcds",
            "tcp",
            "cronjob",
            "cj",
            "job",
            "cm",
            "deploy",
            "sts",
            "ns",
            "po",
            "svc",
        ];
        for short in names.short_names.iter().flatten() {
            assert!(!taken.contains(&short.as_str()), "{short} collides");
        }
    }

    #[test]
    fn crd_carries_the_validation_the_apiserver_can_do() {
        let yaml = crd_yaml().unwrap();
        let crd: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(spec["required"], serde_json::json!(["namespace"]));
        assert_eq!(
            spec["x-kubernetes-validations"][0]["rule"],
            "has(self.endpoints) != has(self.service)"
        );
        let root = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        assert_eq!(
            root["x-kubernetes-validations"][0]["rule"],
            CLUSTER_NAME_RULE
        );
        assert_eq!(spec["properties"]["keep"]["minimum"], 1.0);
        assert_eq!(spec["properties"]["keep"]["maximum"], 10000.0);
        let retention = &spec["properties"]["retention"];
        assert_eq!(
            retention["x-kubernetes-validations"][0]["rule"],
            KEEPS_SOMETHING_RULE
        );
        for count in [
            "keepLast",
            "keepHourly",
            "keepDaily",
            "keepWeekly",
            "keepMonthly",
            "keepMin",
        ] {
            assert_eq!(retention["properties"][count]["minimum"], 0.0, "{count}");
        }
        assert_eq!(
            retention["properties"]["keepWithin"]["pattern"],
            WITHIN_PATTERN
        );
        let lock = &spec["properties"]["objectLock"];
        assert_eq!(lock["required"], serde_json::json!(["mode", "retain"]));
        assert_eq!(
            lock["properties"]["mode"]["enum"],
            serde_json::json!(["governance", "compliance"])
        );
        assert_eq!(lock["properties"]["retain"]["pattern"], RETAIN_PATTERN);
        assert_eq!(crd["spec"]["scope"], "Cluster");
        assert_eq!(
            crd["spec"]["versions"][0]["subresources"]["status"],
            serde_json::json!({})
        );
    }

    #[test]
    fn schema_patterns_accept_and_reject() {
        // The apiserver runs these as RE2; the patterns use only syntax RE2 and Rust's regex share.
        let check = |pattern: &str, good: &[&str], bad: &[&str]| {
            let re = regex::Regex::new(pattern).unwrap();
            for g in good {
                assert!(re.is_match(g), "{pattern} should accept {g:?}");
            }
            for b in bad {
                assert!(!re.is_match(b), "{pattern} should reject {b:?}");
            }
        };
        check(
            SCHEDULE_PATTERN,
            &[
                "H * * * *",
                "@daily",
                "*/5 1-3 * * MON-FRI",
                "H(0-29)/10 H * * *",
                " 0 0 1 1 * ",
            ],
            &[
                "",
                "* * * *",
                "0 * * * * *",
                "@every 5m",
                "every hour",
                "0 0 * * *; rm -rf /",
            ],
        );
        check(
            DNS_LABEL_PATTERN,
            &["etcd", "kube-system", "a1"],
            &["", "Etcd", "-etcd", "etcd-", "a.b", "a_b"],
        );
        check(
            DNS_SUBDOMAIN_PATTERN,
            &["etcd-client-tls", "tls.etcd"],
            &["", "TLS", "a..b", ".a", "a_b"],
        );
        check(
            ENDPOINT_PATTERN,
            &[
                "https://etcd-0.etcd.ns.svc:2379",
                "http://10.0.0.1:2379",
                "https://[::1]:2379",
            ],
            &[
                "etcd:2379",
                "https://",
                "https://a:1,https://b:2",
                "ftp://x",
                "https://a b",
                "https://root:secret@etcd:2379",
            ],
        );
        check(
            RETAIN_PATTERN,
            &["30d", "12h", "1d12h", "90s", "1d2h3m4s"],
            &["30", "1w", "12h1d", "1y", "-1d", "30d "],
        );
        check(
            WITHIN_PATTERN,
            &["7d", "36h", "1y2m3d4h", "2m"],
            &["7", "d7", "7days", "1h2d", "-1d", "7d "],
        );
        // Everything the schedule pattern accepts in the table above is also judged by the reconciler.
        for ok in [
            "H * * * *",
            "@daily",
            "*/5 1-3 * * MON-FRI",
            "H(0-29)/10 H * * *",
        ] {
            assert!(crate::schedule::expand(ok, "c").is_ok(), "{ok}");
        }
    }
}
