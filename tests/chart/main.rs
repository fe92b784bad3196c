//! charts/etcdbak: the CRD matches the code, `helm lint`/`helm template` pass, the schema rejects bad
//! values, the rendered config loads, and the rendered manifests apply to a real kube-apiserver where the
//! chart's RBAC, used through the chart's own ServiceAccount, is enough for the controller and no more.
#[path = "../common/mod.rs"]
mod common;

mod dashboard;
mod schema;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use common::kube::{apply_manifests, create_namespace, rig, serial};
use common::rig_bin;
use etcdbak::config::Config;
use etcdbak::controller::leader::LeaseLock;
use etcdbak::controller::{reconcile, Context};
use etcdbak::crd::{Cluster, ClusterSpec};
use etcdbak::metrics::Metrics;
use etcdbak::{naming, template};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::events::{Recorder, Reporter};

const RELEASE_NS: &str = "etcdbak-chart";

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/etcdbak")
}

fn helm(args: &[&str], home: &Path) -> Output {
    Command::new(rig_bin("helm"))
        .args(args)
        // helm keeps caches and config under HOME; keep the test's out of the user's.
        .env("HOME", home)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("running helm")
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn template_chart(home: &Path, extra: &[&str]) -> String {
    let chart = chart();
    let mut args = vec![
        "template",
        "etcdbak",
        chart.to_str().unwrap(),
        "--namespace",
        RELEASE_NS,
        "--include-crds",
    ];
    args.extend_from_slice(extra);
    ok(&helm(&args, home), "helm template")
}

fn docs(yaml: &str) -> Vec<serde_yaml::Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| serde_yaml::Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn find<'a>(docs: &'a [serde_yaml::Value], kind: &str, name: &str) -> &'a serde_yaml::Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

#[test]
fn chart_crd_is_what_the_code_generates() {
    let path = chart().join("crds/clusters.etcdbak.io.yaml");
    let shipped = std::fs::read_to_string(&path).unwrap();
    assert!(
        shipped == etcdbak::crd::crd_yaml().unwrap(),
        "{} differs from `etcdbak crd`: regenerate it with `cargo run -- crd > charts/etcdbak/crds/clusters.etcdbak.io.yaml`",
        path.display()
    );
}

