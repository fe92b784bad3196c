//! Which member to snapshot, decided from what each endpoint answered. Pure: the etcd calls are elsewhere.
//!
//! A snapshot reads the whole database and streams it, which costs the serving member disk and network
//! bandwidth; doing that on the leader slows every write in the cluster. So a healthy follower is preferred,
//! the one that has applied the most of the log (the freshest data), and the leader is used only when no
//! follower is healthy.

use std::fmt;

use super::classify::Failure;

/// What one endpoint said about its member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    pub member_id: u64,
    /// The leader's member ID as this member sees it (0: no leader).
    pub leader_id: u64,
    pub raft_applied_index: u64,
    /// The store revision when the status was taken.
    pub revision: i64,
    pub db_size: i64,
    pub version: String,
    /// etcd's own status errors: "etcdserver: no leader" and every active alarm as
    /// `memberID:<id> alarm:<NOSPACE|CORRUPT>`.
    pub errors: Vec<String>,
    pub is_learner: bool,
}

impl MemberStatus {
    pub fn is_leader(&self) -> bool {
        self.leader_id != 0 && self.leader_id == self.member_id
    }
}

/// One endpoint's answer, or why there was none.
#[derive(Debug, Clone)]
pub struct Probe {
    pub endpoint: String,
    pub outcome: Result<MemberStatus, Failure>,
}

/// The member to stream from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub endpoint: String,
    pub status: MemberStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    /// No endpoint answered at all: each endpoint with why.
    NoneAnswered(Vec<(String, Failure)>),
    /// Some answered, none is healthy: each endpoint with why it was passed over.
    NoneHealthy(Vec<(String, String)>),
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = match self {
            SelectError::NoneAnswered(list) => list
                .iter()
                .map(|(ep, why)| format!("{ep} ({})", why.detail))
                .collect(),
            SelectError::NoneHealthy(list) => list
                .iter()
                .map(|(ep, why)| format!("{ep} ({why})"))
                .collect(),
        };
        f.write_str(&lines.join("; "))
    }
}

/// Why a member that answered must not be snapshotted, if it must not.
pub fn unhealthy_reason(s: &MemberStatus) -> Option<String> {
    if s.is_learner {
        return Some("is a learner, not a voting member yet".into());
    }
    let mut reasons = Vec::new();
    if s.leader_id == 0 {
        reasons.push("has no leader (lost quorum?)".to_string());
    }
    for e in &s.errors {
        match parse_alarm(e) {
            // etcd reports every member's alarms from every member: only this member's own count here.
            Some((id, _)) if id != s.member_id => {}
            Some((_, alarm)) => reasons.push(format!("alarm {alarm} raised")),
            None if e.contains("no leader") && s.leader_id == 0 => {}
            None => reasons.push(e.clone()),
        }
    }
    (!reasons.is_empty()).then(|| reasons.join(", "))
}

/// `memberID:8211f1d0f64f3269 alarm:NOSPACE` (protobuf text; the ID is decimal) -> (id, "NOSPACE").
fn parse_alarm(text: &str) -> Option<(u64, String)> {
    let mut id = None;
    let mut alarm = None;
    for field in text.split_whitespace() {
        if let Some(v) = field.strip_prefix("memberID:") {
            id = v.parse::<u64>().ok();
        } else if let Some(v) = field.strip_prefix("alarm:") {
            alarm = Some(v.to_string());
        }
    }
    Some((id?, alarm?))
}

