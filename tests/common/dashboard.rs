//! monitoring/dashboard.json as the tests read it: its panels, their queries with Grafana's variables
//! substituted, their thresholds and the alerts their descriptions name. Pure.

use std::collections::BTreeSet;
use std::path::PathBuf;

pub fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("monitoring/dashboard.json")
}

pub fn load() -> serde_json::Value {
    let text = std::fs::read_to_string(path()).expect("reading monitoring/dashboard.json");
    serde_json::from_str(&text).expect("monitoring/dashboard.json is JSON")
}

/// One query of a panel.
#[derive(Debug, Clone)]
pub struct Target {
    pub ref_id: String,
    /// As written, with Grafana's variables.
    pub expr: String,
    pub legend: String,
}

/// A panel that shows data (rows are layout only).
#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    pub kind: String,
    pub description: String,
    pub unit: String,
    /// Threshold steps as (color, value); the base step has no value.
    pub steps: Vec<(String, Option<f64>)>,
    pub targets: Vec<Target>,
    pub raw: serde_json::Value,
}

/// Every panel with queries, in the dashboard's order, those inside collapsed rows included.
pub fn panels(dash: &serde_json::Value) -> Vec<Panel> {
    let mut out = Vec::new();
    for p in dash["panels"].as_array().expect("a panels list") {
        if p["type"] == "row" {
            for inner in p["panels"].as_array().into_iter().flatten() {
                out.push(panel(inner));
            }
        } else {
            out.push(panel(p));
        }
    }
    out
}

fn text(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn panel(p: &serde_json::Value) -> Panel {
    let defaults = &p["fieldConfig"]["defaults"];
    Panel {
        title: text(&p["title"]),
        kind: text(&p["type"]),
        description: text(&p["description"]),
        unit: text(&defaults["unit"]),
        steps: defaults["thresholds"]["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| (text(&s["color"]), s["value"].as_f64()))
            .collect(),
        targets: p["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| Target {
                ref_id: text(&t["refId"]),
                expr: text(&t["expr"]),
                legend: text(&t["legendFormat"]),
            })
            .collect(),
        raw: p.clone(),
    }
}

/// What Grafana would put in for the variables a query uses.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    /// `$cluster`: `.*` is the "All" choice (the variable's allValue).
    pub cluster: &'a str,
    /// `$__rate_interval`, a PromQL duration.
    pub rate_interval: &'a str,
}

/// `expr` with the variables put in; a variable the tests do not know fails, so a new one gets a value here.
pub fn substitute(expr: &str, vars: Vars<'_>) -> String {
    let out = expr
        .replace("${cluster}", vars.cluster)
        .replace("$cluster", vars.cluster)
        .replace("$__rate_interval", vars.rate_interval);
    assert!(
        !out.contains('$'),
        "a dashboard query uses a variable the tests do not substitute: {expr}"
    );
    out
}

/// The alerts (of `known`) a panel's description names.
pub fn alerts_named(description: &str, known: &BTreeSet<String>) -> Vec<String> {
    description
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| known.contains(*w))
        .map(str::to_string)
        .collect()
}

/// The alert rules of monitoring/alerts.yaml as (name, expr).
pub fn alert_rules() -> Vec<(String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("monitoring/alerts.yaml");
    let doc: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(path).expect("reading monitoring/alerts.yaml"),
    )
    .expect("monitoring/alerts.yaml is YAML");
    let mut out = Vec::new();
    for group in doc["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            if let (Some(a), Some(e)) = (rule["alert"].as_str(), rule["expr"].as_str()) {
                out.push((a.to_string(), e.to_string()));
            }
        }
    }
    out
}
