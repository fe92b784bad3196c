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

/// Where a chart's schema leaves an object open on purpose: Helm's `global`, a dependency's values (its
/// own schema checks them), and Kubernetes objects passed through as they are (the apiserver checks them).
const OPEN_OBJECTS: &[&str] = &[
    "/properties/global",
    "/properties/minio",
    "/properties/s3-exporter",
    "/properties/affinity",
    "/properties/nodeSelector",
    "/properties/podSecurityContext",
    "/properties/containerSecurityContext",
];

/// The objects of `schema` that accept keys nobody declared: an object with named properties and no
/// `additionalProperties: false`, or a bare `{"type": "object"}`. A map with typed values
/// (`additionalProperties: {...}`, labels and annotations) is closed in that sense.
fn open_objects(node: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    match node {
        serde_json::Value::Object(map) => {
            let is_object =
                map.get("type") == Some(&"object".into()) || map.contains_key("properties");
            let closed = matches!(map.get("additionalProperties"), Some(v) if v != &serde_json::Value::Bool(true));
            if is_object && !closed && !OPEN_OBJECTS.contains(&path) {
                out.push(path.to_string());
            }
            for (k, v) in map {
                open_objects(v, &format!("{path}/{k}"), out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                open_objects(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Every object in every chart's values schema refuses keys it does not declare, so a misspelt key
/// anywhere fails `helm install` against a real kube-apiserver (with `--dry-run=client`, so nothing is
/// written) instead of being ignored.
#[test]
fn every_schema_object_refuses_undeclared_keys() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut open = Vec::new();
    for chart in ["etcdbak", "s3-exporter", "minio"] {
        let path = root.join(format!("charts/{chart}/values.schema.json"));
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut found = Vec::new();
        open_objects(&schema, "", &mut found);
        open.extend(found.into_iter().map(|p| format!("{chart}: {p}")));
    }
    assert!(open.is_empty(), "objects that accept any key: {open:#?}");

    let home = tempfile::tempdir().unwrap();
    let kubeconfig = rig().kubeconfig.clone();
    let install = |chart: &str, extra: &[&str], set: &str| {
        let path = root.join(format!("charts/{chart}"));
        let mut args = vec![
            "install",
            "typo",
            path.to_str().unwrap(),
            "--dry-run=client",
        ];
        args.extend(extra);
        args.extend(["--set", set]);
        // helm install reaches the cluster before it validates: a real kube-apiserver, written nothing.
        Command::new(rig_bin("helm"))
            .args(&args)
            .env("HOME", home.path())
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .expect("running helm")
    };
    let exporter = ["--set", "s3.endpoint=http://minio:9000"];
    for (chart, extra, set) in [
        ("etcdbak", &[][..], "config.s3.bucekt=x"),
        ("etcdbak", &[], "resources.limts.memory=1Gi"),
        ("etcdbak", &[], "config.job.resources.reqests.cpu=1"),
        ("etcdbak", &[], "imagePullSecrets[0].nme=regcred"),
        ("etcdbak", &[], "config.pod.imagePullSecrets[0].nme=regcred"),
        ("s3-exporter", &exporter[..], "resources.limts.memory=1Gi"),
        ("s3-exporter", &exporter[..], "readMetdata=true"),
        ("minio", &[], "bucketJob.resources.limts.memory=1Gi"),
    ] {
        let out = install(chart, extra, set);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{chart}: helm install --set {set} was accepted"
        );
        assert!(err.contains("schema"), "{chart} --set {set}: {err}");
    }
    // The defaults themselves install.
    let out = install("etcdbak", &[], "config.s3.bucket=backups");
    ok(&out, "helm install --dry-run=client of the defaults");
}
