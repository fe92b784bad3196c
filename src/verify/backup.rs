//! `etcdbak verify`'s verdict on one backup, pure: what the download's hashes, the database's structure and
//! the metadata recorded at backup time say together, as a report for a table or JSON.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use serde::Serialize;

use super::Verified;
use crate::bolt::{Summary, Verdict};

/// What the backup's object metadata says it is (the caller decodes it: this module knows no S3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    pub sha256: Option<String>,
    pub file_size: Option<u64>,
    pub revision: Option<i64>,
}

/// Sound, or the first thing wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Sound,
    Corrupt,
}

/// One line of `etcdbak verify`'s output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub key: String,
    pub result: Outcome,
    /// What is wrong, and where (page id), when the result is corrupt.
    pub problem: Option<String>,
    /// Entries in etcd's `key` bucket (one per revision kept).
    pub keys: Option<u64>,
    pub revision: Option<i64>,
    /// Bytes of the database (the file without etcd's trailer).
    pub db_size: Option<u64>,
    pub seconds: f64,
    /// `agrees` or `disagrees` with `--with-etcdutl`; absent without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcdutl: Option<String>,
}

/// What `etcdbak verify` writes beside a sound backup (see [`crate::naming::verified_record_key`]): the
/// report and when it was made, for people reading the bucket; retention needs only the record's name.
pub fn verified_record(
    report: &Report,
    at: chrono::DateTime<chrono::Utc>,
) -> serde_json::Result<Vec<u8>> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Record<'a> {
        verified_at: chrono::DateTime<chrono::Utc>,
        #[serde(flatten)]
        report: &'a Report,
    }
    serde_json::to_vec_pretty(&Record {
        verified_at: at,
        report,
    })
}

/// A backup that is not sound: the one line `etcdbak verify` ends with (exit 5).
#[derive(Debug, thiserror::Error)]
#[error("backup {key} is corrupt: {problem}")]
pub struct Corrupt {
    pub key: String,
    pub problem: String,
}

impl Corrupt {
    pub fn class(&self) -> crate::exit::Class {
        crate::exit::Class::CorruptSnapshot
    }
}

impl Report {
    /// Folds etcdutl's second opinion in: its disagreement (or failure) makes the backup corrupt.
    pub fn with_etcdutl(&mut self, opinion: Result<(), String>) {
        match opinion {
            Ok(()) => self.etcdutl = Some("agrees".into()),
            Err(problem) => {
                self.etcdutl = Some("disagrees".into());
                self.result = Outcome::Corrupt;
                self.problem = Some(problem);
            }
        }
    }

    /// `Err` unless the backup is sound.
    pub fn sound(&self) -> Result<(), Corrupt> {
        match self.result {
            Outcome::Sound => Ok(()),
            Outcome::Corrupt => Err(Corrupt {
                key: self.key.clone(),
                problem: self.problem.clone().unwrap_or_default(),
            }),
        }
    }
}

/// Judges a backup: the stream's own checks (etcd's trailer, the bbolt header), its SHA-256 and size
/// against the metadata, the structural check of the database, and its revision against the metadata.
pub fn judge(
    key: &str,
    streamed: Result<Verified, String>,
    structure: Option<Verdict>,
    expected: &Expected,
    seconds: f64,
) -> Report {
    let summary = match &structure {
        Some(Verdict::Sound(s)) => Some(s.clone()),
        _ => None,
    };
    let problem = first_problem(streamed, structure, expected);
    Report {
        key: key.to_string(),
        result: if problem.is_none() {
            Outcome::Sound
        } else {
            Outcome::Corrupt
        },
        problem,
        keys: summary.as_ref().map(|s| s.keys),
        revision: summary.as_ref().and_then(|s| s.revision),
        db_size: summary.as_ref().map(db_size),
        seconds,
        etcdutl: None,
    }
}

fn db_size(s: &Summary) -> u64 {
    s.pages * u64::from(s.page_size)
}

fn first_problem(
    streamed: Result<Verified, String>,
    structure: Option<Verdict>,
    expected: &Expected,
) -> Option<String> {
    let verified = match streamed {
        Ok(v) => v,
        Err(e) => return Some(e),
    };
    if let Some(size) = expected.file_size.filter(|s| *s != verified.file_size) {
        return Some(format!(
            "downloaded {} bytes, the object is {size}",
            verified.file_size
        ));
    }
    match &expected.sha256 {
        None => {
            return Some("the object carries no sha256 metadata, so it cannot be checked".into())
        }
        Some(sha) if !sha.eq_ignore_ascii_case(&verified.sha256) => {
            return Some(format!(
                "its SHA-256 is {}, its metadata says {sha}",
                verified.sha256
            ))
        }
        Some(_) => {}
    }
    let summary = match structure {
        Some(Verdict::Sound(s)) => s,
        Some(Verdict::Corrupt(p)) => {
            return Some(format!("the database is structurally corrupt: {p}"))
        }
        None => return Some("the database was not checked".into()),
    };
    match (expected.revision, summary.revision) {
        (Some(want), got) if got != Some(want) => Some(format!(
            "the database's revision is {}, its metadata says {want}",
            got.map_or("none".to_string(), |r| r.to_string())
        )),
        _ => None,
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

/// The table `etcdbak verify` prints for people.
pub fn render_table(reports: &[Report]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["KEY", "RESULT", "KEYS", "REVISION", "DB SIZE", "SECONDS"]);
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    for r in reports {
        let result = match (&r.result, &r.problem) {
            (Outcome::Sound, _) if r.etcdutl.is_some() => "sound (etcdutl agrees)".to_string(),
            (Outcome::Sound, _) => "sound".to_string(),
            (Outcome::Corrupt, Some(p)) => format!("CORRUPT: {p}"),
            (Outcome::Corrupt, None) => "CORRUPT".to_string(),
        };
        table.add_row([
            Cell::new(&r.key),
            Cell::new(result),
            Cell::new(opt(r.keys.map(|k| k.to_string()))).set_alignment(CellAlignment::Right),
            Cell::new(opt(r.revision.map(|k| k.to_string()))).set_alignment(CellAlignment::Right),
            Cell::new(opt(r.db_size.map(mib))).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.2}", r.seconds)).set_alignment(CellAlignment::Right),
        ]);
    }
    table
}

#[cfg(test)]
mod tests;
