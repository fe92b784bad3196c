//! The controller's Prometheus metrics.
//!
//! The names are a contract: the alert rules (charts/etcdbak/templates/prometheusrule.yaml, docs/ALERTS.md)
//! and the Grafana dashboard (monitoring/dashboard.json, docs/DASHBOARD.md) are written against them. Per-cluster series exist only for Clusters the leader has reconciled and are
//! removed when a Cluster is gone, so a standby replica exports `etcdbak_leader 0` and no cluster series.

use std::collections::BTreeMap;
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabels {
    pub cluster: String,
}

/// What the controller last saw of one Cluster; the per-cluster gauges are derived from it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterState {
    pub cronjob_present: bool,
    /// The longest gap between two scheduled backups, when the schedule is valid.
    pub backup_interval_seconds: Option<f64>,
    pub suspended: bool,
    /// Unix seconds of `metadata.deletionTimestamp` while the cleanup is pending.
    pub deletion_timestamp_seconds: Option<f64>,
    /// Unix seconds of the backup CronJob's `status.lastSuccessfulTime`.
    pub last_success_seconds: Option<f64>,
    /// How long the newest successful backup Job ran (`completionTime - startTime`).
    pub backup_job_seconds: Option<f64>,
    /// The newest finished backup Job failed.
    pub backup_failing: bool,
    /// `None` while verification is off; else whether the newest finished verification Job failed.
    pub verification_failing: Option<bool>,
    /// Unix seconds the newest successful verification Job finished.
    pub last_verified_seconds: Option<f64>,
    /// `None` while continuous backup is off.
    pub continuous: Option<ContinuousState>,
}

/// What the follower's Lease said at the last reconcile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContinuousState {
    /// Unix seconds up to which every change is stored; `None` until the follower first caught up.
    pub recovery_point_seconds: Option<f64>,
    /// Gaps the follower has reported.
    pub gaps: u64,
    /// The ContinuousBackup condition is True.
    pub ok: bool,
    /// The segment interval, for judging a fresher Lease between reconciles.
    pub interval: std::time::Duration,
}

type GaugeF64 = Gauge<f64, std::sync::atomic::AtomicU64>;

/// The per-Cluster series, all labelled `cluster`.
#[derive(Default)]
struct ClusterFamilies {
    cronjob_present: Family<ClusterLabels, Gauge>,
    backup_interval: Family<ClusterLabels, GaugeF64>,
    suspended: Family<ClusterLabels, Gauge>,
    deletion_timestamp: Family<ClusterLabels, GaugeF64>,
    last_success: Family<ClusterLabels, GaugeF64>,
    backup_job_duration: Family<ClusterLabels, GaugeF64>,
    backup_failing: Family<ClusterLabels, Gauge>,
    verification_failing: Family<ClusterLabels, Gauge>,
    last_verified: Family<ClusterLabels, GaugeF64>,
    recovery_point: Family<ClusterLabels, GaugeF64>,
    continuous_gaps: Family<ClusterLabels, Gauge>,
    continuous_ok: Family<ClusterLabels, Gauge>,
}

