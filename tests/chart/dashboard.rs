//! The Grafana dashboard as the chart ships it.

use super::*;

/// The Grafana dashboard ships twice, as monitoring/dashboard.json and inside the chart; the chart's copy is
/// the same bytes, and the optional ConfigMap carries exactly them under the sidecar's label.
#[test]
fn the_dashboard_config_map_carries_the_dashboard_byte_for_byte() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plain = std::fs::read_to_string(root.join("monitoring/dashboard.json")).unwrap();
    let copy = std::fs::read_to_string(chart().join("dashboards/etcdbak.json")).unwrap();
    assert!(
        plain == copy,
        "charts/etcdbak/dashboards/etcdbak.json differs from monitoring/dashboard.json: \
         cp monitoring/dashboard.json charts/etcdbak/dashboards/etcdbak.json"
    );
    let home = tempfile::tempdir().unwrap();
    let off = docs(&template_chart(home.path(), &[]));
    assert!(
        !off.iter()
            .any(|d| d["metadata"]["name"] == "etcdbak-dashboard"),
        "the dashboard is off by default"
    );

    let on = docs(&template_chart(
        home.path(),
        &[
            "--set",
            "dashboard.enabled=true,dashboard.labels.team=storage",
        ],
    ));
    let cm = find(&on, "ConfigMap", "etcdbak-dashboard");
    assert_eq!(cm["metadata"]["namespace"], RELEASE_NS);
    let labels = &cm["metadata"]["labels"];
    assert_eq!(labels["grafana_dashboard"], "1", "{labels:?}");
    assert_eq!(labels["team"], "storage", "{labels:?}");
    assert!(
        cm["data"]["etcdbak.json"].as_str() == Some(plain.as_str()),
        "the ConfigMap's etcdbak.json is not monitoring/dashboard.json"
    );

    // A folder annotation and another namespace (where the sidecar looks), and no stray keys.
    let moved = docs(&template_chart(
        home.path(),
        &[
            "--set",
            "dashboard.enabled=true,dashboard.namespace=monitoring",
            "--set-string",
            "dashboard.annotations.grafana_folder=etcd",
        ],
    ));
    let cm = find(&moved, "ConfigMap", "etcdbak-dashboard");
    assert_eq!(cm["metadata"]["namespace"], "monitoring");
    assert_eq!(cm["metadata"]["annotations"]["grafana_folder"], "etcd");
    let chart = chart();
    let refused = helm(
        &[
            "template",
            "etcdbak",
            chart.to_str().unwrap(),
            "--set",
            "dashboard.folder=etcd",
        ],
        home.path(),
    );
    assert!(!refused.status.success(), "dashboard.folder was accepted");
}
