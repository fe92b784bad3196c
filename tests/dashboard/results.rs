//! The answers the dashboard's queries got, written for scripts/dashboard-picture (docs/dashboard.png):
//! every panel's layout, unit, thresholds and value mappings from the dashboard, its instant answers, and
//! for graphs the range answers over the fleet's life. Nothing here is made up: the picture shows these.

use std::path::PathBuf;

use super::fleet::Fleet;
use crate::common::dashboard::{substitute, Panel, Vars};
use crate::common::prometheus::{Sample, Series};

/// Where the answers go: `<target>/tmp/dashboard-results.json`.
pub fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-results.json")
}

fn samples(got: &[Sample]) -> serde_json::Value {
    got.iter()
        .map(|s| serde_json::json!({ "labels": s.labels, "value": s.value }))
        .collect()
}

fn series(got: &[Series]) -> serde_json::Value {
    got.iter()
        .map(|s| serde_json::json!({ "labels": s.labels, "points": s.points }))
        .collect()
}

fn panel_answers(fleet: &Fleet, p: &Panel, at: f64) -> serde_json::Value {
    let window = format!("{}s", (at - fleet.started).ceil() as u64 + 5);
    let instant = Vars {
        cluster: ".*",
        rate_interval: &window,
    };
    // Graphs: what Grafana would draw over the fleet's life, a point a second, rates over 10s.
    let graph = Vars {
        cluster: ".*",
        rate_interval: "10s",
    };
    let targets: Vec<serde_json::Value> = p
        .targets
        .iter()
        .map(|t| {
            let mut v = serde_json::json!({
                "refId": t.ref_id,
                "legend": t.legend,
                "expr": substitute(&t.expr, instant),
                "instant": samples(&fleet.prometheus.query(&substitute(&t.expr, instant), at)),
            });
            if p.kind == "timeseries" {
                let got = fleet.prometheus.query_range(
                    &substitute(&t.expr, graph),
                    fleet.started,
                    at,
                    1.0,
                );
                v["range"] = series(&got);
            }
            v
        })
        .collect();
    serde_json::json!({
        "title": p.title,
        "type": p.kind,
        "gridPos": p.raw["gridPos"],
        "unit": p.unit,
        "min": p.raw["fieldConfig"]["defaults"]["min"],
        "max": p.raw["fieldConfig"]["defaults"]["max"],
        "steps": p.steps,
        "mappings": p.raw["fieldConfig"]["defaults"]["mappings"],
        "targets": targets,
    })
}

/// Writes the answers at `at`; the picture script reads them.
pub fn write(fleet: &Fleet, dash: &serde_json::Value, panels: &[Panel], at: f64) {
    let rows: Vec<serde_json::Value> = dash["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["type"] == "row")
        .map(|p| serde_json::json!({ "title": p["title"], "gridPos": p["gridPos"] }))
        .collect();
    let bytes = std::fs::read(crate::common::dashboard::path()).expect("reading the dashboard");
    let out = serde_json::json!({
        "title": dash["title"],
        "dashboardSha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        "evaluatedAt": at,
        "started": fleet.started,
        "rows": rows,
        "panels": panels.iter().map(|p| panel_answers(fleet, p, at)).collect::<Vec<_>>(),
    });
    let path = path();
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("the target tmp dir");
    std::fs::write(&path, serde_json::to_string_pretty(&out).expect("JSON"))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    eprintln!("dashboard answers written to {}", path.display());
}
