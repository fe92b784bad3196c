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
