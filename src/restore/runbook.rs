//! The restore runbook as a pure function: the cluster's facts in, numbered steps with exact commands out.
//! Rendering (text for a terminal, markdown for an incident doc) is pure too. docs/RESTORE.md explains the why
//! of each step at length; the `why` lines here are the short form an operator reads mid-incident.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

/// One etcd member as the restored cluster will know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub peer_url: String,
}

/// Client TLS files, as paths where the operator runs `etcdctl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    pub cacert: String,
    pub cert: String,
    pub key: String,
}

/// The snapshot chosen for the restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub key: String,
    pub taken_at: DateTime<Utc>,
    pub revision: i64,
    pub size_bytes: u64,
    /// The full SHA-256 from the object's metadata when known, else the prefix from its name.
    pub sha256: String,
}

/// Where the backups live (credentials are never part of a runbook: they come from AWS_* variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub prefix: String,
}

/// Everything the runbook needs. Built from flags, defaults derived from etcd StatefulSet naming, and
/// optionally the Cluster resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorePlan {
    /// The Cluster resource's name.
    pub cluster: String,
    /// Namespace of the etcd StatefulSet.
    pub namespace: String,
    pub statefulset: String,
    pub members: Vec<Member>,
    /// Client URLs for the health checks.
    pub endpoints: Vec<String>,
    pub tls: Option<TlsPaths>,
    /// etcd's --data-dir inside the etcd container.
    pub data_dir: String,
    /// Where the member's PVC is mounted in the etcd container (the data dir is at or under it).
    pub volume_mount_path: String,
    /// The StatefulSet's volumeClaimTemplate name: member i's PVC is `<claim>-<statefulset>-<i>`.
    pub volume_claim: String,
    /// The image of the throwaway pod that writes into the PVCs (needs `sh` and `tar` for `kubectl cp`).
    pub helper_image: String,
    /// `uid:gid` to give the restored files, when etcd does not run as root.
    pub owner: Option<String>,
    pub snapshot: Snapshot,
    pub s3: S3Location,
    /// The backup CronJob: (namespace, name).
    pub cronjob: (String, String),
    /// The new cluster token.
    pub token: String,
    /// Local working directory for the download and the restored data dirs.
    pub workdir: String,
    /// 0 disables `--bump-revision`/`--mark-compacted`.
    pub bump_revision: u64,
    /// When the guide was made: names the helper objects of this restore.
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub title: String,
    pub why: String,
    pub commands: Vec<String>,
    /// What to look for in the output, or a caveat.
    pub check: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runbook {
    pub title: String,
    pub facts: Vec<(String, String)>,
    pub steps: Vec<Step>,
}

/// Quotes a shell word only when it needs it, so commands stay readable and still paste safely.
pub fn sh(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn join(words: &[String]) -> String {
    words.iter().map(|w| sh(w)).collect::<Vec<_>>().join(" ")
}

fn cmd<I, S>(words: I) -> String
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    join(&words.into_iter().map(Into::into).collect::<Vec<_>>())
}

impl RestorePlan {
    fn stamp(&self) -> String {
        self.now.format("%Y%m%d%H%M%S").to_string()
    }

    fn pod(&self, i: usize) -> String {
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

    fn snapshot_file(&self) -> String {
        format!("{}/snapshot.db", self.workdir.trim_end_matches('/'))
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
        let mut words = vec![
            "etcdctl".to_string(),
            "--endpoints".to_string(),
            self.endpoints.join(","),
        ];
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
        words.extend(args.iter().map(|s| s.to_string()));
        join(&words)
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

    /// The `kubectl run --overrides` pod spec mounting member i's PVC at the etcd container's mount path.
    fn helper_overrides(&self, i: usize) -> String {
        serde_json::json!({
            "apiVersion": "v1",
            "spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "restore",
                    "image": self.helper_image,
                    "command": ["sleep", "3600"],
                    "volumeMounts": [{"name": "data", "mountPath": self.volume_mount_path}],
                }],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": self.pvc(i)}}],
            }
        })
        .to_string()
    }
}

