use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{Container, PodSpec, Secret, SecurityContext, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;

use super::container::{contract_env, env, mount, Role};
use super::labels::stamp_hash;
use super::*;
use crate::config::{default_config, Config};
use crate::crd::{Cluster, ClusterSpec, ServiceRef};
use crate::schedule::ScheduleError;

fn cluster(name: &str) -> Cluster {
    let mut c = Cluster::new(
        name,
        ClusterSpec {
            service: Some(ServiceRef {
                name: "orders-etcd-client".into(),
                port: None,
                insecure: None,
            }),
            tls_secret: Some("orders-etcd-client-tls".into()),
            schedule: Some("H/30 * * * *".into()),
            keep: Some(48),
            ..ClusterSpec::in_namespace("orders")
        },
    );
    c.metadata.uid = Some("6f1c0b7e-2b1d-4a8e-9c3f-0d6a1e2b3c4d".into());
    c
}

fn tls_source() -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some("orders-etcd-client-tls".into()),
            namespace: Some("orders".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([
            ("ca.crt".to_string(), ByteString(b"test-ca".to_vec())),
            ("tls.crt".to_string(), ByteString(b"test-cert".to_vec())),
            ("tls.key".to_string(), ByteString(b"test-key".to_vec())),
            ("unrelated".to_string(), ByteString(b"not copied".to_vec())),
        ])),
        type_: Some("kubernetes.io/tls".into()),
        ..Default::default()
    }
}

fn pod_spec(cron_job: &CronJob) -> &PodSpec {
    cron_job
        .spec
        .as_ref()
        .unwrap()
        .job_template
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
}

fn env_of(c: &Container) -> Vec<(String, String)> {
    c.env
        .iter()
        .flatten()
        .map(|e| {
            let v = match (&e.value, &e.value_from) {
                (Some(v), _) => v.clone(),
                (None, Some(_)) => "<from>".into(),
                _ => String::new(),
            };
            (e.name.clone(), v)
        })
        .collect()
}

#[test]
fn typical_cluster_renders_as_snapshotted() {
    let config = default_config();
    let desired = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
    insta::assert_yaml_snapshot!("cron_job", desired.cron_job);
    insta::assert_yaml_snapshot!("tls_secret", desired.tls_secret);
    let cleanup = render_cleanup_job(&cluster("orders-etcd"), &config).unwrap();
    insta::assert_yaml_snapshot!("cleanup_job", cleanup);
    assert_eq!(
        desired.schedule,
        desired.cron_job.spec.as_ref().unwrap().schedule
    );
}

#[test]
fn backup_job_follows_the_contract() {
    let config = default_config();
    let desired = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
    let cj = &desired.cron_job;
    let spec = cj.spec.as_ref().unwrap();
    assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
    assert_eq!(spec.suspend, Some(false));
    assert_eq!(spec.time_zone.as_deref(), Some("UTC"));
    assert!(
        spec.schedule.ends_with("-59/30 * * * *"),
        "{}",
        spec.schedule
    );
    assert_eq!(cj.metadata.namespace.as_deref(), Some("etcdbak"));
    let owner = &cj.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Cluster", "orders-etcd")
    );
    assert_eq!(owner.controller, Some(true));

    let pod = pod_spec(cj);
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert_eq!(pod.automount_service_account_token, Some(false));
    let init = &pod.init_containers.as_ref().unwrap()[0];
    assert_eq!(init.name, "snapshot");
    assert_eq!(init.command.as_deref().unwrap(), ["etcdbak", "snapshot"]);
    let init_env = env_of(init);
    for want in [
        (
            "ETCDBAK_ENDPOINTS",
            "https://orders-etcd-client.orders.svc:2379",
        ),
        ("ETCDBAK_CLUSTER", "orders-etcd"),
        ("ETCDBAK_DIR", "/backup"),
        ("ETCDBAK_CACERT", "/etc/etcdbak/tls/ca.crt"),
        ("ETCDBAK_CERT", "/etc/etcdbak/tls/tls.crt"),
        ("ETCDBAK_KEY", "/etc/etcdbak/tls/tls.key"),
    ] {
        assert!(
            init_env.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {init_env:?}"
        );
    }
    let store = &pod.containers[0];
    let store_env = env_of(store);
    for want in [
        ("CLUSTER", "orders-etcd"),
        ("ETCDBAK_CLUSTER", "orders-etcd"),
        ("SNAPSHOT_DIR", "/backup"),
        ("SNAPSHOT_FILE", "/backup/snapshot.db"),
        ("SNAPSHOT_METADATA", "/backup/snapshot.json"),
        ("KEEP", "48"),
        ("ETCDBAK_KEEP", "48"),
        ("ETCDBAK_S3_BUCKET", "etcd-backups"),
        ("AWS_ACCESS_KEY_ID", "<from>"),
    ] {
        assert!(
            store_env.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {store_env:?}"
        );
    }
    let names: Vec<&str> = store_env.iter().map(|(n, _)| n.as_str()).collect();
    let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(
        names.len(),
        unique.len(),
        "duplicate env names break server-side apply: {names:?}"
    );
}

