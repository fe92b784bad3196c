//! The places one `store` run sends its backup, and what becomes of the run when some of them fail: one
//! destination down is not a lost backup, so the others finish, and the error names the one that failed
//! with its own class (an object store's failure stays exit 6).

use super::Error;
use crate::exit::Class;
use crate::s3::Client;

/// One place a backup goes: its name (what logs, errors and `--destination` say) and its bucket.
#[derive(Debug, Clone)]
pub struct Destination {
    pub name: String,
    pub client: Client,
}

/// A destination that did not get a verified copy, and why.
#[derive(Debug)]
pub struct Failed {
    pub name: String,
    pub bucket: String,
    pub endpoint: String,
    pub error: Box<Error>,
}

/// Some destinations failed: which, why, and which hold the backup all the same.
#[derive(Debug)]
pub struct Partial {
    pub failed: Vec<Failed>,
    /// The names of the destinations that hold a verified copy (with `Task::Cleanup`: that were emptied).
    pub stored: Vec<String>,
    /// What the run did in the destinations that did not fail.
    pub task: Task,
}

/// What a run over several destinations was doing: what the error's last words say of the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// `store`: the others hold a verified copy.
    Store,
    /// `prune --all`: the others are cleaned of the cluster's backups.
    Cleanup,
}

impl Partial {
    /// The first failure's class: what the failing destination would have exited with on its own.
    pub fn class(&self) -> Class {
        self.failed
            .first()
            .map_or(Class::Storage, |f| f.error.class())
    }
}

impl std::fmt::Display for Partial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, failed) in self.failed.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "destination {:?} (bucket {:?} at {}) failed: {}",
                failed.name,
                failed.bucket,
                failed.endpoint,
                crate::exit::chain(failed.error.as_ref())
            )?;
        }
        let names: Vec<String> = self.stored.iter().map(|n| format!("{n:?}")).collect();
        match (self.task, names.is_empty()) {
            (Task::Store, true) => f.write_str("; no destination holds this backup"),
            (Task::Store, false) => write!(
                f,
                "; the backup is stored and verified in {}",
                names.join(", ")
            ),
            (Task::Cleanup, true) => f.write_str("; no destination was cleaned up"),
            (Task::Cleanup, false) => {
                write!(
                    f,
                    "; the cluster's backups are deleted in {}",
                    names.join(", ")
                )
            }
        }
    }
}

impl Failed {
    /// A further destination that never got a client: its credentials did not resolve (`reason`).
    pub fn unready(name: &str, bucket: &str, endpoint: &str, reason: String) -> Failed {
        Failed {
            name: name.into(),
            bucket: bucket.into(),
            endpoint: endpoint.into(),
            error: Box::new(Error::Unready(reason)),
        }
    }
}

/// The run's result from each destination's: with one destination its own error, unchanged (what a
/// single-bucket `store` always said); with several, `Ok` only when every one holds a verified copy.
/// `unready` are the destinations that never took part (no credentials): each is a failure too.
pub(crate) fn outcome(
    dests: &[Destination],
    results: Vec<Result<(), Error>>,
    unready: Vec<Failed>,
) -> Result<(), Error> {
    outcome_of(Task::Store, dests, results, unready)
}

/// [`outcome`] for what `task` does in each destination.
pub(crate) fn outcome_of(
    task: Task,
    dests: &[Destination],
    results: Vec<Result<(), Error>>,
    unready: Vec<Failed>,
) -> Result<(), Error> {
    if dests.len() == 1 && unready.is_empty() {
        return results.into_iter().next().unwrap_or(Ok(()));
    }
    let mut partial = Partial {
        failed: Vec::new(),
        stored: Vec::new(),
        task,
    };
    for (dest, result) in dests.iter().zip(results) {
        match result {
            Ok(()) => partial.stored.push(dest.name.clone()),
            Err(e) => partial.failed.push(Failed {
                name: dest.name.clone(),
                bucket: dest.client.bucket_name.clone(),
                endpoint: dest.client.endpoint.clone(),
                error: Box::new(e),
            }),
        }
    }
    partial.failed.extend(unready);
    match partial.failed.is_empty() {
        true => Ok(()),
        false => Err(Error::Destinations(partial)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(name: &str, error: Error) -> Failed {
        Failed {
            name: name.into(),
            bucket: "backups".into(),
            endpoint: "http://127.0.0.1:9000".into(),
            error: Box::new(error),
        }
    }

    #[test]
    fn a_partial_run_names_the_failed_destination_and_keeps_its_class() {
        let down = crate::s3::Error::Unreachable {
            endpoint: "http://127.0.0.1:9000".into(),
            reason: "connection refused".into(),
        };
        let p = Partial {
            failed: vec![failed("dr", down.into())],
            stored: vec!["primary".into()],
            task: Task::Store,
        };
        let line = p.to_string();
        assert!(
            line.starts_with(
                "destination \"dr\" (bucket \"backups\" at http://127.0.0.1:9000) failed: "
            ),
            "{line}"
        );
        assert!(
            line.ends_with("; the backup is stored and verified in \"primary\""),
            "{line}"
        );
        assert_eq!(p.class(), Class::Storage);
        let p = Partial {
            failed: vec![
                failed("a", Error::Usage(crate::exit::Usage("bad".into()))),
                failed("b", Error::Usage(crate::exit::Usage("worse".into()))),
            ],
            stored: vec![],
            task: Task::Store,
        };
        assert_eq!(
            p.to_string(),
            "destination \"a\" (bucket \"backups\" at http://127.0.0.1:9000) failed: bad; destination \"b\" (bucket \"backups\" at http://127.0.0.1:9000) failed: worse; no destination holds this backup"
        );
        assert_eq!(p.class(), Class::Usage);
    }

    #[test]
    fn a_destination_without_credentials_fails_the_run_as_the_object_store_does() {
        let no_keys = || {
            Failed::unready(
                "dr",
                "backups",
                "http://127.0.0.1:9000",
                "no DR_AWS_* variable is set".into(),
            )
        };
        // Even with every connected destination fine, the run is not: it names the missing one.
        let Err(Error::Destinations(p)) = outcome(&[], vec![], vec![no_keys()]) else {
            panic!("a destination without credentials passed");
        };
        assert_eq!(p.class(), Class::Storage);
        assert_eq!(
            p.to_string(),
            "destination \"dr\" (bucket \"backups\" at http://127.0.0.1:9000) failed: its credentials could not be resolved: no DR_AWS_* variable is set; no destination holds this backup"
        );
        assert!(outcome(&[], vec![], vec![]).is_ok());
        let Err(Error::Destinations(p)) = outcome_of(Task::Cleanup, &[], vec![], vec![no_keys()])
        else {
            panic!("a cleanup without one destination passed");
        };
        assert!(
            p.to_string().ends_with("; no destination was cleaned up"),
            "{p}"
        );
    }
}