/// The values for a cluster without a pod network or kube-proxy (tests/node_e2e.rs installs with them):
/// host network, the apiserver address for the in-cluster client, Recreate (a new pod cannot bind the
/// metrics port while the old one holds it), and the same for the bundled MinIO and its bucket Job.
#[test]
fn host_network_values_render() {
    let home = tempfile::tempdir().unwrap();
    let d = docs(&template_chart(
        home.path(),
        &[
            "--set",
            "hostNetwork=true,apiServer.host=127.0.0.1,apiServer.port=6443,replicaCount=1",
            "--set",
            "minio.enabled=true,minio.hostNetwork=true,minio.listenAddress=127.0.0.1",
            "--set",
            "minio.bucketJob.endpoint=http://127.0.0.1:9000",
        ],
    ));
    let deploy = find(&d, "Deployment", "etcdbak");
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(deploy["spec"]["strategy"]["type"], "Recreate");
    let env = pod["containers"][0]["env"].as_sequence().unwrap();
    let var = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .and_then(|e| e["value"].as_str())
            .map(str::to_string)
    };
    assert_eq!(var("KUBERNETES_SERVICE_HOST").as_deref(), Some("127.0.0.1"));
    assert_eq!(var("KUBERNETES_SERVICE_PORT").as_deref(), Some("6443"));
    // The followers renew their Leases through the same apiserver, so their container gets the address too.
    let cm = find(&d, "ConfigMap", "etcdbak");
    let follower: serde_yaml::Value =
        serde_yaml::from_str(cm["data"]["follower-container.yaml"].as_str().unwrap()).unwrap();
    let follower_env = follower["env"].as_sequence().unwrap();
    for (name, value) in [
        ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
        ("KUBERNETES_SERVICE_PORT", "6443"),
    ] {
        assert!(
            follower_env
                .iter()
                .any(|e| e["name"] == name && e["value"] == value),
            "{name}={value} in the follower container: {follower_env:?}"
        );
    }
    let minio = find(&d, "StatefulSet", "minio");
    assert_eq!(minio["spec"]["template"]["spec"]["hostNetwork"], true);
    let args = minio["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .unwrap();
    assert!(
        args.iter().any(|a| a == "--address=127.0.0.1:9000"),
        "{args:?}"
    );
    let job = find(&d, "Job", "minio-buckets");
    let job_pod = &job["spec"]["template"]["spec"];
    assert_eq!(job_pod["hostNetwork"], true);
    let url = job_pod["containers"][0]["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "S3_URL")
        .and_then(|e| e["value"].as_str());
    assert_eq!(url, Some("http://127.0.0.1:9000"));

    // Off by default: nothing of it renders.
    let d = docs(&template_chart(home.path(), &[]));
    let deploy = find(&d, "Deployment", "etcdbak");
    assert!(deploy["spec"]["template"]["spec"]["hostNetwork"].is_null());
    assert!(deploy["spec"]["strategy"].is_null());
    let cm = find(&d, "ConfigMap", "etcdbak");
    let follower = cm["data"]["follower-container.yaml"].as_str().unwrap();
    assert!(!follower.contains("KUBERNETES_SERVICE"), "{follower}");
}

#[test]
fn helm_lint_template_and_schema() {
    let home = tempfile::tempdir().unwrap();
    let chart = chart();
    ok(
        &helm(&["lint", "--strict", chart.to_str().unwrap()], home.path()),
        "helm lint",
    );
    let out = template_chart(home.path(), &[]);
    let d = docs(&out);
    let deploy = find(&d, "Deployment", "etcdbak");
    assert_eq!(deploy["spec"]["replicas"], 2);
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    // The Deployment's arguments are ones etcdbak accepts.
    let mut argv = vec!["etcdbak".to_string()];
    for a in c["args"].as_sequence().unwrap() {
        argv.push(a.as_str().unwrap().to_string());
    }
    let parsed = etcdbak::cli::Cli::try_parse_from(&argv);
    assert!(parsed.is_ok(), "{argv:?}: {}", parsed.err().unwrap());

    // The narrow setup is the default: no Secret read outside the listed tenants (none), and in the job
    // namespace, where the S3 keys live, Secrets may be written but never read.
    let reads_secrets = |role: &serde_yaml::Value| {
        role["rules"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|r| r["resources"][0] == "secrets")
    };
    assert!(!reads_secrets(find(&d, "ClusterRole", "etcdbak")));
    assert!(!d
        .iter()
        .any(|x| x["kind"] == "Role" && x["metadata"]["name"] == "etcdbak-tls-reader"));
    let jobs_role = find(&d, "Role", "etcdbak-jobs");
    let secret_verbs: Vec<&str> = jobs_role["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|r| r["resources"][0] == "secrets")
        .flat_map(|r| {
            r["verbs"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
        })
        .collect();
    assert_eq!(secret_verbs, ["create", "patch", "delete"]);
    // The cluster-wide read is an explicit opt-in, and not combined with a tenant list.
    let wide = docs(&template_chart(
        home.path(),
        &["--set", "tenantSecretsClusterWide=true"],
    ));
    let cluster_role = find(&wide, "ClusterRole", "etcdbak");
    let rule = cluster_role["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|r| r["resources"][0] == "secrets")
        .expect("the opted-in Secret rule");
    assert_eq!(rule["verbs"].as_sequence().unwrap().len(), 1);
    assert_eq!(rule["verbs"][0], "get");
    let both = helm(
        &[
            "template",
            "etcdbak",
            chart.to_str().unwrap(),
            "--set",
            "tenantSecretsClusterWide=true,tenantNamespaces={team-a}",
        ],
        home.path(),
    );
    assert!(
        !both.status.success(),
        "both ways of reading Secrets were accepted"
    );
    assert!(String::from_utf8_lossy(&both.stderr).contains("not both"));
    let out = template_chart(home.path(), &["--set", "tenantNamespaces={team-a,team-b}"]);
    let d = docs(&out);
    let cluster_role = find(&d, "ClusterRole", "etcdbak");
    assert!(!cluster_role["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|r| r["resources"][0] == "secrets"));
    let readers: Vec<_> = d
        .iter()
        .filter(|x| x["kind"] == "Role" && x["metadata"]["name"] == "etcdbak-tls-reader")
        .map(|x| x["metadata"]["namespace"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(readers, ["team-a", "team-b"]);

    // values.schema.json rejects nonsense before anything reaches a cluster.
    for bad in [
        "replicaCount=0",
        "leaderElection.leaseDuration=soon",
        "metrics.port=70000",
        "nosuchvalue=1",
        "config.objectLock.mode=legal,config.objectLock.retain=30d",
        "config.objectLock.mode=governance,config.objectLock.retain=30 days",
        "config.objectLock.mode=governance",
    ] {
        let out = helm(
            &["template", "etcdbak", chart.to_str().unwrap(), "--set", bad],
            home.path(),
        );
        assert!(!out.status.success(), "--set {bad} was accepted");
    }
}

/// The ConfigMap's files, written out as the kubelet would mount them.
fn write_configmap(d: &[serde_yaml::Value], dir: &Path) -> PathBuf {
    let cm = find(d, "ConfigMap", "etcdbak");
    for (k, v) in cm["data"].as_mapping().unwrap() {
        std::fs::write(dir.join(k.as_str().unwrap()), v.as_str().unwrap()).unwrap();
    }
    dir.join("config.yaml")
}

#[test]
fn the_charts_config_loads_and_renders() {
    let home = tempfile::tempdir().unwrap();
    let d = docs(&template_chart(
        home.path(),
        &[
            "--set",
            "storeContainer.name=custom,storeContainer.image=example/uploader:1,storeContainer.volumeMounts[0].name=etcd-backup,storeContainer.volumeMounts[0].mountPath=/backup",
            "--set",
            "config.objectLock.mode=governance,config.objectLock.retain=30d",
        ],
    ));
    let dir = tempfile::tempdir().unwrap();
    let config = Config::load(&write_configmap(&d, dir.path())).expect("the chart's config loads");
    assert_eq!(config.job_namespace(), RELEASE_NS);
    let cluster = Cluster::new(
        "demo",
        ClusterSpec {
            endpoints: Some(vec!["https://etcd.team-a.svc:2379".into()]),
            ..ClusterSpec::in_namespace("team-a")
        },
    );
    let desired = template::render_backup(&cluster, None, &config).expect("renders");
    let pod = desired
        .cron_job
        .spec
        .unwrap()
        .job_template
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    assert_eq!(pod.containers[0].name, "custom");
    let env: Vec<(String, Option<String>)> = pod.containers[0]
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect();
    for (name, value) in [
        ("ETCDBAK_OBJECT_LOCK_MODE", "governance"),
        ("ETCDBAK_OBJECT_LOCK_RETAIN", "30d"),
    ] {
        assert!(env.contains(&(name.into(), Some(value.into()))), "{env:?}");
    }
    assert_eq!(
        pod.containers[0].image.as_deref(),
        Some("example/uploader:1")
    );
    template::render_cleanup_job(&cluster, &config).expect("the cleanup template renders");
}

/// The s3-exporter chart with an IRSA-annotated ServiceAccount and no key Secret renders the annotated
/// ServiceAccount, runs the exporter as it and sets no key variables; with neither it refuses to render.
#[test]
fn the_exporter_chart_takes_an_irsa_service_account_instead_of_a_key_secret() {
    const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/etcd-backups-read";
    let home = tempfile::tempdir().unwrap();
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/s3-exporter");
    let chart = chart.to_str().unwrap();
    let annotation =
        format!("serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn={ROLE_ARN}");
    let base = [
        "template",
        "exp",
        chart,
        "--set",
        "s3.endpoint=https://s3.eu-west-1.amazonaws.com",
    ];
    let mut irsa = base.to_vec();
    irsa.extend([
        "--set",
        "serviceAccount.create=true",
        "--set-string",
        &annotation,
    ]);
    let d = docs(&ok(&helm(&irsa, home.path()), "helm template (IRSA)"));
    let sa = find(&d, "ServiceAccount", "exp-s3-exporter");
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        ROLE_ARN
    );
    let pod = &find(&d, "Deployment", "exp-s3-exporter")["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "exp-s3-exporter");
    let env = serde_yaml::to_string(&pod["containers"][0]["env"]).unwrap();
    assert!(!env.contains("AWS_"), "{env}");
    // Listing only, unless readMetadata asks for the HEADs (which need GetObject).
    let read_metadata = |pod: &serde_yaml::Value| {
        pod["containers"][0]["env"]
            .as_sequence()
            .and_then(|e| {
                e.iter()
                    .find(|v| v["name"] == "ETCDBAK_EXPORTER_READ_METADATA")
            })
            .and_then(|v| v["value"].as_str().map(str::to_string))
    };
    assert_eq!(read_metadata(pod).as_deref(), Some("false"));
    irsa.extend(["--set", "readMetadata=true"]);
    let d = docs(&ok(
        &helm(&irsa, home.path()),
        "helm template (readMetadata)",
    ));
    let pod = &find(&d, "Deployment", "exp-s3-exporter")["spec"]["template"]["spec"];
    assert_eq!(read_metadata(pod).as_deref(), Some("true"));
    let refused = helm(&base, home.path());
    assert!(
        !refused.status.success(),
        "rendered without any credentials"
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("existingSecret is required"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// EKS IRSA instead of a key Secret: the chart creates the Jobs' ServiceAccount with the role annotation, the
/// controller puts it into every Job, and the default templates set no key variables (the credential chain
/// then takes the web identity EKS injects).
#[test]
fn irsa_values_render_an_annotated_job_service_account_and_no_keys() {
    const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/etcd-backups";
    let home = tempfile::tempdir().unwrap();
    let annotation =
        format!("backupServiceAccount.annotations.eks\\.amazonaws\\.com/role-arn={ROLE_ARN}");
    let d = docs(&template_chart(
        home.path(),
        &[
            "--set",
            "s3CredentialsSecret=,backupServiceAccount.create=true",
            "--set-string",
            &annotation,
        ],
    ));
    let sa = find(&d, "ServiceAccount", "etcdbak-backup");
    assert_eq!(sa["metadata"]["namespace"], RELEASE_NS);
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        ROLE_ARN
    );
    let dir = tempfile::tempdir().unwrap();
    let config = Config::load(&write_configmap(&d, dir.path())).expect("the chart's config loads");
    assert_eq!(
        config.service_account_name.as_deref(),
        Some("etcdbak-backup")
    );
    let cluster = Cluster::new(
        "demo",
        ClusterSpec {
            endpoints: Some(vec!["https://etcd.team-a.svc:2379".into()]),
            ..ClusterSpec::in_namespace("team-a")
        },
    );
    let desired = template::render_backup(&cluster, None, &config).expect("renders");
    let job = desired.cron_job.spec.unwrap().job_template.spec.unwrap();
    let pod = job.template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("etcdbak-backup"));
    let cleanup = template::render_cleanup_job(&cluster, &config).expect("cleanup renders");
    let cleanup_pod = cleanup.spec.unwrap().template.spec.unwrap();
    assert_eq!(
        cleanup_pod.service_account_name.as_deref(),
        Some("etcdbak-backup")
    );
    for c in pod.containers.iter().chain(&cleanup_pod.containers) {
        for e in c.env.iter().flatten() {
            assert!(
                !e.name.starts_with("AWS_"),
                "{} sets {} without a key Secret",
                c.name,
                e.name
            );
        }
    }
    // With the defaults the Jobs still read the key Secret, and no ServiceAccount is made for them.
    let d = docs(&template_chart(home.path(), &[]));
    assert!(!d
        .iter()
        .any(|x| x["kind"] == "ServiceAccount" && x["metadata"]["name"] == "etcdbak-backup"));
    let cm = find(&d, "ConfigMap", "etcdbak");
    let store = cm["data"]["store-container.yaml"].as_str().unwrap();
    assert!(store.contains("AWS_SECRET_ACCESS_KEY"), "{store}");
}

#[tokio::test]
async fn rendered_manifests_apply_and_the_chart_rbac_runs_the_controller() {
    let _serial = serial().await;
    let client = rig().client().await;
    let home = tempfile::tempdir().unwrap();
    create_namespace(&client, RELEASE_NS).await;
    create_namespace(&client, "team-chart").await;
    create_namespace(&client, "team-unlisted").await;
    let yaml = template_chart(
        home.path(),
        &[
            "--set",
            "dashboard.enabled=true",
            "--set",
            "tenantNamespaces={team-chart}",
        ],
    );

    // Server-side dry run first (validation and admission, nothing stored), then for real.
    apply_manifests(&client, &yaml, "helm-test", true).await;
    let applied = apply_manifests(&client, &yaml, "helm-test", false).await;
    for want in [
        "CustomResourceDefinition/clusters.etcdbak.io",
        "Deployment/etcdbak",
        "ServiceAccount/etcdbak",
        "ClusterRole/etcdbak",
        "Role/etcdbak-jobs",
        "Role/etcdbak-leader-election",
        "ConfigMap/etcdbak",
        "ConfigMap/etcdbak-dashboard",
        "Service/etcdbak-metrics",
        "PodDisruptionBudget/etcdbak",
    ] {
        assert!(
            applied.iter().any(|a| a == want),
            "{want} not in {applied:?}"
        );
    }

    // A token for the chart's ServiceAccount: from here on the controller runs with exactly the chart's RBAC.
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), RELEASE_NS);
    let token = sas
        .create_token_request(
            "etcdbak",
            &PostParams::default(),
            &TokenRequest {
                metadata: ObjectMeta::default(),
                spec: TokenRequestSpec {
                    audiences: vec![],
                    expiration_seconds: Some(3600),
                    bound_object_ref: None,
                },
                status: None,
            },
        )
        .await
        .expect("a ServiceAccount token")
        .status
        .unwrap()
        .token;
    let sa = rig().client_for_token(&token).await;

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), RELEASE_NS);
    let cm = cms.get("etcdbak").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (k, v) in cm.data.unwrap() {
        std::fs::write(dir.path().join(k), v).unwrap();
    }
    let config = Config::load(&dir.path().join("config.yaml")).unwrap();

    let secrets: Api<Secret> = Api::namespaced(client.clone(), "team-chart");
    let _ = secrets
        .create(
            &PostParams::default(),
            &common::kube::placeholder_tls_secret(),
        )
        .await;
    let name = "chart-rbac";
    let clusters: Api<Cluster> = Api::all(client.clone());
    clusters
        .create(
            &PostParams::default(),
            &Cluster::new(
                name,
                ClusterSpec {
                    endpoints: Some(vec!["https://etcd.team-chart.svc:2379".into()]),
                    tls_secret: Some("etcd-client-tls".into()),
                    ..ClusterSpec::in_namespace("team-chart")
                },
            ),
        )
        .await
        .unwrap();

    let ctx = Arc::new(Context::new(
        sa.clone(),
        config,
        Recorder::new(
            sa.clone(),
            Reporter {
                controller: "etcdbak".into(),
                instance: Some("chart-test".into()),
            },
        ),
        Arc::new(Metrics::new()),
        Duration::from_secs(600),
    ));
    let sa_clusters: Api<Cluster> = Api::all(sa.clone());
    sa_clusters
        .list(&ListParams::default())
        .await
        .expect("list Clusters as the SA");
    for _ in 0..2 {
        let c = sa_clusters.get(name).await.unwrap();
        reconcile(Arc::new(c), ctx.clone())
            .await
            .expect("reconcile with the chart's RBAC");
    }
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), RELEASE_NS);
    assert!(cron_jobs
        .get_opt(&naming::cron_job_name(name))
        .await
        .unwrap()
        .is_some());
    // The mirror was written without being read.
    let mirrors: Api<Secret> = Api::namespaced(client.clone(), RELEASE_NS);
    let mirror = mirrors
        .get(&naming::tls_secret_name(name))
        .await
        .expect("the mirrored TLS Secret");
    assert!(mirror.data.unwrap().contains_key("tls.key"));

    // Deletion: the cleanup Job is created, then the finalizer removed after it succeeds.
    clusters
        .delete(name, &DeleteParams::default())
        .await
        .unwrap();
    let c = sa_clusters.get(name).await.unwrap();
    reconcile(Arc::new(c), ctx.clone())
        .await
        .expect("cleanup step as the SA");
    let jobs: Api<Job> = Api::namespaced(sa.clone(), RELEASE_NS);
    assert!(jobs
        .get_opt(&naming::cleanup_job_name(name))
        .await
        .unwrap()
        .is_some());
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    assert!(
        events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .any(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)),
        "the SA could publish Events"
    );

    // Leader election with the chart's Role.
    let lock = LeaseLock::new(
        sa.clone(),
        RELEASE_NS,
        "etcdbak",
        "pod-1",
        Duration::from_secs(15),
    );
    assert!(lock
        .try_acquire_or_renew()
        .await
        .expect("Lease create as the SA"));
    assert!(lock
        .try_acquire_or_renew()
        .await
        .expect("Lease renew as the SA"));
    lock.release().await.expect("Lease release as the SA");

    // Least privilege: no listing of tenants' Secrets, no Secrets written outside the job namespace, no
    // Leases other than its own.
    let tenant_secrets: Api<Secret> = Api::namespaced(sa.clone(), "team-chart");
    let denied = |r: Result<_, kube::Error>| matches!(r, Err(kube::Error::Api(s)) if s.code == 403);
    // The S3 keys share the job namespace with the mirrors: the controller cannot read either, nor list.
    let admin_job_secrets: Api<Secret> = Api::namespaced(client.clone(), RELEASE_NS);
    let mut s3_keys = Secret::default();
    s3_keys.metadata.name = Some("etcdbak-s3".into());
    s3_keys.string_data = Some([("AWS_SECRET_ACCESS_KEY".to_string(), "k".to_string())].into());
    let _ = admin_job_secrets
        .create(&PostParams::default(), &s3_keys)
        .await;
    let job_secrets: Api<Secret> = Api::namespaced(sa.clone(), RELEASE_NS);
    assert!(denied(job_secrets.get("etcdbak-s3").await.map(|_| ())));
    assert!(denied(
        job_secrets
            .get(&naming::tls_secret_name(name))
            .await
            .map(|_| ())
    ));
    assert!(denied(
        job_secrets.list(&ListParams::default()).await.map(|_| ())
    ));
    // A namespace not in tenantNamespaces is out of reach.
    let unlisted: Api<Secret> = Api::namespaced(sa.clone(), "team-unlisted");
    assert!(denied(unlisted.get("etcd-client-tls").await.map(|_| ())));
    assert!(denied(
        tenant_secrets
            .list(&ListParams::default())
            .await
            .map(|_| ())
    ));
    assert!(denied(
        tenant_secrets
            .delete("etcd-client-tls", &DeleteParams::default())
            .await
            .map(|_| ())
    ));
    let other_lease = LeaseLock::new(
        sa.clone(),
        RELEASE_NS,
        "not-ours",
        "pod-1",
        Duration::from_secs(15),
    );
    assert!(denied(other_lease.try_acquire_or_renew().await.map(|_| ())));
}
