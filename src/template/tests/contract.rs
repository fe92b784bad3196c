//! The render side of the admin's contract: the shipped examples render, every error says what to fix, and
//! docs/CONTRACT.md names every env var, reason, exit code and config key.

use super::*;

#[test]
fn every_example_parses_and_renders() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let sample: Cluster =
        serde_yaml::from_str(&std::fs::read_to_string(examples.join("cluster.yaml")).unwrap())
            .unwrap();
    assert_eq!(sample.spec.namespace, "orders");
    let mut sample = sample;
    sample.metadata.uid = Some("uid-1".into());
    let custom: Container = serde_yaml::from_str(
        &std::fs::read_to_string(examples.join("store-template-custom.yaml")).unwrap(),
    )
    .unwrap();
    let mut configs = vec![];
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("config") {
            configs.push((name, Config::load(&path).unwrap()));
        }
    }
    assert!(configs.len() >= 2, "{configs:?}");

    // The credentials Secret example is the one the default templates reference, key for key.
    let creds: Secret = serde_yaml::from_str(
        &std::fs::read_to_string(examples.join("s3-credentials-secret.yaml")).unwrap(),
    )
    .unwrap();
    let default = default_config();
    assert_eq!(
        creds.metadata.namespace.as_deref(),
        Some(default.job_namespace())
    );
    for template in [
        &default.store_container,
        &default.cleanup_container,
        &custom,
    ] {
        for e in template.env.iter().flatten() {
            if let Some(r) = e
                .value_from
                .as_ref()
                .and_then(|v| v.secret_key_ref.as_ref())
            {
                assert_eq!(Some(&r.name), creds.metadata.name.as_ref());
                assert!(
                    creds.string_data.as_ref().unwrap().contains_key(&r.key),
                    "{}",
                    r.key
                );
            }
        }
    }
    for (name, config) in &configs {
        let d = render_backup(&sample, Some(&tls_source()), config)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        render_cleanup_job(&sample, config).unwrap_or_else(|e| panic!("{name}: {e}"));
        crate::schedule::max_interval(&d.schedule).unwrap();
        if name == "config-custom-store.yaml" {
            let store = &pod_spec(&d.cron_job).containers[0];
            assert_eq!(store.image, custom.image);
            assert!(env_of(store).contains(&("CLUSTER".into(), "orders-etcd".into())));
        }
    }
}

#[test]
fn contract_doc_covers_env_and_reasons() {
    let doc = include_str!("../../../docs/CONTRACT.md");
    for name in RESERVED_ENV {
        assert!(
            doc.contains(&format!("| `{name}` |")),
            "docs/CONTRACT.md lacks env {name}"
        );
    }
    let schedule_error = ScheduleError::Empty;
    let all = [
        RenderError::Schedule(schedule_error.clone()),
        RenderError::DefaultSchedule(schedule_error.clone()),
        RenderError::VerifySchedule(schedule_error),
        RenderError::InvalidKeep(0),
        RenderError::InvalidRetention(String::new()),
        RenderError::InvalidNamespace(String::new()),
        RenderError::InvalidClusterName(String::new()),
        RenderError::NoEndpoint,
        RenderError::AmbiguousEndpoint,
        RenderError::InvalidEndpoint(String::new()),
        RenderError::EndpointCredentials,
        RenderError::TlsSecretNotFound {
            namespace: String::new(),
            name: String::new(),
        },
        RenderError::TlsKeyMissing {
            namespace: String::new(),
            name: String::new(),
            key: "ca.crt",
        },
        RenderError::MissingBackupMount {
            template: "store",
            found: String::new(),
        },
        RenderError::ReservedEnv {
            template: "store",
            name: String::new(),
        },
        RenderError::UnknownVolume {
            template: "store",
            volume: String::new(),
        },
        RenderError::ContainerNameTaken {
            template: "store",
            name: String::new(),
        },
    ];
    for e in &all {
        assert!(
            doc.contains(&format!("`{}`", e.reason())),
            "docs/CONTRACT.md lacks reason {}",
            e.reason()
        );
    }
}

