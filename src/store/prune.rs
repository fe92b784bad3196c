//! `etcdbak prune`: retention on its own, or every backup of a deleted cluster (the cleanup Job).

use std::time::Duration;

use super::Error;
use crate::naming;
use crate::retention::{self, Keep, KeepReason, ListedKey};
use crate::s3::{Client, Current, Locked, PendingUpload, Removal};

/// What to prune, checked by the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// A valid cluster name.
    pub cluster: String,
    /// `Keep::Nothing` is `--all`: the cluster is gone.
    pub keep: Keep,
    pub dry_run: bool,
    /// Unfinished uploads older than this are aborted (every one with `Keep::Nothing`).
    pub stale_upload_age: Duration,
}

/// What a prune did, for the command line to show: the dry run's plan, or each deletion as it happened.
#[derive(Debug, Default)]
pub struct Report {
    /// Set by a dry run, which deletes nothing.
    pub dry_run: Option<DryRun>,
    /// The backups deleted, in order (verification records and segments are only logged).
    pub deleted: Vec<Deleted>,
    /// What retention would have deleted but an S3 Object Lock keeps (backups, and with `--all` segments).
    pub locked: Vec<StillLocked>,
}

/// An object left in place because its lock has not expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StillLocked {
    pub key: String,
    /// "locked until …" or "under legal hold".
    pub why: String,
}

/// What a dry run would do.
#[derive(Debug)]
pub struct DryRun {
    /// Every backup, newest first, with why it stays (empty: it would be deleted).
    pub decisions: Vec<(ListedKey, Vec<KeepReason>)>,
    /// How many of them would be deleted.
    pub would_delete: usize,
    /// The unfinished uploads that would be aborted.
    pub would_abort: Vec<String>,
}

/// One backup deleted by retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub key: String,
    /// Which rule let it go.
    pub why: String,
}

/// Prunes, filling `report` as it goes: when a deletion fails, the report still says what was deleted
/// before it, so the command line can show that beside the error.
pub async fn run(client: &Client, opts: &Options, report: &mut Report) -> Result<(), Error> {
    let keys: Vec<String> = client
        .list_keys(Some(&opts.cluster))
        .await?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let mut decision =
        retention::plan_deletions(&client.prefix, &opts.cluster, &keys, opts.keep, None);
    let heads = hold_locked(client, &mut decision, report, opts.dry_run).await?;
    if opts.dry_run {
        report.dry_run = Some(DryRun {
            would_delete: decision.delete.len(),
            decisions: decision.decisions.clone(),
            would_abort: Vec::new(),
        });
    } else {
        delete_planned(client, &decision, &opts.keep, &heads, report).await?;
        if opts.keep == Keep::Nothing {
            delete_segments(client, &opts.cluster, &keys, report).await?;
        }
    }
    tracing::info!(
        cluster = %opts.cluster, kept = decision.keep.len(), deleted = decision.delete.len(),
        dry_run = opts.dry_run, "retention applied"
    );
    if opts.keep == Keep::Nothing && !report.locked.is_empty() {
        tracing::warn!(
            cluster = %opts.cluster, locked = report.locked.len(),
            "objects of the deleted cluster stay until their Object Lock expires; a bucket lifecycle rule removes them then (docs/OBJECT-LOCK.md)"
        );
    }
    // With --all the cluster is gone, so even a young upload is abandoned.
    let age = if opts.keep == Keep::Nothing {
        Duration::ZERO
    } else {
        opts.stale_upload_age
    };
    if let Some(dry) = report.dry_run.as_mut() {
        let uploads = client.multipart_uploads(&opts.cluster).await?;
        let now = chrono::Utc::now();
        let keys = would_abort(&client.prefix, &uploads, age, now);
        dry.would_abort = keys.into_iter().map(str::to_owned).collect();
    } else {
        let aborted = client.abort_stale_uploads(&opts.cluster, age).await?;
        tracing::info!(cluster = %opts.cluster, aborted, "stale multipart uploads cleaned up");
    }
    Ok(())
}

/// HEADs each backup the plan would delete and keeps those an Object Lock still holds
/// ([`retention::hold`]), so neither a dry run nor a deletion ever treats a locked backup as deletable.
/// Returns the HEADs, so the deletion does not ask again. Unless `dry_run`, each backup held is logged
/// and recorded in the report's `locked`.
pub(super) async fn hold_locked(
    client: &Client,
    decision: &mut retention::Plan,
    report: &mut Report,
    dry_run: bool,
) -> Result<Vec<(String, Current)>, Error> {
    let now = chrono::Utc::now();
    let mut heads = Vec::with_capacity(decision.delete.len());
    let mut held = Vec::new();
    for key in &decision.delete {
        let Some(current) = client.current(key, None).await? else {
            continue;
        };
        if let Some(locked) = current.hold.locked_at(now) {
            held.push((key.clone(), keep_reason(locked)));
            if !dry_run {
                still_locked(report, key, locked);
            }
        }
        heads.push((key.clone(), current));
    }
    retention::hold(decision, &client.prefix, &held);
    Ok(heads)
}

