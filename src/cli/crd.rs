//! `etcdbak crd`: print the Cluster CustomResourceDefinition (what charts/etcdbak/crds ships).

use crate::cli::Result;

pub fn run() -> Result<()> {
    let yaml = crate::crd::crd_yaml().map_err(|e| {
        crate::cli::Error::io(
            "rendering the Cluster CRD as YAML",
            std::io::Error::other(e),
        )
    })?;
    print!("{yaml}");
    Ok(())
}