impl ClusterFamilies {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "cluster_cronjob_present",
            "1 when the Cluster's backup CronJob exists, 0 when it could not be created",
            self.cronjob_present.clone(),
        );
        registry.register_with_unit(
            "cluster_backup_interval",
            "Longest gap between two scheduled backups of the Cluster",
            Unit::Seconds,
            self.backup_interval.clone(),
        );
        registry.register(
            "cluster_suspended",
            "1 when the Cluster's backups are suspended (spec.suspend)",
            self.suspended.clone(),
        );
        registry.register(
            "cluster_deletion_timestamp_seconds",
            "Unix time the Cluster was deleted, present while its cleanup is pending",
            self.deletion_timestamp.clone(),
        );
        registry.register(
            "cluster_last_success_timestamp_seconds",
            "Unix time the Cluster's last backup Job succeeded (the CronJob's lastSuccessfulTime)",
            self.last_success.clone(),
        );
        registry.register_with_unit(
            "cluster_backup_job_duration",
            "How long the Cluster's newest successful backup Job ran (completionTime - startTime: pod start, snapshot, upload, retention)",
            Unit::Seconds,
            self.backup_job_duration.clone(),
        );
        registry.register(
            "cluster_backup_failing",
            "1 when the Cluster's newest finished backup Job failed, 0 when it succeeded or none finished yet",
            self.backup_failing.clone(),
        );
        registry.register(
            "cluster_verification_failing",
            "1 when the Cluster's newest finished verification Job failed, 0 otherwise; absent while verification is off",
            self.verification_failing.clone(),
        );
        registry.register(
            "cluster_last_verified_timestamp_seconds",
            "Unix time the Cluster's newest successful verification Job finished",
            self.last_verified.clone(),
        );
        registry.register(
            "cluster_recovery_point_timestamp_seconds",
            "Continuous backup: Unix time up to which every change of the Cluster is stored (from its follower's Lease)",
            self.recovery_point.clone(),
        );
        registry.register(
            "cluster_continuous_gaps",
            "Continuous backup: gaps the Cluster's follower has reported (changes etcd compacted before they were stored); only rises",
            self.continuous_gaps.clone(),
        );
        registry.register(
            "cluster_continuous_ok",
            "Continuous backup: 1 when the Cluster's ContinuousBackup condition is True; absent while continuous backup is off",
            self.continuous_ok.clone(),
        );
    }

    fn set(&self, labels: &ClusterLabels, state: &ClusterState) {
        self.cronjob_present
            .get_or_create(labels)
            .set(i64::from(state.cronjob_present));
        self.suspended
            .get_or_create(labels)
            .set(i64::from(state.suspended));
        self.backup_failing
            .get_or_create(labels)
            .set(i64::from(state.backup_failing));
        match state.verification_failing {
            Some(failing) => {
                self.verification_failing
                    .get_or_create(labels)
                    .set(i64::from(failing));
            }
            None => {
                self.verification_failing.remove(labels);
            }
        }
        self.set_continuous(labels, state.continuous.as_ref());
        for (family, value) in [
            (&self.last_verified, state.last_verified_seconds),
            (&self.backup_interval, state.backup_interval_seconds),
            (&self.deletion_timestamp, state.deletion_timestamp_seconds),
            (&self.last_success, state.last_success_seconds),
            (&self.backup_job_duration, state.backup_job_seconds),
        ] {
            match value {
                Some(v) => {
                    family.get_or_create(labels).set(v);
                }
                None => {
                    family.remove(labels);
                }
            }
        }
    }

    fn set_continuous(&self, labels: &ClusterLabels, state: Option<&ContinuousState>) {
        let Some(c) = state else {
            self.continuous_gaps.remove(labels);
            self.continuous_ok.remove(labels);
            self.recovery_point.remove(labels);
            return;
        };
        self.continuous_gaps
            .get_or_create(labels)
            .set(i64::try_from(c.gaps).unwrap_or(i64::MAX));
        self.continuous_ok
            .get_or_create(labels)
            .set(i64::from(c.ok));
        match c.recovery_point_seconds {
            Some(v) => {
                self.recovery_point.get_or_create(labels).set(v);
            }
            None => {
                self.recovery_point.remove(labels);
            }
        }
    }

    fn remove(&self, labels: &ClusterLabels) {
        self.set_continuous(labels, None);
        self.cronjob_present.remove(labels);
        self.suspended.remove(labels);
        self.backup_interval.remove(labels);
        self.deletion_timestamp.remove(labels);
        self.last_success.remove(labels);
        self.backup_job_duration.remove(labels);
        self.backup_failing.remove(labels);
        self.verification_failing.remove(labels);
        self.last_verified.remove(labels);
    }
}

pub struct Metrics {
    registry: Registry,
    reconcile_total: Family<ResultLabels, Counter>,
    reconcile_errors_total: Family<ReasonLabels, Counter>,
    reconcile_duration: Histogram,
    clusters_managed: Gauge,
    cleanups_pending: Gauge,
    cluster: ClusterFamilies,
    leader: Gauge,
    reconciles_in_flight: Gauge,
    not_converged: Gauge,
    /// Counts the Clusters not yet converged, from the Controller's cache, at each scrape.
    backlog: Mutex<Option<BacklogCount>>,
    clusters: Mutex<BTreeMap<String, ClusterState>>,
}

/// How the controller counts its backlog when asked (a closure over its reflector store).
pub type BacklogCount = Box<dyn Fn() -> usize + Send + Sync>;

