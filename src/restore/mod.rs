//! `etcdbak restore-guide`: a filled-in, numbered restore runbook. The runbook itself is a pure function
//! ([`runbook::runbook`]); this module gathers its inputs: flags, defaults derived the way an etcd StatefulSet
//! names things, optionally the Cluster resource and StatefulSet from the apiserver, and the backup list.

pub mod runbook;

use std::io::IsTerminal;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

use crate::backup::{self, Backup};
use crate::cli::s3::S3Args;
use crate::exit::Class;
use crate::s3::{self as store, Client as S3Client};
use crate::Result;
use runbook::{Member, RestorePlan, S3Location, Snapshot, TlsPaths};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Numbered steps for a terminal.
    Text,
    /// The same steps as Markdown, to paste into an incident document.
    Markdown,
}

#[derive(Debug, Clone, Args)]
pub struct RestoreGuideArgs {
    /// The Cluster (its backups are `<prefix>/<cluster>/` in the bucket).
    #[arg(long, env = "ETCDBAK_CLUSTER", value_name = "NAME")]
    pub cluster: String,
    /// The backup to restore: its key as `etcdbak list` shows it, or just its file name. Default: the newest
    /// verified backup (on a terminal you pick from the list).
    #[arg(long, env = "ETCDBAK_RESTORE_SNAPSHOT", value_name = "KEY")]
    pub snapshot: Option<String>,
    /// Output format.
    #[arg(long, env = "ETCDBAK_RESTORE_OUTPUT", short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub s3: Box<S3Args>,
    #[command(
        flatten,
        next_help_heading = "Cluster layout (defaults follow etcd StatefulSet naming)"
    )]
    pub layout: Box<LayoutArgs>,
    /// Do not read the Cluster and StatefulSet from the apiserver even when a kubeconfig is present.
    #[arg(long, env = "ETCDBAK_NO_KUBE")]
    pub no_kube: bool,
}

