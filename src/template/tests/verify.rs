//! The verification CronJob: on by default, daily at an `H` minute, the admin's verify container with the
//! S3 contract, and turned off or rescheduled by the config or the Cluster.

use super::*;
use crate::crd::VerifySpec;

#[test]
fn every_cluster_gets_a_daily_verification_by_default() {
    let config = default_config();
    let d = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
    let cj = d.verify_cron_job.expect("verification is on by default");
    assert_eq!(
        cj.metadata.name.as_deref(),
        Some("etcdbak-verify-orders-etcd")
    );
    assert_eq!(cj.metadata.namespace.as_deref(), Some("etcdbak"));
    let labels = cj.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[LABEL_COMPONENT], "verify");
    assert_eq!(labels[LABEL_CLUSTER], "orders-etcd");
    let owner = &cj.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("Cluster", Some(true))
    );
    let spec = cj.spec.as_ref().unwrap();
    let want = crate::schedule::expand("H 4 * * *", "orders-etcd").unwrap();
    assert_eq!(spec.schedule, want);
    assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
    assert_eq!(
        spec.job_template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap()[LABEL_COMPONENT],
        "verify"
    );
    assert!(cj
        .metadata
        .annotations
        .as_ref()
        .unwrap()
        .contains_key(HASH_ANNOTATION));
    let pod = spec
        .job_template
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    assert_eq!(pod.init_containers, None, "verification takes no snapshot");
    assert_eq!(pod.automount_service_account_token, Some(false));
    let c = &pod.containers[0];
    assert_eq!(c.name, "verify");
    assert_eq!(
        c.command.as_deref().unwrap(),
        ["etcdbak", "verify", "--cluster", "$(CLUSTER)"]
    );
    assert_eq!(c.image.as_deref(), Some(config.image.as_str()));
    let e = env_of(c);
    for want in [
        ("CLUSTER", "orders-etcd"),
        ("ETCDBAK_CLUSTER", "orders-etcd"),
        ("ETCDBAK_S3_BUCKET", "etcd-backups"),
        ("AWS_ACCESS_KEY_ID", "<from>"),
    ] {
        assert!(
            e.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {e:?}"
        );
    }
    assert!(!e.iter().any(|(n, _)| n == "ETCDBAK_KEEP"), "{e:?}");
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert!(
        !pod.volumes
            .as_ref()
            .unwrap()
            .iter()
            .any(|v| v.name == TLS_VOLUME),
        "the TLS Secret is not needed to read the bucket"
    );
}

#[test]
fn verification_follows_the_config_and_the_cluster() {
    let mut config = default_config();
    let mut c = cluster("orders-etcd");
    c.spec.verify = Some(VerifySpec {
        enabled: None,
        schedule: Some("H 2 * * 0".into()),
    });
    let d = render_backup(&c, Some(&tls_source()), &config).unwrap();
    assert_eq!(
        d.verify_cron_job.unwrap().spec.unwrap().schedule,
        crate::schedule::expand("H 2 * * 0", "orders-etcd").unwrap()
    );
    // Off in the config, on again for one Cluster.
    config.verify.enabled = false;
    let off = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
    assert_eq!(off.verify_cron_job, None);
    c.spec.verify = Some(VerifySpec {
        enabled: Some(true),
        schedule: None,
    });
    assert!(render_backup(&c, Some(&tls_source()), &config)
        .unwrap()
        .verify_cron_job
        .is_some());
    // Off for one Cluster only.
    config.verify.enabled = true;
    c.spec.verify = Some(VerifySpec {
        enabled: Some(false),
        schedule: None,
    });
    assert_eq!(
        render_backup(&c, Some(&tls_source()), &config)
            .unwrap()
            .verify_cron_job,
        None
    );
    // Suspending a Cluster suspends its verification too.
    let mut c = cluster("orders-etcd");
    c.spec.suspend = Some(true);
    let d = render_backup(&c, Some(&tls_source()), &config).unwrap();
    assert_eq!(d.verify_cron_job.unwrap().spec.unwrap().suspend, Some(true));
    // A bad verification schedule says which field to fix.
    let mut c = cluster("orders-etcd");
    c.spec.verify = Some(VerifySpec {
        enabled: None,
        schedule: Some("0 0 H * *".into()),
    });
    let e = render_backup(&c, Some(&tls_source()), &config).unwrap_err();
    assert_eq!(e.reason(), "InvalidVerifySchedule");
    assert!(e.to_string().contains("spec.verify.schedule"), "{e}");
}