/// The runbook for `plan`. Pure: the same plan always gives the same steps.
pub fn runbook(plan: &RestorePlan) -> Runbook {
    let p = plan;
    let ns = &p.namespace;
    let n = p.members.len();
    let (cj_ns, cj_name) = &p.cronjob;
    let snap = &p.snapshot;
    let mut steps = Vec::new();

    steps.push(Step {
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
    });

    let mut download = vec!["etcdbak".to_string(), "download".to_string()];
    if let Some(e) = &p.s3.endpoint {
        download.extend(["--s3-endpoint".to_string(), e.clone()]);
    }
    download.extend([
        "--region".to_string(),
        p.s3.region.clone(),
        "--bucket".to_string(),
        p.s3.bucket.clone(),
        "--prefix".to_string(),
        p.s3.prefix.clone(),
        "--key".to_string(),
        snap.key.clone(),
        "--output".to_string(),
        p.snapshot_file(),
    ]);
    steps.push(Step {
        title: "Download the snapshot and verify it".into(),
        why: "etcdbak download checks the SHA-256 recorded at upload and etcd's own hash trailer, so a damaged \
              object stops you here, before anything is destroyed. S3 credentials come from AWS_ACCESS_KEY_ID and \
              AWS_SECRET_ACCESS_KEY."
            .into(),
        commands: vec![
            cmd(["mkdir", "-p", &p.workdir]),
            join(&download),
            cmd(["etcdutl", "snapshot", "status", &p.snapshot_file(), "--write-out", "table"]),
        ],
        check: Some(format!(
            "download ends without error; the status table shows REVISION {}.",
            snap.revision
        )),
    });

    let pods: Vec<String> = (0..n).map(|i| format!("pod/{}", p.pod(i))).collect();
    let mut wait = vec![
        "kubectl".to_string(),
        "-n".to_string(),
        ns.clone(),
        "wait".to_string(),
        "--for=delete".to_string(),
    ];
    wait.extend(pods);
    wait.push("--timeout=5m".to_string());
    steps.push(Step {
        title: "Stop every etcd member".into(),
        why: "Every member must be down before any data is replaced: a member still running keeps the old \
              history and would try to replicate it into the restored members."
            .into(),
        commands: vec![
            cmd(["kubectl", "-n", ns, "scale", "statefulset", &p.statefulset, "--replicas=0"]),
            join(&wait),
        ],
        check: Some("All member pods are gone (the wait returns).".into()),
    });

    let mut restores = Vec::new();
    for m in &p.members {
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
        restores.push(join(&words));
    }
    let bump_why = if p.bump_revision > 0 {
        format!(
            " Revisions jump by {} and are marked compacted, so watchers (kube-apiserver's caches) that saw \
             newer revisions before the disaster re-list instead of silently missing changes.",
            p.bump_revision
        )
    } else {
        String::new()
    };
    steps.push(Step {
        title: format!("Restore the snapshot into a new data dir for each of the {n} members"),
        why: format!(
            "All members start from the same snapshot, so they agree on every key and on the membership. The \
             cluster token is new, so no member or peer left over from before the restore can join this \
             cluster.{bump_why}"
        ),
        commands: restores,
        check: Some(format!(
            "One directory per member under {}, each with a member/ subdirectory.",
            p.workdir
        )),
    });

    let data = p.data_dir.trim_end_matches('/');
    for (i, m) in p.members.iter().enumerate() {
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
            cmd([
                "kubectl",
                "-n",
                ns,
                "wait",
                "--for=condition=Ready",
                &format!("pod/{helper}"),
                "--timeout=2m",
            ]),
            cmd([
                "kubectl".to_string(),
                "-n".to_string(),
                ns.clone(),
                "exec".to_string(),
                helper.clone(),
                "--".to_string(),
                "sh".to_string(),
                "-c".to_string(),
                format!("rm -rf {}/member && mkdir -p {}", sh(data), sh(data)),
            ]),
            cmd([
                "kubectl".to_string(),
                "cp".to_string(),
                format!("{}/member", p.restored_dir(m)),
                format!("{ns}/{helper}:{data}/member"),
            ]),
        ];
        if let Some(owner) = &p.owner {
            commands.push(cmd([
                "kubectl".to_string(),
                "-n".to_string(),
                ns.clone(),
                "exec".to_string(),
                helper.clone(),
                "--".to_string(),
                "chown".to_string(),
                "-R".to_string(),
                owner.clone(),
                format!("{data}/member"),
            ]));
        }
        commands.push(cmd([
            "kubectl",
            "-n",
            ns,
            "exec",
            &helper,
            "--",
            "ls",
            "-ln",
            &format!("{data}/member"),
        ]));
        commands.push(cmd([
            "kubectl",
            "-n",
            ns,
            "delete",
            "pod",
            &helper,
            "--wait=true",
        ]));
        steps.push(Step {
            title: format!("Put {}'s data into PVC {}", m.name, p.pvc(i)),
            why: format!(
                "Pod {} reads its data dir ({data}) from PVC {}; with etcd stopped, a throwaway pod that mounts \
                 the PVC is the way to replace it. The old member/ directory is deleted: it is the state being \
                 discarded (copy it out first with kubectl cp if you want it for a post-mortem).",
                p.pod(i),
                p.pvc(i)
            ),
            commands,
            check: Some(match &p.owner {
                Some(o) => format!("ls shows member/snap and member/wal owned by {o}."),
                None => "ls shows member/snap and member/wal. If etcd runs as a non-root user, chown them to \
                         it (regenerate this guide with --owner UID:GID)."
                    .to_string(),
            }),
        });
    }

    steps.push(Step {
        title: "Start the members again".into(),
        why: "Start all members together: each waits for a quorum of the restored membership. The restored data \
              dir already holds the membership and the new token, so the StatefulSet's --initial-cluster flags \
              are ignored and need no change."
            .into(),
        commands: vec![
            cmd([
                "kubectl".to_string(),
                "-n".to_string(),
                ns.clone(),
                "scale".to_string(),
                "statefulset".to_string(),
                p.statefulset.clone(),
                format!("--replicas={n}"),
            ]),
            cmd([
                "kubectl".to_string(),
                "-n".to_string(),
                ns.clone(),
                "rollout".to_string(),
                "status".to_string(),
                format!("statefulset/{}", p.statefulset),
                "--timeout=10m".to_string(),
            ]),
        ],
        check: Some(format!("{n} of {n} pods ready.")),
    });

    let min_revision = snap
        .revision
        .saturating_add(i64::try_from(p.bump_revision).unwrap_or(0));
    steps.push(Step {
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
            "{n} endpoints healthy; one leader; {n} started members named {}; \"Revision\" at {} or higher \
             (the snapshot's {}{}) and \"Count\" the number of keys restored.",
            p.members
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            min_revision,
            snap.revision,
            if p.bump_revision > 0 {
                format!(" plus the bump of {}", p.bump_revision)
            } else {
                String::new()
            }
        )),
    });

    let job = format!("{cj_name}-restored-{}", p.stamp());
    let job: String = job.chars().take(63).collect();
    steps.push(Step {
        title: "Resume backups and take one now".into(),
        why: "The restored cluster is a new cluster (new token, member IDs and revisions): take its first backup \
              right away instead of waiting for the schedule, so a second incident does not have to go back \
              to the same old snapshot."
            .into(),
        commands: vec![
            p.suspend_patch(false),
            cmd([
                "kubectl".to_string(),
                "-n".to_string(),
                cj_ns.clone(),
                "create".to_string(),
                "job".to_string(),
                format!("--from=cronjob/{cj_name}"),
                job.clone(),
            ]),
            cmd([
                "kubectl".to_string(),
                "-n".to_string(),
                cj_ns.clone(),
                "wait".to_string(),
                "--for=condition=Complete".to_string(),
                format!("job/{job}"),
                "--timeout=30m".to_string(),
            ]),
        ],
        check: Some(format!(
            "The Job completes and `etcdbak list --cluster {}` shows a new backup at the top.",
            p.cluster
        )),
    });

    let taken = snap
        .taken_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Runbook {
        title: format!("Restore etcd cluster {} from a backup", p.cluster),
        facts: vec![
            ("Cluster".into(), p.cluster.clone()),
            (
                "StatefulSet".into(),
                format!("{ns}/{} ({n} members)", p.statefulset),
            ),
            ("Snapshot".into(), snap.key.clone()),
            (
                "Taken at".into(),
                format!(
                    "{taken} (revision {}, {})",
                    snap.revision,
                    crate::list::human_bytes(snap.size_bytes)
                ),
            ),
            ("SHA-256".into(), snap.sha256.clone()),
            (
                "Bucket".into(),
                format!("s3://{}/{}", p.s3.bucket, snap.key),
            ),
            ("New cluster token".into(), p.token.clone()),
            ("Backup CronJob".into(), format!("{cj_ns}/{cj_name}")),
            ("Local work dir".into(), p.workdir.clone()),
        ],
        steps,
    }
}