#[test]
fn backup_containers_are_locked_down_and_tls_is_mirrored() {
    let config = default_config();
    let desired = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
    let pod = pod_spec(&desired.cron_job);
    let (init, store) = (
        &pod.init_containers.as_ref().unwrap()[0],
        &pod.containers[0],
    );
    for c in [init, store] {
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.run_as_non_root, Some(true));
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(
            sc.capabilities.as_ref().unwrap().drop.as_deref().unwrap(),
            ["ALL"]
        );
        assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
        assert!(c.resources.as_ref().unwrap().limits.is_some());
        assert!(c
            .volume_mounts
            .iter()
            .flatten()
            .any(|m| m.mount_path == "/tmp"));
        assert!(c
            .volume_mounts
            .iter()
            .flatten()
            .any(|m| m.name == BACKUP_VOLUME && m.mount_path == BACKUP_DIR));
    }
    let tls = desired.tls_secret.as_ref().unwrap();
    assert_eq!(
        tls.metadata.name.as_deref(),
        Some("etcdbak-tls-orders-etcd")
    );
    assert_eq!(tls.metadata.namespace.as_deref(), Some("etcdbak"));
    assert_eq!(
        tls.data.as_ref().unwrap().keys().collect::<Vec<_>>(),
        ["ca.crt", "tls.crt", "tls.key"],
        "only the TLS keys are mirrored"
    );
    assert!(tls.metadata.owner_references.is_some());
}

#[test]
fn cleanup_job_is_labelled_not_owned_and_expires() {
    let config = default_config();
    let job = render_cleanup_job(&cluster("orders-etcd"), &config).unwrap();
    assert_eq!(
        job.metadata.name.as_deref(),
        Some("etcdbak-cleanup-orders-etcd")
    );
    assert_eq!(job.metadata.owner_references, None);
    let labels = job.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[LABEL_CLUSTER], "orders-etcd");
    assert_eq!(labels[LABEL_MANAGED_BY], "etcdbak");
    let annotations = job.metadata.annotations.as_ref().unwrap();
    assert_eq!(
        annotations[CLUSTER_UID_ANNOTATION],
        "6f1c0b7e-2b1d-4a8e-9c3f-0d6a1e2b3c4d"
    );
    let spec = job.spec.as_ref().unwrap();
    assert_eq!(spec.ttl_seconds_after_finished, Some(86400));
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.init_containers, None, "cleanup takes no snapshot");
    let c = &pod.containers[0];
    assert_eq!(c.command.as_deref().unwrap(), ["etcdbak", "prune", "--all"]);
    let e = env_of(c);
    assert!(e.contains(&("CLUSTER".into(), "orders-etcd".into())));
    assert!(e.contains(&("ETCDBAK_CLUSTER".into(), "orders-etcd".into())));
    assert!(e.contains(&("ETCDBAK_S3_BUCKET".into(), "etcd-backups".into())));
    // `etcdbak prune` reads ETCDBAK_KEEP as --keep, which conflicts with --all.
    assert!(!e.iter().any(|(n, _)| n == "ETCDBAK_KEEP"), "{e:?}");
}

