//! Config polling for `etcdbak watch`: re-read the file every `poll`, and when what it renders changed,
//! swap it into the [`Context`] and ask for every Cluster to be reconciled again.
//!
//! Polling the digest, not inotify: a ConfigMap update swaps a symlink, which a watch on the file itself
//! misses.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Context, Error};
use crate::config::{self, Config};

/// What one poll found.
#[derive(Debug)]
pub enum Poll {
    /// Same digest: nothing to do.
    Unchanged,
    /// A valid new config: use it and reconcile every Cluster.
    Changed(Box<Config>),
    /// The job namespace changed; the watches are on the old one, so the process must restart.
    NamespaceChanged { from: String, to: String },
    /// The file is invalid now: keep the previous config.
    Invalid(config::Error),
}

/// Pure: what a freshly loaded config means against the one in use (its digest and job namespace).
pub fn judge(loaded: Result<Config, config::Error>, digest: &str, job_ns: &str) -> Poll {
    match loaded {
        Err(e) => Poll::Invalid(e),
        Ok(new) if new.digest() == digest => Poll::Unchanged,
        Ok(new) if new.job_namespace() != job_ns => Poll::NamespaceChanged {
            from: job_ns.to_string(),
            to: new.job_namespace().to_string(),
        },
        Ok(new) => Poll::Changed(Box::new(new)),
    }
}

/// The running poller: a stream of "reconcile everything" ticks, and the namespace change that ends it.
pub struct ConfigWatch {
    pub reload: mpsc::Receiver<()>,
    pub namespace_changed: watch::Receiver<Option<(String, String)>>,
    task: Option<JoinHandle<()>>,
}

impl Drop for ConfigWatch {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl ConfigWatch {
    /// Resolves when the job namespace changed (never without a config file).
    pub async fn namespace_changed(mut rx: watch::Receiver<Option<(String, String)>>) {
        if rx.wait_for(Option::is_some).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// The error to exit with, once the namespace changed.
    pub fn take_error(&self) -> Option<Error> {
        let (from, to) = self.namespace_changed.borrow().clone()?;
        Some(Error::JobNamespaceChanged { from, to })
    }
}

/// Starts polling `path` (none: a watch without a config file never reloads).
pub fn spawn(path: Option<PathBuf>, poll: Duration, ctx: Arc<Context>) -> ConfigWatch {
    let (mut reload_tx, reload) = mpsc::channel::<()>(1);
    let (ns_tx, namespace_changed) = watch::channel(None);
    let Some(path) = path else {
        return ConfigWatch {
            reload,
            namespace_changed,
            task: None,
        };
    };
    let task = tokio::spawn(async move {
        let current = ctx.config();
        let mut digest = current.digest();
        let job_ns = current.job_namespace().to_string();
        loop {
            tokio::time::sleep(poll).await;
            match judge(Config::load(&path), &digest, &job_ns) {
                Poll::Unchanged => {}
                Poll::Changed(new) => {
                    digest = new.digest();
                    tracing::info!(config = %path.display(), "config changed: reconciling every Cluster");
                    ctx.set_config(*new);
                    let _ = reload_tx.try_send(());
                }
                Poll::NamespaceChanged { from, to } => {
                    let _ = ns_tx.send(Some((from, to)));
                    return;
                }
                Poll::Invalid(e) => tracing::error!(
                    config = %path.display(),
                    "the changed config is invalid, keeping the previous one: {e}"
                ),
            }
        }
    });
    ConfigWatch {
        reload,
        namespace_changed,
        task: Some(task),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_config;

    #[test]
    fn a_poll_reloads_only_a_real_valid_change() {
        let current = default_config();
        let digest = current.digest();
        let ns = current.job_namespace().to_string();
        assert!(matches!(
            judge(Ok(current.clone()), &digest, &ns),
            Poll::Unchanged
        ));
        let mut changed = current.clone();
        changed.default_keep = 7;
        assert!(matches!(
            judge(Ok(changed), &digest, &ns),
            Poll::Changed(c) if c.default_keep == 7
        ));
        let mut moved = current.clone();
        moved.job_namespace = "elsewhere".into();
        assert!(matches!(
            judge(Ok(moved), &digest, &ns),
            Poll::NamespaceChanged { from, to } if from == "etcdbak" && to == "elsewhere"
        ));
        let invalid = Config::from_yaml("defaultKeep: 0\n", None);
        assert!(matches!(judge(invalid, &digest, &ns), Poll::Invalid(_)));
    }
}
