//! Retention as a pure decision: a list of keys in, the ones to delete (and why the others stay) out.
//!
//! Only keys that parse as one of this cluster's backups are candidates, so foreign files in the prefix (and
//! other clusters' backups) can never be chosen. Order is by the parsed time and revision, never by string.
//! [`policy`] holds the tiered rules and the floor under them, [`render`] the `prune --dry-run` table.

pub mod policy;
pub mod render;

use crate::naming::{parse_key, verified_backup_of};
pub use policy::{apply, Floor, KeepReason, ListedKey, Policy, Within, DEFAULT_KEEP};

/// How many backups to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Keep the newest N (N >= 1; `store` refuses 0).
    Newest(usize),
    /// Keep what a tiered policy keeps (and its floor).
    Tiered(Policy),
    /// Keep none: the cleanup Job deleting every backup of a removed cluster. The floor does not apply:
    /// the cluster is gone, and its finalizer waits for exactly this.
    Nothing,
}

/// What retention decided, as object keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// This cluster's backups that stay, newest first.
    pub keep: Vec<String>,
    /// This cluster's backups to delete, newest first.
    pub delete: Vec<String>,
    /// Every backup, newest first, with why it stays (empty: deleted).
    pub decisions: Vec<(ListedKey, Vec<KeepReason>)>,
    /// Verification records that speak for no backup that stays: those of deleted backups, and strays
    /// whose backup is already gone.
    pub records: Vec<String>,
}

/// Decides which of `cluster`'s backups to delete from a listing of keys under `prefix`.
///
/// `protect` is the key just uploaded: it is never deleted, even if a clock-skewed "newer" backup pushes it
/// out of the newest `keep` (then one extra backup stays rather than losing the one we know is good). The
/// newest backup with a verification record in the same listing stays too, whatever the policy says.
pub fn plan_deletions(
    prefix: &str,
    cluster: &str,
    keys: &[String],
    keep: Keep,
    protect: Option<&str>,
) -> Plan {
    let verified = verified_backups(prefix, cluster, keys);
    let floor = Floor {
        just_uploaded: protect,
        verified: &verified,
    };
    plan_with(prefix, cluster, keys, keep, &floor)
}

/// The keys of `cluster`'s backups that have a verification record in the listing `keys`.
fn verified_backups(prefix: &str, cluster: &str, keys: &[String]) -> Vec<String> {
    records(prefix, cluster, keys)
        .filter(|(_, backup)| keys.iter().any(|k| k == backup))
        .map(|(_, backup)| backup.to_string())
        .collect()
}

/// `cluster`'s verification records in `keys`, each with the key of the backup it speaks for.
fn records<'a>(
    prefix: &'a str,
    cluster: &'a str,
    keys: &'a [String],
) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    keys.iter()
        .filter_map(move |k| match verified_backup_of(prefix, k) {
            Some((c, backup)) if c == cluster => Some((k.as_str(), backup)),
            _ => None,
        })
}

/// [`plan_deletions`] with the whole floor: the backup just uploaded and the ones known to be verified.
fn plan_with(prefix: &str, cluster: &str, keys: &[String], keep: Keep, floor: &Floor<'_>) -> Plan {
    let ours: Vec<ListedKey> = keys
        .iter()
        .filter_map(|key| match parse_key(prefix, key) {
            Some((c, name)) if c == cluster => Some(ListedKey {
                key: key.clone(),
                name,
            }),
            _ => None,
        })
        .collect();
    let decisions = match keep {
        Keep::Newest(n) => apply(
            &Policy::newest(u32::try_from(n).unwrap_or(u32::MAX)),
            &ours,
            floor,
        ),
        Keep::Tiered(policy) => apply(&policy, &ours, floor),
        Keep::Nothing => policy::newest_first(&ours)
            .into_iter()
            .map(|b| (b, vec![]))
            .collect(),
    };
    let mut plan = Plan::default();
    for (b, reasons) in &decisions {
        if reasons.is_empty() {
            plan.delete.push(b.key.clone());
        } else {
            plan.keep.push(b.key.clone());
        }
    }
    plan.decisions = decisions;
    plan.records = records(prefix, cluster, keys)
        .filter(|(_, backup)| !plan.keep.iter().any(|k| k == backup))
        .map(|(record, _)| record.to_string())
        .collect();
    plan
}

/// Keeps the backups in `held` that the plan would delete, each for its reason (an Object Lock that has
/// not expired), and their verification records with them: a lock outranks every rule, the floor included.
pub fn hold(plan: &mut Plan, prefix: &str, held: &[(String, KeepReason)]) {
    let reason_of = |key: &str| held.iter().find(|(k, _)| k == key).map(|(_, r)| *r);
    for (b, reasons) in plan.decisions.iter_mut() {
        if let Some(r) = reason_of(&b.key).filter(|_| reasons.is_empty()) {
            reasons.push(r);
        }
    }
    let (kept, deleted): (Vec<String>, Vec<String>) = std::mem::take(&mut plan.delete)
        .into_iter()
        .partition(|k| reason_of(k).is_some());
    plan.delete = deleted;
    plan.keep.extend(kept);
    let order: Vec<&str> = plan.decisions.iter().map(|(b, _)| b.key.as_str()).collect();
    plan.keep
        .sort_by_key(|k| order.iter().position(|o| o == k).unwrap_or(usize::MAX));
    plan.records.retain(|record| {
        verified_backup_of(prefix, record).is_none_or(|(_, backup)| reason_of(backup).is_none())
    });
}

/// Why a deleted backup was not kept, for the line that logs its deletion.
pub fn why_deleted(keep: &Keep) -> String {
    match keep {
        Keep::Newest(n) => format!("not among the newest {n}"),
        Keep::Tiered(p) => format!("kept by no rule of {p}"),
        Keep::Nothing => format!("{}: the cluster is gone", crate::exit::Setting::PruneAll),
    }
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