/// A reconcile running; dropping it (however the reconcile ended) takes it off the in-flight gauge.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("etcdbak");
        let reconcile_total = Family::<ResultLabels, Counter>::default();
        registry.register(
            "reconcile",
            "Reconcile runs by result (success or error)",
            reconcile_total.clone(),
        );
        let reconcile_errors_total = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "reconcile_errors",
            "Failed reconciles by reason (e.g. InvalidSchedule, MissingSecret, KubeApi)",
            reconcile_errors_total.clone(),
        );
        let reconcile_duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]);
        registry.register_with_unit(
            "reconcile_duration",
            "Time one reconcile of one Cluster took",
            Unit::Seconds,
            reconcile_duration.clone(),
        );
        let clusters_managed = Gauge::default();
        registry.register(
            "clusters_managed",
            "Cluster resources the controller currently manages",
            clusters_managed.clone(),
        );
        let cleanups_pending = Gauge::default();
        registry.register(
            "cleanups_pending",
            "Deleted Clusters whose backup cleanup has not finished (finalizer still present)",
            cleanups_pending.clone(),
        );
        let cluster = ClusterFamilies::default();
        cluster.register(&mut registry);
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 on the replica that holds the leader Lease and reconciles",
            leader.clone(),
        );
        let reconciles_in_flight = Gauge::default();
        registry.register(
            "reconciles_in_flight",
            "Reconciles running now (at most watch's --concurrency)",
            reconciles_in_flight.clone(),
        );
        let not_converged = Gauge::default();
        registry.register(
            "clusters_not_converged",
            "Clusters (not being deleted) whose current spec no reconcile has finished yet: metadata.generation is not status.observedGeneration, counted from the controller's cache at each scrape (0 on a standby)",
            not_converged.clone(),
        );
        Metrics {
            registry,
            reconciles_in_flight,
            not_converged,
            backlog: Mutex::new(None),
            reconcile_total,
            reconcile_errors_total,
            reconcile_duration,
            clusters_managed,
            cleanups_pending,
            cluster,
            leader,
            clusters: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn reconciled(&self, seconds: f64, error_reason: Option<&'static str>) {
        self.reconcile_duration.observe(seconds);
        let result = if error_reason.is_some() {
            "error"
        } else {
            "success"
        };
        self.reconcile_total
            .get_or_create(&ResultLabels { result })
            .inc();
        if let Some(reason) = error_reason {
            self.reconcile_errors_total
                .get_or_create(&ReasonLabels { reason })
                .inc();
        }
    }

    /// Counts a reconcile as running until the returned guard is dropped.
    pub fn reconcile_started(&self) -> InFlight {
        self.reconciles_in_flight.inc();
        InFlight(self.reconciles_in_flight.clone())
    }

    /// From now on each scrape sets `etcdbak_clusters_not_converged` from `count`; `None` stops (a
    /// replica that lost the Lease has no cache to count from) and reports 0.
    pub fn count_backlog_with(&self, count: Option<BacklogCount>) {
        if count.is_none() {
            self.not_converged.set(0);
        }
        *self.backlog.lock().unwrap_or_else(|e| e.into_inner()) = count;
    }

    fn refresh_backlog(&self) {
        let backlog = self.backlog.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = backlog.as_ref() {
            self.not_converged
                .set(i64::try_from(count()).unwrap_or(i64::MAX));
        }
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Records what the controller now knows of `cluster`; unknown parts keep their last value.
    pub fn update_cluster(&self, cluster: &str, change: impl FnOnce(&mut ClusterState)) {
        let mut clusters = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        let state = clusters.entry(cluster.to_string()).or_default();
        change(state);
        let labels = ClusterLabels {
            cluster: cluster.to_string(),
        };
        self.cluster.set(&labels, state);
        self.refresh_totals(&clusters);
    }

    /// Like [`Metrics::update_cluster`], for a Cluster already known with continuous backup on; others
    /// are left alone (a Lease of a deleted Cluster must not bring its series back).
    pub fn update_continuous(&self, cluster: &str, change: impl FnOnce(&mut ContinuousState)) {
        let mut clusters = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        let Some(state) = clusters.get_mut(cluster) else {
            return;
        };
        let Some(c) = state.continuous.as_mut() else {
            return;
        };
        change(c);
        let labels = ClusterLabels {
            cluster: cluster.to_string(),
        };
        self.cluster.set(&labels, state);
    }

    /// The Cluster is gone (finalizer removed, or deleted while we were not looking): drop its series.
    pub fn forget_cluster(&self, cluster: &str) {
        let mut clusters = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        clusters.remove(cluster);
        let labels = ClusterLabels {
            cluster: cluster.to_string(),
        };
        self.cluster.remove(&labels);
        self.refresh_totals(&clusters);
    }

    /// Forgets every Cluster not in `live` (for a full pass that saw the whole list).
    pub fn retain_clusters(&self, live: &std::collections::BTreeSet<String>) {
        let known: Vec<String> = {
            let clusters = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
            clusters.keys().cloned().collect()
        };
        for name in known.iter().filter(|n| !live.contains(*n)) {
            self.forget_cluster(name);
        }
    }

    fn refresh_totals(&self, clusters: &BTreeMap<String, ClusterState>) {
        self.clusters_managed.set(clusters.len() as i64);
        let pending = clusters
            .values()
            .filter(|c| c.deletion_timestamp_seconds.is_some())
            .count();
        self.cleanups_pending.set(pending as i64);
    }

    /// OpenMetrics text, for scrapers that ask for it.
    pub fn encode_openmetrics(&self) -> String {
        self.refresh_backlog();
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The classic Prometheus text format (0.0.4), for everything else.
    pub fn encode_prometheus(&self) -> String {
        openmetrics_to_prometheus(&self.encode_openmetrics())
    }
}

pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// OpenMetrics names a counter family without `_total` (`# TYPE etcdbak_reconcile counter`) and has
/// `# UNIT`/`# EOF` lines; the 0.0.4 text format names the family like its samples and has neither.
/// Parsers of the old format (promtool's linter among them) otherwise see a sample-less counter family
/// and an untyped `_total` one.
pub fn openmetrics_to_prometheus(text: &str) -> String {
    let mut counters = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some(name) = rest.strip_suffix(" counter") {
                counters.insert(name.to_string());
            }
        }
    }
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(l) => out.push_str(&l),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_the_contracted_names() {
        let m = Metrics::new();
        m.reconciled(0.01, None);
        m.reconciled(0.02, Some("InvalidSchedule"));
        m.set_leader(true);
        m.update_cluster("a", |s| {
            s.cronjob_present = true;
            s.backup_interval_seconds = Some(1200.0);
        });
        m.update_cluster("b", |s| s.deletion_timestamp_seconds = Some(1.7e9));
        let text = m.encode_prometheus();
        for want in [
            "# TYPE etcdbak_reconcile_total counter",
            "etcdbak_reconcile_total{result=\"success\"} 1",
            "etcdbak_reconcile_total{result=\"error\"} 1",
            "etcdbak_reconcile_errors_total{reason=\"InvalidSchedule\"} 1",
            "# TYPE etcdbak_reconcile_duration_seconds histogram",
            "etcdbak_reconcile_duration_seconds_count 2",
            "etcdbak_clusters_managed 2",
            "etcdbak_cleanups_pending 1",
            "etcdbak_cluster_cronjob_present{cluster=\"a\"} 1",
            "etcdbak_cluster_cronjob_present{cluster=\"b\"} 0",
            "etcdbak_cluster_backup_interval_seconds{cluster=\"a\"} 1200.0",
            "etcdbak_cluster_suspended{cluster=\"a\"} 0",
            "etcdbak_cluster_deletion_timestamp_seconds{cluster=\"b\"} 1700000000.0",
            "etcdbak_leader 1",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
        assert!(text.contains("etcdbak_reconciles_in_flight 0"), "{text}");
        assert!(text.contains("etcdbak_clusters_not_converged 0"), "{text}");
        assert!(!text.contains("# EOF"));
        assert!(!text.contains("etcdbak_cluster_backup_interval_seconds{cluster=\"b\"}"));

        m.forget_cluster("b");
        let text = m.encode_prometheus();
        assert!(!text.contains("cluster=\"b\""), "{text}");
        assert!(text.contains("etcdbak_cleanups_pending 0"));
        assert!(text.contains("etcdbak_clusters_managed 1"));
    }

    #[test]
    fn the_backup_jobs_duration_is_per_cluster_and_goes_with_it() {
        let m = Metrics::new();
        m.update_cluster("a", |s| s.backup_job_seconds = Some(42.0));
        m.update_cluster("b", |s| s.cronjob_present = true);
        let text = m.encode_prometheus();
        assert!(text.contains("# TYPE etcdbak_cluster_backup_job_duration_seconds gauge"));
        assert!(text.contains("etcdbak_cluster_backup_job_duration_seconds{cluster=\"a\"} 42.0"));
        assert!(!text.contains("etcdbak_cluster_backup_job_duration_seconds{cluster=\"b\"}"));
        m.forget_cluster("a");
        assert!(!m
            .encode_prometheus()
            .contains("backup_job_duration_seconds{"));
    }

    #[test]
    fn in_flight_reconciles_are_counted_until_they_end_however_they_end() {
        let m = Metrics::new();
        let a = m.reconcile_started();
        let b = m.reconcile_started();
        assert!(m
            .encode_prometheus()
            .contains("etcdbak_reconciles_in_flight 2"));
        drop(a);
        let cancelled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _c = m.reconcile_started();
            panic!("a reconcile that panics");
        }));
        assert!(cancelled.is_err());
        assert!(m
            .encode_prometheus()
            .contains("etcdbak_reconciles_in_flight 1"));
        drop(b);
        assert!(m
            .encode_prometheus()
            .contains("etcdbak_reconciles_in_flight 0"));
    }

    #[test]
    fn the_backlog_is_counted_at_each_scrape() {
        let m = Metrics::new();
        let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(3));
        let source = n.clone();
        m.count_backlog_with(Some(Box::new(move || {
            source.load(std::sync::atomic::Ordering::Relaxed)
        })));
        assert!(m
            .encode_prometheus()
            .contains("etcdbak_clusters_not_converged 3"));
        n.store(1, std::sync::atomic::Ordering::Relaxed);
        assert!(m
            .encode_openmetrics()
            .contains("etcdbak_clusters_not_converged 1"));
        m.count_backlog_with(None);
        assert!(m
            .encode_prometheus()
            .contains("etcdbak_clusters_not_converged 0"));
    }
}