#[test]
fn debug_output_never_shows_key_material() {
    let d = render_backup(
        &cluster("orders-etcd"),
        Some(&tls_source()),
        &default_config(),
    )
    .unwrap();
    let text = format!("{d:?}");
    assert!(text.contains("tls.key"), "{text}");
    for secret in ["test-key", "test-cert", "dGVzdC1rZXk", "116, 101, 115, 116"] {
        assert!(!text.contains(secret), "Debug shows {secret}");
    }
}

#[test]
fn reserved_env_lists_the_contract() {
    // Every rule on, so every ETCDBAK_KEEP_* is rendered.
    let all = crate::retention::Policy {
        last: 1,
        hourly: 2,
        daily: 3,
        weekly: 4,
        monthly: 5,
        within: "7d".parse().unwrap(),
        min: 2,
    };
    let mut store: Vec<String> = contract_env("c", &all, Role::Store)
        .into_iter()
        .map(|e| e.name)
        .collect();
    store.sort();
    let mut reserved: Vec<String> = RESERVED_ENV.iter().map(|s| s.to_string()).collect();
    reserved.sort();
    assert_eq!(store, reserved);
}

#[test]
fn cleanup_renders_even_when_the_cluster_is_otherwise_broken() {
    let mut c = cluster("orders-etcd");
    c.spec.schedule = Some("not a schedule".into());
    c.spec.keep = Some(0);
    c.spec.service = None;
    let job = render_cleanup_job(&c, &default_config()).unwrap();
    assert!(
        env_of(&job.spec.unwrap().template.spec.unwrap().containers[0])
            .contains(&("KEEP".into(), "20".into()))
    );
}

#[test]
fn one_cluster_selects_its_objects() {
    assert_eq!(
        cluster_selector("orders-etcd"),
        "etcdbak.io/cluster=orders-etcd"
    );
    assert_eq!(
        component_selector("orders-etcd", "backup"),
        "etcdbak.io/cluster=orders-etcd,app.kubernetes.io/component=backup"
    );
    let desired = render_backup(
        &cluster("orders-etcd"),
        Some(&tls_source()),
        &default_config(),
    )
    .unwrap();
    let labels = desired.cron_job.metadata.labels.unwrap();
    assert_eq!(labels[LABEL_CLUSTER], "orders-etcd");
    assert_eq!(labels[LABEL_COMPONENT], "backup");
}

#[test]
fn endpoint_derivation() {
    let svc = |name: &str, port: Option<u16>, insecure: Option<bool>| {
        Some(ServiceRef {
            name: name.into(),
            port,
            insecure,
        })
    };
    let list = |l: &[&str]| Some(l.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    type Case = (
        Option<Vec<String>>,
        Option<ServiceRef>,
        Result<&'static str, &'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            None,
            svc("etcd", None, None),
            Ok("https://etcd.orders.svc:2379"),
        ),
        (
            None,
            svc("etcd", Some(12379), None),
            Ok("https://etcd.orders.svc:12379"),
        ),
        (
            None,
            svc("etcd", None, Some(true)),
            Ok("http://etcd.orders.svc:2379"),
        ),
        (list(&["https://a:2379"]), None, Ok("https://a:2379")),
        (
            list(&["https://a:2379", "https://b:2379", "http://10.0.0.3:2379"]),
            None,
            Ok("https://a:2379,https://b:2379,http://10.0.0.3:2379"),
        ),
        (None, None, Err("NoEndpoint")),
        (list(&[]), None, Err("NoEndpoint")),
        (
            list(&["https://a:2379"]),
            svc("etcd", None, None),
            Err("AmbiguousEndpoint"),
        ),
        (list(&["a:2379"]), None, Err("InvalidEndpoint")),
        (list(&["https://"]), None, Err("InvalidEndpoint")),
        (
            list(&["https://root:hunter2@a:2379"]),
            None,
            Err("InvalidEndpoint"),
        ),
        (
            list(&["https://a:2379,https://b:2379"]),
            None,
            Err("InvalidEndpoint"),
        ),
    ];
    let mut c = cluster("orders-etcd");
    c.spec.service = None;
    c.spec.endpoints = Some(vec!["https://root:hunter2@a:2379".into()]);
    let e = endpoints(&c).unwrap_err().to_string();
    assert!(e.contains("credentials") && !e.contains("hunter2"), "{e}");
    for (endpoints_in, service, want) in cases {
        let mut c = cluster("orders-etcd");
        c.spec.endpoints = endpoints_in.clone();
        c.spec.service = service.clone();
        let got = endpoints(&c).map_err(|e| e.reason());
        assert_eq!(
            got.as_deref().map_err(|e| *e),
            want,
            "{endpoints_in:?} {service:?}"
        );
    }
}

