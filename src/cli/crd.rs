//! `etcdbak crd`: print the Cluster CustomResourceDefinition (what charts/etcdbak/crds ships).

use crate::cli::Result;

pub fn run() -> Result<()> {
    print!("{}", crate::crd::crd_yaml());
    Ok(())
}
