//! `etcdbak snapshot`: pick a member, stream its snapshot to disk, verify, and publish it atomically.
//! OWNER: data-path (etcd side) helper.

use clap::Args;

use crate::error::exit;
use crate::Result;

#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {}

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

pub async fn run(_args: SnapshotArgs) -> Result<()> {
    Err(Error::Todo.into())
}
