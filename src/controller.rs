//! `etcdbak reconcile` and `etcdbak watch`: Cluster resources -> backup CronJobs, with a cleanup finalizer.
//! OWNER: controller (runtime) helper.

use clap::Args;

use crate::error::exit;
use crate::Result;

#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {}
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not implemented yet")]
    Todo,
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        exit::FAILURE
    }
}

pub async fn run_reconcile(_args: ReconcileArgs) -> Result<()> {
    Err(Error::Todo.into())
}
pub async fn run_watch(_args: WatchArgs) -> Result<()> {
    Err(Error::Todo.into())
}
