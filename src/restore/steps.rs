//! One function per runbook section, each turning the plan into one [`Step`] (or one per member). The
//! order they run in, and why, is [`super::runbook::runbook`]'s business; each function here only knows its
//! own step.

use super::facts::{Member, RestorePlan, Step};
use super::shell::{cmd, join, sh};
use crate::exit::Setting;

impl RestorePlan {
    fn stamp(&self) -> String {
        self.now.format("%Y%m%d%H%M%S").to_string()
    }

    pub(super) fn pod(&self, i: usize) -> String {
        format!("{}-{i}", self.statefulset)
    }

    fn pvc(&self, i: usize) -> String {
        format!("{}-{}-{i}", self.volume_claim, self.statefulset)
    }

    fn helper(&self, i: usize) -> String {
        format!("etcdbak-restore-{}-{i}", self.statefulset)
            .chars()
            .take(63)
            .collect()
    }

    fn restored_dir(&self, m: &Member) -> String {
        format!("{}/{}.etcd", self.workdir.trim_end_matches('/'), m.name)
    }

    fn initial_cluster(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn etcdctl(&self, args: &[&str]) -> String {
        let mut words = vec!["etcdctl".to_string()];
        words.extend(self.client_words());
        words.extend(args.iter().map(|s| s.to_string()));
        join(&words)
    }

    /// `--endpoints` and the TLS flags, spelled the same for etcdctl and etcdbak.
    pub(super) fn client_words(&self) -> Vec<String> {
        let mut words = vec!["--endpoints".to_string(), self.endpoints.join(",")];
        if let Some(t) = &self.tls {
            words.extend([
                "--cacert".to_string(),
                t.cacert.clone(),
                "--cert".to_string(),
                t.cert.clone(),
                "--key".to_string(),
                t.key.clone(),
            ]);
        }
        words
    }

    fn suspend_patch(&self, suspend: bool) -> String {
        cmd([
            "kubectl".to_string(),
            "patch".to_string(),
            "cluster.etcdbak.io".to_string(),
            self.cluster.clone(),
            "--type".to_string(),
            "merge".to_string(),
            "-p".to_string(),
            format!("{{\"spec\":{{\"suspend\":{suspend}}}}}"),
        ])
    }

    /// `kubectl -n <ns> <words...>` in the etcd StatefulSet's namespace.
    fn kubectl_ns(&self, words: &[&str]) -> String {
        self.kubectl_ns_in(&self.namespace, words)
    }

    /// `kubectl -n <ns> <words...>`.
    pub(super) fn kubectl_ns_in(&self, ns: &str, words: &[&str]) -> String {
        let mut all = vec!["kubectl", "-n", ns];
        all.extend_from_slice(words);
        cmd(all)
    }

    /// The `kubectl run --overrides` pod spec mounting member i's PVC at the etcd container's mount path.
    ///
    /// Locked down as far as its job allows: it replaces files owned by etcd's user (and, with --owner,
    /// chowns them), so it runs as root but with only CHOWN, DAC_OVERRIDE and FOWNER, no privilege
    /// escalation, a read-only root filesystem, no API token. `sleep` ignores SIGTERM, so a grace period of 0
    /// lets the delete step finish at once instead of waiting 30 s or more.
    fn helper_overrides(&self, i: usize) -> String {
        serde_json::json!({
            "apiVersion": "v1",
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 0,
                "automountServiceAccountToken": false,
                "enableServiceLinks": false,
                "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "restore",
                    "image": self.helper_image,
                    "command": ["sleep", "3600"],
                    "securityContext": {
                        "allowPrivilegeEscalation": false,
                        "privileged": false,
                        "readOnlyRootFilesystem": true,
                        "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "DAC_OVERRIDE", "FOWNER"]},
                    },
                    "volumeMounts": [{"name": "data", "mountPath": self.volume_mount_path}],
                }],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": self.pvc(i)}}],
            }
        })
        .to_string()
    }
}

pub fn suspend_backups(p: &RestorePlan) -> Step {
    let (cj_ns, cj_name) = &p.cronjob;
    Step {
        title: "Suspend backups of this cluster".into(),
        why: "A backup taken mid-restore would snapshot an empty or half-restored cluster, and its retention run \
              could delete the good snapshot you are restoring from. Suspend through the Cluster resource: the \
              controller would revert an edit made to the CronJob itself."
            .into(),
        commands: vec![
            p.suspend_patch(true),
            cmd([
                "kubectl", "-n", cj_ns, "get", "cronjob", cj_name, "-o",
                "jsonpath={.spec.suspend}{\"\\n\"}",
            ]),
            cmd(["kubectl", "-n", cj_ns, "get", "jobs", "--sort-by=.metadata.creationTimestamp"]),
        ],
        check: Some(format!(
            "The CronJob reports `true`, and no {cj_name}-* Job is still active (wait for it if one is)."
        )),
        manual: None,
    }
}

