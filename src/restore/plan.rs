//! Gathering the runbook's values: flags win, then what the apiserver said, then defaults that follow how
//! an etcd StatefulSet names things. Pure: [`resolve`] turns them into a [`RestorePlan`] or names the flag to fix.

use crate::exit::Setting;
use chrono::{DateTime, Utc};

use super::facts::{Member, RestorePlan, S3Location, Snapshot, TlsPaths};
use super::Error;
use crate::naming;

/// The backup CronJob's namespace when neither `--cronjob` nor the Cluster's status names it: the
/// controller's default job namespace.
const DEFAULT_JOB_NAMESPACE: &str = "etcdbak";

/// Where the etcd cluster's pieces and the operator's files are, as the operator gave them. `None` and empty
/// lists mean "derive it".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub namespace: Option<String>,
    pub statefulset: Option<String>,
    pub service: Option<String>,
    pub replicas: Option<usize>,
    pub members: Vec<Member>,
    pub endpoints: Vec<String>,
    pub cacert: String,
    pub cert: String,
    pub key: String,
    /// No TLS: plain http URLs and no certificate flags.
    pub insecure: bool,
    /// The age identity file for an encrypted backup, as a path where the operator runs it.
    pub identity: Option<String>,
    pub data_dir: String,
    pub volume_mount_path: Option<String>,
    pub volume_claim: Option<String>,
    pub helper_image: String,
    /// `UID:GID`, checked by [`resolve`].
    pub owner: Option<String>,
    /// `NAMESPACE/NAME`, checked by [`resolve`].
    pub cronjob: Option<String>,
    /// The kube-apiserver Deployment as `NAMESPACE/NAME`, checked by [`resolve`].
    pub apiserver: Option<String>,
    pub token: Option<String>,
    pub workdir: Option<String>,
    pub bump_revision: u64,
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

/// The StatefulSet's namespace, name and headless Service.
struct Names {
    namespace: String,
    statefulset: String,
    service: String,
}

fn names(cluster: &str, layout: &Layout, kube: &KubeFacts) -> Names {
    let namespace = layout
        .namespace
        .clone()
        .or_else(|| kube.namespace.clone())
        .unwrap_or_else(|| "default".to_string());
    let statefulset = layout
        .statefulset
        .clone()
        .or_else(|| kube.service.clone())
        .unwrap_or_else(|| cluster.to_string());
    let service = layout
        .service
        .clone()
        .or_else(|| kube.statefulset_service.clone())
        .unwrap_or_else(|| statefulset.clone());
    Names {
        namespace,
        statefulset,
        service,
    }
}

/// The members and the client URLs for the health checks: given, or derived from the names.
fn members(
    layout: &Layout,
    kube: &KubeFacts,
    n: &Names,
) -> Result<(Vec<Member>, Vec<String>), Error> {
    let scheme = if layout.insecure { "http" } else { "https" };
    let (sts, svc, ns) = (&n.statefulset, &n.service, &n.namespace);
    let members = if layout.members.is_empty() {
        let count = layout.replicas.or(kube.replicas).unwrap_or(3);
        derive_members(sts, svc, ns, count, scheme)
    } else {
        layout.members.clone()
    };
    if members.is_empty() {
        return Err(Error::Usage(crate::exit::Usage(format!(
            "a cluster needs at least one member: fix {} or {}",
            Setting::Replicas,
            Setting::Member
        ))));
    }
    if let Some(count) = layout
        .replicas
        .filter(|c| !layout.members.is_empty() && *c != layout.members.len())
    {
        return Err(Error::Usage(crate::exit::Usage(format!(
            "{} {count} disagrees with the {} {} flags: give one or the other",
            Setting::Replicas,
            layout.members.len(),
            Setting::Member
        ))));
    }
    let endpoints = if layout.endpoints.is_empty() {
        derive_endpoints(sts, svc, ns, members.len(), scheme)
    } else {
        layout.endpoints.clone()
    };
    Ok((members, endpoints))
}