#[test]
fn template_settings_win_over_defaults_but_not_over_the_contract() {
    let mut config = default_config();
    let store = &mut config.store_container;
    store.image = Some("minio/mc:latest".into());
    store
        .env
        .get_or_insert_with(Vec::new)
        .push(env("ETCDBAK_S3_BUCKET", "other"));
    store.security_context = Some(SecurityContext {
        run_as_user: Some(1000),
        read_only_root_filesystem: Some(false),
        ..Default::default()
    });
    store.resources = Some(Default::default());
    config.pod.extra_volumes.push(Volume {
        name: "ca-bundle".into(),
        config_map: Some(Default::default()),
        ..Default::default()
    });
    config
        .store_container
        .volume_mounts
        .as_mut()
        .unwrap()
        .push(mount("ca-bundle", "/etc/ssl/custom", true));
    let desired = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
    let pod = pod_spec(&desired.cron_job);
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("minio/mc:latest"));
    assert_eq!(
        c.image_pull_policy, None,
        "the template's own image keeps its own policy"
    );
    let e = env_of(c);
    assert_eq!(
        e.iter().filter(|(n, _)| n == "ETCDBAK_S3_BUCKET").count(),
        1
    );
    assert!(e.contains(&("ETCDBAK_S3_BUCKET".into(), "other".into())));
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.run_as_user, Some(1000));
    assert_eq!(sc.read_only_root_filesystem, Some(false));
    assert_eq!(
        sc.allow_privilege_escalation,
        Some(false),
        "unset fields are still locked down"
    );
    assert!(pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .any(|v| v.name == "ca-bundle"));
}

#[test]
fn variations_render_as_expected() {
    let config = default_config();
    // Suspend is passed through.
    let mut c = cluster("orders-etcd");
    c.spec.suspend = Some(true);
    let d = render_backup(&c, None, &config);
    assert!(d.is_err(), "tls secret still required");
    let d = render_backup(&c, Some(&tls_source()), &config).unwrap();
    assert_eq!(d.cron_job.spec.as_ref().unwrap().suspend, Some(true));

    // No TLS: no secret, no TLS volume or env.
    let mut c = cluster("plain-etcd");
    c.spec.tls_secret = None;
    c.spec.service = None;
    c.spec.endpoints = Some(vec!["http://etcd.plain.svc:2379".into()]);
    let d = render_backup(&c, None, &config).unwrap();
    assert_eq!(d.tls_secret, None);
    let pod = pod_spec(&d.cron_job);
    assert!(!pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .any(|v| v.name == TLS_VOLUME));
    assert!(!env_of(&pod.init_containers.as_ref().unwrap()[0])
        .iter()
        .any(|(n, _)| n.starts_with("ETCDBAK_CACERT")));

    // Defaults apply when the Cluster overrides nothing.
    let mut c = cluster("orders-etcd");
    c.spec.schedule = None;
    c.spec.keep = None;
    let d = render_backup(&c, Some(&tls_source()), &config).unwrap();
    assert_eq!(
        d.schedule.split(' ').skip(1).collect::<Vec<_>>(),
        ["*", "*", "*", "*"]
    );
    assert!(env_of(&pod_spec(&d.cron_job).containers[0]).contains(&("KEEP".into(), "20".into())));

    // Without a UID (never stored in an apiserver) there is nothing to own the objects.
    let mut c = cluster("orders-etcd");
    c.metadata.uid = None;
    let d = render_backup(&c, Some(&tls_source()), &config).unwrap();
    assert_eq!(d.cron_job.metadata.owner_references, None);

    // stringData (a Secret read from a file) is mirrored like data.
    let mut src = tls_source();
    let data = src.data.take().unwrap();
    src.string_data = Some(
        data.into_iter()
            .map(|(k, v)| (k, String::from_utf8(v.0).unwrap()))
            .collect(),
    );
    let d = render_backup(&cluster("orders-etcd"), Some(&src), &config).unwrap();
    assert_eq!(
        d.tls_secret.unwrap().data.unwrap()["tls.key"].0,
        b"test-key"
    );
}

