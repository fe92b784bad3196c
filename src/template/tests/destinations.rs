//! The store container's further destinations: the config's `destinations` as `ETCDBAK_DESTINATIONS`, and
//! each destination's own Secret as `secretKeyRef`s.

use super::*;

#[test]
fn the_store_container_is_told_the_configs_destinations_and_their_secrets() {
    let yaml = "s3: {endpoint: 'http://minio:9000', bucket: b}\n\
        destinations:\n\
        - {name: dr, bucket: etcd-dr, region: eu-central-1, credentialsSecret: etcdbak-s3-dr}\n\
        - {name: copy, bucket: other, endpoint: 'http://minio-2:9000'}\n";
    let config = Config::from_yaml(yaml, None).expect("config");
    let d = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).expect("render");
    let store = &pod_spec(&d.cron_job).containers[0];
    let env = store.env.as_deref().unwrap_or_default();
    let line = env
        .iter()
        .find(|e| e.name == "ETCDBAK_DESTINATIONS")
        .and_then(|e| e.value.as_deref());
    assert_eq!(
        line,
        Some("name=dr,bucket=etcd-dr,region=eu-central-1,credentials=env:ETCDBAK_DESTINATION_DR_;name=copy,bucket=other,endpoint=http://minio-2:9000")
    );
    let refs: Vec<(String, String, String)> = env
        .iter()
        .filter_map(|e| {
            let r = e.value_from.as_ref()?.secret_key_ref.as_ref()?;
            Some((e.name.clone(), r.name.clone(), r.key.clone()))
        })
        .filter(|(n, _, _)| n.starts_with("ETCDBAK_DESTINATION_"))
        .collect();
    assert_eq!(
        refs,
        [
            (
                "ETCDBAK_DESTINATION_DR_AWS_ACCESS_KEY_ID".to_string(),
                "etcdbak-s3-dr".to_string(),
                "AWS_ACCESS_KEY_ID".to_string()
            ),
            (
                "ETCDBAK_DESTINATION_DR_AWS_SECRET_ACCESS_KEY".to_string(),
                "etcdbak-s3-dr".to_string(),
                "AWS_SECRET_ACCESS_KEY".to_string()
            ),
        ]
    );
    // (That each line parses back into its destination is src/config/destinations.rs's test.)
    // Without destinations nothing is added, so existing CronJobs render as before.
    let plain = render_backup(
        &cluster("orders-etcd"),
        Some(&tls_source()),
        &default_config(),
    )
    .expect("render");
    let names = env_of(&pod_spec(&plain.cron_job).containers[0]);
    assert!(
        !names.iter().any(|(n, _)| n.contains("DESTINATION")),
        "{names:?}"
    );
}

#[test]
fn a_config_with_a_bad_destination_is_refused_naming_it() {
    for (bad, says) in [
        ("- {name: primary, bucket: x}", "is taken"),
        ("- {name: dr, bucket: x}\n- {name: dr, bucket: y}", "[1]"),
        ("- {name: dr}", "missing field `bucket`"),
        ("- {name: dr, bucket: x, bukcet: y}", "unknown field"),
        (
            "- {name: dr, bucket: x, objectLock: {mode: governance, retain: 0s}}",
            "retention period",
        ),
    ] {
        let yaml =
            format!("s3: {{endpoint: 'http://minio:9000', bucket: b}}\ndestinations:\n{bad}\n");
        let e = Config::from_yaml(&yaml, None).expect_err(bad).to_string();
        assert!(e.contains(says), "{bad}: {e}");
    }
}

#[test]
fn the_cleanup_job_is_told_every_destination_too() {
    let yaml = "s3: {endpoint: 'http://minio:9000', bucket: b}\n\
        destinations:\n\
        - {name: dr, bucket: etcd-dr, region: eu-central-1, credentialsSecret: etcdbak-s3-dr}\n";
    let config = Config::from_yaml(yaml, None).expect("config");
    let job = render_cleanup_job(&cluster("orders-etcd"), &config).expect("render");
    let container = &job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod")
        .containers[0];
    let names = env_of(container);
    assert!(
        names.iter().any(|(n, v)| n == "ETCDBAK_DESTINATIONS"
            && v == "name=dr,bucket=etcd-dr,region=eu-central-1,credentials=env:ETCDBAK_DESTINATION_DR_"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|(n, _)| n == "ETCDBAK_DESTINATION_DR_AWS_SECRET_ACCESS_KEY"),
        "{names:?}"
    );
}
