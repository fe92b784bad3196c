//! The Grafana dashboard (monitoring/dashboard.json) proven without Grafana. Its JSON is read here, so a new
//! panel is covered as soon as it exists: every query of every panel runs, with the variables put in,
//! through a real Prometheus that scrapes a real `etcdbak watch` and `etcdbak s3-exporter` over a fleet of
//! healthy, stale, failing, unverified and misconfigured Clusters (fleet.rs), and must return exactly the
//! series the fixture implies (expect.rs). The answers are written for scripts/dashboard-picture, which draws
//! docs/dashboard.png from them. The thresholds are checked against monitoring/alerts.yaml.
#[path = "../common/mod.rs"]
mod common;

mod expect;
mod fleet;
mod results;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::dashboard::{alert_rules, alerts_named, load, panels, substitute, Panel, Vars};
use expect::{mismatch, want, want_for_stale, Truth};
use fleet::{now, Fleet, ALL, STALE};

#[test]
fn the_variables_are_a_prometheus_data_source_and_a_choice_of_clusters() {
    let dash = load();
    let vars = dash["templating"]["list"].as_array().expect("variables");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no ${name} variable"))
    };
    let ds = var("datasource");
    assert_eq!(
        (ds["type"].as_str(), ds["query"].as_str()),
        (Some("datasource"), Some("prometheus"))
    );
    let cluster = var("cluster");
    assert_eq!(cluster["type"], "query");
    assert_eq!(cluster["multi"], true);
    assert_eq!(cluster["includeAll"], true);
    assert_eq!(cluster["allValue"], ".*");
    assert_eq!(cluster["datasource"]["uid"], "${datasource}");
    // Every panel and query reads the chosen data source, none a fixed one.
    for p in dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] != "row")
    {
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        for t in p["targets"].as_array().unwrap() {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        }
    }
    assert!(dash["schemaVersion"].as_u64().is_some_and(|v| v >= 36));
}

