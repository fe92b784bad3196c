//! Monitoring: the alert rules (promtool), the charts (helm), and the S3 exporter against a real MinIO.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::etcd::EtcdCluster;
use common::minio::Minio;
use common::{etcdbak, free_port, rig_bin, wait_until, Proc};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn alert_rules_are_valid_and_their_unit_tests_pass() {
    let dir = repo().join("monitoring");
    let out = common::run_ok(Command::new(rig_bin("promtool")).current_dir(&dir).args([
        "check",
        "rules",
        "alerts.yaml",
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SUCCESS"), "{text}");

    let mut tests: Vec<PathBuf> = std::fs::read_dir(dir.join("tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    tests.sort();
    assert!(
        tests.len() >= 2,
        "expected rule test files in monitoring/tests"
    );
    common::run_ok(
        Command::new(rig_bin("promtool"))
            .current_dir(&dir)
            .args(["test", "rules"])
            .args(&tests),
    );
}

/// Every alert in the rules file has a unit test that shows it firing (a non-empty `exp_alerts`) and one that
/// shows it silent (an empty one), so a rule cannot be added untested.
#[test]
fn every_alert_is_tested_firing_and_silent() {
    let rules: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo().join("monitoring/alerts.yaml")).unwrap(),
    )
    .unwrap();
    let mut alerts = Vec::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let name = rule["alert"].as_str().unwrap().to_string();
            for key in ["summary", "description", "runbook_url"] {
                assert!(
                    rule["annotations"][key]
                        .as_str()
                        .is_some_and(|s| !s.is_empty()),
                    "{name} has no {key}"
                );
            }
            assert!(
                rule["labels"]["severity"].is_string(),
                "{name} has no severity"
            );
            let anchor = rule["annotations"]["runbook_url"].as_str().unwrap();
            assert!(
                anchor.ends_with(&format!("docs/ALERTS.md#{}", name.to_lowercase())),
                "{name}: runbook_url {anchor} does not point at its docs/ALERTS.md anchor"
            );
            alerts.push(name);
        }
    }
    let docs = std::fs::read_to_string(repo().join("docs/ALERTS.md")).unwrap();

    let mut firing: BTreeMap<String, bool> = BTreeMap::new();
    let mut silent: BTreeMap<String, bool> = BTreeMap::new();
    for entry in std::fs::read_dir(repo().join("monitoring/tests")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        for test in doc["tests"].as_sequence().unwrap() {
            for case in test["alert_rule_test"].as_sequence().unwrap_or(&Vec::new()) {
                let name = case["alertname"].as_str().unwrap().to_string();
                let empty = case["exp_alerts"]
                    .as_sequence()
                    .is_none_or(|s| s.is_empty());
                if empty {
                    silent.insert(name, true);
                } else {
                    firing.insert(name, true);
                }
            }
        }
    }
    for name in &alerts {
        assert!(
            firing.contains_key(name),
            "{name} is never shown firing in monitoring/tests"
        );
        assert!(
            silent.contains_key(name),
            "{name} is never shown silent in monitoring/tests"
        );
        assert!(
            docs.contains(&format!("## {name}")),
            "docs/ALERTS.md has no `## {name}` section for the runbook link"
        );
    }
}

fn charts() -> Vec<PathBuf> {
    let mut charts: Vec<PathBuf> = std::fs::read_dir(repo().join("charts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Chart.yaml").exists())
        .collect();
    charts.sort();
    charts
}

/// The values files a chart is tested with: its ci/*-values.yaml, or its defaults when it has none.
fn values_files(chart: &Path) -> Vec<Option<PathBuf>> {
    let mut files: Vec<Option<PathBuf>> = std::fs::read_dir(chart.join("ci"))
        .map(|rd| {
            rd.map(|e| e.unwrap().path())
                .filter(|p| p.to_string_lossy().ends_with("-values.yaml"))
                .map(Some)
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    if files.is_empty() {
        files.push(None);
    }
    files
}

fn helm(chart: &Path, verb: &str, values: &Option<PathBuf>) -> Output {
    let mut cmd = Command::new(rig_bin("helm"));
    cmd.arg(verb);
    if verb == "template" {
        cmd.args(["release", "--namespace", "etcdbak-test"]);
    }
    cmd.arg(chart);
    if verb == "lint" {
        cmd.args(["--strict", "--quiet"]);
    }
    if let Some(v) = values {
        cmd.arg("--values").arg(v);
    }
    // helm keeps caches and config under HOME; keep the test's out of the user's.
    let home = tempfile::tempdir().unwrap();
    cmd.env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_DATA_HOME", home.path().join("data"));
    common::run_ok(&mut cmd)
}

#[test]
fn every_chart_lints_and_templates() {
    let charts = charts();
    let names: Vec<_> = charts
        .iter()
        .map(|c| c.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in ["minio", "s3-exporter"] {
        assert!(names.iter().any(|n| n == want), "charts/{want} is missing");
    }
    for chart in &charts {
        for values in values_files(chart) {
            helm(chart, "lint", &values);
            let out = helm(chart, "template", &values);
            let text = String::from_utf8(out.stdout).unwrap();
            let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&text)
                .map(|d| serde::Deserialize::deserialize(d).unwrap())
                .filter(|v: &serde_yaml::Value| !v.is_null())
                .collect();
            assert!(!docs.is_empty(), "{} rendered nothing", chart.display());
            for d in &docs {
                assert!(
                    d["kind"].is_string() && d["metadata"]["name"].is_string(),
                    "{}: a rendered document lacks kind or name: {d:?}",
                    chart.display()
                );
            }
        }
    }
}

#[test]
fn minio_chart_renders_statefulset_pvc_secret_and_bucket_job() {
    let chart = repo().join("charts/minio");
    let out = helm(&chart, "template", &None);
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    for want in ["StatefulSet", "Service", "Secret", "Job"] {
        assert!(kinds.contains(&want), "no {want} in {kinds:?}");
    }
    let sts = docs.iter().find(|d| d["kind"] == "StatefulSet").unwrap();
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
        "20Gi"
    );
    // A generated password is one password, under MinIO's names and under the AWS_* names etcdbak reads.
    let secret = docs.iter().find(|d| d["kind"] == "Secret").unwrap();
    assert_eq!(
        secret["data"]["rootPassword"],
        secret["data"]["AWS_SECRET_ACCESS_KEY"]
    );
    assert_eq!(
        secret["data"]["rootUser"],
        secret["data"]["AWS_ACCESS_KEY_ID"]
    );
    let job = docs.iter().find(|d| d["kind"] == "Job").unwrap();
    let script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
        .as_str()
        .unwrap();
    assert!(
        script.contains("mc mb --ignore-existing \"target/etcd-backups\""),
        "{script}"
    );

    // With an existing Secret the chart creates none, and both pods read the given one.
    let out = helm(
        &chart,
        "template",
        &Some(chart.join("ci/existing-secret-values.yaml")),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("kind: Secret"), "{text}");
    assert_eq!(text.matches("name: minio-root").count(), 4, "{text}");
}

/// Renders charts/etcdbak with `--set` pairs, only templates/prometheusrule.yaml when `only_rule`.
fn render_etcdbak(sets: &[&str], only_rule: bool) -> Vec<u8> {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(rig_bin("helm"));
    cmd.args(["template", "release"])
        .arg(repo().join("charts/etcdbak"))
        .args(["--namespace", "etcdbak-test"])
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_DATA_HOME", home.path().join("data"));
    if only_rule {
        cmd.args(["--show-only", "templates/prometheusrule.yaml"]);
    }
    for s in sets {
        cmd.args(["--set", s]);
    }
    common::run_ok(&mut cmd).stdout
}

fn render_prometheus_rule(sets: &[&str]) -> Vec<u8> {
    render_etcdbak(sets, true)
}

fn kinds(yaml: &[u8]) -> Vec<String> {
    serde_yaml::Deserializer::from_slice(yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter_map(|v: serde_yaml::Value| v["kind"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn etcdbak_chart_carries_minio_and_the_exporter_as_optional_dependencies() {
    // Off by default: the controller chart alone.
    let plain = kinds(&render_etcdbak(&[], false));
    assert!(
        !plain
            .iter()
            .any(|k| k == "StatefulSet" || k == "PrometheusRule"),
        "{plain:?}"
    );
    let plain_deployments = plain.iter().filter(|k| *k == "Deployment").count();

    // On by value, with nothing else to set: MinIO's StatefulSet and bucket Job, the exporter's Deployment
    // pointed at the same S3 as the controller's config, the rules.
    let all_yaml = render_etcdbak(
        &[
            "minio.enabled=true",
            "s3-exporter.enabled=true",
            "s3-exporter.serviceMonitor.enabled=true",
            "prometheusRule.enabled=true",
        ],
        false,
    );
    let all = kinds(&all_yaml);
    let text = String::from_utf8_lossy(&all_yaml);
    assert!(
        text.contains("value: \"http://minio.etcdbak.svc:9000\""),
        "{text}"
    );
    assert!(text.contains("name: minio\n"), "{text}");
    for want in ["StatefulSet", "Job", "ServiceMonitor", "PrometheusRule"] {
        assert!(all.iter().any(|k| k == want), "no {want} in {all:?}");
    }
    assert_eq!(
        all.iter().filter(|k| *k == "Deployment").count(),
        plain_deployments + 1,
        "{all:?}"
    );
}

#[test]
fn prometheus_rule_renders_the_same_rules_as_the_plain_file() {
    let plain: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo().join("monitoring/alerts.yaml")).unwrap(),
    )
    .unwrap();
    let doc: serde_yaml::Value =
        serde_yaml::from_slice(&render_prometheus_rule(&["prometheusRule.enabled=true"])).unwrap();
    assert_eq!(doc["kind"], "PrometheusRule");
    assert_eq!(
        serde_yaml::to_string(&doc["spec"]["groups"]).unwrap(),
        serde_yaml::to_string(&plain["groups"]).unwrap(),
        "charts/etcdbak/templates/prometheusrule.yaml drifted from monitoring/alerts.yaml"
    );

    // Off by default.
    let off = kinds(&render_etcdbak(&[], false));
    assert!(!off.iter().any(|k| k == "PrometheusRule"), "{off:?}");

    // Scrape job names and the runbook location follow the values, and nothing else changes.
    let custom = String::from_utf8(render_prometheus_rule(&[
        "prometheusRule.enabled=true",
        "prometheusRule.controllerJob=ctl",
        "prometheusRule.exporterJob=exp",
        "prometheusRule.runbookBaseUrl=https://wiki.example/etcdbak",
        "prometheusRule.labels.release=prometheus",
    ]))
    .unwrap();
    assert!(custom.contains("up{job=\"ctl\"}"), "{custom}");
    assert!(custom.contains("s3_list_success{job=\"exp\"}"), "{custom}");
    assert!(!custom.contains("job=\"etcdbak"), "{custom}");
    assert!(
        custom.contains("https://wiki.example/etcdbak#etcdbackuptooold"),
        "{custom}"
    );
    assert!(custom.contains("release: prometheus"), "{custom}");
}

/// Every metric name with `prefix` that the alert rules use.
fn rule_metric_names(prefix: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("monitoring/alerts.yaml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut names = std::collections::BTreeSet::new();
    for group in doc["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let expr = rule["expr"].as_str().unwrap();
            for (i, _) in expr.match_indices(prefix) {
                let name: String = expr[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                names.insert(name);
            }
        }
    }
    names.into_iter().collect()
}

/// The controller's exposition passes Prometheus' linter and carries every etcdbak_* series the rules read.
#[test]
fn controller_metrics_lint_clean_and_feed_every_rule() {
    let m = etcdbak::metrics::Metrics::new();
    m.reconciled(0.01, None);
    m.reconciled(0.02, Some("InvalidSchedule"));
    m.set_leader(true);
    m.update_cluster("a", |s| {
        s.cronjob_present = true;
        s.backup_interval_seconds = Some(3600.0);
        s.suspended = true;
        s.verification_failing = Some(false);
        s.last_verified_seconds = Some(1.7e9);
        s.continuous = Some(etcdbak::metrics::ContinuousState {
            recovery_point_seconds: Some(1.7e9),
            gaps: 1,
            ok: true,
            interval: std::time::Duration::from_secs(20),
        });
    });
    m.update_cluster("b", |s| s.deletion_timestamp_seconds = Some(1.7e9));
    let text = m.encode_prometheus();
    common::promtool_check_metrics(&text);
    let used = rule_metric_names("etcdbak_");
    assert!(used.len() >= 6, "{used:?}");
    for name in used {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "the rules use {name}, which the controller does not export:\n{text}"
        );
    }
}

// --- the exporter against a real MinIO -----------------------------------------------------------------------

/// A plain HTTP/1.1 GET on loopback: (status, body).
fn http_get(port: u16, target: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The value of the one sample of `metric` whose labels include every `want` pair.
fn sample(text: &str, metric: &str, want: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .find(|l| {
            want.iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// `etcdbak snapshot` of the cluster into a fresh dir, then `etcdbak store` of it; returns the wall-clock
/// window the store ran in (the object's LastModified falls inside it).
fn backup(etcd: &EtcdCluster, minio: &Minio, cluster: &str, scratch: &Path) -> (f64, f64) {
    let dir = tempfile::tempdir_in(scratch).unwrap();
    common::run_ok(
        etcdbak()
            .arg("snapshot")
            .args(etcd.etcdbak_args())
            .arg("--dir")
            .arg(dir.path())
            .args(["--cluster", cluster]),
    );
    let before = now();
    common::run_ok(
        minio.creds_env(
            etcdbak()
                .arg("store")
                // Plain `.db` objects: the probe below filters on that suffix and the size metrics compare
                // the object with the snapshot (the exporter does not read the pipeline metadata yet).
                .args(["--compress", "none"])
                .arg("--dir")
                .arg(dir.path())
                .args(["--cluster", cluster])
                .args(s3_flags(minio)),
        ),
    );
    (before, now())
}

fn s3_flags(minio: &Minio) -> Vec<String> {
    let mut args = minio.s3_args();
    args.extend(["--prefix".to_string(), "etcdbak".to_string()]);
    args
}

#[test]
fn exporter_reports_each_clusters_newest_backup_from_a_real_minio() {
    let minio = Minio::start();
    let etcd = EtcdCluster::start(1, false);
    etcd.put_keys("first/", 200, 256);
    let scratch = tempfile::tempdir().unwrap();
    backup(&etcd, &minio, "alpha", scratch.path());
    // More data, so the newest backup and the one before differ in size.
    etcd.put_keys("second/", 2000, 256);
    let (before, after) = backup(&etcd, &minio, "alpha", scratch.path());
    backup(&etcd, &minio, "beta", scratch.path());
    // A file that is not a backup, inside a cluster's prefix: never counted.
    minio.put("etcdbak/alpha/README.txt", b"not a backup");

    let listed = common::run_ok(
        minio.creds_env(
            etcdbak()
                .args(["list", "--cluster", "alpha", "-o", "json"])
                .args(s3_flags(&minio)),
        ),
    );
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let sizes: Vec<f64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["sizeBytes"].as_f64().unwrap())
        .collect();
    assert_eq!(sizes.len(), 2, "{listed}");
    assert!(
        sizes[0] > sizes[1],
        "the second backup should be the bigger one: {sizes:?}"
    );

    let port = free_port();
    let mut exporter = Proc::spawn(
        "etcdbak s3-exporter",
        minio.creds_env(
            etcdbak()
                .arg("s3-exporter")
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .args(s3_flags(&minio))
                // The configured bucket's prefix, and a bucket that does not exist (a failed listing).
                .args(["--probe-allow", "backups/etcdbak,nope"])
                .stdout(Stdio::null()),
        ),
    );
    wait_until("s3-exporter", Duration::from_secs(20), || {
        assert!(exporter.is_running(), "etcdbak s3-exporter exited");
        http_get(port, "/healthz").is_some_and(|(s, _)| s == 200)
    });

    let (status, text) = http_get(port, "/metrics").unwrap();
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        sample(
            &text,
            "s3_list_success",
            &[("bucket", "backups"), ("prefix", "etcdbak/")]
        ),
        Some(1.0),
        "{text}"
    );
    let alpha = [("cluster", "alpha"), ("prefix", "etcdbak/alpha/")];
    let date = sample(&text, "s3_last_modified_object_date", &alpha).expect(&text);
    assert!(
        date >= before.floor() - 1.0 && date <= after.ceil() + 1.0,
        "alpha's newest backup time {date} is not when it was stored [{before}, {after}]"
    );
    assert_eq!(
        sample(&text, "s3_last_modified_object_size_bytes", &alpha),
        Some(sizes[0])
    );
    assert_eq!(
        sample(&text, "s3_previous_object_size_bytes", &alpha),
        Some(sizes[1])
    );
    assert_eq!(sample(&text, "s3_objects", &alpha), Some(2.0), "{text}");
    let beta = [("cluster", "beta")];
    assert!(
        sample(&text, "s3_last_modified_object_size_bytes", &beta).is_some(),
        "{text}"
    );
    assert_eq!(sample(&text, "s3_previous_object_size_bytes", &beta), None);

    // The scrape is valid exposition format by Prometheus' own linter, and has every s3_* series the rules read.
    common::promtool_check_metrics(&text);
    for name in rule_metric_names("s3_") {
        assert!(
            text.contains(&format!("\n{name}{{")),
            "the rules use {name}, which the exporter does not export:\n{text}"
        );
    }

    // s3_exporter's probe interface, one prefix at a time (generic: every object, here the README too).
    let (status, probe) = http_get(
        port,
        "/probe?bucket=backups&prefix=etcdbak%2Falpha%2F&suffix=.db",
    )
    .unwrap();
    assert_eq!(status, 200);
    let labels = [("bucket", "backups"), ("prefix", "etcdbak/alpha/")];
    assert_eq!(
        sample(&probe, "s3_last_modified_object_date", &labels),
        Some(date)
    );
    assert_eq!(sample(&probe, "s3_objects", &labels), Some(2.0), "{probe}");

    // Each probe is a full listing: a repeat within --probe-cache (30s) is answered from the cache, so a
    // caller probing in a loop costs one listing per period. The new object shows only after that.
    minio.put("etcdbak/alpha/20991231T000000.000Z-r9-00000000.db", b"x");
    let (_, again) = http_get(
        port,
        "/probe?bucket=backups&prefix=etcdbak%2Falpha%2F&suffix=.db",
    )
    .unwrap();
    assert_eq!(sample(&again, "s3_objects", &labels), Some(2.0), "{again}");

    // Only the allowed buckets and prefixes: anything else is refused before any listing.
    for refused in [
        "/probe?bucket=backups&prefix=",
        "/probe?bucket=backups&prefix=etcdbak-other%2F",
        "/probe?bucket=payroll&prefix=etcdbak%2F",
    ] {
        let (status, body) = http_get(port, refused).unwrap();
        assert_eq!(status, 403, "{refused}: {body}");
        assert!(body.contains("--probe-allow"), "{body}");
    }

    // A bucket that does not exist is a failed listing, not a failed scrape.
    let (status, probe) = http_get(port, "/probe?bucket=nope&prefix=x").unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        sample(&probe, "s3_list_success", &[("bucket", "nope")]),
        Some(0.0),
        "{probe}"
    );
    let (status, _) = http_get(port, "/probe?prefix=x").unwrap();
    assert_eq!(status, 400);
}

/// What the charts render is accepted by a real kube-apiserver's validation (server-side dry-run apply).
/// The Prometheus Operator's kinds are left out: the rig's apiserver has no such CRDs.
#[test]
fn rendered_charts_are_accepted_by_a_real_apiserver() {
    let mut streams = Vec::new();
    for chart in ["minio", "s3-exporter"] {
        let dir = repo().join("charts").join(chart);
        for values in values_files(&dir) {
            streams.push(String::from_utf8(helm(&dir, "template", &values).stdout).unwrap());
        }
    }
    streams.push(
        String::from_utf8(render_etcdbak(
            &[
                "minio.enabled=true",
                "s3-exporter.enabled=true",
                "s3-exporter.scrapeConfig.enabled=true",
            ],
            false,
        ))
        .unwrap(),
    );
    let kept: Vec<String> = streams
        .iter()
        .flat_map(|s| s.split("\n---"))
        .filter(|doc| !doc.contains("apiVersion: monitoring.coreos.com/"))
        .map(str::to_string)
        .collect();
    let yaml = kept.join("\n---\n");
    let rig = common::kube::rig();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let applied = rt.block_on(async {
        let client = rig.client().await;
        common::kube::create_namespace(&client, "etcdbak-test").await;
        common::kube::apply_manifests(&client, &yaml, "monitoring-test", true).await
    });
    for want in [
        "StatefulSet/release-minio",
        "StatefulSet/minio",
        "Job/minio-buckets",
        "Deployment/release-s3-exporter",
        "ConfigMap/release-s3-exporter-scrape-config",
    ] {
        assert!(
            applied.iter().any(|a| a == want),
            "{want} not applied: {applied:?}"
        );
    }
}
