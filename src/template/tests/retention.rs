//! Tiered retention reaches the store container as `ETCDBAK_KEEP*`: from the Cluster's `spec.retention`,
//! else the config's `retention`, and never the cleanup container.

use super::*;
use crate::crd::RetentionSpec;

fn keep_env(d: &Desired) -> Vec<(String, String)> {
    env_of(&pod_spec(&d.cron_job).containers[0])
        .into_iter()
        .filter(|(n, _)| n.starts_with("ETCDBAK_KEEP") || n == "KEEP")
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_cluster_without_retention_renders_only_keep() {
    let d = render_backup(
        &cluster("orders-etcd"),
        Some(&tls_source()),
        &default_config(),
    )
    .unwrap();
    assert_eq!(
        keep_env(&d),
        pairs(&[("KEEP", "48"), ("ETCDBAK_KEEP", "48")])
    );
}

#[test]
fn the_clusters_retention_reaches_the_store_container() {
    let mut c = cluster("orders-etcd");
    c.spec.retention = Some(RetentionSpec {
        keep_last: Some(6),
        keep_daily: Some(7),
        keep_weekly: Some(4),
        keep_within: Some("2d".into()),
        keep_min: Some(3),
        ..RetentionSpec::default()
    });
    let mut config = default_config();
    config.retention = Some(RetentionSpec {
        keep_hourly: Some(24),
        ..RetentionSpec::default()
    });
    let d = render_backup(&c, Some(&tls_source()), &config).unwrap();
    assert_eq!(
        keep_env(&d),
        pairs(&[
            ("KEEP", "6"),
            ("ETCDBAK_KEEP", "6"),
            ("ETCDBAK_KEEP_DAILY", "7"),
            ("ETCDBAK_KEEP_WEEKLY", "4"),
            ("ETCDBAK_KEEP_WITHIN", "2d"),
            ("ETCDBAK_KEEP_MIN", "3"),
        ]),
        "the Cluster's block replaces the config's as a whole"
    );
    let cleanup = render_cleanup_job(&c, &config).unwrap();
    let env = env_of(&cleanup.spec.unwrap().template.spec.unwrap().containers[0]);
    assert!(
        !env.iter().any(|(n, _)| n.starts_with("ETCDBAK_KEEP")),
        "{env:?}"
    );
}

#[test]
fn the_configs_retention_applies_and_yields_keep_last_to_spec_keep() {
    let mut config = default_config();
    config.retention = Some(RetentionSpec {
        keep_last: Some(10),
        keep_monthly: Some(12),
        ..RetentionSpec::default()
    });
    let d = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
    assert_eq!(
        keep_env(&d),
        pairs(&[
            ("KEEP", "48"),
            ("ETCDBAK_KEEP", "48"),
            ("ETCDBAK_KEEP_MONTHLY", "12")
        ])
    );
    let mut c = cluster("orders-etcd");
    c.spec.keep = None;
    let d = render_backup(&c, Some(&tls_source()), &config).unwrap();
    assert_eq!(keep_env(&d)[0], ("KEEP".into(), "10".into()));
}

#[test]
fn a_retention_that_keeps_nothing_is_a_condition_naming_the_field() {
    let mut c = cluster("orders-etcd");
    c.spec.retention = Some(RetentionSpec {
        keep_last: Some(0),
        ..RetentionSpec::default()
    });
    let e = render_backup(&c, Some(&tls_source()), &default_config()).unwrap_err();
    assert_eq!(e.reason(), "InvalidRetention");
    assert!(
        e.to_string().starts_with("spec.retention keeps nothing"),
        "{e}"
    );
    c.spec.retention = Some(RetentionSpec {
        keep_within: Some("7 days".into()),
        ..RetentionSpec::default()
    });
    let e = render_backup(&c, Some(&tls_source()), &default_config()).unwrap_err();
    assert!(e.to_string().contains("spec.retention keepWithin"), "{e}");
}