fn normalize(expr: &str, selector: &regex::Regex) -> String {
    let collapsed = selector
        .replace_all(expr, "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    collapsed.replace("( ", "(").replace(" )", ")")
}

/// The number each threshold-style alert compares with, as its expression writes it.
const LIMITS: &[(&str, &str)] = &[
    ("EtcdBackupNotVerified", r"_seconds\)\) > ([0-9.]+)"),
    (
        "EtcdContinuousBackupBehind",
        r"_seconds\{[^}]*\}\) > ([0-9.]+)",
    ),
    ("EtcdBackupSizeDrop", r"<\s+on \(cluster\)\s+([0-9.]+) \*"),
    ("EtcdbakControllerNoLeader", r"etcdbak_leader\) < ([0-9.]+)"),
    ("EtcdBackupFailing", r"\) == ([0-9.]+)"),
    ("EtcdBackupVerificationFailed", r"\) == ([0-9.]+)"),
];

/// Whether `panel` shows `alert` faithfully: it counts the alert's own expression, or a threshold step sits
/// at the alert's number, or (EtcdBackupTooOld, whose limit is per cluster) it divides by the alert's limit
/// and turns red at 100%.
fn agrees(panel: &Panel, alert: &str, expr: &str) -> Result<(), String> {
    let job = regex::Regex::new(r#"\{job="[^"]*"\}"#).unwrap();
    let chosen = regex::Regex::new(r#"\{cluster=~"\$cluster"\}"#).unwrap();
    let alert_expr = normalize(expr, &job);
    let exprs: Vec<String> = panel
        .targets
        .iter()
        .map(|t| normalize(&t.expr, &chosen))
        .collect();
    if exprs.iter().any(|e| e.contains(&alert_expr)) {
        return Ok(());
    }
    let steps: Vec<f64> = panel.steps.iter().filter_map(|(_, v)| *v).collect();
    if let Some((_, pattern)) = LIMITS.iter().find(|(a, _)| *a == alert) {
        let re = regex::Regex::new(pattern).unwrap();
        let limit: f64 = re
            .captures(expr)
            .and_then(|c| c[1].parse().ok())
            .ok_or_else(|| format!("{alert}'s expression no longer matches {pattern}"))?;
        return if steps.contains(&limit) {
            Ok(())
        } else {
            Err(format!("its thresholds {steps:?} miss {alert}'s {limit}"))
        };
    }
    if alert == "EtcdBackupTooOld" {
        let re = regex::Regex::new(
            r"max by \(cluster\) \(\d+ \* etcdbak_cluster_backup_interval_seconds \+ \d+\)",
        )
        .unwrap();
        let limit = re
            .find(&alert_expr)
            .ok_or("EtcdBackupTooOld has no limit term")?
            .as_str();
        let divides = exprs
            .iter()
            .any(|e| e.contains(&format!("/ on (cluster) {limit}")));
        return if divides && steps.contains(&1.0) && panel.unit == "percentunit" {
            Ok(())
        } else {
            Err(format!("it neither counts EtcdBackupTooOld nor divides by its limit {limit} with a step at 100%"))
        };
    }
    Err(format!(
        "it neither counts {alert}'s expression nor has a rule in LIMITS"
    ))
}

#[test]
fn the_panels_that_name_an_alert_use_its_expression_or_its_threshold() {
    let rules: BTreeMap<String, String> = alert_rules().into_iter().collect();
    let known: BTreeSet<String> = rules.keys().cloned().collect();
    let mut shown = BTreeSet::new();
    let mut wrong = Vec::new();
    for panel in panels(&load()) {
        for alert in alerts_named(&panel.description, &known) {
            match agrees(&panel, &alert, &rules[&alert]) {
                Ok(()) => {
                    shown.insert(alert);
                }
                Err(why) => wrong.push(format!("{:?} names {alert}, but {why}", panel.title)),
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    for alert in [
        "EtcdBackupTooOld",
        "EtcdBackupFailing",
        "EtcdBackupVerificationFailed",
        "EtcdBackupCronJobMissing",
        "EtcdBackupNotVerified",
        "EtcdBackupSizeDrop",
        "EtcdContinuousBackupBehind",
        "EtcdbakControllerNoLeader",
    ] {
        assert!(shown.contains(alert), "no panel shows {alert}: {shown:?}");
    }
}

#[test]
fn a_query_answer_is_checked_for_its_series_labels_and_values() {
    use common::prometheus::Sample;
    use expect::{Range, Want};
    let want = Want {
        by: Some("cluster"),
        series: BTreeMap::from([("a".to_string(), Range(1.0, 2.0))]),
        more: false,
    };
    let sample = |labels: &[(&str, &str)], value| Sample {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        value,
    };
    let a = sample(&[("cluster", "a")], 1.5);
    let b = sample(&[("cluster", "b")], 1.5);
    assert_eq!(mismatch(&want, std::slice::from_ref(&a)), None);
    assert!(mismatch(&want, &[a.clone(), b.clone()]).is_some());
    let more = Want {
        more: true,
        ..want.clone()
    };
    assert_eq!(mismatch(&more, &[a, b.clone()]), None);
    assert!(mismatch(&more, &[b]).is_some());
    for (got, why) in [
        (vec![], "returned nothing"),
        (vec![sample(&[("cluster", "a")], 2.5)], "not in"),
        (vec![sample(&[("cluster", "b")], 1.5)], "series"),
        (
            vec![sample(&[("cluster", "a"), ("job", "x")], 1.5)],
            "labelled",
        ),
        (vec![sample(&[("cluster", "a")], f64::NAN)], "not in"),
    ] {
        let found = mismatch(&want, &got).unwrap_or_default();
        assert!(found.contains(why), "{got:?}: {found:?}, not {why:?}");
    }
}

/// The `tEXt` chunks of a PNG file, as (keyword, text).
fn png_text(png: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = &png[at + 4..at + 8];
        let data = &png[(at + 8).min(png.len())..(at + 8 + len).min(png.len())];
        if kind == b"tEXt" {
            if let Some(nul) = data.iter().position(|b| *b == 0) {
                out.push((
                    String::from_utf8_lossy(&data[..nul]).into_owned(),
                    String::from_utf8_lossy(&data[nul + 1..]).into_owned(),
                ));
            }
        }
        at += 12 + len;
    }
    out
}

/// docs/dashboard.png was drawn from this very dashboard (scripts/dashboard-picture records which).
#[test]
fn the_picture_in_the_docs_shows_this_dashboard() {
    use sha2::Digest;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let png = std::fs::read(root.join("docs/dashboard.png")).expect("reading docs/dashboard.png");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "docs/dashboard.png is not a PNG"
    );
    let sha = hex::encode(sha2::Sha256::digest(
        std::fs::read(common::dashboard::path()).unwrap(),
    ));
    let source = png_text(&png)
        .into_iter()
        .find(|(k, _)| k == "Source")
        .map(|(_, v)| v);
    assert_eq!(
        source.as_deref(),
        Some(format!("monitoring/dashboard.json sha256={sha}").as_str()),
        "docs/dashboard.png was drawn from another monitoring/dashboard.json: redraw it with \
         `cargo test --test dashboard` then `scripts/dashboard-picture`"
    );
}

/// Every query of every panel at `at` with all clusters chosen; the problems found.
fn check_all(fleet: &Fleet, panels: &[Panel], at: f64) -> Vec<String> {
    let truth = Truth::read(fleet, at);
    // A rate over the whole life of the fleet: the controller's counters moved at some point in it.
    let window = format!("{}s", (at - fleet.started).ceil() as u64 + 5);
    let vars = Vars {
        cluster: ".*",
        rate_interval: &window,
    };
    let mut problems = Vec::new();
    for p in panels {
        for t in &p.targets {
            let expr = substitute(&t.expr, vars);
            let got = fleet.prometheus.query(&expr, at);
            match want(&p.title, &t.ref_id, &truth) {
                None => problems.push(format!(
                    "{:?} ({}) has no expectation in tests/dashboard/expect.rs; it returned {got:?}",
                    p.title, t.ref_id
                )),
                Some(w) => {
                    if let Some(why) = mismatch(&w, &got) {
                        problems.push(format!("{:?} ({}): {why}\n  {expr}", p.title, t.ref_id));
                    }
                }
            }
        }
    }
    problems
}

/// With one cluster chosen, no panel shows another, and the fleet summary counts only it.
fn check_chosen(fleet: &Fleet, panels: &[Panel], at: f64) -> Vec<String> {
    let window = format!("{}s", (at - fleet.started).ceil() as u64 + 5);
    let vars = Vars {
        cluster: STALE,
        rate_interval: &window,
    };
    let mut problems = Vec::new();
    for p in panels {
        for t in &p.targets {
            let expr = substitute(&t.expr, vars);
            let got = fleet.prometheus.query(&expr, at);
            let others: Vec<_> = got
                .iter()
                .filter(|s| s.labels.get("cluster").is_some_and(|c| c != STALE))
                .collect();
            if !others.is_empty() {
                problems.push(format!(
                    "{:?} with cluster={STALE} shows {others:?}",
                    p.title
                ));
            }
            if let Some(v) = want_for_stale(&p.title) {
                let values: Vec<f64> = got.iter().map(|s| s.value).collect();
                if values != [v] {
                    problems.push(format!(
                        "{:?} with cluster={STALE}: {values:?}, not [{v}]",
                        p.title
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn every_panel_shows_what_a_real_fleet_implies() {
    let fleet = Fleet::start();
    let panels = panels(&load());
    assert!(panels.len() >= 20, "{} panels", panels.len());
    let ready = Instant::now();
    // Until every expectation holds (the controller and Prometheus catch up within seconds), and for at
    // least 45s of samples after the fixture, so rates and graphs have something to show.
    let mut problems;
    loop {
        let at = now();
        problems = check_all(&fleet, &panels, at);
        if problems.is_empty() && ready.elapsed() > Duration::from_secs(45) {
            break;
        }
        assert!(
            ready.elapsed() < Duration::from_secs(120),
            "after 120s the dashboard does not show the fleet:\n{}\n\nwatch log:\n{}\n\nprometheus log:\n{}",
            problems.join("\n"),
            common::watch::log_tail(&fleet.watch.log),
            fleet.prometheus.log()
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    let at = now();
    let problems = [
        check_all(&fleet, &panels, at),
        check_chosen(&fleet, &panels, at),
    ]
    .concat();
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The cluster variable offers every Cluster the controller manages.
    let dash = load();
    let definition = dash["templating"]["list"]
        .as_array()
        .and_then(|l| l.iter().find(|v| v["name"] == "cluster"))
        .and_then(|v| v["definition"].as_str())
        .expect("the cluster variable's definition");
    let re = regex::Regex::new(r"^label_values\(([^,]+), (\w+)\)$").unwrap();
    let parts = re
        .captures(definition)
        .expect("label_values(SERIES, LABEL)");
    let offered = fleet.prometheus.label_values(&parts[2], &parts[1]);
    let mut all: Vec<String> = ALL.iter().map(|c| c.to_string()).collect();
    all.sort();
    assert_eq!(offered, all);

    results::write(&fleet, &dash, &panels, at);
}
