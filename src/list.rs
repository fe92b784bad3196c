//! `etcdbak list`: the backups in the bucket as a table or JSON, newest first.
//! OWNER: data-path (S3 side) helper.

use clap::Args;

use crate::Result;

#[derive(Debug, Clone, Args)]
pub struct ListArgs {}

pub async fn run(_args: ListArgs) -> Result<()> {
    Err(crate::store::Error::Todo.into())
}
