//! The runbook's steps for a restore to a point (`restore-guide --to`): check the segments before anything
//! is destroyed, keep the apiserver stopped, replay the segments on top of the restored snapshot, start
//! the apiserver again. Each function builds one [`Step`]; [`super::runbook::runbook`] places them.

use crate::exit::Setting;
use chrono::SecondsFormat;

use super::facts::{Point, RestorePlan, Step};
use super::shell::{join, sh};
use crate::continuous::chain::Target;

/// Stand in for the apiserver Deployment when the guide was made without `--apiserver`.
pub const APISERVER_NAMESPACE_PLACEHOLDER: &str = "APISERVER_NAMESPACE";
pub const APISERVER_PLACEHOLDER: &str = "APISERVER_DEPLOYMENT";

/// The point in words: `2026-12-02T14:03:59Z` or `revision 4711`.
pub fn describe(target: Target) -> String {
    match target {
        Target::Time(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        Target::Revision(r) => format!("revision {r}"),
    }
}

/// The rows a restore to a point adds to the runbook's table.
pub fn facts(point: &Point) -> Vec<(String, String)> {
    let segments = match (point.segments.first(), point.segments.last()) {
        (Some(first), Some(last)) => format!(
            "{} after the snapshot, revisions {}..{}",
            point.segments.len(),
            first.first,
            last.last
        ),
        _ => "none: the snapshot itself is the point".to_string(),
    };
    let replay = match point.reached {
        Some(r) => format!(
            "{} changes, ending at source revision {}{} (segments read and checked)",
            r.events,
            r.revision,
            r.seen_at
                .map(|t| format!(", seen {}", t.to_rfc3339_opts(SecondsFormat::Millis, true)))
                .unwrap_or_default()
        ),
        None => "segments are encrypted: the check step reads them with the identity".to_string(),
    };
    vec![
        ("Restore point".into(), describe(point.target)),
        ("Segments".into(), segments),
        ("Replay".into(), replay),
    ]
}

fn target_words(target: Target) -> [String; 2] {
    match target {
        Target::Time(t) => [
            "--to".into(),
            t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        ],
        Target::Revision(r) => ["--to-revision".into(), r.to_string()],
    }
}

impl RestorePlan {
    /// `etcdbak replay` for this restore's point, with `extra` words after the command.
    fn replay_command(&self, point: &Point, extra: &[String]) -> String {
        let mut words = vec![
            "etcdbak".to_string(),
            "replay".to_string(),
            "--cluster".to_string(),
            self.cluster.clone(),
        ];
        words.extend(target_words(point.target));
        words.extend(extra.iter().cloned());
        words.extend(self.s3_words());
        if point.segments.iter().any(|s| s.encrypted) {
            words.extend(["--identity".to_string(), self.identity_file().to_string()]);
        }
        join(&words)
    }

    fn apiserver_or_placeholder(&self) -> (&str, &str) {
        match &self.apiserver {
            Some((ns, name)) => (ns, name),
            None => (APISERVER_NAMESPACE_PLACEHOLDER, APISERVER_PLACEHOLDER),
        }
    }

    fn apiserver_replicas_file(&self) -> String {
        format!("{}/apiserver-replicas", self.workdir.trim_end_matches('/'))
    }
}

/// What the replay will report, as the guide found it (or that the check step finds it).
fn expected_summary(p: &RestorePlan, point: &Point) -> String {
    let base = format!(
        "on top of {} (revision {})",
        p.snapshot.key, p.snapshot.revision
    );
    match point.reached {
        Some(r) => {
            let seen = r
                .seen_at
                .map(|t| format!(" (seen {})", t.to_rfc3339()))
                .unwrap_or_default();
            format!(
                "{} changes from {} segments {base}: the cluster is at source revision {}{seen}",
                r.events,
                point.segments.len(),
                r.revision
            )
        }
        None => format!("N changes from {} segments {base}", point.segments.len()),
    }
}

pub fn check_segments(p: &RestorePlan, point: &Point) -> Step {
    Step {
        title: "Check the continuous-backup segments up to the point".into(),
        why: "The replay applies these segments on top of the snapshot. Reading them now (every segment's \
              SHA-256 and size, its event count, no revision missing inside it or between two of them) stops \
              a damaged or broken chain here, before anything is destroyed."
            .into(),
        commands: vec![p.replay_command(point, &["--check".to_string()])],
        check: Some(format!("It prints `checked {}`.", expected_summary(p, point))),
        manual: None,
    }
}

pub fn stop_apiserver(p: &RestorePlan) -> Step {
    let (ns, name) = p.apiserver_or_placeholder();
    let mut check = format!("`kubectl -n {ns} get deployment {name}` shows 0/0 ready.");
    if p.apiserver.is_none() {
        check.push_str(&format!(
            " {APISERVER_NAMESPACE_PLACEHOLDER}/{APISERVER_PLACEHOLDER} stand for the kube-apiserver that \
             uses this etcd (regenerate this guide with {} NS/NAME); stop a static-pod apiserver \
             by moving its manifest out of the kubelet's manifest directory instead.",
            Setting::ApiServer
        ));
    }
    Step {
        title: "Stop the kube-apiserver that uses this etcd".into(),
        why: "Until the replay is done the restored members hold the snapshot's state, not the point's. An \
              apiserver, and the controllers behind it, would act on that older state and write changes the \
              replay then mixes with. Keep it stopped until the replay step has finished."
            .into(),
        commands: vec![
            format!(
                "{} > {}",
                join(&[
                    "kubectl", "-n", ns, "get", "deployment", name, "-o", "jsonpath={.spec.replicas}",
                ]
                .map(String::from)),
                sh(&p.apiserver_replicas_file())
            ),
            p.kubectl_ns_in(ns, &["scale", "deployment", name, "--replicas=0"]),
        ],
        check: Some(check),
        manual: None,
    }
}

pub fn replay(p: &RestorePlan, point: &Point) -> Step {
    Step {
        title: format!("Replay the changes up to {}", describe(point.target)),
        why: "The members now hold the snapshot. etcdbak replay applies every change after it up to the \
              point, one transaction per original revision, so the keyspace passes through the states the \
              source did and ends exactly at the point; it checks each segment again as it reads it. Keys \
              written under a lease come back without one (Kubernetes re-creates its leases). Run it where \
              the client certificates are."
            .into(),
        commands: vec![p.replay_command(point, &p.client_words())],
        check: Some(format!("It prints `replayed {}`.", expected_summary(p, point))),
        manual: None,
    }
}

pub fn start_apiserver(p: &RestorePlan) -> Step {
    let (ns, name) = p.apiserver_or_placeholder();
    let scale = format!(
        "{} --replicas=\"$(cat {})\"",
        p.kubectl_ns_in(ns, &["scale", "deployment", name]),
        sh(&p.apiserver_replicas_file())
    );
    Step {
        title: "Start the kube-apiserver again".into(),
        why: "The database is at the point now: the apiserver serves it from here. Watchers re-list, because \
              the restore raised the revision and marked it compacted."
            .into(),
        commands: vec![
            scale,
            p.kubectl_ns_in(
                ns,
                &["rollout", "status", &format!("deployment/{name}"), "--timeout=10m"],
            ),
        ],
        check: Some(
            "The rollout completes, and what was deleted after the point (a namespace, say) is back.".into(),
        ),
        manual: None,
    }
}
