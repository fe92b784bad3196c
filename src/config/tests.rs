use super::*;

#[test]
fn embedded_default_parses() {
    let c = Config::from_yaml(DEFAULT_CONFIG_YAML, None).unwrap();
    assert_eq!(c.default_keep, 20);
    assert_eq!(c, default_config());
    assert_eq!(
        c.store_container.command.as_deref().unwrap()[..2],
        ["etcdbak", "store"]
    );
    assert_eq!(
        c.cleanup_container.command.as_deref().unwrap(),
        ["etcdbak", "prune", "--all"]
    );
}

/// The least a config must say: where the backups go.
const MINIMAL: &str = "s3: {endpoint: 'http://minio:9000', bucket: b}\n";

#[test]
fn minimal_config_gets_defaults_and_builtin_templates() {
    let c = Config::from_yaml(MINIMAL, None).unwrap();
    assert_eq!(c.default_schedule, "H * * * *");
    assert_eq!(c.default_keep, 20);
    assert_eq!(c.job_namespace(), "etcdbak");
    assert_eq!(c.time_zone, "UTC");
    assert_eq!(c.job.backoff_limit, 2);
    assert_eq!(c.store_container, default_config().store_container);
    assert_eq!(c.cleanup_container, default_config().cleanup_container);
    assert_eq!(c.verify_container, default_config().verify_container);
    assert!(c.verify.enabled, "verification is on by default");
    assert_eq!(c.verify.schedule, "H 4 * * *");
    let off = Config::from_yaml(&format!("{MINIMAL}verify: {{enabled: false}}\n"), None).unwrap();
    assert!(!off.verify.enabled);
    assert_eq!(off.verify.schedule, "H 4 * * *");
}

#[test]
fn digest_is_stable_and_sees_changes() {
    let a = default_config();
    let mut b = a.clone();
    assert_eq!(a.digest(), b.digest());
    assert_eq!(a.digest().len(), 16);
    b.store_container.args = Some(vec!["--verbose".into()]);
    assert_ne!(a.digest(), b.digest());
    let mut c = a.clone();
    c.source = Some("/elsewhere.yaml".into());
    assert_eq!(
        a.digest(),
        c.digest(),
        "where the file lives is not a change"
    );
}

#[test]
fn errors_name_the_file_line_and_field() {
    let cases: &[(&str, &[&str])] = &[
        (
            "defaultKep: 5\n",
            &["the config line 1", "unknown field `defaultKep`"],
        ),
        ("defaultKeep: 0\n", &["defaultKeep is 0"]),
        ("defaultKeep: many\n", &["line 1", "defaultKeep"]),
        (
            "retention:\n  keepDialy: 7\n",
            &["line 2", "unknown field `keepDialy`"],
        ),
        (
            "retention:\n  keepLast: 0\n",
            &["retention", "keeps nothing"],
        ),
        (
            "retention:\n  keepWithin: 7days\n",
            &["retention", "keepWithin"],
        ),
        ("retention:\n  keepDaily: 20000\n", &["retention", "10000"]),
        (
            "defaultSchedule: '* * *'\n",
            &["defaultSchedule is not usable", "has 3 fields"],
        ),
        ("jobNamespace: Backups\n", &["jobNamespace \"Backups\""]),
        (
            "imagePullPolicy: Sometimes\n",
            &["imagePullPolicy", "IfNotPresent"],
        ),
        ("job:\n  backoffLimit: -1\n", &["job.backoffLimit is -1"]),
        (
            "job:\n  backofLimit: 1\n",
            &["line 2", "unknown field `backofLimit`"],
        ),
        ("s3:\n  bucket: [a]\n", &["line 2", "bucket"]),
        (
            "storeContainer:\n  name: store\n  image: x\n  env: nope\n",
            &["line 4", "the config"],
        ),
        (
            "storeContainer:\n  image: x\n",
            &["storeContainer has no name"],
        ),
        (
            "storeContainer:\n  name: Store_1\n",
            &["storeContainer has the name \"Store_1\""],
        ),
        ("storeContainer: store.yaml\n", &["not read from a file"]),
        ("a: [\n", &["the config line", "fix the YAML"]),
        (
            "verify:\n  schedule: '* *'\n",
            &["verify.schedule is not usable", "has 2 fields"],
        ),
        (
            "verify:\n  enable: false\n",
            &["line 2", "unknown field `enable`"],
        ),
        (
            "verifyContainer:\n  image: x\n",
            &["verifyContainer has no name"],
        ),
    ];
    for (yaml, wants) in cases {
        let e = Config::from_yaml(yaml, None).unwrap_err().to_string();
        for want in *wants {
            assert!(e.contains(want), "{yaml:?}: {e:?} lacks {want:?}");
        }
        assert_eq!(Config::from_yaml(yaml, None).unwrap_err().class().code(), 7);
    }
}

