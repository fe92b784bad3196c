//! The fleet the dashboard is shown: real etcd, MinIO, kube-apiserver, `etcdbak watch`, `etcdbak
//! s3-exporter`, a real continuous-backup follower and a real Prometheus scraping the two servers every
//! second. Five Clusters, each in one state a person looks at the dashboard for:
//!
//! - `healthy`: fresh backups, verified an hour ago, continuous backup following;
//! - `stale`: backups from two and three hours ago (the bucket's own LastModified, backdated in MinIO);
//! - `failing`: its newest backup Job and its newest verification Job failed;
//! - `unverified`: fresh backups, last verified three days ago;
//! - `misconfigured`: names a TLS Secret that does not exist, so it has no CronJob and no backup, and every
//!   reconcile of it fails (the controller-health panels' errors).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etcdbak::crd::{Cluster, ContinuousSpec};
use etcdbak::naming;
use k8s_openapi::api::batch::v1::CronJob;
use kube::api::{Api, Patch, PatchParams};
use kube::Client;

use crate::common::controller::{config_file, create_cluster, new_cluster, tenant, JOB_NS};
use crate::common::etcd::EtcdCluster;
use crate::common::jobs::{create_run, finish_job_took};
use crate::common::kube::rig;
use crate::common::minio::Minio;
use crate::common::prometheus::{Prometheus, Scrape};
use crate::common::watch::{log_tail, start_watch, Watcher};
use crate::common::{etcdbak, free_port, wait_until, Proc};

pub const HEALTHY: &str = "healthy";
pub const STALE: &str = "stale";
pub const FAILING: &str = "failing";
pub const UNVERIFIED: &str = "unverified";
pub const MISCONFIGURED: &str = "misconfigured";
/// The Clusters with backups in the bucket.
pub const BACKED_UP: [&str; 4] = [HEALTHY, STALE, FAILING, UNVERIFIED];
pub const ALL: [&str; 5] = [HEALTHY, STALE, FAILING, UNVERIFIED, MISCONFIGURED];
/// The test config's defaultSchedule, `H/20 * * * *`, runs every 20 minutes.
pub const INTERVAL_SECONDS: f64 = 1200.0;
/// The bucket prefix every etcdbak command here uses.
pub const PREFIX: &str = "etcdbak";
const TENANT: &str = "tenant-dash";
const HOUR: u64 = 3600;

pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs_f64()
}

/// The Job runs each Cluster's CronJobs made, oldest first: (succeeded, finished this long ago).
fn backup_runs(cluster: &str) -> Vec<(bool, Duration)> {
    let s = Duration::from_secs;
    match cluster {
        HEALTHY => vec![(true, s(60))],
        STALE => vec![(true, s(2 * HOUR))],
        FAILING => vec![(true, s(1800)), (false, s(60))],
        _ => vec![(true, s(120))],
    }
}

/// How long each Cluster's successful backup Jobs ran (whole seconds, as Job times are written).
pub fn backup_took(cluster: &str) -> Duration {
    Duration::from_secs(match cluster {
        HEALTHY => 40,
        STALE => 95,
        FAILING => 30,
        _ => 61,
    })
}

fn verify_runs(cluster: &str) -> Vec<(bool, Duration)> {
    let s = Duration::from_secs;
    match cluster {
        HEALTHY => vec![(true, s(HOUR))],
        STALE => vec![(true, s(3 * HOUR))],
        FAILING => vec![(true, s(20 * HOUR)), (false, s(600))],
        _ => vec![(true, s(72 * HOUR))],
    }
}

/// Fields drop in order: Prometheus and the etcdbak processes stop before the servers they read.
pub struct Fleet {
    pub prometheus: Prometheus,
    /// When Prometheus started scraping (Unix seconds).
    pub started: f64,
    /// When each backed-up Cluster's newest successful verification finished (Unix seconds).
    pub verified_at: BTreeMap<&'static str, f64>,
    /// The size of each backed-up Cluster's newest snapshot as `etcdbak snapshot` wrote it, before `store`
    /// compressed it.
    pub plain_sizes: BTreeMap<&'static str, u64>,
    _follower: Proc,
    _exporter: Proc,
    pub watch: Watcher,
    pub minio: Minio,
    _etcd: EtcdCluster,
    _scratch: tempfile::TempDir,
}

