//! A Cluster's status conditions, set the way metav1.Condition is (the transition time moves only when the
//! status flips), so an unchanged condition compares equal and a reconcile writes nothing. Pure.

use crate::crd::Condition;

pub const BACKUP_SCHEDULED: &str = "BackupScheduled";

/// Sets condition `type_`, keeping `lastTransitionTime` when the status did not flip (as metav1.Condition
/// does), so an unchanged condition compares equal and causes no status write.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &str,
) {
    let status = if status { "True" } else { "False" };
    let last_transition_time = conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.to_string());
    let new = Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        last_transition_time,
        observed_generation: generation,
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => *c = new,
        None => conditions.push(new),
    }
}

pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_keeps_transition_time_when_status_holds() {
        let mut c = Vec::new();
        set_condition(
            &mut c,
            BACKUP_SCHEDULED,
            true,
            "Scheduled",
            "ok",
            Some(1),
            "t1",
        );
        let before = c.clone();
        set_condition(
            &mut c,
            BACKUP_SCHEDULED,
            true,
            "Scheduled",
            "ok",
            Some(1),
            "t2",
        );
        assert_eq!(
            c, before,
            "same condition must compare equal (no status write)"
        );
        set_condition(
            &mut c,
            BACKUP_SCHEDULED,
            false,
            "InvalidSchedule",
            "bad",
            Some(2),
            "t3",
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].last_transition_time, "t3");
        assert_eq!(c[0].reason, "InvalidSchedule");
        set_condition(
            &mut c,
            "CleanupPending",
            true,
            "CleanupRunning",
            "x",
            Some(2),
            "t4",
        );
        assert_eq!(c.len(), 2);
        remove_condition(&mut c, "CleanupPending");
        assert_eq!(c.len(), 1);
    }
}
