//! `etcdbak restore-guide`: a filled-in, numbered restore runbook. The runbook itself is a pure function.
//! OWNER: monitoring/restore helper.

use clap::Args;

use crate::error::exit;
use crate::Result;

#[derive(Debug, Clone, Args)]
pub struct RestoreGuideArgs {}

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

pub async fn run(_args: RestoreGuideArgs) -> Result<()> {
    Err(Error::Todo.into())
}