pub fn stop_members(p: &RestorePlan) -> Step {
    let n = p.members.len();
    let mut wait = vec![
        "kubectl".to_string(),
        "-n".to_string(),
        p.namespace.clone(),
        "wait".to_string(),
        "--for=delete".to_string(),
    ];
    wait.extend((0..n).map(|i| format!("pod/{}", p.pod(i))));
    wait.push("--timeout=5m".to_string());
    Step {
        title: "Stop every etcd member".into(),
        why: "Every member must be down before any data is replaced: a member still running keeps the old \
              history and would try to replicate it into the restored members."
            .into(),
        commands: vec![
            p.kubectl_ns(&["scale", "statefulset", &p.statefulset, "--replicas=0"]),
            join(&wait),
        ],
        check: Some("All member pods are gone (the wait returns).".into()),
        manual: None,
    }
}

/// `etcdutl snapshot restore` for one member: the whole membership, the new token, its own data dir.
fn restore_command(p: &RestorePlan, m: &Member) -> String {
    let mut words = vec![
        "etcdutl".to_string(),
        "snapshot".to_string(),
        "restore".to_string(),
        p.snapshot_file(),
        "--name".to_string(),
        m.name.clone(),
        "--initial-cluster".to_string(),
        p.initial_cluster(),
        "--initial-cluster-token".to_string(),
        p.token.clone(),
        "--initial-advertise-peer-urls".to_string(),
        m.peer_url.clone(),
        "--data-dir".to_string(),
        p.restored_dir(m),
    ];
    if p.bump_revision > 0 {
        words.extend([
            "--bump-revision".to_string(),
            p.bump_revision.to_string(),
            "--mark-compacted".to_string(),
        ]);
    }
    join(&words)
}

pub fn restore_data_dirs(p: &RestorePlan) -> Step {
    let bump_why = if p.bump_revision > 0 {
        format!(
            " Revisions jump by {} and are marked compacted, so watchers (kube-apiserver's caches) that saw \
             newer revisions before the disaster re-list instead of silently missing changes.",
            p.bump_revision
        )
    } else {
        String::new()
    };
    Step {
        title: format!(
            "Restore the snapshot into a new data dir for each of the {} members",
            p.members.len()
        ),
        why: format!(
            "All members start from the same snapshot, so they agree on every key and on the membership. The \
             cluster token is new, so no member or peer left over from before the restore can join this \
             cluster.{bump_why}"
        ),
        commands: p.members.iter().map(|m| restore_command(p, m)).collect(),
        check: Some(format!(
            "One directory per member under {}, each with a member/ subdirectory.",
            p.workdir
        )),
        manual: None,
    }
}

/// Start a throwaway pod on member i's PVC, replace its member/ directory, check it, delete the pod.
fn fill_pvc_commands(p: &RestorePlan, i: usize, m: &Member) -> Vec<String> {
    let ns = &p.namespace;
    let data = p.data_dir.trim_end_matches('/');
    let helper = p.helper(i);
    let mut commands = vec![
        cmd([
            "kubectl".to_string(),
            "-n".to_string(),
            ns.clone(),
            "run".to_string(),
            helper.clone(),
            format!("--image={}", p.helper_image),
            "--restart=Never".to_string(),
            format!("--overrides={}", p.helper_overrides(i)),
        ]),
        p.kubectl_ns(&[
            "wait",
            "--for=condition=Ready",
            &format!("pod/{helper}"),
            "--timeout=2m",
        ]),
        p.kubectl_ns(&[
            "exec",
            &helper,
            "--",
            "sh",
            "-c",
            &format!("rm -rf {}/member && mkdir -p {}", sh(data), sh(data)),
        ]),
        cmd([
            "kubectl".to_string(),
            "cp".to_string(),
            format!("{}/member", p.restored_dir(m)),
            format!("{ns}/{helper}:{data}/member"),
        ]),
    ];
    if let Some(owner) = &p.owner {
        let member_dir = format!("{data}/member");
        commands.push(p.kubectl_ns(&["exec", &helper, "--", "chown", "-R", owner, &member_dir]));
    }
    commands.push(p.kubectl_ns(&[
        "exec",
        &helper,
        "--",
        "ls",
        "-ln",
        &format!("{data}/member"),
    ]));
    commands.push(p.kubectl_ns(&["delete", "pod", &helper, "--wait=true"]));
    commands
}

