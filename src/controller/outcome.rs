//! What one reconcile did, handed back to its caller: the Controller wants only when to look again,
//! `etcdbak reconcile`'s table also shows the note.

use kube::runtime::controller::Action;

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// When the Cluster is looked at again.
    pub action: Action,
    /// What the reconcile did ("applied CronJob, status", "cleanup Job etcdbak/... running"); `None` when
    /// it had nothing to say.
    pub note: Option<String>,
}

impl Outcome {
    pub fn new(action: Action, note: impl Into<String>) -> Outcome {
        Outcome {
            action,
            note: Some(note.into()),
        }
    }

    pub fn silent(action: Action) -> Outcome {
        Outcome { action, note: None }
    }
}
