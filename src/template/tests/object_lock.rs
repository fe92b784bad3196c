//! The store container's Object Lock env: the Cluster's `objectLock`, else the config's, checked.

use super::*;

#[test]
fn the_store_container_is_told_the_object_lock_of_the_cluster_or_the_config() {
    use crate::crd::{ObjectLockMode::*, ObjectLockSpec};
    let lock = |mode, retain: &str| {
        Some(ObjectLockSpec {
            mode,
            retain: retain.into(),
        })
    };
    let mut config = default_config();
    let env = |c: &Cluster, config: &Config| {
        let d = render_backup(c, Some(&tls_source()), config)?;
        let e = env_of(&pod_spec(&d.cron_job).containers[0]);
        Ok::<_, RenderError>(
            e.into_iter()
                .filter(|(k, _)| k.contains("LOCK"))
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(env(&cluster("orders-etcd"), &config).unwrap(), []);
    config.object_lock = lock(Governance, "30d");
    let want = |m: &str, r: &str| {
        vec![
            ("ETCDBAK_OBJECT_LOCK_MODE".into(), m.into()),
            ("ETCDBAK_OBJECT_LOCK_RETAIN".into(), r.into()),
        ]
    };
    assert_eq!(
        env(&cluster("orders-etcd"), &config).unwrap(),
        want("governance", "30d")
    );
    let mut own = cluster("orders-etcd");
    own.spec.object_lock = lock(Compliance, "7d");
    assert_eq!(env(&own, &config).unwrap(), want("compliance", "7d"));
    own.spec.object_lock = lock(Compliance, "0s");
    assert_eq!(
        env(&own, &config).unwrap_err().reason(),
        "InvalidObjectLock"
    );
}

#[test]
fn the_follower_is_told_the_same_object_lock() {
    use crate::crd::{ContinuousSpec, ObjectLockMode, ObjectLockSpec};
    let mut c = cluster("orders-etcd");
    c.spec.continuous = Some(ContinuousSpec {
        enabled: Some(true),
        interval: None,
    });
    c.spec.object_lock = Some(ObjectLockSpec {
        mode: ObjectLockMode::Compliance,
        retain: "7d".into(),
    });
    let d = render_backup(&c, Some(&tls_source()), &default_config()).expect("render");
    let follower = d.follower.expect("follower");
    let pod = follower.spec.and_then(|s| s.template.spec).expect("pod");
    let env: Vec<(String, String)> = env_of(&pod.containers[0])
        .into_iter()
        .filter(|(k, _)| k.contains("LOCK"))
        .collect();
    assert_eq!(
        env,
        [
            (
                "ETCDBAK_OBJECT_LOCK_MODE".to_string(),
                "compliance".to_string()
            ),
            ("ETCDBAK_OBJECT_LOCK_RETAIN".to_string(), "7d".to_string()),
        ]
    );
}