pub fn fill_pvc(p: &RestorePlan, i: usize, m: &Member) -> Step {
    let data = p.data_dir.trim_end_matches('/');
    Step {
        title: format!("Put {}'s data into PVC {}", m.name, p.pvc(i)),
        why: format!(
            "Pod {} reads its data dir ({data}) from PVC {}; with etcd stopped, a throwaway pod that mounts \
             the PVC is the way to replace it. The old member/ directory is deleted: it is the state being \
             discarded (copy it out first with kubectl cp if you want it for a post-mortem).",
            p.pod(i),
            p.pvc(i)
        ),
        commands: fill_pvc_commands(p, i, m),
        check: Some(match &p.owner {
            Some(o) => format!("ls shows member/snap and member/wal owned by {o}."),
            None => format!(
                "ls shows member/snap and member/wal. If etcd runs as a non-root user, chown them to \
                 it (regenerate this guide with {} UID:GID).",
                Setting::Owner
            ),
        }),
        manual: None,
    }
}

pub fn start_members(p: &RestorePlan) -> Step {
    let n = p.members.len();
    Step {
        title: "Start the members again".into(),
        why: "Start all members together: each waits for a quorum of the restored membership. The restored data \
              dir already holds the membership and the new token, so the StatefulSet's --initial-cluster flags \
              are ignored and need no change."
            .into(),
        commands: vec![
            p.kubectl_ns(&["scale", "statefulset", &p.statefulset, &format!("--replicas={n}")]),
            p.kubectl_ns(&[
                "rollout",
                "status",
                &format!("statefulset/{}", p.statefulset),
                "--timeout=10m",
            ]),
        ],
        check: Some(format!("{n} of {n} pods ready.")),
        manual: None,
    }
}

pub fn check_health(p: &RestorePlan) -> Step {
    let n = p.members.len();
    let snap = &p.snapshot;
    let min_revision = snap
        .revision
        .saturating_add(i64::try_from(p.bump_revision).unwrap_or(0));
    let names = p
        .members
        .iter()
        .map(|m| m.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let bump = if p.bump_revision > 0 {
        format!(" plus the bump of {}", p.bump_revision)
    } else {
        String::new()
    };
    Step {
        title: "Check health, membership and revision".into(),
        why: "Healthy endpoints prove quorum; the member list proves the cluster is exactly the restored \
              membership (no stale member rejoined); the revision proves the data is the snapshot's. Run these \
              where the client certificates are."
            .into(),
        commands: vec![
            p.etcdctl(&["endpoint", "health"]),
            p.etcdctl(&["endpoint", "status", "--write-out", "table"]),
            p.etcdctl(&["member", "list", "--write-out", "table"]),
            p.etcdctl(&["get", "", "--prefix", "--count-only", "--write-out", "fields"]),
        ],
        check: Some(format!(
            "{n} endpoints healthy; one leader; {n} started members named {names}; \"Revision\" at {min_revision} \
             or higher (the snapshot's {}{bump}) and \"Count\" the number of keys restored.",
            snap.revision,
        )),
        manual: None,
    }
}

pub fn resume_backups(p: &RestorePlan) -> Step {
    let (cj_ns, cj_name) = &p.cronjob;
    let job: String = format!("{cj_name}-restored-{}", p.stamp())
        .chars()
        .take(63)
        .collect();
    Step {
        title: "Resume backups and take one now".into(),
        why: "The restored cluster is a new cluster (new token, member IDs and revisions): take its first backup \
              right away instead of waiting for the schedule, so a second incident does not have to go back \
              to the same old snapshot."
            .into(),
        commands: vec![
            p.suspend_patch(false),
            cmd([
                "kubectl",
                "-n",
                cj_ns,
                "create",
                "job",
                &format!("--from=cronjob/{cj_name}"),
                &job,
            ]),
            cmd([
                "kubectl",
                "-n",
                cj_ns,
                "wait",
                "--for=condition=Complete",
                &format!("job/{job}"),
                "--timeout=30m",
            ]),
        ],
        check: Some(format!(
            "The Job completes and `etcdbak list --cluster {}` shows a new backup at the top.",
            p.cluster
        )),
        manual: None,
    }
}