/// `text` word-wrapped to `width` columns, the first line after `first`, the rest indented under it.
fn wrap(first: &str, text: &str, width: usize) -> String {
    let indent = " ".repeat(first.chars().count());
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// Plain text for a terminal: numbered steps, commands on their own `$ ` lines (never wrapped, so they
/// paste whole).
pub fn render_text(r: &Runbook) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", r.title);
    let _ = writeln!(out, "{}", "=".repeat(r.title.chars().count()));
    let _ = writeln!(out);
    let width = r.facts.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in &r.facts {
        let _ = writeln!(out, "  {:width$}  {v}", format!("{k}:"), width = width + 1);
    }
    for (i, s) in r.steps.iter().enumerate() {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}. {}", i + 1, s.title);
        out.push_str(&wrap("   Why: ", &s.why, 100));
        let _ = writeln!(out);
        for c in &s.commands {
            let _ = writeln!(out, "     $ {c}");
        }
        if let Some(check) = &s.check {
            let _ = writeln!(out);
            out.push_str(&wrap("   Check: ", check, 100));
        }
    }
    out
}

/// Markdown for an incident document.
pub fn render_markdown(r: &Runbook) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}", r.title);
    let _ = writeln!(out);
    let _ = writeln!(out, "| | |");
    let _ = writeln!(out, "|---|---|");
    for (k, v) in &r.facts {
        let _ = writeln!(out, "| {k} | `{v}` |");
    }
    for (i, s) in r.steps.iter().enumerate() {
        let _ = writeln!(out);
        let _ = writeln!(out, "## {}. {}", i + 1, s.title);
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", s.why);
        let _ = writeln!(out);
        let _ = writeln!(out, "```sh");
        for c in &s.commands {
            let _ = writeln!(out, "{c}");
        }
        let _ = writeln!(out, "```");
        if let Some(check) = &s.check {
            let _ = writeln!(out);
            let _ = writeln!(out, "- [ ] {check}");
        }
    }
    out
}

