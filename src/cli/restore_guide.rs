//! `etcdbak restore-guide`: its flags and help, turned into [`restore::Options`].

use std::io::IsTerminal;

use clap::ValueEnum;

use crate::cli::s3::S3Args;
use crate::restore::{self, Layout, Member, S3Location};
use crate::s3::DestinationSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Numbered steps for a terminal.
    Text,
    /// The same steps as Markdown, to paste into an incident document.
    Markdown,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The Cluster (its backups are `<prefix>/<cluster>/` in the bucket).
    #[arg(long, env = "ETCDBAK_CLUSTER", value_name = "NAME")]
    pub cluster: String,
    /// The backup to restore: its key as `etcdbak list` shows it, or just its file name. Default: the newest
    /// verified backup (on a terminal you pick from the list).
    #[arg(long, env = "ETCDBAK_RESTORE_SNAPSHOT", value_name = "KEY", conflicts_with_all = ["to", "to_revision"])]
    pub snapshot: Option<String>,
    /// A restore to a point: the runbook restores the newest full backup at or before it and replays its
    /// continuous-backup segments up to the point (`etcdbak replay`) before the apiserver starts.
    #[command(flatten)]
    pub point: super::point::PointArgs,
    /// The age identity (private key) file to decrypt an encrypted backup with, as a path where you run
    /// the guide's commands. The guide only prints it: it never reads the file.
    #[arg(long, env = "ETCDBAK_IDENTITY", value_name = "FILE")]
    pub identity: Option<String>,
    /// Output format.
    #[arg(long, env = "ETCDBAK_RESTORE_OUTPUT", short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub s3: Box<S3Args>,
    #[command(flatten)]
    pub destinations: Box<super::destination::ReadArgs>,
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
#[derive(Debug, Clone, clap::Args)]
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
    /// Number of members, 1 to 15. Default: the StatefulSet's replicas, else 3.
    #[arg(long, env = "ETCDBAK_RESTORE_REPLICAS", value_name = "N", value_parser = parse_replicas)]
    pub replicas: Option<usize>,
    /// A member as NAME=PEER_URL; repeat for each member. Default: `<sts>-<i>` with peer URL
    /// `https://<sts>-<i>.<service>.<ns>.svc:2380`, as an etcd StatefulSet names them.
    #[arg(long = "member", env = "ETCDBAK_RESTORE_MEMBERS", value_delimiter = ',', value_name = "NAME=PEER_URL", value_parser = Member::parse)]
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
    /// The kube-apiserver Deployment that uses this etcd, as NAMESPACE/NAME: a restore to a point (--to)
    /// keeps it stopped until the replay is done. Default: a placeholder to fill in.
    #[arg(long, env = "ETCDBAK_RESTORE_APISERVER", value_name = "NS/NAME")]
    pub apiserver: Option<String>,
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

/// An etcd cluster has a handful of members: more than 15 is a typo, and the runbook would print a step
/// per member.
fn parse_replicas(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ 1..=15) => Ok(n),
        _ => Err(format!("{s:?} is not a member count from 1 to 15")),
    }
}

impl From<OutputFormat> for restore::Format {
    fn from(f: OutputFormat) -> Self {
        match f {
            OutputFormat::Text => restore::Format::Text,
            OutputFormat::Markdown => restore::Format::Markdown,
        }
    }
}

/// The layout flags, plus the one file that is about the backup rather than the cluster.
fn layout(a: LayoutArgs, identity: Option<String>) -> Layout {
    Layout {
        namespace: a.namespace,
        statefulset: a.statefulset,
        service: a.service,
        replicas: a.replicas,
        members: a.members,
        endpoints: a.endpoints,
        cacert: a.cacert,
        cert: a.cert,
        key: a.key,
        insecure: a.insecure,
        identity,
        data_dir: a.data_dir,
        volume_mount_path: a.volume_mount_path,
        volume_claim: a.volume_claim,
        helper_image: a.helper_image,
        owner: a.owner,
        cronjob: a.cronjob,
        apiserver: a.apiserver,
        token: a.token,
        workdir: a.workdir,
        bump_revision: a.bump_revision,
    }
}

/// What the guide's surroundings offer, found by the command line so the library reads no environment.
#[derive(Debug, Clone, Copy)]
struct Surroundings {
    /// A terminal is there to ask on.
    terminal: bool,
    /// A kubeconfig or an in-cluster service account is there to try.
    kubeconfig: bool,
}

impl Surroundings {
    fn of_this_process() -> Self {
        Surroundings {
            terminal: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
            kubeconfig: super::environment::kubeconfig_present(),
        }
    }
}

/// Where a destination is, as the runbook spells it.
fn location(spec: &DestinationSpec) -> S3Location {
    S3Location {
        endpoint: spec.endpoint.clone(),
        region: spec.region.clone(),
        bucket: spec.bucket.clone(),
        prefix: spec.prefix.clone(),
    }
}

