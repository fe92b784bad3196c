//! `etcdbak store`, `prune`, `download`: the S3 adapter and the commands over it.
//! OWNER: data-path (S3 side) helper.

use clap::Args;

use crate::error::exit;
use crate::Result;

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {}
#[derive(Debug, Clone, Args)]
pub struct PruneArgs {}
#[derive(Debug, Clone, Args)]
pub struct DownloadArgs {}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not implemented yet")]
    Todo,
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        exit::STORAGE
    }
}

pub async fn run_store(_args: StoreArgs) -> Result<()> {
    Err(Error::Todo.into())
}
pub async fn run_prune(_args: PruneArgs) -> Result<()> {
    Err(Error::Todo.into())
}
pub async fn run_download(_args: DownloadArgs) -> Result<()> {
    Err(Error::Todo.into())
}
