//! The age identity a command decrypts with (`download`, `verify`, `replay`): one flag, one meaning.
//! `restore-guide --identity` is the same file named for the runbook, which only prints the path.

use std::path::PathBuf;
use std::sync::Arc;

use crate::pipeline::Identities;

#[derive(Debug, Clone, clap::Args)]
pub struct IdentityArgs {
    /// age identity file (`age-keygen` output, AGE-SECRET-KEY-1… lines) to decrypt encrypted (`.age`)
    /// backups and segments; one of its keys must be a recipient of what is read.
    #[arg(long, env = "ETCDBAK_IDENTITY", value_name = "FILE")]
    pub identity: Option<PathBuf>,
}

impl IdentityArgs {
    /// The file's identities, read before any download starts so a wrong file fails first.
    pub fn identities(&self) -> super::Result<Option<Arc<Identities>>> {
        let Some(path) = &self.identity else {
            return Ok(None);
        };
        let ids = Identities::from_file(path).map_err(crate::store::Error::from)?;
        Ok(Some(Arc::new(ids)))
    }
}
