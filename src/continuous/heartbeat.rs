//! What a follower tells the controller through its Lease: how far the stored chain reaches, and the gaps
//! it has had. Pure: a [`Beat`] to the Lease's annotations and back, and the controller's verdict on it.
//!
//! Annotations rather than the Lease's spec because the controller watches Leases metadata-only (cheap,
//! and every field it needs is here); the spec still says who holds it and when it was renewed, for
//! `kubectl get lease`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub const RECOVERY_POINT: &str = "etcdbak.io/recovery-point";
pub const REVISION: &str = "etcdbak.io/recovery-revision";
pub const GAPS: &str = "etcdbak.io/gaps";
pub const LAST_GAP: &str = "etcdbak.io/last-gap";
pub const STATE: &str = "etcdbak.io/state";

/// The label selector of every follower's Lease.
pub const SELECTOR: &str =
    "app.kubernetes.io/managed-by=etcdbak,app.kubernetes.io/component=follower";
/// The label naming the Cluster a Lease belongs to (the same label every rendered object carries).
pub const CLUSTER_LABEL: &str = "etcdbak.io/cluster";

/// A follower Lease's labels.
pub fn labels(cluster: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            "etcdbak".to_string(),
        ),
        (
            "app.kubernetes.io/component".to_string(),
            "follower".to_string(),
        ),
    ]);
    if let Some(c) = cluster {
        out.insert(CLUSTER_LABEL.to_string(), c.to_string());
    }
    out
}

/// What the follower is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Watching, and storing segments as they close.
    Following,
    /// After a gap: taking the full backup that starts a new chain.
    Rebasing,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Following => "following",
            State::Rebasing => "rebasing",
        }
    }
}

/// One heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub struct Beat {
    /// Every change up to this moment is stored (`None` until the follower first caught up).
    pub recovery_point: Option<DateTime<Utc>>,
    /// The newest revision the stored chain holds.
    pub revision: i64,
    /// Gaps since the Lease was created (a restarted follower carries the count on).
    pub gaps: u64,
    /// The newest gap, as a sentence.
    pub last_gap: Option<String>,
    pub state: State,
}

impl Default for Beat {
    fn default() -> Self {
        Beat {
            recovery_point: None,
            revision: 0,
            gaps: 0,
            last_gap: None,
            state: State::Following,
        }
    }
}

impl Beat {
    /// Records a gap: `resume..compacted-1` were compacted before they were stored.
    pub fn gap(&mut self, resume: i64, compacted: i64, at: DateTime<Utc>) {
        self.gaps += 1;
        self.last_gap = Some(format!(
            "revisions {resume} to {} were compacted before they were stored ({})",
            compacted - 1,
            at.format("%Y-%m-%dT%H:%M:%SZ")
        ));
        self.state = State::Rebasing;
    }

    /// Everything up to `revision` is stored as of `at`.
    pub fn caught_up(&mut self, revision: i64, at: DateTime<Utc>) {
        self.revision = self.revision.max(revision);
        self.recovery_point = Some(at);
        self.state = State::Following;
    }

    pub fn to_annotations(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::from([
            (REVISION.to_string(), self.revision.to_string()),
            (GAPS.to_string(), self.gaps.to_string()),
            (STATE.to_string(), self.state.as_str().to_string()),
        ]);
        if let Some(t) = self.recovery_point {
            out.insert(RECOVERY_POINT.into(), rfc3339(t));
        }
        if let Some(g) = &self.last_gap {
            out.insert(LAST_GAP.into(), g.clone());
        }
        out
    }

