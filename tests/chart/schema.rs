//! The values schema: typos and unbounded values refused at install time.

use super::*;

/// A misspelt key anywhere under `config` fails at install time, not when the controller first reads the
/// file; durations the controller would refuse (or spin on) are refused by the schema; every accepted
/// duration is one `etcdbak watch` takes.
#[test]
fn the_schema_refuses_typos_and_unbounded_values() {
    let home = tempfile::tempdir().unwrap();
    let chart = chart();
    let rendered = |set: &str| {
        helm(
            &["template", "etcdbak", chart.to_str().unwrap(), "--set", set],
            home.path(),
        )
    };
    for bad in [
        "config.defaultKep=3",
        "config.jobNamespace=elsewhere",
        "config.s3.bucekt=x",
        "config.s3.bucket=",
        "config.s3.endpoint=http://admin:secret@minio:9000",
        "config.job.backofLimit=1",
        "config.job.activeDeadlineSeconds=0",
        "config.pod.hostNetwrok=true",
        "config.verify.enable=false",
        "config.timeZone=Europe Berlin",
        "resync=0s",
        "resync=0m",
        "resync=25h",
        "resync=10",
        "leaderElection.leaseDuration=0s",
        "leaderElection.leaseDuration=1s",
        "leaderElection.leaseDuration=11m",
    ] {
        let out = rendered(bad);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "--set {bad} was accepted");
        assert!(err.contains("schema"), "--set {bad}: {err}");
    }
    for good in ["resync=1s", "resync=90s", "resync=10m", "resync=24h"] {
        let out = rendered(&format!("{good},leaderElection.leaseDuration=2s"));
        let d = docs(&ok(&out, good));
        let c = &find(&d, "Deployment", "etcdbak")["spec"]["template"]["spec"]["containers"][0];
        let mut argv = vec!["etcdbak".to_string()];
        argv.extend(
            c["args"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string()),
        );
        let parsed = etcdbak::cli::Cli::try_parse_from(&argv);
        assert!(parsed.is_ok(), "{argv:?}: {}", parsed.err().unwrap());
    }
    let exporter = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/s3-exporter");
    for bad in [
        "s3.timeout=0s",
        "s3.timeout=2h",
        "s3.endpoint=http://u:p@minio:9000",
    ] {
        let out = helm(
            &[
                "template",
                "exp",
                exporter.to_str().unwrap(),
                "--set",
                "s3.endpoint=http://minio:9000",
                "--set",
                bad,
            ],
            home.path(),
        );
        assert!(
            !out.status.success(),
            "s3-exporter --set {bad} was accepted"
        );
    }
}

/// `config.destinations` reaches the controller's config as it is, and the schema refuses the names and
/// keys the controller would.
#[test]
fn destinations_pass_the_schema_into_a_config_the_controller_reads() {
    let home = tempfile::tempdir().unwrap();
    let set = "config.destinations[0].name=dr,config.destinations[0].bucket=etcd-dr,config.destinations[0].credentialsSecret=etcdbak-s3-dr";
    let d = docs(&template_chart(home.path(), &["--set", set]));
    let dir = tempfile::tempdir().unwrap();
    let config = Config::load(&write_configmap(&d, dir.path())).expect("the chart's config loads");
    assert_eq!(config.destinations.len(), 1);
    assert_eq!(
        config.destinations[0].credentials_secret.as_deref(),
        Some("etcdbak-s3-dr")
    );
    let chart = chart();
    for bad in [
        "config.destinations[0].name=primary,config.destinations[0].bucket=x",
        "config.destinations[0].name=dr,config.destinations[0].bukcet=x",
        "config.destinations[0].name=Dr,config.destinations[0].bucket=x",
        "config.destinations[0].name=dr",
    ] {
        let out = helm(
            &["template", "etcdbak", chart.to_str().unwrap(), "--set", bad],
            home.path(),
        );
        assert!(!out.status.success(), "--set {bad} was accepted");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("schema"),
            "--set {bad}"
        );
    }
}