#[test]
fn spec_hash_is_stable_and_tracks_changes() {
    let config = default_config();
    let a = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
    let b = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
    let hash =
        |d: &Desired| d.cron_job.metadata.annotations.as_ref().unwrap()[HASH_ANNOTATION].clone();
    assert_eq!(hash(&a), hash(&b));
    assert_eq!(hash(&a).len(), 16);
    let mut c = cluster("orders-etcd");
    c.spec.keep = Some(7);
    let changed = render_backup(&c, Some(&tls_source()), &config).unwrap();
    assert_ne!(hash(&a), hash(&changed));
    // Re-stamping an already stamped object gives the same hash (the annotation is not hashed).
    let mut again = a.cron_job.clone();
    stamp_hash(&mut again);
    assert_eq!(again, a.cron_job);
    let mut rotated = tls_source();
    rotated
        .data
        .as_mut()
        .unwrap()
        .insert("tls.key".into(), ByteString(b"new-key".to_vec()));
    let r = render_backup(&cluster("orders-etcd"), Some(&rotated), &config).unwrap();
    let secret_hash = |d: &Desired| {
        d.tls_secret
            .as_ref()
            .unwrap()
            .metadata
            .annotations
            .as_ref()
            .unwrap()[HASH_ANNOTATION]
            .clone()
    };
    assert_ne!(
        secret_hash(&a),
        secret_hash(&r),
        "a rotated certificate must be re-mirrored"
    );
    // The controller may not read the mirror back, so the CronJob records which mirror it runs with: a
    // rotation is one more CronJob write, and the annotation is the mirror's hash.
    let tls_hash = |d: &Desired| {
        d.cron_job.metadata.annotations.as_ref().unwrap()[TLS_HASH_ANNOTATION].clone()
    };
    assert_eq!(tls_hash(&a), secret_hash(&a));
    assert_eq!(tls_hash(&r), secret_hash(&r));
    assert_ne!(hash(&a), hash(&r), "the CronJob changes with the mirror");
}

mod contract;
mod destinations;
mod hardening;
mod object_lock;
mod retention;
mod verify;

#[test]
fn host_network_reaches_every_rendered_pod_only_when_asked() {
    let mut config = default_config();
    let off = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
    let pod = pod_spec(&off.cron_job);
    assert_eq!((pod.host_network, pod.dns_policy.as_deref()), (None, None));

    config.pod.host_network = true;
    let on = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
    let cleanup = render_cleanup_job(&cluster("orders-etcd"), &config).unwrap();
    let cleanup_pod = cleanup
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    for pod in [pod_spec(&on.cron_job), cleanup_pod] {
        assert_eq!(pod.host_network, Some(true));
        assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirstWithHostNet"));
    }
}

