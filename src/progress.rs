//! How a long transfer (a snapshot stream, an upload, a download) reports how far it got. The library
//! calls it; the command line decides what a person sees (a bar on a terminal, nothing in a Job, whose
//! log lines are the library's own).

use std::fmt;
use std::sync::Arc;

/// Where transfers report. Shared by every transfer of a run.
pub trait Progress: fmt::Debug + Send + Sync {
    /// A transfer called `what` of `total` bytes (`None`: not known) starts. `None` when nobody watches:
    /// the caller then logs its progress instead, where it does.
    fn start(&self, what: &str, total: Option<u64>) -> Option<Box<dyn Transfer>>;
}

/// One transfer in view.
pub trait Transfer: Send + Sync {
    /// `done` bytes of it are through.
    fn at(&self, done: u64);
    /// It ended, finished or failed: take it out of view.
    fn end(&self);
}

/// Nobody watches: the default for callers that are not a terminal (tests, the exporter).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwatched;

impl Progress for Unwatched {
    fn start(&self, _what: &str, _total: Option<u64>) -> Option<Box<dyn Transfer>> {
        None
    }
}

/// The shared handle options carry.
pub type Reporter = Arc<dyn Progress>;

/// A [`Reporter`] nobody watches.
pub fn unwatched() -> Reporter {
    Arc::new(Unwatched)
}