/// Where the etcd cluster's pieces are. Every default follows how an etcd StatefulSet names things, and the
/// Cluster resource and StatefulSet fill in what they know when the apiserver is reachable.
#[derive(Debug, Clone, Args)]
pub struct LayoutArgs {
    /// Namespace of the etcd StatefulSet. Default: the Cluster's spec.namespace, else `default`.
    #[arg(long, env = "ETCDBAK_RESTORE_NAMESPACE", value_name = "NS")]
    pub namespace: Option<String>,
    /// The etcd StatefulSet. Default: the Cluster's service name, else the cluster name.
    #[arg(long, env = "ETCDBAK_RESTORE_STATEFULSET", value_name = "NAME")]
    pub statefulset: Option<String>,
    /// The headless Service giving members their DNS names. Default: the StatefulSet's serviceName, else
    /// the StatefulSet's name.
    #[arg(long, env = "ETCDBAK_RESTORE_SERVICE", value_name = "NAME")]
    pub service: Option<String>,
    /// Number of members. Default: the StatefulSet's replicas, else 3.
    #[arg(long, env = "ETCDBAK_RESTORE_REPLICAS", value_name = "N")]
    pub replicas: Option<usize>,
    /// A member as NAME=PEER_URL; repeat for each member. Default: `<sts>-<i>` with peer URL
    /// `https://<sts>-<i>.<service>.<ns>.svc:2380`, as an etcd StatefulSet names them.
    #[arg(long = "member", env = "ETCDBAK_RESTORE_MEMBERS", value_delimiter = ',', value_name = "NAME=PEER_URL", value_parser = parse_member)]
    pub members: Vec<Member>,
    /// Client URLs for the health checks, comma-separated. Default: `https://<sts>-<i>.<service>.<ns>.svc:2379`.
    #[arg(
        long,
        env = "ETCDBAK_RESTORE_ENDPOINTS",
        value_delimiter = ',',
        value_name = "URLS"
    )]
    pub endpoints: Vec<String>,
    /// CA certificate for etcdctl, as a path where the operator runs it.
    #[arg(
        long,
        env = "ETCDBAK_RESTORE_CACERT",
        default_value = "/etc/etcd/tls/ca.crt",
        value_name = "FILE"
    )]
    pub cacert: String,
    /// Client certificate for etcdctl.
    #[arg(
        long,
        env = "ETCDBAK_RESTORE_CERT",
        default_value = "/etc/etcd/tls/tls.crt",
        value_name = "FILE"
    )]
    pub cert: String,
    /// Client key for etcdctl.
    #[arg(
        long,
        env = "ETCDBAK_RESTORE_KEY",
        default_value = "/etc/etcd/tls/tls.key",
        value_name = "FILE"
    )]
    pub key: String,
    /// The cluster does not use TLS: plain http URLs and no certificate flags.
    #[arg(long, env = "ETCDBAK_RESTORE_INSECURE")]
    pub insecure: bool,
    /// etcd's --data-dir inside the etcd container.
    #[arg(
        long,
        env = "ETCDBAK_RESTORE_DATA_DIR",
        default_value = "/var/lib/etcd",
        value_name = "PATH"
    )]
    pub data_dir: String,
    /// Where the member's PVC is mounted in the etcd container. Default: the data dir itself.
    #[arg(long, env = "ETCDBAK_RESTORE_VOLUME_MOUNT_PATH", value_name = "PATH")]
    pub volume_mount_path: Option<String>,
    /// The StatefulSet's volumeClaimTemplate name (member i's PVC is `<claim>-<sts>-<i>`). Default: the
    /// StatefulSet's first claim template, else `data`.
    #[arg(long, env = "ETCDBAK_RESTORE_VOLUME_CLAIM", value_name = "NAME")]
    pub volume_claim: Option<String>,
    /// Image for the throwaway pod that writes into each PVC (needs sh and tar).
    #[arg(
        long,
        env = "ETCDBAK_RESTORE_HELPER_IMAGE",
        default_value = "busybox:1.36",
        value_name = "IMAGE"
    )]
    pub helper_image: String,
    /// UID:GID to own the restored files, when etcd does not run as root.
    #[arg(long, env = "ETCDBAK_RESTORE_OWNER", value_name = "UID:GID")]
    pub owner: Option<String>,
    /// The backup CronJob as NAMESPACE/NAME. Default: the Cluster's status.cronJobName, else
    /// `etcdbak/etcdbak-<cluster>`.
    #[arg(long, env = "ETCDBAK_RESTORE_CRONJOB", value_name = "NS/NAME")]
    pub cronjob: Option<String>,
    /// The new cluster token. Default: `<cluster>-restore-<UTC time>`.
    #[arg(long, env = "ETCDBAK_RESTORE_TOKEN", value_name = "TOKEN")]
    pub token: Option<String>,
    /// Local directory for the download and the restored data dirs. Default: `restore-<cluster>`.
    #[arg(long, env = "ETCDBAK_RESTORE_WORKDIR", value_name = "DIR")]
    pub workdir: Option<String>,
    /// Raise the restored revision by this much and mark it compacted, so watchers re-list; 0 disables.
    #[arg(
        long,
        env = "ETCDBAK_RESTORE_BUMP_REVISION",
        default_value_t = 1_000_000_000,
        value_name = "N"
    )]
    pub bump_revision: u64,
}

fn parse_member(s: &str) -> std::result::Result<Member, String> {
    let (name, url) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=PEER_URL"))?;
    if name.is_empty() || !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "{s:?} is not NAME=PEER_URL with an http(s) peer URL"
        ));
    }
    Ok(Member {
        name: name.to_string(),
        peer_url: url.to_string(),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("cluster {cluster} has no backups under {location}: check --bucket and --prefix")]
    NoBackups { cluster: String, location: String },
    #[error("no backup of cluster {cluster} matches {key:?}: copy a key from `etcdbak list --cluster {cluster}`")]
    SnapshotNotFound { cluster: String, key: String },
    #[error("none of the {checked} newest backups of cluster {cluster} carries metadata matching its name: pick one with --snapshot and check it with `etcdbak download`")]
    NoneVerified { cluster: String, checked: usize },
    #[error("choosing a snapshot: {0}")]
    Prompt(String),
}