#[test]
fn contract_doc_covers_exit_codes_and_config_keys() {
    let doc = include_str!("../../../docs/CONTRACT.md");
    use crate::exit::Class;
    for code in [
        Class::Failure,
        Class::Usage,
        Class::EtcdUnavailable,
        Class::Auth,
        Class::CorruptSnapshot,
        Class::Storage,
        Class::Config,
    ]
    .map(Class::code)
    {
        assert!(
            doc.contains(&format!("| {code} |")),
            "docs/CONTRACT.md lacks exit code {code}"
        );
    }
    for key in [
        "defaultSchedule",
        "defaultKeep",
        "jobNamespace",
        "storeContainer",
        "cleanupContainer",
        "verifyContainer",
        "verify",
    ] {
        assert!(
            doc.contains(&format!("`{key}`")),
            "docs/CONTRACT.md lacks config key {key}"
        );
    }
}

type Mutate = Box<dyn Fn(&mut Cluster, &mut Config, &mut Option<Secret>)>;

/// Renders the typical Cluster after `mutate`, expecting each error's reason and a phrase of its message.
fn check_errors(cases: Vec<(Mutate, &str, &str)>) {
    let config = default_config();
    for (mutate, reason, text) in cases {
        let mut c = cluster("orders-etcd");
        let mut cfg = config.clone();
        let mut tls = Some(tls_source());
        mutate(&mut c, &mut cfg, &mut tls);
        let e = render_backup(&c, tls.as_ref(), &cfg).unwrap_err();
        assert_eq!(e.reason(), reason, "{e}");
        assert!(e.to_string().contains(text), "{e:?} lacks {text:?}");
        assert!(
            !e.to_string().contains("test-key"),
            "secrets never reach messages"
        );
    }
}

#[test]
fn errors_say_what_to_fix() {
    check_errors(vec![
        (
            Box::new(|c, _, _| c.spec.schedule = Some("0 0 H * *".into())),
            "InvalidSchedule",
            "spec.schedule is not usable",
        ),
        (
            Box::new(|c, cfg, _| {
                c.spec.schedule = None;
                cfg.default_schedule = "99 * * * *".into();
            }),
            "InvalidSchedule",
            "defaultSchedule",
        ),
        (
            Box::new(|c, _, _| c.spec.keep = Some(0)),
            "InvalidKeep",
            "spec.keep",
        ),
        (
            Box::new(|c, _, _| c.metadata.name = Some("orders.etcd".into())),
            "InvalidClusterName",
            "may contain only lower-case letters",
        ),
        (
            Box::new(|c, _, _| c.spec.namespace = "Orders".into()),
            "InvalidNamespace",
            "spec.namespace \"Orders\"",
        ),
        (
            Box::new(|_, _, tls| *tls = None),
            "TlsSecretNotFound",
            "orders/orders-etcd-client-tls",
        ),
        (
            Box::new(|_, _, tls| {
                tls.as_mut()
                    .unwrap()
                    .data
                    .as_mut()
                    .unwrap()
                    .remove("ca.crt");
            }),
            "TlsSecretIncomplete",
            "no \"ca.crt\" key",
        ),
    ]);
}

#[test]
fn template_errors_say_what_to_fix_in_the_config() {
    check_errors(vec![
        (
            Box::new(|_, cfg, _| cfg.store_container.volume_mounts = None),
            "TemplateMissingBackupMount",
            "does not mount the volume etcd-backup at /backup",
        ),
        (
            Box::new(|_, cfg, _| {
                cfg.store_container.volume_mounts.as_mut().unwrap()[0].mount_path = "/data".into()
            }),
            "TemplateMissingBackupMount",
            "(it mounts it at /data)",
        ),
        (
            Box::new(|_, cfg, _| {
                cfg.store_container
                    .env
                    .get_or_insert_with(Vec::new)
                    .push(env("KEEP", "3"))
            }),
            "TemplateReservedEnv",
            "sets the env var KEEP",
        ),
        (
            Box::new(|_, cfg, _| {
                cfg.store_container
                    .volume_mounts
                    .as_mut()
                    .unwrap()
                    .push(mount("ca-bundle", "/etc/ssl/custom", true))
            }),
            "TemplateUnknownVolume",
            "\"ca-bundle\"",
        ),
        (
            Box::new(|_, cfg, _| cfg.store_container.name = "snapshot".into()),
            "TemplateNameConflict",
            "rename it",
        ),
    ]);
}
