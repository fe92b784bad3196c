//! Chains, pure: which segments continue which full backup, where the history has holes, which segments a
//! restore to a point needs, and which ones retention may drop. Everything here works from names alone
//! (one listing), so `list` and the follower's resume point cost no object reads.

use chrono::{DateTime, Utc};

use crate::naming::segment::SegmentName;

/// A full backup as a chain sees it: the revision it holds and when it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub key: String,
    pub revision: i64,
    pub taken_at: DateTime<Utc>,
}

impl From<&crate::backup::Backup> for Base {
    fn from(b: &crate::backup::Backup) -> Self {
        Base {
            key: b.key.clone(),
            revision: b.revision,
            taken_at: b.taken_at,
        }
    }
}

/// A full backup with the segments that carry it forward, up to the first hole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub base: Base,
    /// In revision order; the first one holds `base.revision + 1`.
    pub segments: Vec<SegmentName>,
}

impl Chain {
    /// The newest revision this chain can restore to.
    pub fn reaches(&self) -> i64 {
        self.segments.last().map_or(self.base.revision, |s| s.last)
    }
}

/// Revisions missing between two segments: `from..=to` is not in any segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Gap {
    pub from: i64,
    pub to: i64,
}

/// Segments sorted by revision, with exact duplicates (a segment re-sent after a lost answer has the same
/// range) and ranges swallowed by an earlier segment dropped.
pub fn ordered(mut segments: Vec<SegmentName>) -> Vec<SegmentName> {
    segments.sort();
    let mut out: Vec<SegmentName> = Vec::with_capacity(segments.len());
    for s in segments {
        match out.last() {
            Some(prev) if s.last <= prev.last => continue,
            _ => out.push(s),
        }
    }
    out
}

/// Every hole between consecutive segments (overlaps are not holes).
pub fn gaps(segments: &[SegmentName]) -> Vec<Gap> {
    segments
        .windows(2)
        .filter(|w| w[1].first > w[0].last + 1)
        .map(|w| Gap {
            from: w[0].last + 1,
            to: w[1].first - 1,
        })
        .collect()
}

/// The chain of one full backup: the segment holding `revision + 1`, then each one that continues it.
pub fn chain_of(base: &Base, ordered: &[SegmentName]) -> Chain {
    let mut next = base.revision + 1;
    let mut segments = Vec::new();
    for s in ordered {
        if s.last < next {
            continue;
        }
        if s.first > next {
            break;
        }
        next = s.last + 1;
        segments.push(s.clone());
    }
    Chain {
        base: base.clone(),
        segments,
    }
}

/// How far one full backup's chain reaches, as `list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reach {
    /// Segments in the chain.
    pub segments: usize,
    /// The newest revision a restore from this backup can reach (the backup's own with no segment).
    pub revision: i64,
    /// When the chain's last segment was closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// Segments exist past the chain's end, but not the revisions right after it: the chain stops here
    /// and a restore from this backup cannot pass it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_after: Option<Gap>,
}

/// The reach of `base`'s chain among `ordered` segments.
pub fn reach(base: &Base, ordered: &[SegmentName]) -> Reach {
    let chain = chain_of(base, ordered);
    let end = chain.reaches();
    let gap_after = ordered
        .iter()
        .find(|s| s.last > end)
        .filter(|s| s.first > end + 1)
        .map(|s| Gap {
            from: end + 1,
            to: s.first - 1,
        });
    Reach {
        segments: chain.segments.len(),
        revision: end,
        at: chain.segments.last().map(|s| s.closed_at),
        gap_after,
    }
}

/// Where the follower picks up: after the newest durable segment, or after the newest full backup when that
/// is newer (a fresh chain), or `None` when there is nothing to continue.
pub fn resume_after(bases: &[Base], ordered: &[SegmentName]) -> Option<i64> {
    let newest_base = bases.iter().map(|b| b.revision).max();
    let newest_segment = ordered.last().map(|s| s.last);
    newest_base.max(newest_segment)
}

/// The point a restore brings the cluster to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Revision(i64),
    /// Every change the follower saw at or before this time.
    Time(DateTime<Utc>),
}

/// Why no chain reaches the target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "no full backup was taken at or before {0}: there is nothing to start the restore from"
    )]
    NoBase(String),
    #[error(
        "the newest full backup at or before revision {target} is at revision {base}, and its segments \
         reach only revision {reaches}{}",
        gap.map(|g| format!(" (revisions {}..{} are missing)", g.from, g.to)).unwrap_or_default()
    )]
    Short {
        target: i64,
        base: i64,
        reaches: i64,
        gap: Option<Gap>,
    },
}

/// The full backup and the segments that bring it to `target`: the newest base at or before the target
/// whose chain reaches it. For a time, the last segment is the first one closed after it (the changes past
/// the time are cut off when they are replayed).
pub fn restore_chain(
    bases: &[Base],
    ordered: &[SegmentName],
    target: Target,
) -> Result<Chain, PlanError> {
    let mut candidates: Vec<&Base> = bases
        .iter()
        .filter(|b| match target {
            Target::Revision(r) => b.revision <= r,
            Target::Time(t) => b.taken_at <= t,
        })
        .collect();
    candidates.sort_by_key(|b| std::cmp::Reverse((b.revision, b.taken_at)));
    let newest = *candidates.first().ok_or_else(|| {
        PlanError::NoBase(match target {
            Target::Revision(r) => format!("revision {r}"),
            Target::Time(t) => t.to_rfc3339(),
        })
    })?;
    match target {
        Target::Revision(r) => plan_revision(&candidates, ordered, r),
        Target::Time(t) => Ok(plan_time(newest, ordered, t)),
    }
}

fn plan_revision(bases: &[&Base], ordered: &[SegmentName], r: i64) -> Result<Chain, PlanError> {
    let mut first_short = None;
    for base in bases {
        let mut chain = chain_of(base, ordered);
        if chain.reaches() >= r {
            // The base itself is the target when r is its revision: no segment is needed.
            let keep = chain.segments.iter().position(|s| s.last >= r);
            let keep = keep.filter(|_| r > chain.base.revision);
            chain.segments.truncate(keep.map_or(0, |i| i + 1));
            return Ok(chain);
        }
        first_short.get_or_insert(chain);
    }
    let short = first_short.expect("restore_chain() passes at least one base");
    let gap = gaps(ordered)
        .into_iter()
        .find(|g| g.from == short.reaches() + 1);
    Err(PlanError::Short {
        target: r,
        base: short.base.revision,
        reaches: short.reaches(),
        gap,
    })
}

fn plan_time(base: &Base, ordered: &[SegmentName], t: DateTime<Utc>) -> Chain {
    let mut chain = chain_of(base, ordered);
    if let Some(i) = chain.segments.iter().position(|s| s.closed_at > t) {
        chain.segments.truncate(i + 1);
    }
    chain
}

/// The segments retention may delete once `kept` are the full backups that stay: those wholly at or below
/// the oldest kept backup's revision, which no kept chain can need. With no backup kept nothing goes, so
/// the newest chain is never cut.
pub fn droppable(kept: &[Base], ordered: &[SegmentName]) -> Vec<SegmentName> {
    let Some(floor) = kept.iter().map(|b| b.revision).min() else {
        return Vec::new();
    };
    ordered
        .iter()
        .filter(|s| s.last <= floor)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests;