    /// The beat these annotations hold; `None` when they hold none (not a follower's Lease). Unreadable
    /// fields read as unset, so a hand-edited Lease cannot stop a reconcile.
    pub fn from_annotations(a: &BTreeMap<String, String>) -> Option<Beat> {
        let state = match a.get(STATE)?.as_str() {
            "rebasing" => State::Rebasing,
            _ => State::Following,
        };
        Some(Beat {
            recovery_point: a
                .get(RECOVERY_POINT)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
            revision: a.get(REVISION).and_then(|r| r.parse().ok()).unwrap_or(0),
            gaps: a.get(GAPS).and_then(|g| g.parse().ok()).unwrap_or(0),
            last_gap: a.get(LAST_GAP).cloned(),
            state,
        })
    }
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// How often a follower renews its Lease: with the segment interval, but never more than twice a minute,
/// so ten thousand followers stay within what an apiserver takes for node heartbeats.
pub fn renew_every(interval: std::time::Duration) -> std::time::Duration {
    interval.max(std::time::Duration::from_secs(30))
}

/// The ContinuousBackup condition for one beat: `(ok, reason, message)`. `stale_after` is how old a
/// recovery point may be before the chain counts as falling behind.
pub fn verdict(
    follower: &str,
    beat: Option<&Beat>,
    now: DateTime<Utc>,
    stale_after: chrono::Duration,
) -> (bool, &'static str, String) {
    let Some(beat) = beat else {
        return (
            false,
            "FollowerStarting",
            format!("the follower {follower} has not reported yet"),
        );
    };
    if beat.state == State::Rebasing {
        let gap = beat.last_gap.as_deref().unwrap_or("a gap");
        return (
            false,
            "Gap",
            format!("{gap}; the follower is taking a full backup to start a new chain"),
        );
    }
    let Some(point) = beat.recovery_point else {
        return (
            false,
            "FollowerStarting",
            format!("the follower {follower} has not caught up yet"),
        );
    };
    let since = match &beat.last_gap {
        Some(g) => format!("; the last gap: {g}"),
        None => String::new(),
    };
    if now - point > stale_after {
        return (
            false,
            "Behind",
            format!(
                "nothing after {} (revision {}) is known to be stored: see the logs of {follower}{since}",
                rfc3339(point),
                beat.revision
            ),
        );
    }
    (
        true,
        "Following",
        format!(
            "every change up to {} (revision {}) is stored{since}",
            rfc3339(point),
            beat.revision
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_beat_survives_its_annotations() {
        let mut beat = Beat::default();
        beat.caught_up(41, at("2026-12-02T10:00:00Z"));
        beat.gap(42, 90, at("2026-12-02T10:05:00Z"));
        let back = Beat::from_annotations(&beat.to_annotations()).unwrap();
        assert_eq!(back, beat);
        assert_eq!(back.gaps, 1);
        assert_eq!(
            back.last_gap.as_deref(),
            Some(
                "revisions 42 to 89 were compacted before they were stored (2026-12-02T10:05:00Z)"
            )
        );
        assert_eq!(Beat::from_annotations(&BTreeMap::new()), None);
    }

    #[test]
    fn the_verdict_names_what_is_wrong() {
        let now = at("2026-12-02T10:10:00Z");
        let stale = chrono::Duration::seconds(120);
        let f = "etcdbak-follow-a";
        assert_eq!(verdict(f, None, now, stale).1, "FollowerStarting");
        let mut beat = Beat::default();
        assert_eq!(verdict(f, Some(&beat), now, stale).1, "FollowerStarting");
        beat.caught_up(7, at("2026-12-02T10:09:30Z"));
        let (ok, reason, message) = verdict(f, Some(&beat), now, stale);
        assert!(ok, "{message}");
        assert_eq!(reason, "Following");
        assert_eq!(
            message,
            "every change up to 2026-12-02T10:09:30Z (revision 7) is stored"
        );
        let (ok, reason, message) = verdict(f, Some(&beat), at("2026-12-02T10:12:00Z"), stale);
        assert!(!ok);
        assert_eq!(reason, "Behind");
        assert!(
            message.contains("see the logs of etcdbak-follow-a"),
            "{message}"
        );
        beat.gap(8, 20, now);
        let (ok, reason, message) = verdict(f, Some(&beat), now, stale);
        assert!(!ok);
        assert_eq!(reason, "Gap");
        assert!(
            message.starts_with("revisions 8 to 19 were compacted"),
            "{message}"
        );
        beat.caught_up(25, now);
        let (ok, _, message) = verdict(f, Some(&beat), now, stale);
        assert!(ok);
        assert!(message.ends_with("the last gap: revisions 8 to 19 were compacted before they were stored (2026-12-02T10:10:00Z)"), "{message}");
    }

    #[test]
    fn renewals_are_bounded() {
        use std::time::Duration;
        assert_eq!(renew_every(Duration::from_secs(1)), Duration::from_secs(30));
        assert_eq!(
            renew_every(Duration::from_secs(120)),
            Duration::from_secs(120)
        );
    }
}