#[test]
fn template_files_resolve_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("t")).unwrap();
    std::fs::write(
        dir.path().join("t/store.yaml"),
        "name: upload\nimage: amazon/aws-cli:2\ncommand: [sh, -c, 'true']\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        format!("{MINIMAL}storeContainer: t/store.yaml\n"),
    )
    .unwrap();
    let c = Config::load(&dir.path().join("config.yaml")).unwrap();
    assert_eq!(c.store_container.name, "upload");
    assert_eq!(
        c.source.as_deref(),
        Some(dir.path().join("config.yaml").as_path())
    );
    assert_eq!(
        c.files(),
        [
            dir.path().join("config.yaml"),
            dir.path().join("t/store.yaml")
        ]
    );

    // A broken template file is reported with its own path and line.
    std::fs::write(dir.path().join("t/store.yaml"), "name: upload\nimage: [\n").unwrap();
    let e = Config::load(&dir.path().join("config.yaml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("t/store.yaml line"), "{e}");

    std::fs::write(
        dir.path().join("config.yaml"),
        "cleanupContainer: missing.yaml\n",
    )
    .unwrap();
    let e = Config::load(&dir.path().join("config.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cleanupContainer template file") && e.contains("missing.yaml"),
        "{e}"
    );

    let e = Config::load(&dir.path().join("nope.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("cannot read the config file") && e.contains("nope.yaml"),
        "{e}"
    );
}

fn s3(s3: &str) -> String {
    format!("s3: {s3}\n")
}

fn with_s3(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

/// Values that would only fail later (every Job exiting 2, a CronJob the apiserver refuses), and what the
/// one line refusing each must say.
fn refusals() -> Vec<(String, &'static [&'static str])> {
    vec![
        ("{}".into(), &["s3.bucket is unset"]),
        (
            s3("{endpoint: 'http://minio:9000'}"),
            &["s3.bucket is unset"],
        ),
        (
            s3("{endpoint: 'http://minio:9000', bucket: ''}"),
            &["s3.bucket is unset"],
        ),
        (
            s3("{endpoint: 'http://minio:9000', bucket: a/b}"),
            &["s3.bucket \"a/b\""],
        ),
        (s3("{bucket: b}"), &["s3.endpoint is unset", "s3.region"]),
        (
            s3("{bucket: b, endpoint: 'minio:9000'}"),
            &["s3.endpoint \"minio:9000\""],
        ),
        (s3("{bucket: b, endpoint: 'ftp://minio'}"), &["s3.endpoint"]),
        (
            s3("{bucket: b, endpoint: 'http://minio:9000/path'}"),
            &["s3.endpoint"],
        ),
        (
            s3("{bucket: b, endpoint: 'http://admin:hunter2@minio:9000'}"),
            &["s3.endpoint carries credentials"],
        ),
        (
            with_s3("timeZone: Mars/Olympus\n"),
            &["timeZone \"Mars/Olympus\" is not an IANA"],
        ),
        (with_s3("timeZone: Local\n"), &["timeZone \"Local\""]),
        (with_s3("timeZone: ' UTC'\n"), &["timeZone"]),
        (with_s3("timeZone: ''\n"), &["timeZone is empty"]),
        (
            with_s3("job: {activeDeadlineSeconds: 0}\n"),
            &["job.activeDeadlineSeconds is 0"],
        ),
        (
            with_s3("job: {activeDeadlineSeconds: 99999999}\n"),
            &["job.activeDeadlineSeconds", "at most"],
        ),
        (
            with_s3("job: {startingDeadlineSeconds: 172800}\n"),
            &["job.startingDeadlineSeconds", "at most 86400"],
        ),
        (
            with_s3("job: {successfulJobsHistoryLimit: 5000}\n"),
            &["job.successfulJobsHistoryLimit", "at most 100"],
        ),
        (
            with_s3("job: {backoffLimit: 1000}\n"),
            &["job.backoffLimit"],
        ),
        (
            with_s3("job: {cleanupTtlSecondsAfterFinished: -1}\n"),
            &["job.cleanupTtlSecondsAfterFinished is -1"],
        ),
        (
            with_s3("pod: {backupVolumeSizeLimit: 1Mi}\n"),
            &["pod.backupVolumeSizeLimit is \"1Mi\"", "64Mi"],
        ),
        (
            with_s3("pod: {backupVolumeSizeLimit: lots}\n"),
            &["pod.backupVolumeSizeLimit \"lots\""],
        ),
    ]
}

/// Each is refused when the config is read, with one line naming the field; a secret in a URL is never
/// repeated.
#[test]
fn values_that_only_fail_later_are_refused_by_field() {
    for (yaml, wants) in refusals() {
        let e = Config::from_yaml(&yaml, None).unwrap_err();
        let text = e.to_string();
        assert_eq!(text.lines().count(), 1, "{yaml:?}: {text}");
        assert!(
            !text.contains("hunter2"),
            "{yaml:?}: the password leaked: {text}"
        );
        for want in wants {
            assert!(text.contains(want), "{yaml:?}: {text:?} lacks {want:?}");
        }
        assert_eq!(e.class().code(), 7);
    }
}

#[test]
fn real_zones_aws_without_an_endpoint_and_sizes_are_accepted() {
    for good in [
        "s3: {bucket: b, region: eu-west-1}\n".to_string(),
        with_s3("timeZone: Europe/Berlin\n"),
        with_s3("pod: {backupVolumeSizeLimit: null}\n"),
        with_s3("pod: {backupVolumeSizeLimit: 500M}\n"),
        with_s3("timeZone: Etc/UTC\n"),
        with_s3("timeZone: America/Argentina/Buenos_Aires\n"),
        s3("{bucket: b, endpoint: 'https://s3.eu-west-1.amazonaws.com/'}"),
    ] {
        assert!(
            Config::from_yaml(&good, None).is_ok(),
            "{good:?}: {:?}",
            Config::from_yaml(&good, None)
        );
    }
}