impl Error {
    pub fn class(&self) -> Class {
        match self {
            Error::Usage(_) | Error::SnapshotNotFound { .. } => Class::Usage,
            Error::Store(e) => e.class(),
            Error::NoBackups { .. } => Class::Storage,
            Error::NoneVerified { .. } => Class::CorruptSnapshot,
            Error::Prompt(_) => Class::Failure,
        }
    }
}

/// A listed backup plus what its metadata says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub backup: Backup,
    /// The full SHA-256 from the object's metadata, when it has one.
    pub sha256: Option<String>,
    /// The metadata agrees with the object name and size (what `etcdbak store` writes after verifying).
    pub verified: bool,
}

/// Whether a HEAD's metadata agrees with the listed backup: same SHA-256 prefix, revision and file size.
pub fn metadata_agrees(b: &Backup, meta: &std::collections::HashMap<String, String>) -> bool {
    let sha_ok = meta
        .get(store::meta::SHA256)
        .is_some_and(|s| s.len() == 64 && s.to_ascii_lowercase().starts_with(&b.sha256_prefix));
    let rev_ok = meta
        .get(store::meta::REVISION)
        .is_some_and(|r| r.parse::<i64>().ok() == Some(b.revision));
    let size_ok = meta
        .get(store::meta::FILE_SIZE)
        .is_some_and(|s| s.parse::<u64>().ok() == Some(b.size_bytes));
    sha_ok && rev_ok && size_ok
}

/// Picks the snapshot: the requested one (full key or file name), else the newest verified one.
/// `candidates` are newest first. Pure.
pub fn choose(
    cluster: &str,
    candidates: &[Candidate],
    requested: Option<&str>,
) -> std::result::Result<usize, Error> {
    match requested {
        Some(want) => candidates
            .iter()
            .position(|c| key_matches(&c.backup.key, want))
            .ok_or_else(|| Error::SnapshotNotFound {
                cluster: cluster.to_string(),
                key: want.to_string(),
            }),
        None => candidates
            .iter()
            .position(|c| c.verified)
            .ok_or(Error::NoneVerified {
                cluster: cluster.to_string(),
                checked: candidates.len(),
            }),
    }
}

/// `want` names `key`: the full key, or its file name.
pub fn key_matches(key: &str, want: &str) -> bool {
    key == want || key.ends_with(&format!("/{want}"))
}

/// Members as an etcd StatefulSet names them: `<sts>-<i>`, peer URL `<scheme>://<sts>-<i>.<svc>.<ns>.svc:2380`.
pub fn derive_members(sts: &str, svc: &str, ns: &str, n: usize, scheme: &str) -> Vec<Member> {
    (0..n)
        .map(|i| Member {
            name: format!("{sts}-{i}"),
            peer_url: format!("{scheme}://{sts}-{i}.{svc}.{ns}.svc:2380"),
        })
        .collect()
}

/// Client URLs the same way, port 2379.
pub fn derive_endpoints(sts: &str, svc: &str, ns: &str, n: usize, scheme: &str) -> Vec<String> {
    (0..n)
        .map(|i| format!("{scheme}://{sts}-{i}.{svc}.{ns}.svc:2379"))
        .collect()
}

/// What the apiserver told us, when it was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeFacts {
    pub namespace: Option<String>,
    pub service: Option<String>,
    pub cronjob: Option<(String, String)>,
    pub statefulset_service: Option<String>,
    pub replicas: Option<usize>,
    pub volume_claim: Option<String>,
}