/// Picks the member to snapshot; see the module comment for the preference order. Ties keep the order the
/// endpoints were given in, and an endpoint that names an already-seen member is skipped.
pub fn choose(probes: &[Probe]) -> Result<Choice, SelectError> {
    let mut seen = Vec::new();
    let mut healthy: Vec<(&str, &MemberStatus)> = Vec::new();
    let mut passed_over = Vec::new();
    let mut failures = Vec::new();
    for p in probes {
        match &p.outcome {
            Err(f) => {
                failures.push((p.endpoint.clone(), f.clone()));
                passed_over.push((p.endpoint.clone(), f.detail.clone()));
            }
            Ok(s) => {
                if seen.contains(&s.member_id) {
                    continue;
                }
                seen.push(s.member_id);
                match unhealthy_reason(s) {
                    Some(why) => passed_over.push((p.endpoint.clone(), why)),
                    None => healthy.push((&p.endpoint, s)),
                }
            }
        }
    }
    if seen.is_empty() {
        return Err(SelectError::NoneAnswered(failures));
    }
    let mut best: Option<(&str, &MemberStatus)> = None;
    for &(ep, s) in &healthy {
        let better = match best {
            None => true,
            Some((_, b)) => {
                // A follower beats the leader; among equals, the higher applied index wins.
                (b.is_leader() && !s.is_leader())
                    || (b.is_leader() == s.is_leader()
                        && s.raft_applied_index > b.raft_applied_index)
            }
        };
        if better {
            best = Some((ep, s));
        }
    }
    match best {
        Some((ep, s)) => Ok(Choice {
            endpoint: ep.to_string(),
            status: s.clone(),
        }),
        None => Err(SelectError::NoneHealthy(passed_over)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::classify::{Failure, FailureKind};
    use super::*;

    const LEADER: u64 = 0xa1;

    fn member(id: u64, applied: u64) -> MemberStatus {
        MemberStatus {
            member_id: id,
            leader_id: LEADER,
            raft_applied_index: applied,
            revision: 100,
            db_size: 4096,
            version: "3.6.16".into(),
            errors: vec![],
            is_learner: false,
        }
    }

    fn ok(ep: &str, s: MemberStatus) -> Probe {
        Probe {
            endpoint: ep.into(),
            outcome: Ok(s),
        }
    }

    fn down(ep: &str, kind: FailureKind, detail: &str) -> Probe {
        Probe {
            endpoint: ep.into(),
            outcome: Err(Failure {
                kind,
                detail: detail.into(),
            }),
        }
    }

    fn with_errors(mut s: MemberStatus, errors: &[&str]) -> MemberStatus {
        s.errors = errors.iter().map(|e| e.to_string()).collect();
        s
    }

    /// (case, probes, expected endpoint or error text)
    fn table() -> Vec<(&'static str, Vec<Probe>, Result<&'static str, String>)> {
        let refused = FailureKind::Unreachable;
        vec![
            (
                "follower with the highest applied index wins",
                vec![
                    ok("a", member(LEADER, 50)),
                    ok("b", member(2, 40)),
                    ok("c", member(3, 45)),
                ],
                Ok("c"),
            ),
            (
                "a follower beats a leader that is further ahead",
                vec![ok("a", member(LEADER, 99)), ok("b", member(2, 10))],
                Ok("b"),
            ),
            (
                "ties keep endpoint order",
                vec![
                    ok("a", member(2, 40)),
                    ok("b", member(3, 40)),
                    ok("c", member(LEADER, 40)),
                ],
                Ok("a"),
            ),
            (
                "unreachable followers fall back to the other follower",
                vec![
                    down("a", refused.clone(), "connection refused"),
                    ok("b", member(LEADER, 50)),
                    ok("c", member(3, 45)),
                ],
                Ok("c"),
            ),
            (
                "only the leader is healthy: use it",
                vec![
                    ok("a", member(LEADER, 50)),
                    down("b", refused.clone(), "connection refused"),
                    ok("c", with_errors(member(3, 45), &["memberID:3 alarm:CORRUPT"])),
                ],
                Ok("a"),
            ),
            (
                "single-member cluster is its own leader",
                vec![ok("a", member(LEADER, 7))],
                Ok("a"),
            ),
            (
                "another member's alarm does not disqualify this one",
                vec![
                    ok("a", with_errors(member(LEADER, 50), &["memberID:2 alarm:NOSPACE"])),
                    ok("b", with_errors(member(2, 50), &["memberID:2 alarm:NOSPACE"])),
                ],
                Ok("a"),
            ),
            (
                "the same member behind two endpoints counts once",
                vec![ok("a", member(2, 40)), ok("a-alias", member(2, 40))],
                Ok("a"),
            ),
            (
                "learners are never chosen",
                vec![
                    ok("a", {
                        let mut s = member(2, 90);
                        s.is_learner = true;
                        s
                    }),
                    ok("b", member(LEADER, 50)),
                ],
                Ok("b"),
            ),
            (
                "nobody answered",
                vec![
                    down("a", refused.clone(), "connection refused"),
                    down("b", FailureKind::Timeout, "no answer within 5s"),
                ],
                Err("a (connection refused); b (no answer within 5s)".into()),
            ),
            (
                "answered but none healthy",
                vec![
                    ok("a", with_errors(member(LEADER, 50), &["memberID:161 alarm:NOSPACE"])),
                    ok("b", {
                        let mut s = member(2, 40);
                        s.leader_id = 0;
                        s.errors = vec!["etcdserver: no leader".into()];
                        s
                    }),
                    down("c", refused, "connection refused"),
                ],
                Err("a (alarm NOSPACE raised); b (has no leader (lost quorum?)); c (connection refused)"
                    .into()),
            ),
        ]
    }

    #[test]
    fn chooses_per_table() {
        for (case, probes, want) in table() {
            let got = choose(&probes)
                .map(|c| c.endpoint)
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map(String::from), "case: {case}");
        }
    }

    #[test]
    fn none_answered_keeps_every_failure_for_the_caller_to_classify() {
        let probes = vec![
            down("a", FailureKind::Unreachable, "connection refused"),
            down("b", FailureKind::Unreachable, "connection refused"),
        ];
        match choose(&probes) {
            Err(SelectError::NoneAnswered(list)) => assert_eq!(list.len(), 2),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn parses_alarm_text() {
        assert_eq!(
            parse_alarm("memberID:10276657743932975437 alarm:NOSPACE "),
            Some((10276657743932975437, "NOSPACE".into()))
        );
        assert_eq!(parse_alarm("etcdserver: no leader"), None);
    }
}
