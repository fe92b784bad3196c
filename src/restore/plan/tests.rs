use super::*;

/// The layout `etcdbak restore-guide` gets when no layout flag is given (the CLI's defaults; the CLI's own
/// tests check that its flags produce exactly this).
fn layout() -> Layout {
    Layout {
        namespace: None,
        statefulset: None,
        service: None,
        replicas: None,
        members: Vec::new(),
        endpoints: Vec::new(),
        cacert: "/etc/etcd/tls/ca.crt".into(),
        cert: "/etc/etcd/tls/tls.crt".into(),
        key: "/etc/etcd/tls/tls.key".into(),
        insecure: false,
        identity: None,
        data_dir: "/var/lib/etcd".into(),
        volume_mount_path: None,
        volume_claim: None,
        helper_image: "busybox:1.36".into(),
        owner: None,
        cronjob: None,
        apiserver: None,
        token: None,
        workdir: None,
        bump_revision: 1_000_000_000,
    }
}

fn s3() -> S3Location {
    S3Location {
        endpoint: None,
        region: "us-east-1".into(),
        bucket: "b".into(),
        prefix: "/etcdbak/".into(),
    }
}

fn snap() -> Snapshot {
    Snapshot {
        key: "etcdbak/prod-main/x.db".into(),
        taken_at: "2026-11-25T10:30:00Z".parse().unwrap(),
        revision: 5,
        size_bytes: 1,
        sha256: "ab".into(),
        format: crate::pipeline::Format::PLAIN,
    }
}

fn now() -> DateTime<Utc> {
    "2026-11-25T12:00:00Z".parse().unwrap()
}

fn plan_for(layout: &Layout, kube: &KubeFacts) -> Result<RestorePlan, Error> {
    resolve("prod-main", layout, &s3(), kube, snap(), now())
}

#[test]
fn defaults_follow_statefulset_naming() {
    let p = plan_for(&layout(), &KubeFacts::default()).unwrap();
    assert_eq!(p.namespace, "default");
    assert_eq!(p.statefulset, "prod-main");
    assert_eq!(
        p.members
            .iter()
            .map(|m| m.peer_url.as_str())
            .collect::<Vec<_>>(),
        vec![
            "https://prod-main-0.prod-main.default.svc:2380",
            "https://prod-main-1.prod-main.default.svc:2380",
            "https://prod-main-2.prod-main.default.svc:2380"
        ]
    );
    assert_eq!(
        p.endpoints[2],
        "https://prod-main-2.prod-main.default.svc:2379"
    );
    assert_eq!(p.cronjob, ("etcdbak".into(), "etcdbak-prod-main".into()));
    assert_eq!(p.token, "prod-main-restore-20261125120000");
    assert_eq!(p.workdir, "restore-prod-main");
    assert_eq!(p.s3.prefix, "etcdbak");
}

#[test]
fn the_default_cronjob_is_the_one_the_controller_renders() {
    // A long name is shortened the way the controller shortens it, so the guide suspends the real CronJob.
    let cluster = "a".repeat(60);
    let p = resolve(
        &cluster,
        &layout(),
        &s3(),
        &KubeFacts::default(),
        snap(),
        now(),
    )
    .unwrap();
    assert_eq!(p.cronjob.1, crate::naming::cron_job_name(&cluster));
    assert!(p.cronjob.1.len() <= 52, "{}", p.cronjob.1);
}

#[test]
fn apiserver_facts_fill_in_and_flags_win() {
    let kube = KubeFacts {
        namespace: Some("prod".into()),
        service: Some("etcd".into()),
        cronjob: Some(("backups".into(), "etcdbak-prod-main".into())),
        statefulset_service: Some("etcd-headless".into()),
        replicas: Some(5),
        volume_claim: Some("etcd-data".into()),
    };
    let p = plan_for(&layout(), &kube).unwrap();
    assert_eq!(p.members.len(), 5);
    assert_eq!(
        p.members[4].peer_url,
        "https://etcd-4.etcd-headless.prod.svc:2380"
    );
    assert_eq!(p.volume_claim, "etcd-data");
    assert_eq!(p.cronjob.0, "backups");
    let flags = Layout {
        namespace: Some("other".into()),
        replicas: Some(1),
        insecure: true,
        volume_claim: Some("v".into()),
        ..layout()
    };
    let p = plan_for(&flags, &kube).unwrap();
    assert_eq!(
        p.members[0].peer_url,
        "http://etcd-0.etcd-headless.other.svc:2380"
    );
    assert_eq!(p.volume_claim, "v");
    assert!(p.tls.is_none());
}

fn member(s: &str) -> Member {
    Member::parse(s).unwrap()
}

#[test]
fn explicit_members_and_bad_inputs() {
    let two = Layout {
        members: vec![
            member("a=https://127.0.0.1:1"),
            member("b=https://127.0.0.1:2"),
        ],
        ..layout()
    };
    let p = plan_for(&two, &KubeFacts::default()).unwrap();
    assert_eq!(p.members.len(), 2);
    assert_eq!(p.endpoints.len(), 2);
    let bad = [
        (
            "--member a=https://x:1 --replicas 3",
            Layout {
                members: vec![member("a=https://x:1")],
                replicas: Some(3),
                ..layout()
            },
        ),
        (
            "--data-dir /data/etcd --volume-mount-path /var/lib",
            Layout {
                data_dir: "/data/etcd".into(),
                volume_mount_path: Some("/var/lib".into()),
                ..layout()
            },
        ),
        (
            "--cronjob nope",
            Layout {
                cronjob: Some("nope".into()),
                ..layout()
            },
        ),
        (
            "--owner etcd",
            Layout {
                owner: Some("etcd".into()),
                ..layout()
            },
        ),
        (
            "--replicas 0",
            Layout {
                replicas: Some(0),
                ..layout()
            },
        ),
    ];
    for (flags, l) in bad {
        assert!(
            matches!(plan_for(&l, &KubeFacts::default()), Err(Error::Usage(_))),
            "{flags}"
        );
    }
    assert!(matches!(
        resolve(
            "Bad_Name",
            &layout(),
            &s3(),
            &KubeFacts::default(),
            snap(),
            now()
        ),
        Err(Error::Usage(_))
    ));
}

#[test]
fn a_data_dir_under_the_mount_path_is_accepted() {
    let l = Layout {
        data_dir: "/var/lib/etcd/data/".into(),
        volume_mount_path: Some("/var/lib/etcd".into()),
        owner: Some("1001:1001".into()),
        ..layout()
    };
    let p = plan_for(&l, &KubeFacts::default()).unwrap();
    assert_eq!(p.volume_mount_path, "/var/lib/etcd");
    assert_eq!(p.owner.as_deref(), Some("1001:1001"));
}