/// Turns flags, apiserver facts and defaults into a plan (flags win, then the apiserver, then defaults). Pure.
pub fn plan(
    args: &RestoreGuideArgs,
    kube: &KubeFacts,
    snapshot: Snapshot,
    now: DateTime<Utc>,
) -> std::result::Result<RestorePlan, Error> {
    backup::validate_cluster_name(&args.cluster).map_err(Error::Usage)?;
    let cluster = args.cluster.clone();
    let namespace = args
        .layout
        .namespace
        .clone()
        .or_else(|| kube.namespace.clone())
        .unwrap_or_else(|| "default".to_string());
    let statefulset = args
        .layout
        .statefulset
        .clone()
        .or_else(|| kube.service.clone())
        .unwrap_or_else(|| cluster.clone());
    let service = args
        .layout
        .service
        .clone()
        .or_else(|| kube.statefulset_service.clone())
        .unwrap_or_else(|| statefulset.clone());
    let scheme = if args.layout.insecure {
        "http"
    } else {
        "https"
    };
    let members = if args.layout.members.is_empty() {
        let n = args.layout.replicas.or(kube.replicas).unwrap_or(3);
        derive_members(&statefulset, &service, &namespace, n, scheme)
    } else {
        args.layout.members.clone()
    };
    if members.is_empty() {
        return Err(Error::Usage(
            "a cluster needs at least one member: fix --replicas or --member".into(),
        ));
    }
    if let Some(n) = args
        .layout
        .replicas
        .filter(|n| !args.layout.members.is_empty() && *n != args.layout.members.len())
    {
        return Err(Error::Usage(format!(
            "--replicas {n} disagrees with the {} --member flags: give one or the other",
            args.layout.members.len()
        )));
    }
    let endpoints = if args.layout.endpoints.is_empty() {
        derive_endpoints(&statefulset, &service, &namespace, members.len(), scheme)
    } else {
        args.layout.endpoints.clone()
    };
    let volume_mount_path = args
        .layout
        .volume_mount_path
        .clone()
        .unwrap_or_else(|| args.layout.data_dir.clone());
    let under = |dir: &str, root: &str| {
        let (d, r) = (dir.trim_end_matches('/'), root.trim_end_matches('/'));
        d == r || d.starts_with(&format!("{r}/"))
    };
    if !under(&args.layout.data_dir, &volume_mount_path) {
        return Err(Error::Usage(format!(
            "--data-dir {} is not inside --volume-mount-path {volume_mount_path}: the PVC must hold the data dir",
            args.layout.data_dir
        )));
    }
    let cronjob = match &args.layout.cronjob {
        Some(s) => {
            let (ns, name) = s
                .split_once('/')
                .ok_or_else(|| Error::Usage(format!("--cronjob {s:?} is not NAMESPACE/NAME")))?;
            (ns.to_string(), name.to_string())
        }
        None => kube
            .cronjob
            .clone()
            .unwrap_or_else(|| ("etcdbak".to_string(), format!("etcdbak-{cluster}"))),
    };
    if let Some(owner) = &args.layout.owner {
        let ok = owner
            .split_once(':')
            .is_some_and(|(u, g)| u.parse::<u32>().is_ok() && g.parse::<u32>().is_ok());
        if !ok {
            return Err(Error::Usage(format!(
                "--owner {owner:?} is not UID:GID (numbers)"
            )));
        }
    }
    let token = args
        .layout
        .token
        .clone()
        .unwrap_or_else(|| format!("{cluster}-restore-{}", now.format("%Y%m%d%H%M%S")));
    Ok(RestorePlan {
        namespace,
        statefulset,
        members,
        endpoints,
        tls: (!args.layout.insecure).then(|| TlsPaths {
            cacert: args.layout.cacert.clone(),
            cert: args.layout.cert.clone(),
            key: args.layout.key.clone(),
        }),
        data_dir: args.layout.data_dir.clone(),
        volume_mount_path,
        volume_claim: args
            .layout
            .volume_claim
            .clone()
            .or_else(|| kube.volume_claim.clone())
            .unwrap_or_else(|| "data".to_string()),
        helper_image: args.layout.helper_image.clone(),
        owner: args.layout.owner.clone(),
        snapshot,
        s3: S3Location {
            endpoint: args.s3.endpoint.clone(),
            region: args.s3.region.clone(),
            bucket: args.s3.bucket.clone(),
            prefix: backup::normalize_prefix(&args.s3.prefix).to_string(),
        },
        cronjob,
        token,
        workdir: args
            .layout
            .workdir
            .clone()
            .unwrap_or_else(|| format!("restore-{cluster}")),
        bump_revision: args.layout.bump_revision,
        now,
        cluster,
    })
}

