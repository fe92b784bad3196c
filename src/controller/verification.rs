//! What the Cluster's status says about its scheduled verification: the newest finished verification
//! Job's outcome as `lastVerified` and the `BackupVerified` condition. Pure.

use super::backups::{rfc3339, Finished};
use super::conditions::{remove_condition, set_condition};
use crate::crd::{ClusterStatus, LastVerified};

/// Condition type: did the newest verification find the newest backup sound?
pub const BACKUP_VERIFIED: &str = "BackupVerified";
/// Event reason, once per failed verification Job.
pub const VERIFICATION_FAILED_EVENT: &str = "VerificationFailed";

/// The BackupVerified condition for a finished verification Job: `(status, reason, message)`.
pub fn verified_condition(finished: &Finished) -> (bool, &'static str, String) {
    let job = &finished.job;
    if finished.succeeded {
        (
            true,
            "VerificationSucceeded",
            format!("the verification Job {job} found the newest backup sound"),
        )
    } else {
        let (ns, name) = job.split_once('/').unwrap_or(("", job));
        (
            false,
            "VerificationFailed",
            format!(
                "the verification Job {job} failed: the newest backup may not be restorable; read its logs with kubectl -n {ns} logs job/{name}"
            ),
        )
    }
}

/// Records the newest verification in `status`. `enabled == false` (verification turned off) clears what
/// an earlier verification left, so a stale verdict is never shown; without a finished Job the status
/// stays as it was.
pub fn set_status(
    status: &mut ClusterStatus,
    enabled: bool,
    newest: Option<&Finished>,
    generation: Option<i64>,
    now: &str,
) {
    if !enabled {
        status.last_verified = None;
        remove_condition(&mut status.conditions, BACKUP_VERIFIED);
        return;
    }
    let Some(finished) = newest else {
        return;
    };
    status.last_verified = Some(LastVerified {
        job: finished.job.clone(),
        time: finished.finished_at.map(rfc3339).unwrap_or_default(),
        outcome: if finished.succeeded {
            "Succeeded"
        } else {
            "Failed"
        }
        .to_string(),
    });
    let (ok, reason, message) = verified_condition(finished);
    set_condition(
        &mut status.conditions,
        BACKUP_VERIFIED,
        ok,
        reason,
        &message,
        generation,
        now,
    );
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn finished(succeeded: bool) -> Finished {
        Finished {
            job: "etcdbak/etcdbak-verify-orders-29000240".into(),
            succeeded,
            finished_at: Some(Timestamp::from_second(1_796_140_800).unwrap()),
        }
    }

    #[test]
    fn the_newest_verification_reaches_the_status() {
        let mut status = ClusterStatus::default();
        set_status(&mut status, true, None, Some(1), "t0");
        assert_eq!(status, ClusterStatus::default(), "nothing finished yet");

        set_status(&mut status, true, Some(&finished(false)), Some(1), "t1");
        assert_eq!(
            status.last_verified,
            Some(LastVerified {
                job: "etcdbak/etcdbak-verify-orders-29000240".into(),
                time: "2026-12-01T16:00:00Z".into(),
                outcome: "Failed".into(),
            })
        );
        let c = &status.conditions[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
            (BACKUP_VERIFIED, "False", "VerificationFailed")
        );
        assert!(
            c.message
                .contains("kubectl -n etcdbak logs job/etcdbak-verify-orders-29000240"),
            "{}",
            c.message
        );

        let before = status.clone();
        set_status(&mut status, true, Some(&finished(false)), Some(1), "t2");
        assert_eq!(status, before, "the same verdict writes nothing");

        set_status(&mut status, true, Some(&finished(true)), Some(1), "t3");
        assert_eq!(status.last_verified.as_ref().unwrap().outcome, "Succeeded");
        assert_eq!(status.conditions[0].reason, "VerificationSucceeded");

        set_status(&mut status, false, Some(&finished(true)), Some(1), "t4");
        assert_eq!(status.last_verified, None, "turned off: no stale verdict");
        assert!(status.conditions.is_empty());
    }
}