/// The command lines of a text runbook, in order: what an operator (or the restore drill) runs.
pub fn commands_in_text(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("     $ "))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> RestorePlan {
        let members = (0..3)
            .map(|i| Member {
                name: format!("etcd-{i}"),
                peer_url: format!("https://etcd-{i}.etcd.prod.svc:2380"),
            })
            .collect();
        RestorePlan {
            cluster: "prod-main".into(),
            namespace: "prod".into(),
            statefulset: "etcd".into(),
            members,
            endpoints: (0..3)
                .map(|i| format!("https://etcd-{i}.etcd.prod.svc:2379"))
                .collect(),
            tls: Some(TlsPaths {
                cacert: "/etc/etcd/tls/ca.crt".into(),
                cert: "/etc/etcd/tls/tls.crt".into(),
                key: "/etc/etcd/tls/tls.key".into(),
            }),
            data_dir: "/var/lib/etcd".into(),
            volume_mount_path: "/var/lib/etcd".into(),
            volume_claim: "data".into(),
            helper_image: "busybox:1.36".into(),
            owner: None,
            snapshot: Snapshot {
                key: "etcdbak/prod-main/20261125T103000.123Z-r4711-0123abcd.db".into(),
                taken_at: "2026-11-25T10:30:00.123Z".parse().unwrap(),
                revision: 4711,
                size_bytes: 25 * 1024 * 1024 + 12345,
                sha256: "0123abcd".repeat(8),
            },
            s3: S3Location {
                endpoint: Some("http://minio.backup.svc:9000".into()),
                region: "us-east-1".into(),
                bucket: "etcd-backups".into(),
                prefix: "etcdbak".into(),
            },
            cronjob: ("etcdbak".into(), "etcdbak-prod-main".into()),
            token: "prod-main-restore-20261125120000".into(),
            workdir: "restore-prod-main".into(),
            bump_revision: 1_000_000_000,
            now: "2026-11-25T12:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn text_runbook() {
        insta::assert_snapshot!(render_text(&runbook(&plan())));
    }

    #[test]
    fn markdown_runbook() {
        insta::assert_snapshot!(render_markdown(&runbook(&plan())));
    }

    #[test]
    fn every_member_is_restored_from_the_same_snapshot_with_the_whole_membership() {
        let p = plan();
        let text = render_text(&runbook(&p));
        let restores: Vec<String> = commands_in_text(&text)
            .into_iter()
            .filter(|c| c.starts_with("etcdutl snapshot restore"))
            .collect();
        assert_eq!(restores.len(), 3);
        let cluster = "etcd-0=https://etcd-0.etcd.prod.svc:2380,etcd-1=https://etcd-1.etcd.prod.svc:2380,etcd-2=https://etcd-2.etcd.prod.svc:2380";
        for (i, r) in restores.iter().enumerate() {
            assert!(r.contains("restore-prod-main/snapshot.db"), "{r}");
            assert!(r.contains(&format!("--name etcd-{i} ")), "{r}");
            assert!(r.contains(&format!("--initial-cluster {cluster} ")), "{r}");
            assert!(r.contains(&format!(
                "--initial-advertise-peer-urls https://etcd-{i}.etcd.prod.svc:2380 "
            )));
            assert!(r.contains(&format!("--data-dir restore-prod-main/etcd-{i}.etcd")));
            assert!(r.contains("--initial-cluster-token prod-main-restore-20261125120000"));
            assert!(
                r.ends_with("--bump-revision 1000000000 --mark-compacted"),
                "{r}"
            );
        }
    }

    #[test]
    fn suspend_comes_first_and_resume_last() {
        let cmds = commands_in_text(&render_text(&runbook(&plan())));
        assert!(cmds[0].contains("\"suspend\":true"), "{}", cmds[0]);
        let resume = cmds
            .iter()
            .position(|c| c.contains("\"suspend\":false"))
            .unwrap();
        let scale_up = cmds
            .iter()
            .position(|c| c.contains("--replicas=3"))
            .unwrap();
        let scale_down = cmds
            .iter()
            .position(|c| c.contains("--replicas=0"))
            .unwrap();
        let download = cmds
            .iter()
            .position(|c| c.starts_with("etcdbak download"))
            .unwrap();
        // Verify before destroying anything; restore only after stopping; resume only after the checks.
        assert!(download < scale_down && scale_down < scale_up && scale_up < resume);
    }

    #[test]
    fn without_bump_and_tls_the_commands_are_plain() {
        let mut p = plan();
        p.bump_revision = 0;
        p.tls = None;
        p.owner = Some("1001:1001".into());
        let text = render_text(&runbook(&p));
        assert!(!text.contains("--bump-revision"));
        assert!(!text.contains("--cacert"));
        assert!(text.contains("chown -R 1001:1001 /var/lib/etcd/member"));
        let checks: Vec<String> = runbook(&p)
            .steps
            .into_iter()
            .filter_map(|s| s.check)
            .collect();
        assert!(
            checks
                .iter()
                .any(|c| c.contains("\"Revision\" at 4711 or higher (the snapshot's 4711)")),
            "{checks:?}"
        );
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(sh("https://a-0.b.svc:2380"), "https://a-0.b.svc:2380");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("{\"x\":1}"), "'{\"x\":1}'");
        assert_eq!(sh("it's"), "'it'\\''s'");
        assert_eq!(sh(""), "''");
    }
}