/// The guide's options from its flags, the destination it reads, and what its surroundings offer.
fn options(args: Args, chosen: &DestinationSpec, here: Surroundings) -> restore::Options {
    let several = !args.destinations.all.more.is_empty();
    restore::Options {
        s3: location(chosen),
        destination: several.then(|| chosen.name.clone()),
        cluster: args.cluster,
        prompt: here.terminal && args.snapshot.is_none() && args.point.target().is_none(),
        snapshot: args.snapshot,
        point: args.point.target(),
        format: args.output.into(),
        layout: layout(*args.layout, args.identity),
        read_kube: !args.no_kube && here.kubeconfig,
    }
}

pub async fn run(args: Args) -> crate::cli::Result<()> {
    crate::naming::validate_cluster_name(&args.cluster).map_err(crate::exit::Usage)?;
    let chosen = args.destinations.chosen(&args.s3).await?;
    let others = args
        .destinations
        .connect_all(&args.s3, &chosen.others)
        .await?
        .into_iter()
        .map(|(spec, client)| restore::Elsewhere {
            name: spec.name.clone(),
            client,
            s3: location(&spec),
        })
        .collect::<Vec<_>>();
    let opts = options(args, &chosen.spec, Surroundings::of_this_process());
    let ask = super::pick::pick_interactively;
    let client = &chosen.dest.client;
    let text = restore::guide(client, &others, &opts, chrono::Utc::now(), ask).await?;
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
        args: Args,
    }

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["x", "--cluster", "prod-main", "--bucket", "b"];
        argv.extend(extra);
        Cli::try_parse_from(argv).unwrap().args
    }

    fn first() -> DestinationSpec {
        DestinationSpec::new("primary", "b")
    }

    const EVERYTHING: Surroundings = Surroundings {
        terminal: true,
        kubeconfig: true,
    };

    #[test]
    fn default_flags_give_the_statefulset_defaults() {
        let o = options(args(&[]), &first(), EVERYTHING);
        assert_eq!(o.cluster, "prod-main");
        assert!(o.prompt && o.read_kube);
        assert_eq!(o.format, restore::Format::Text);
        assert_eq!(
            o.s3,
            S3Location {
                endpoint: None,
                region: "us-east-1".into(),
                bucket: "b".into(),
                prefix: "etcdbak".into(),
            }
        );
        let l = o.layout;
        assert_eq!(
            (l.cacert.as_str(), l.cert.as_str(), l.key.as_str()),
            (
                "/etc/etcd/tls/ca.crt",
                "/etc/etcd/tls/tls.crt",
                "/etc/etcd/tls/tls.key"
            )
        );
        assert_eq!(l.data_dir, "/var/lib/etcd");
        assert_eq!(l.helper_image, "busybox:1.36");
        assert_eq!(l.bump_revision, 1_000_000_000);
        assert!(l.members.is_empty() && l.endpoints.is_empty() && !l.insecure);
        assert_eq!((l.namespace, l.replicas, l.owner), (None, None, None));
        assert_eq!(l.identity, None);
    }

    #[test]
    fn layout_flags_reach_the_options() {
        let o = options(
            args(&[
                "--namespace",
                "other",
                "--replicas",
                "1",
                "--insecure",
                "--volume-claim",
                "v",
                "--member",
                "a=https://127.0.0.1:1,b=https://127.0.0.1:2",
                "--snapshot",
                "x.db",
                "--no-kube",
                "-o",
                "markdown",
                "--identity",
                "/keys/backup.agekey",
            ]),
            &first(),
            EVERYTHING,
        );
        assert!(!o.prompt, "a requested snapshot is never prompted for");
        assert!(!o.read_kube);
        assert_eq!(o.snapshot.as_deref(), Some("x.db"));
        assert_eq!(o.layout.identity.as_deref(), Some("/keys/backup.agekey"));
        assert_eq!(o.format, restore::Format::Markdown);
        assert_eq!(o.layout.namespace.as_deref(), Some("other"));
        assert_eq!(o.layout.replicas, Some(1));
        assert!(o.layout.insecure);
        assert_eq!(o.layout.volume_claim.as_deref(), Some("v"));
        assert_eq!(o.layout.members[1].peer_url, "https://127.0.0.1:2");
        let nothing = Surroundings {
            terminal: false,
            kubeconfig: false,
        };
        let o = options(args(&[]), &first(), nothing);
        assert!(
            !o.prompt && !o.read_kube,
            "no terminal to ask on, no kubeconfig to try"
        );
        assert_eq!(
            o.destination, None,
            "one destination: the runbook names none"
        );
        let several = args(&["--add-destination", "name=dr,bucket=x"]);
        let dr = DestinationSpec::new("dr", "x");
        let o = options(several, &dr, nothing);
        assert_eq!(o.destination.as_deref(), Some("dr"));
        assert_eq!(o.s3.bucket, "x");
    }

    #[test]
    fn a_bad_member_is_refused_by_the_parser() {
        let argv = [
            "x",
            "--cluster",
            "c",
            "--bucket",
            "b",
            "--member",
            "a=ftp://x",
        ];
        let e = Cli::try_parse_from(argv).err().expect("refused");
        assert!(e.to_string().contains("NAME=PEER_URL"), "{e}");
        for bad in ["0", "16", "many"] {
            let argv = ["x", "--cluster", "c", "--bucket", "b", "--replicas", bad];
            let e = Cli::try_parse_from(argv).err().expect("refused");
            assert!(e.to_string().contains("from 1 to 15"), "{bad}: {e}");
        }
    }
}