/// Where the PVC is mounted: given, else the data dir itself. The data dir must be inside it.
fn volume_mount_path(layout: &Layout) -> Result<String, Error> {
    let mount = layout
        .volume_mount_path
        .clone()
        .unwrap_or_else(|| layout.data_dir.clone());
    let (d, r) = (
        layout.data_dir.trim_end_matches('/'),
        mount.trim_end_matches('/'),
    );
    if d == r || d.starts_with(&format!("{r}/")) {
        Ok(mount)
    } else {
        Err(Error::Usage(crate::exit::Usage(format!(
            "{} {} is not inside {} {mount}: the PVC must hold the data dir",
            Setting::DataDir,
            layout.data_dir,
            Setting::VolumeMountPath
        ))))
    }
}

/// The backup CronJob: `--cronjob`, else the Cluster's status, else the name the controller gives it.
fn cronjob(cluster: &str, layout: &Layout, kube: &KubeFacts) -> Result<(String, String), Error> {
    match &layout.cronjob {
        Some(s) => {
            let (ns, name) = s.split_once('/').ok_or_else(|| {
                Error::Usage(crate::exit::Usage(format!(
                    "{} {s:?} is not NAMESPACE/NAME",
                    Setting::CronJob
                )))
            })?;
            Ok((ns.to_string(), name.to_string()))
        }
        None => Ok(kube.cronjob.clone().unwrap_or_else(|| {
            (
                DEFAULT_JOB_NAMESPACE.to_string(),
                crate::naming::cron_job_name(cluster),
            )
        })),
    }
}

fn check_owner(layout: &Layout) -> Result<(), Error> {
    match &layout.owner {
        Some(owner)
            if !owner
                .split_once(':')
                .is_some_and(|(u, g)| u.parse::<u32>().is_ok() && g.parse::<u32>().is_ok()) =>
        {
            Err(Error::Usage(crate::exit::Usage(format!(
                "{} {owner:?} is not UID:GID (numbers)",
                Setting::Owner
            ))))
        }
        _ => Ok(()),
    }
}

/// Turns flags, apiserver facts and defaults into a plan (flags win, then the apiserver, then defaults). Pure.
pub fn resolve(
    cluster: &str,
    layout: &Layout,
    s3: &S3Location,
    kube: &KubeFacts,
    snapshot: Snapshot,
    now: DateTime<Utc>,
) -> Result<RestorePlan, Error> {
    naming::validate_cluster_name(cluster).map_err(crate::exit::Usage)?;
    let n = names(cluster, layout, kube);
    let (members, endpoints) = members(layout, kube, &n)?;
    let volume_mount_path = volume_mount_path(layout)?;
    let cronjob = cronjob(cluster, layout, kube)?;
    check_owner(layout)?;
    Ok(RestorePlan {
        cluster: cluster.to_string(),
        namespace: n.namespace,
        statefulset: n.statefulset,
        members,
        endpoints,
        tls: (!layout.insecure).then(|| TlsPaths {
            cacert: layout.cacert.clone(),
            cert: layout.cert.clone(),
            key: layout.key.clone(),
        }),
        identity: layout.identity.clone(),
        data_dir: layout.data_dir.clone(),
        volume_mount_path,
        volume_claim: layout
            .volume_claim
            .clone()
            .or_else(|| kube.volume_claim.clone())
            .unwrap_or_else(|| "data".to_string()),
        helper_image: layout.helper_image.clone(),
        owner: layout.owner.clone(),
        snapshot,
        s3: S3Location {
            prefix: naming::bare_prefix(&s3.prefix).to_string(),
            ..s3.clone()
        },
        destination: None,
        copies: Vec::new(),
        cronjob,
        token: layout
            .token
            .clone()
            .unwrap_or_else(|| format!("{cluster}-restore-{}", now.format("%Y%m%d%H%M%S"))),
        workdir: layout
            .workdir
            .clone()
            .unwrap_or_else(|| format!("restore-{cluster}")),
        bump_revision: layout.bump_revision,
        point: None,
        apiserver: apiserver(layout)?,
        now,
    })
}

fn apiserver(layout: &Layout) -> Result<Option<(String, String)>, Error> {
    let Some(s) = &layout.apiserver else {
        return Ok(None);
    };
    let (ns, name) = s
        .split_once('/')
        .filter(|(ns, name)| naming::is_dns_label(ns) && naming::is_dns_subdomain(name))
        .ok_or_else(|| {
            Error::Usage(crate::exit::Usage(format!(
                "{} {s:?} is not NAMESPACE/DEPLOYMENT",
                Setting::ApiServer
            )))
        })?;
    Ok(Some((ns.to_string(), name.to_string())))
}

#[cfg(test)]
mod tests;