fn keep_reason(locked: Locked) -> KeepReason {
    match locked {
        Locked::Until(t) => KeepReason::LockedUntil(t),
        Locked::LegalHold => KeepReason::LegalHold,
    }
}

/// Deletes what retention planned: the backups (every version of each, on a versioned bucket), then the
/// verification records that no longer speak for a backup that stays (a record never outlives its backup
/// for long, and never protects a deleted one). Each deleted backup is pushed onto the report as soon as it
/// is gone; one a lock still holds (an older version of it, or a store whose clock is behind) onto its
/// `locked`.
pub(super) async fn delete_planned(
    client: &Client,
    decision: &retention::Plan,
    keep: &Keep,
    heads: &[(String, Current)],
    report: &mut Report,
) -> Result<(), Error> {
    let why = retention::why_deleted(keep);
    let now = chrono::Utc::now();
    for key in &decision.delete {
        let Some((_, current)) = heads.iter().find(|(k, _)| k == key) else {
            tracing::info!(%key, "already gone");
            continue;
        };
        match client.remove_current(key, current, now).await? {
            Removal::Gone => {
                tracing::info!(%key, why = %why, "deleted by retention");
                report.deleted.push(Deleted {
                    key: key.clone(),
                    why: why.clone(),
                });
            }
            Removal::Locked(locked) => still_locked(report, key, locked),
        }
    }
    for record in &decision.records {
        match client.remove(record).await? {
            Removal::Gone => {
                tracing::info!(key = %record, "deleted the verification record of a backup that is gone");
            }
            Removal::Locked(locked) => {
                tracing::info!(key = %record, %locked, "kept the verification record of a deleted backup: its lock holds it");
            }
        }
    }
    Ok(())
}

fn still_locked(report: &mut Report, key: &str, locked: Locked) {
    tracing::info!(%key, %locked, "kept: its Object Lock has not expired");
    report.locked.push(StillLocked {
        key: key.to_string(),
        why: locked.to_string(),
    });
}

/// With the cluster gone, its continuous-backup segments go with its full backups: the cleanup Job leaves
/// nothing of the cluster behind but what a lock still holds.
async fn delete_segments(
    client: &Client,
    cluster: &str,
    keys: &[String],
    report: &mut Report,
) -> Result<(), Error> {
    for key in keys {
        if crate::naming::segment::parse_segment_key(&client.prefix, key)
            .is_some_and(|(c, _)| c == cluster)
        {
            match client.remove(key).await? {
                Removal::Gone => {
                    tracing::info!(%key, "deleted a continuous-backup segment of a deleted cluster");
                }
                Removal::Locked(locked) => still_locked(report, key, locked),
            }
        }
    }
    Ok(())
}

/// The keys of the etcdbak-named uploads at least `age` old at `now`. Pure.
fn would_abort<'a>(
    prefix: &str,
    uploads: &'a [PendingUpload],
    age: Duration,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<&'a str> {
    uploads
        .iter()
        .filter(|u| {
            u.initiated
                .is_some_and(|t| now.signed_duration_since(t).to_std().unwrap_or_default() >= age)
        })
        .filter(|u| naming::parse_key(prefix, &u.key).is_some())
        .map(|u| u.key.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dry_run_names_only_old_etcdbak_uploads() {
        let now = chrono::Utc::now();
        let upload = |key: &str, mins: Option<i64>| PendingUpload {
            key: key.into(),
            upload_id: "id".into(),
            initiated: mins.map(|m| now - chrono::Duration::minutes(m)),
        };
        let good = "etcdbak/prod/20261125T110000.000Z-r9-aaaaaaaa.db";
        let uploads = [
            upload(good, Some(180)),
            upload("etcdbak/prod/20261125T120000.000Z-r10-bbbbbbbb.db", Some(5)),
            upload("etcdbak/prod/notes.txt", Some(180)),
            upload("etcdbak/prod/20261125T130000.000Z-r11-cccccccc.db", None),
        ];
        let two_hours = Duration::from_secs(7200);
        assert_eq!(would_abort("etcdbak", &uploads, two_hours, now), vec![good]);
        assert_eq!(
            would_abort("etcdbak", &uploads, Duration::ZERO, now).len(),
            2
        );
    }
}
