//! What a template cannot loosen: a capability it adds is all it gets (`drop: [ALL]` stays), and the
//! snapshot's emptyDir is bounded.

use k8s_openapi::api::core::v1::Capabilities;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::*;

#[test]
fn a_template_that_sets_capabilities_still_drops_all() {
    // (the template's drop, its add, the drop rendered)
    type Case<'a> = (Option<Vec<&'a str>>, Option<Vec<&'a str>>, Vec<&'a str>);
    let cases: [Case; 4] = [
        (None, Some(vec!["NET_BIND_SERVICE"]), vec!["ALL"]),
        (Some(vec!["NET_RAW"]), None, vec!["ALL", "NET_RAW"]),
        (Some(vec![]), Some(vec!["CHOWN"]), vec!["ALL"]),
        (Some(vec!["ALL"]), Some(vec!["NET_ADMIN"]), vec!["ALL"]),
    ];
    for (drop, add, want) in cases {
        let mut config = default_config();
        let strings = |v: Option<Vec<&str>>| v.map(|v| v.into_iter().map(String::from).collect());
        config.store_container.security_context = Some(SecurityContext {
            capabilities: Some(Capabilities {
                drop: strings(drop.clone()),
                add: strings(add.clone()),
            }),
            ..Default::default()
        });
        let d = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
        let store = &pod_spec(&d.cron_job).containers[0];
        let caps = store
            .security_context
            .as_ref()
            .and_then(|s| s.capabilities.as_ref())
            .unwrap();
        assert_eq!(
            caps.drop.as_deref().unwrap(),
            want,
            "drop {drop:?} add {add:?}"
        );
        assert_eq!(caps.add, strings(add), "what the template adds, it keeps");
    }
}

#[test]
fn the_backup_volume_has_a_size_limit() {
    let volume = |config: &Config| {
        let d = render_backup(&cluster("orders-etcd"), Some(&tls_source()), config).unwrap();
        pod_spec(&d.cron_job)
            .volumes
            .as_ref()
            .unwrap()
            .iter()
            .find(|v| v.name == "etcd-backup")
            .and_then(|v| v.empty_dir.clone())
            .unwrap()
    };
    let mut config = default_config();
    assert_eq!(
        volume(&config).size_limit,
        Some(Quantity(
            crate::config::DEFAULT_BACKUP_VOLUME_SIZE_LIMIT.into()
        ))
    );
    config.pod.backup_volume_size_limit = Some(Quantity("32Gi".into()));
    assert_eq!(volume(&config).size_limit, Some(Quantity("32Gi".into())));
    config.pod.backup_volume_size_limit = None;
    assert_eq!(volume(&config).size_limit, None);
}