fn kubeconfig_present() -> bool {
    std::env::var_os("KUBECONFIG").is_some()
        || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
        || std::env::var_os("HOME")
            .map(|h| std::path::Path::new(&h).join(".kube/config").exists())
            .unwrap_or(false)
}

/// Reads the Cluster and its StatefulSet when a kube client is available. Every failure only means fewer
/// facts: the guide then falls back to flags and defaults, and says so in a log line.
async fn kube_facts(cluster: &str, args: &RestoreGuideArgs) -> KubeFacts {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use kube::Api;
    let mut facts = KubeFacts::default();
    let fetch = async {
        let client = kube::Client::try_default()
            .await
            .map_err(|e| e.to_string())?;
        let clusters: Api<crate::crd::Cluster> = Api::all(client.clone());
        let c = clusters.get(cluster).await.map_err(|e| e.to_string())?;
        facts.namespace = Some(c.spec.namespace.clone());
        facts.service = c.spec.service.as_ref().map(|s| s.name.clone());
        facts.cronjob = c
            .status
            .as_ref()
            .and_then(|s| s.cron_job_name.as_ref())
            .and_then(|s| s.split_once('/'))
            .map(|(a, b)| (a.to_string(), b.to_string()));
        let ns = args
            .layout
            .namespace
            .clone()
            .unwrap_or(c.spec.namespace.clone());
        let sts_name = args
            .layout
            .statefulset
            .clone()
            .or(facts.service.clone())
            .unwrap_or_else(|| cluster.to_string());
        let sts: Api<StatefulSet> = Api::namespaced(client, &ns);
        if let Ok(s) = sts.get(&sts_name).await {
            if let Some(spec) = s.spec {
                facts.statefulset_service = spec.service_name.clone();
                facts.replicas = spec.replicas.and_then(|r| usize::try_from(r).ok());
                facts.volume_claim = spec
                    .volume_claim_templates
                    .and_then(|t| t.into_iter().next())
                    .and_then(|t| t.metadata.name);
            }
        }
        Ok::<(), String>(())
    };
    match tokio::time::timeout(Duration::from_secs(10), fetch).await {
        Ok(Ok(())) => tracing::info!(cluster, "read the Cluster resource and its StatefulSet"),
        Ok(Err(e)) => {
            tracing::warn!(cluster, error = %e, "cannot read the Cluster resource; using flags and defaults")
        }
        Err(_) => tracing::warn!(
            cluster,
            "the apiserver did not answer in 10s; using flags and defaults"
        ),
    }
    facts
}

/// How many of the newest backups are checked (one HEAD each) when looking for a verified one or offering a pick.
const CANDIDATES: usize = 20;

/// The backups worth a HEAD: the one asked for (however old), else the newest [`CANDIDATES`].
async fn candidates(
    client: &S3Client,
    cluster: &str,
    requested: Option<&str>,
) -> std::result::Result<Vec<Candidate>, Error> {
    let backups = client.list_backups(Some(cluster)).await?;
    if backups.is_empty() {
        return Err(Error::NoBackups {
            cluster: cluster.to_string(),
            location: format!(
                "s3://{}/{}",
                client.bucket_name,
                backup::cluster_prefix(&client.prefix, cluster)
            ),
        });
    }
    let mut out = Vec::new();
    let wanted: Vec<Backup> = match requested {
        Some(want) => backups
            .into_iter()
            .filter(|b| key_matches(&b.key, want))
            .collect(),
        None => backups.into_iter().take(CANDIDATES).collect(),
    };
    for b in wanted {
        let (sha256, verified) = match client.head(&b.key).await {
            Ok(info) => (
                info.metadata.get(store::meta::SHA256).cloned(),
                metadata_agrees(&b, &info.metadata),
            ),
            Err(e) => {
                tracing::warn!(key = %b.key, error = %e, "cannot read the backup's metadata");
                (None, false)
            }
        };
        out.push(Candidate {
            backup: b,
            sha256,
            verified,
        });
    }
    Ok(out)
}