#[test]
fn the_store_container_is_told_the_clusters_compression_and_recipients() {
    let platform = age::x25519::Identity::generate().to_public().to_string();
    let tenant = age::x25519::Identity::generate().to_public().to_string();
    let mut config = default_config();
    config.encoding.encryption.recipients = vec![platform.clone()];
    let store_env = |c: &Cluster| {
        let d = render_backup(c, Some(&tls_source()), &config)?;
        Ok::<_, RenderError>(env_of(&pod_spec(&d.cron_job).containers[0]))
    };
    let plain = store_env(&cluster("orders-etcd")).unwrap();
    assert!(plain.contains(&("ETCDBAK_COMPRESS".into(), "zstd:1".into())));
    assert!(plain.contains(&("ETCDBAK_ENCRYPT_TO".into(), platform.clone())));
    let mut own = cluster("orders-etcd");
    own.spec.compression = Some("zstd:9".into());
    own.spec.encryption = Some(crate::crd::EncryptionSpec {
        recipients: vec![tenant.clone()],
    });
    let e = store_env(&own).unwrap();
    assert!(e.contains(&("ETCDBAK_COMPRESS".into(), "zstd:9".into())));
    assert!(e.contains(&("ETCDBAK_ENCRYPT_TO".into(), format!("{platform},{tenant}"))));
    own.spec.compression = Some("gzip".into());
    let err = store_env(&own).unwrap_err();
    assert_eq!(err.reason(), "InvalidEncoding");
    assert!(err.to_string().contains("spec.compression"), "{err}");
}

fn continuous(mut c: Cluster, interval: Option<&str>) -> Cluster {
    c.spec.continuous = Some(crate::crd::ContinuousSpec {
        enabled: Some(true),
        interval: interval.map(str::to_string),
    });
    c
}

#[test]
fn a_continuous_cluster_gets_a_follower_as_snapshotted() {
    let config = default_config();
    let off = render_backup(&cluster("orders-etcd"), Some(&tls_source()), &config).unwrap();
    assert_eq!(off.follower, None, "off by default");
    let c = continuous(cluster("orders-etcd"), Some("10s"));
    let desired = render_backup(&c, Some(&tls_source()), &config).unwrap();
    let follower = desired.follower.unwrap();
    insta::assert_yaml_snapshot!("follower", follower);
    let spec = follower.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(
        spec.strategy.as_ref().unwrap().type_.as_deref(),
        Some("Recreate")
    );
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Always"));
    let env: BTreeMap<String, String> = env_of(&pod.containers[0]).into_iter().collect();
    assert_eq!(env["ETCDBAK_SEGMENT_INTERVAL"], "10s");
    assert_eq!(env["ETCDBAK_LEASE"], "etcdbak-follow-orders-etcd");
    assert_eq!(env["ETCDBAK_CACERT"], "/etc/etcdbak/tls/ca.crt");
    assert_eq!(env["ETCDBAK_S3_BUCKET"], "etcd-backups");
    assert_eq!(env["AWS_SECRET_ACCESS_KEY"], "<from>");
}

#[test]
fn a_suspended_follower_keeps_its_deployment_at_zero() {
    let mut c = continuous(cluster("orders-etcd"), None);
    c.spec.suspend = Some(true);
    let desired = render_backup(&c, Some(&tls_source()), &default_config()).unwrap();
    let spec = desired.follower.unwrap().spec.unwrap();
    assert_eq!(spec.replicas, Some(0));
}

#[test]
fn a_bad_interval_names_the_field() {
    let c = continuous(cluster("orders-etcd"), Some("2h"));
    let err = render_backup(&c, Some(&tls_source()), &default_config()).unwrap_err();
    assert_eq!(err.reason(), "InvalidContinuousInterval");
    assert!(
        err.to_string().contains("spec.continuous.interval"),
        "{err}"
    );
}

#[test]
fn the_follower_template_may_not_set_what_the_controller_provides() {
    let mut config = default_config();
    config
        .follower_container
        .env
        .get_or_insert_with(Vec::new)
        .push(env("ETCDBAK_LEASE", "someone-elses"));
    let c = continuous(cluster("orders-etcd"), None);
    let err = render_backup(&c, Some(&tls_source()), &config).unwrap_err();
    assert_eq!(err.reason(), "TemplateReservedEnv");
}