impl Fleet {
    pub fn start() -> Fleet {
        let scratch = tempfile::tempdir().expect("scratch dir");
        let minio = Minio::start();
        let etcd = EtcdCluster::start(1, false);
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        let kubeconfig = rig().kubeconfig.clone();
        let client = rt.block_on(async {
            let client = rig().client().await;
            tenant(&client, TENANT).await;
            client
        });
        let config = config_file(scratch.path(), "continuous:\n  interval: 1s\n");
        let watch = start_watch(&config, "dashboard-test", &scratch.path().join("watch.log"));
        let (exporter, exporter_addr) = start_exporter(&minio);
        let prometheus = Prometheus::start(&[
            Scrape {
                job: "etcdbak",
                target: watch.metrics.trim_start_matches("http://").to_string(),
            },
            Scrape {
                job: "etcdbak-s3-exporter",
                target: exporter_addr,
            },
        ]);
        let started = now();
        wait_until("both scrape targets up", Duration::from_secs(30), || {
            let up = prometheus.up(now());
            up.get("etcdbak") == Some(&1.0) && up.get("etcdbak-s3-exporter") == Some(&1.0)
        });

        rt.block_on(create_clusters(&client));
        let mut plain_sizes = BTreeMap::new();
        for (round, cluster) in BACKED_UP
            .iter()
            .cycle()
            .take(2 * BACKED_UP.len())
            .enumerate()
        {
            // More data before every backup, so sizes differ from one backup to the next.
            etcd.put_keys(&format!("round{round}/"), 300, 256);
            // The cycle's last backup of each Cluster is its newest.
            plain_sizes.insert(*cluster, backup(&etcd, &minio, cluster, scratch.path()));
        }
        backdate(&minio, STALE, &[3 * HOUR, 2 * HOUR]);
        let follower = start_follower(&minio, &etcd, &kubeconfig, scratch.path());
        let verified_at = rt.block_on(run_jobs(&client, &watch));
        Fleet {
            prometheus,
            started,
            verified_at,
            plain_sizes,
            _follower: follower,
            _exporter: exporter,
            watch,
            minio,
            _etcd: etcd,
            _scratch: scratch,
        }
    }
}

async fn create_clusters(client: &Client) {
    for name in ALL {
        let mut cluster: Cluster = new_cluster(name, TENANT);
        match name {
            HEALTHY => {
                cluster.spec.continuous = Some(ContinuousSpec {
                    enabled: Some(true),
                    interval: None,
                })
            }
            MISCONFIGURED => cluster.spec.tls_secret = Some("no-such-secret".into()),
            _ => {}
        }
        create_cluster(client, &cluster).await;
    }
}

fn s3_flags(minio: &Minio) -> Vec<String> {
    let mut args = minio.s3_args();
    args.extend(["--prefix".to_string(), PREFIX.to_string()]);
    args
}

/// `etcdbak snapshot` then `etcdbak store` (its default compression) of `cluster`; returns the snapshot
/// file's size.
fn backup(etcd: &EtcdCluster, minio: &Minio, cluster: &str, scratch: &Path) -> u64 {
    let dir = tempfile::tempdir_in(scratch).expect("a snapshot dir");
    crate::common::run_ok(
        etcdbak()
            .arg("snapshot")
            .args(etcd.etcdbak_args())
            .arg("--dir")
            .arg(dir.path())
            .args(["--cluster", cluster]),
    );
    let plain = std::fs::metadata(dir.path().join(etcdbak::backup::SNAPSHOT_FILE))
        .expect("the snapshot file")
        .len();
    crate::common::run_ok(
        minio.creds_env(
            etcdbak()
                .arg("store")
                .arg("--dir")
                .arg(dir.path())
                .args(["--cluster", cluster])
                .args(s3_flags(minio)),
        ),
    );
    plain
}

/// Gives the Cluster's backups, oldest first, the times `ago` (seconds before now).
fn backdate(minio: &Minio, cluster: &str, ago: &[u64]) {
    let mut keys: Vec<String> = minio
        .keys(&format!("{PREFIX}/{cluster}/"))
        .into_iter()
        .filter(|k| naming::parse_key(PREFIX, k).is_some())
        .collect();
    keys.sort();
    assert_eq!(keys.len(), ago.len(), "{cluster}'s backups: {keys:?}");
    for (key, ago) in keys.iter().zip(ago) {
        let at = chrono::Utc::now() - chrono::Duration::seconds(*ago as i64);
        minio.backdate(key, at);
    }
}