fn label(c: &Candidate) -> String {
    format!(
        "{}  rev {:>10}  {:>10}  {}  {}",
        c.backup.taken_at.format("%Y-%m-%d %H:%M:%SZ"),
        c.backup.revision,
        crate::list::human_bytes(c.backup.size_bytes),
        if c.verified {
            "verified  "
        } else {
            "UNVERIFIED"
        },
        c.backup.key.rsplit('/').next().unwrap_or(&c.backup.key)
    )
}

fn pick_interactively(cands: &[Candidate], default: usize) -> std::result::Result<usize, Error> {
    let labels: Vec<String> = cands.iter().map(label).collect();
    dialoguer::Select::new()
        .with_prompt("Snapshot to restore (newest first; Enter takes the newest verified)")
        .items(&labels)
        .default(default)
        .interact_opt()
        .map_err(|e| Error::Prompt(e.to_string()))?
        .ok_or_else(|| Error::Prompt("cancelled".into()))
}

pub async fn run(args: RestoreGuideArgs) -> Result<()> {
    backup::validate_cluster_name(&args.cluster).map_err(Error::Usage)?;
    let kube = if !args.no_kube && kubeconfig_present() {
        kube_facts(&args.cluster, &args).await
    } else {
        KubeFacts::default()
    };
    let client = S3Client::connect(&args.s3.settings()).map_err(Error::from)?;
    let cands = candidates(&client, &args.cluster, args.snapshot.as_deref()).await?;
    let interactive = args.snapshot.is_none()
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal();
    let index = if interactive {
        let default = choose(&args.cluster, &cands, None).unwrap_or(0);
        pick_interactively(&cands, default)?
    } else {
        choose(&args.cluster, &cands, args.snapshot.as_deref())?
    };
    let c = &cands[index];
    if !c.verified {
        tracing::warn!(key = %c.backup.key, "this backup's metadata does not match its name: `etcdbak download` will tell whether it is intact");
    }
    let snapshot = Snapshot {
        key: c.backup.key.clone(),
        taken_at: c.backup.taken_at,
        revision: c.backup.revision,
        size_bytes: c.backup.size_bytes,
        sha256: c
            .sha256
            .clone()
            .unwrap_or_else(|| format!("{}… (from the name)", c.backup.sha256_prefix)),
    };
    let plan = plan(&args, &kube, snapshot, Utc::now())?;
    let book = runbook::runbook(&plan);
    let text = match args.output {
        OutputFormat::Text => runbook::render_text(&book),
        OutputFormat::Markdown => runbook::render_markdown(&book),
    };
    print!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: RestoreGuideArgs,
    }

    fn args(extra: &[&str]) -> RestoreGuideArgs {
        let mut argv = vec!["x", "--cluster", "prod-main", "--bucket", "b"];
        argv.extend(extra);
        Cli::try_parse_from(argv).unwrap().args
    }

    fn snap() -> Snapshot {
        Snapshot {
            key: "etcdbak/prod-main/x.db".into(),
            taken_at: "2026-11-25T10:30:00Z".parse().unwrap(),
            revision: 5,
            size_bytes: 1,
            sha256: "ab".into(),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn defaults_follow_statefulset_naming() {
        let p = plan(&args(&[]), &KubeFacts::default(), snap(), now()).unwrap();
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
    fn apiserver_facts_fill_in_and_flags_win() {
        let kube = KubeFacts {
            namespace: Some("prod".into()),
            service: Some("etcd".into()),
            cronjob: Some(("backups".into(), "etcdbak-prod-main".into())),
            statefulset_service: Some("etcd-headless".into()),
            replicas: Some(5),
            volume_claim: Some("etcd-data".into()),
        };
        let p = plan(&args(&[]), &kube, snap(), now()).unwrap();
        assert_eq!(p.members.len(), 5);
        assert_eq!(
            p.members[4].peer_url,
            "https://etcd-4.etcd-headless.prod.svc:2380"
        );
        assert_eq!(p.volume_claim, "etcd-data");
        assert_eq!(p.cronjob.0, "backups");
        let p = plan(
            &args(&[
                "--namespace",
                "other",
                "--replicas",
                "1",
                "--insecure",
                "--volume-claim",
                "v",
            ]),
            &kube,
            snap(),
            now(),
        )
        .unwrap();
        assert_eq!(
            p.members[0].peer_url,
            "http://etcd-0.etcd-headless.other.svc:2380"
        );
        assert_eq!(p.volume_claim, "v");
        assert!(p.tls.is_none());
    }

    #[test]
    fn explicit_members_and_bad_inputs() {
        let p = plan(
            &args(&[
                "--member",
                "a=https://127.0.0.1:1",
                "--member",
                "b=https://127.0.0.1:2",
            ]),
            &KubeFacts::default(),
            snap(),
            now(),
        )
        .unwrap();
        assert_eq!(p.members.len(), 2);
        assert_eq!(p.endpoints.len(), 2);
        for bad in [
            vec!["--member", "a=https://x:1", "--replicas", "3"],
            vec![
                "--data-dir",
                "/data/etcd",
                "--volume-mount-path",
                "/var/lib",
            ],
            vec!["--cronjob", "nope"],
            vec!["--owner", "etcd"],
        ] {
            assert!(
                matches!(
                    plan(&args(&bad), &KubeFacts::default(), snap(), now()),
                    Err(Error::Usage(_))
                ),
                "{bad:?}"
            );
        }
        assert!(parse_member("a").is_err());
        assert!(parse_member("a=ftp://x").is_err());
    }

    fn cand(key: &str, verified: bool) -> Candidate {
        Candidate {
            backup: Backup {
                cluster: "c".into(),
                key: key.into(),
                taken_at: "2026-11-25T10:30:00Z".parse().unwrap(),
                revision: 1,
                size_bytes: 1,
                sha256_prefix: "00000000".into(),
            },
            sha256: None,
            verified,
        }
    }

    #[test]
    fn choosing_takes_the_newest_verified_or_the_requested_one() {
        let c = vec![
            cand("p/c/new.db", false),
            cand("p/c/mid.db", true),
            cand("p/c/old.db", true),
        ];
        assert_eq!(choose("c", &c, None).unwrap(), 1);
        assert_eq!(choose("c", &c, Some("old.db")).unwrap(), 2);
        assert_eq!(choose("c", &c, Some("p/c/new.db")).unwrap(), 0);
        assert!(matches!(
            choose("c", &c, Some("w.db")),
            Err(Error::SnapshotNotFound { .. })
        ));
        assert!(matches!(
            choose("c", &c[..1], None),
            Err(Error::NoneVerified { checked: 1, .. })
        ));
    }

    #[test]
    fn metadata_must_agree_with_the_name() {
        let b = cand("p/c/x.db", false).backup;
        let mut m = std::collections::HashMap::new();
        m.insert("sha256".to_string(), format!("00000000{}", "a".repeat(56)));
        m.insert("revision".to_string(), "1".to_string());
        m.insert("file-size".to_string(), "1".to_string());
        assert!(metadata_agrees(&b, &m));
        m.insert("revision".to_string(), "2".to_string());
        assert!(!metadata_agrees(&b, &m));
    }
}
