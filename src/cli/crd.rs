//! `etcdbak crd`: print the Cluster CustomResourceDefinition (what charts/etcdbak/crds ships). A render
//! or write that fails is an error (a non-zero exit naming it), never an empty output with exit 0: the
//! output is piped into `kubectl apply` and chart files.

use std::io::Write;

use crate::cli::Result;

pub fn run() -> Result<()> {
    write_crd(crate::crd::crd_yaml(), &mut std::io::stdout().lock())
}

/// Writes the rendered CRD to `out`, or fails naming what went wrong; nothing is written when rendering
/// failed.
fn write_crd(
    rendered: std::result::Result<String, serde_yaml::Error>,
    out: &mut impl Write,
) -> Result<()> {
    let yaml = rendered.map_err(|e| {
        crate::cli::Error::io(
            "rendering the Cluster CRD as YAML",
            std::io::Error::other(e),
        )
    })?;
    out.write_all(yaml.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| crate::cli::Error::io("writing the Cluster CRD to stdout", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_render_is_an_error_and_writes_nothing() {
        use serde::de::Error as _;
        let mut out = Vec::new();
        let err = write_crd(Err(serde_yaml::Error::custom("no schema")), &mut out).unwrap_err();
        assert!(out.is_empty());
        assert_ne!(err.class().code(), 0);
        assert!(
            err.to_string().contains("rendering the Cluster CRD"),
            "{err}"
        );
    }

    #[test]
    fn the_crd_is_written_whole() {
        let mut out = Vec::new();
        write_crd(crate::crd::crd_yaml(), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            crate::crd::crd_yaml().unwrap()
        );
    }
}
