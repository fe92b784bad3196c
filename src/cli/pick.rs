//! The terminal picker `restore-guide` asks on when no snapshot was named: one line per candidate
//! backup, the library's own choice preselected.

use crate::restore::{Candidate, Error};

/// Asks on the terminal, offering every candidate and preselecting `default`.
pub fn pick_interactively(cands: &[Candidate], default: usize) -> Result<usize, Error> {
    let labels: Vec<String> = cands.iter().map(label).collect();
    dialoguer::Select::new()
        .with_prompt("Snapshot to restore (newest first; Enter takes the newest verified)")
        .items(&labels)
        .default(default)
        .interact_opt()
        .map_err(|e| Error::Prompt(e.to_string()))?
        .ok_or_else(|| Error::Prompt("cancelled".into()))
}

fn label(c: &Candidate) -> String {
    format!(
        "{}  rev {:>10}  {:>10}  {}  {}",
        c.backup.taken_at.format("%Y-%m-%d %H:%M:%SZ"),
        c.backup.revision,
        crate::list::human_bytes(c.backup.size_bytes),
        verdict(c),
        c.backup.key.rsplit('/').next().unwrap_or(&c.backup.key)
    )
}

/// `restorable`: `etcdbak verify` walked its database (a record is in the bucket); `verified`: its metadata
/// checks out; `UNVERIFIED`: neither.
fn verdict(c: &Candidate) -> &'static str {
    match (c.verified, c.backup.verified) {
        (true, true) => "restorable",
        (true, false) => "verified  ",
        (false, _) => "UNVERIFIED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::Backup;

    fn cand(key: &str, verified: bool) -> Candidate {
        Candidate {
            backup: Backup {
                cluster: "c".into(),
                key: key.into(),
                taken_at: "2026-11-25T10:30:00Z".parse().unwrap(),
                revision: 1,
                size_bytes: 1,
                sha256_prefix: "00000000".into(),
                compressed: false,
                encrypted: false,
                plaintext_bytes: Some(1),
                verified: false,
            },
            sha256: None,
            verified,
        }
    }

    #[test]
    fn the_picker_shows_time_revision_size_and_verdict() {
        let l = label(&cand("p/c/20261125T103000.000Z-r1-00000000.db", false));
        assert!(l.starts_with("2026-11-25 10:30:00Z  rev          1"), "{l}");
        assert!(
            l.ends_with("UNVERIFIED  20261125T103000.000Z-r1-00000000.db"),
            "{l}"
        );
        let mut c = cand("p/c/x.db", true);
        assert!(label(&c).ends_with("verified    x.db"), "{}", label(&c));
        c.backup.verified = true;
        assert!(label(&c).ends_with("restorable  x.db"), "{}", label(&c));
    }
}
