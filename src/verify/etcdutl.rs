//! A second opinion from etcd's own tool: `etcdutl snapshot status` (its revision) and a real
//! `etcdutl snapshot restore` into a scratch data dir, for `etcdbak verify --with-etcdutl`.
//!
//! The Rust check is the verdict everywhere; this is for people who want etcd itself to agree before they
//! trust a backup, so a disagreement is a corrupt backup, not a warning.

use crate::exit::Setting;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tool, looked up on PATH.
pub const ETCDUTL: &str = "etcdutl";

/// etcdutl could not be run at all (as opposed to running and disagreeing).
#[derive(Debug, thiserror::Error)]
#[error(
    "etcdutl was not found on PATH: install etcdutl (etcd's release archive has it) or drop {}",
    Setting::WithEtcdutl
)]
pub struct Missing;

/// Removes the scratch data dir however the restore ends.
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Fails fast, before any download, when etcdutl cannot be run.
pub fn probe() -> Result<(), Missing> {
    run(Command::new(ETCDUTL).arg("version")).map(|_| ())
}

/// Runs both etcdutl checks on `file`. `Ok(Err(problem))` is a disagreement or an etcdutl failure (the
/// backup is corrupt); `Err(Missing)` means etcdutl is not installed. `scratch` must not exist yet.
pub fn check(
    file: &Path,
    rust_revision: Option<i64>,
    scratch: &Path,
) -> Result<Result<(), String>, Missing> {
    let status = run(Command::new(ETCDUTL)
        .args(["snapshot", "status", "--write-out", "json"])
        .arg(file))?;
    let stdout = match status {
        Ok(out) => out,
        Err(e) => return Ok(Err(format!("etcdutl snapshot status failed: {e}"))),
    };
    let revision = match revision_of(&stdout) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    if let Err(e) = agrees(revision, rust_revision) {
        return Ok(Err(e));
    }
    let _cleanup = ScratchDir(scratch.to_path_buf());
    let restored = run(Command::new(ETCDUTL)
        .args(["snapshot", "restore"])
        .arg(file)
        .arg("--data-dir")
        .arg(scratch))?;
    Ok(restored
        .map(|_| ())
        .map_err(|e| format!("etcdutl snapshot restore failed: {e}")))
}

/// The command's stdout, or its stderr's last line as the failure; `Err(Missing)` when it cannot start.
fn run(cmd: &mut Command) -> Result<Result<String, String>, Missing> {
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Missing),
        Err(e) => return Ok(Err(e.to_string())),
    };
    if out.status.success() {
        return Ok(Ok(String::from_utf8_lossy(&out.stdout).into_owned()));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output");
    Ok(Err(format!("{} ({})", last.trim(), out.status)))
}

/// The revision in `etcdutl snapshot status -w json` output. Pure.
fn revision_of(json: &str) -> Result<i64, String> {
    let v: serde_json::Value = serde_json::from_str(json.trim())
        .map_err(|e| format!("etcdutl snapshot status printed no JSON: {e}"))?;
    v.get("revision")
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| "etcdutl snapshot status printed no revision".to_string())
}

/// etcdutl's revision must be the Rust check's. Pure.
fn agrees(etcdutl: i64, rust: Option<i64>) -> Result<(), String> {
    match rust {
        Some(r) if r == etcdutl => Ok(()),
        Some(r) => Err(format!(
            "etcdutl reads revision {etcdutl}, the Rust check read {r}"
        )),
        None => Err(format!(
            "etcdutl reads revision {etcdutl}, the Rust check found no revision"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revision_is_read_from_status_json_and_must_agree() {
        let json = r#"{"hash":1,"revision":42,"totalKey":7,"totalSize":20480,"version":"3.6.0"}"#;
        assert_eq!(revision_of(json), Ok(42));
        assert!(revision_of("not json").is_err());
        assert!(revision_of(r#"{"hash":1}"#).is_err());
        assert!(agrees(42, Some(42)).is_ok());
        let e = agrees(42, Some(41)).expect_err("disagree");
        assert!(e.contains("42") && e.contains("41"), "{e}");
        assert!(agrees(42, None).is_err());
    }

    #[test]
    fn a_missing_tool_is_missing_not_a_verdict() {
        let mut cmd = Command::new("/nonexistent/etcdutl");
        assert!(run(&mut cmd).is_err());
    }
}