fn start_exporter(minio: &Minio) -> (Proc, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let proc = Proc::spawn(
        "etcdbak s3-exporter",
        minio.creds_env(
            etcdbak()
                .arg("s3-exporter")
                .args(["--listen", &addr])
                // The compression ratio panel reads the newest backups' metadata.
                .arg("--read-metadata")
                .args(s3_flags(minio))
                .stdout(Stdio::null()),
        ),
    );
    (proc, addr)
}

/// The healthy Cluster's follower, as its Deployment would run it: writes segments to MinIO and renews
/// its Lease, which the controller reads into the recovery point.
fn start_follower(minio: &Minio, etcd: &EtcdCluster, kubeconfig: &Path, scratch: &Path) -> Proc {
    let dir = scratch.join("follow");
    std::fs::create_dir_all(&dir).expect("the follower's dir");
    let log = std::fs::File::create(scratch.join("follow.log")).expect("the follower's log");
    let mut cmd = etcdbak();
    cmd.arg("follow")
        .args(etcd.etcdbak_args())
        .arg("--dir")
        .arg(&dir)
        .args(["--cluster", HEALTHY, "--interval", "1s"])
        .args(s3_flags(minio))
        .args(["--lease", &naming::follower_name(HEALTHY)])
        .args(["--lease-namespace", JOB_NS])
        .env("KUBECONFIG", kubeconfig)
        .env("POD_NAME", "follower-dashboard-test")
        .stdout(Stdio::null())
        .stderr(log);
    Proc::spawn("etcdbak follow", minio.creds_env(&mut cmd))
}

async fn wait_for_cron_job(client: &Client, name: &str, watch: &Watcher) -> CronJob {
    let api: Api<CronJob> = Api::namespaced(client.clone(), JOB_NS);
    for _ in 0..300 {
        if let Some(cj) = api.get_opt(name).await.expect("reading a CronJob") {
            return cj;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "the controller made no CronJob {name} within 60s\n{}",
        log_tail(&watch.log)
    );
}

/// Runs and finishes each backed-up Cluster's backup and verification Jobs as the CronJob and Job
/// controllers would, then writes the CronJobs' status (the controller reads a CronJob's Jobs only once it
/// was scheduled). Returns when each newest successful verification finished.
async fn run_jobs(client: &Client, watch: &Watcher) -> BTreeMap<&'static str, f64> {
    let mut verified_at = BTreeMap::new();
    for cluster in BACKED_UP {
        let backup = naming::cron_job_name(cluster);
        let verify = naming::verify_cron_job_name(cluster);
        let took = backup_took(cluster);
        run_cron_job(client, &backup, &backup_runs(cluster), took, true, watch).await;
        let runs = verify_runs(cluster);
        let at = run_cron_job(client, &verify, &runs, Duration::from_secs(5), false, watch).await;
        verified_at.insert(cluster, at);
    }
    verified_at
}

/// Returns when the newest successful run finished (Unix seconds).
async fn run_cron_job(
    client: &Client,
    name: &str,
    runs: &[(bool, Duration)],
    took: Duration,
    mirror_success: bool,
    watch: &Watcher,
) -> f64 {
    let cj = wait_for_cron_job(client, name, watch).await;
    for (i, (succeeded, ago)) in runs.iter().enumerate() {
        let job = format!("{name}-{}", 29_000_000 + 60 * i);
        create_run(client, &cj, &job).await;
        finish_job_took(client, JOB_NS, &job, *succeeded, *ago, took).await;
    }
    let ts = |ago: &Duration| {
        (chrono::Utc::now() - chrono::Duration::from_std(*ago).expect("a short duration"))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let newest = runs.last().expect("at least one run");
    let success = runs.iter().rev().find(|(ok, _)| *ok).expect("a success");
    let mut status = serde_json::json!({ "lastScheduleTime": ts(&newest.1) });
    if mirror_success {
        status["lastSuccessfulTime"] = ts(&success.1).into();
    }
    let api: Api<CronJob> = Api::namespaced(client.clone(), JOB_NS);
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": status })),
    )
    .await
    .unwrap_or_else(|e| panic!("writing the status of CronJob {name}: {e}"));
    now() - success.1.as_secs_f64()
}
