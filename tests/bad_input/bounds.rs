//! Bounds on durations and counts, names the apiserver would refuse, and controller config fields: each
//! refused with one line that names it.

use super::*;

/// Zero or absurd durations, names the apiserver would refuse, and a config whose Jobs could only fail:
/// each refused at once with one line that names the flag or field (no server is reached).
#[test]
fn bounds_names_and_config_fields_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        p(&path)
    };
    let s3 = "s3: {endpoint: 'http://127.0.0.1:1', bucket: b}\n";
    let no_bucket = write("no-bucket.yaml", "s3: {endpoint: 'http://127.0.0.1:1'}\n");
    let no_endpoint = write("no-endpoint.yaml", "s3: {bucket: b}\n");
    let creds = write(
        "creds.yaml",
        "s3: {endpoint: 'http://admin:hunter2@127.0.0.1:1', bucket: b}\n",
    );
    let tz = write("tz.yaml", &format!("{s3}timeZone: Mars/Olympus\n"));
    let dest_creds = write(
        "dest-creds.yaml",
        &format!("{s3}destinations:\n- {{name: dr, bucket: b2, endpoint: 'https://admin:hunter2@s3.example'}}\n"),
    );
    let deadline = write(
        "deadline.yaml",
        &format!("{s3}job: {{activeDeadlineSeconds: 0}}\n"),
    );
    let keys = vec![
        ("AWS_ACCESS_KEY_ID".to_string(), "AKIDEXAMPLE".to_string()),
        (
            "AWS_SECRET_ACCESS_KEY".to_string(),
            "hunter2hunter2".to_string(),
        ),
    ];
    let cases = [
        case(
            "watch: --resync 0s",
            &["watch", "--resync", "0s"],
            &["--resync"],
        ),
        case(
            "watch: --resync 30d",
            &["watch", "--resync", "30d"],
            &["--resync"],
        ),
        case(
            "watch: --config-poll 0s",
            &["watch", "--config-poll", "0s"],
            &["--config-poll"],
        ),
        case(
            "watch: --lease-duration 0s",
            &["watch", "--lease-duration", "0s"],
            &["--lease-duration"],
        ),
        case(
            "watch: bad Lease name",
            &["watch", "--lease-name", "Leader_1"],
            &["--lease-name"],
        ),
        case(
            "watch: bad Lease namespace",
            &["watch", "--lease-namespace", "a.b"],
            &["--lease-namespace"],
        ),
        case(
            "watch: bad Lease namespace from env",
            &["watch"],
            &["--lease-namespace"],
        )
        .env(vec![(
            "ETCDBAK_LEASE_NAMESPACE".into(),
            "Kube System".into(),
        )]),
        case(
            "store: --keep 20000",
            &["store", "--keep", "20000"],
            &["--keep"],
        ),
        case(
            "watch: --concurrency 5000",
            &["watch", "--concurrency", "5000"],
            &["--concurrency"],
        ),
        case(
            "store: --stale-upload-age 0s",
            &["store", "--stale-upload-age", "0s"],
            &["--stale-upload-age"],
        ),
        case(
            "prune: --stale-upload-age 30s",
            &[
                "prune",
                "--cluster",
                "demo",
                "--all",
                "--stale-upload-age",
                "30s",
            ],
            &["--stale-upload-age"],
        ),
        case(
            "list: --stall-timeout 0s",
            &["list", "--bucket", "b", "--stall-timeout", "0s"],
            &["--stall-timeout"],
        ),
        case(
            "snapshot: --dial-timeout 0s",
            &[
                "snapshot",
                "--endpoints",
                "http://127.0.0.1:1",
                "--dial-timeout",
                "0s",
            ],
            &["--dial-timeout"],
        ),
        case(
            "s3-exporter: --list-timeout 0s",
            &["s3-exporter", "--bucket", "b", "--list-timeout", "0s"],
            &["--list-timeout"],
        ),
        case(
            "follow: bad Lease name",
            &[
                "follow",
                "--endpoints",
                "http://127.0.0.1:1",
                "--bucket",
                "b",
                "--lease",
                "Not A Name",
            ],
            &["--lease"],
        ),
        case(
            "list: credentials in --s3-endpoint",
            &[
                "list",
                "--bucket",
                "b",
                "--s3-endpoint",
                "http://admin:hunter2@127.0.0.1:1",
            ],
            &["--s3-endpoint"],
        )
        .env(keys.clone()),
        case(
            "reconcile: no bucket",
            &["reconcile", "--config", &no_bucket],
            &["s3.bucket"],
        ),
        case(
            "reconcile: no endpoint",
            &["reconcile", "--config", &no_endpoint],
            &["s3.endpoint"],
        ),
        case(
            "reconcile: credentials in the endpoint",
            &["reconcile", "--config", &creds],
            &["s3.endpoint"],
        ),
        case(
            "reconcile: credentials in a destination's endpoint",
            &["reconcile", "--config", &dest_creds],
            &["destinations"],
        ),
        case(
            "store: credentials in an --add-destination endpoint",
            &[
                "store",
                "--dir",
                "/nonexistent",
                "--cluster",
                "c",
                "--bucket",
                "b",
                "--s3-endpoint",
                "http://127.0.0.1:1",
                "--add-destination",
                "name=dr,bucket=b2,endpoint=http://admin:hunter2@127.0.0.1:1",
            ],
            &["--add-destination"],
        )
        .env(keys.clone()),
        case(
            "snapshot: credentials in --endpoints",
            &[
                "snapshot",
                "--endpoints",
                "http://admin:hunter2@127.0.0.1:1",
                "--dir",
                "/nonexistent",
                "--cluster",
                "c",
            ],
            &["--endpoints"],
        ),
        case(
            "reconcile: unknown time zone",
            &["reconcile", "--config", &tz],
            &["timeZone"],
        ),
        case(
            "watch: unknown time zone",
            &["watch", "--config", &tz],
            &["timeZone"],
        ),
        case(
            "reconcile: zero deadline",
            &["reconcile", "--config", &deadline],
            &["job.activeDeadlineSeconds"],
        ),
    ];
    check(&cases);
    for c in &cases {
        let out = run(c);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("hunter2"),
            "{}: a password reached stderr: {stderr}",
            c.what
        );
    }
}
