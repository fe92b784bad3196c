//! The files on disk: `.part` names while writing, final names only for a complete, verified snapshot.
//!
//! A store container (or a person) looking at `--dir` must never mistake an old or half-written snapshot for
//! the current one. So: any snapshot left by an earlier run is removed before streaming starts (the metadata
//! first, since `snapshot.json` is what marks a snapshot complete); the new one is written under `.part`
//! names; and it is renamed into place only after the stream was verified and both files were fsynced,
//! `snapshot.db` first and `snapshot.json` last. Dropping the [`Workspace`] before [`Workspace::publish`]
//! (an error, a timeout, a signal) removes the `.part` files.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc::Receiver;

use super::Error;
use crate::backup::{SnapshotMetadata, METADATA_FILE, SNAPSHOT_FILE};
use crate::verify::{Verified, Verifier, VerifyError};

pub const DB_PART: &str = ".snapshot.db.part";
pub const JSON_PART: &str = ".snapshot.json.part";
/// Bytes gathered from the stream before one vectored write (32 messages of 32 KiB).
const BATCH_BYTES: usize = 1 << 20;

fn disk(action: &'static str, path: &Path, source: io::Error) -> Error {
    Error::Disk {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn remove_if_present(path: &Path) -> Result<bool, Error> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(disk("remove", path, e)),
    }
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| disk("fsync the directory", dir, e))
}

pub struct Workspace {
    pub dir: PathBuf,
    pub db_part: PathBuf,
    pub json_part: PathBuf,
    pub db_final: PathBuf,
    pub json_final: PathBuf,
    armed: bool,
}

impl Workspace {
    /// Creates `dir` if needed and clears it of any earlier snapshot and of `.part` files left by a run that
    /// was killed (SIGKILL gives no chance to clean up).
    pub fn prepare(dir: &Path) -> Result<Workspace, Error> {
        std::fs::create_dir_all(dir).map_err(|e| disk("create the snapshot directory", dir, e))?;
        let ws = Workspace {
            dir: dir.to_path_buf(),
            db_part: dir.join(DB_PART),
            json_part: dir.join(JSON_PART),
            db_final: dir.join(SNAPSHOT_FILE),
            json_final: dir.join(METADATA_FILE),
            armed: true,
        };
        let stale_json = remove_if_present(&ws.json_final)?;
        let stale_db = remove_if_present(&ws.db_final)?;
        remove_if_present(&ws.json_part)?;
        remove_if_present(&ws.db_part)?;
        if stale_json || stale_db {
            tracing::warn!(dir = %dir.display(), "removed a snapshot left by an earlier run");
        }
        sync_dir(dir)?;
        Ok(ws)
    }

    /// The snapshot's `.part` file, readable only by its owner like `etcdctl snapshot save` makes it: it
    /// holds every secret stored in the cluster.
    pub fn create_db_part(&self) -> Result<File, Error> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&self.db_part)
            .map_err(|e| disk("create", &self.db_part, e))
    }

    pub fn write_metadata(&self, meta: &SnapshotMetadata) -> Result<(), Error> {
        let mut json = serde_json::to_vec_pretty(meta)
            .map_err(|e| disk("encode metadata for", &self.json_part, io::Error::other(e)))?;
        json.push(b'\n');
        let path = &self.json_part;
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| disk("create", path, e))?;
        f.write_all(&json).map_err(|e| disk("write", path, e))?;
        f.sync_all().map_err(|e| disk("fsync", path, e))
    }

    /// Renames both files into place, the snapshot first and the metadata last, then fsyncs the directory.
    pub fn publish(mut self) -> Result<(), Error> {
        std::fs::rename(&self.db_part, &self.db_final)
            .map_err(|e| disk("rename the snapshot to", &self.db_final, e))?;
        if let Err(e) = std::fs::rename(&self.json_part, &self.json_final) {
            // Without its metadata the snapshot must not stay under its final name.
            let _ = std::fs::remove_file(&self.db_final);
            return Err(disk("rename the metadata to", &self.json_final, e));
        }
        sync_dir(&self.dir)?;
        self.armed = false;
        Ok(())
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if self.armed {
            for p in [&self.json_part, &self.db_part] {
                match std::fs::remove_file(p) {
                    Ok(()) => tracing::info!(path = %p.display(), "removed partial file"),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(path = %p.display(), error = %e, "cannot remove partial file")
                    }
                }
            }
        }
    }
}

/// What the stream hands the writer thread.
pub enum Chunk {
    Data(Vec<u8>),
    /// The stream ended normally: flush, fsync and judge the file.
    End,
}

/// Writes every blob from `rx` to `file` in order, hashing as it goes, then fsyncs. Runs on a blocking
/// thread so hashing and disk writes overlap with receiving (and decrypting) the stream. Blobs are moved in,
/// never copied: up to 1 MiB of them goes out in one vectored write. Returns the verification result after
/// [`Chunk::End`]; `None` when the channel closed without it (an error, a timeout or a signal upstream),
/// in which case the doomed file is not fsynced, so a cancelled run exits at once.
pub fn write_stream(
    mut file: File,
    path: &Path,
    mut rx: Receiver<Chunk>,
) -> Result<Option<Result<Verified, VerifyError>>, Error> {
    let mut verifier = Verifier::new();
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(64);
    let mut ended = false;
    while !ended {
        let Some(first) = rx.blocking_recv() else {
            return Ok(None);
        };
        let mut size = 0;
        let mut next = Some(first);
        while let Some(chunk) = next.take() {
            match chunk {
                Chunk::Data(b) => {
                    size += b.len();
                    batch.push(b);
                }
                Chunk::End => {
                    ended = true;
                    break;
                }
            }
            if size < BATCH_BYTES {
                next = rx.try_recv().ok();
            }
        }
        for b in &batch {
            verifier.update(b);
        }
        write_all_vectored(&mut file, &batch).map_err(|e| disk("write", path, e))?;
        batch.clear();
    }
    file.sync_all().map_err(|e| disk("fsync", path, e))?;
    Ok(Some(verifier.finish()))
}

fn write_all_vectored(file: &mut File, bufs: &[Vec<u8>]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = bufs
        .iter()
        .filter(|b| !b.is_empty())
        .map(|b| IoSlice::new(b))
        .collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> SnapshotMetadata {
        SnapshotMetadata {
            cluster: "c".into(),
            member: "m".into(),
            member_id: "1".into(),
            endpoint: "https://e".into(),
            revision: 1,
            db_size: 1,
            file_size: 1,
            sha256: "00".into(),
            taken_at: chrono::Utc::now(),
            etcd_version: "3.6.16".into(),
            etcdbak_version: "0".into(),
        }
    }

    #[test]
    fn prepare_removes_an_earlier_snapshot_and_parts() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in [
            SNAPSHOT_FILE,
            METADATA_FILE,
            DB_PART,
            JSON_PART,
            "other.txt",
        ] {
            std::fs::write(dir.path().join(name), b"old").expect("write");
        }
        let ws = Workspace::prepare(dir.path()).expect("prepare");
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec!["other.txt"]);
        drop(ws);
    }

    #[test]
    fn dropping_before_publish_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ws = Workspace::prepare(dir.path()).expect("prepare");
        let mut f = ws.create_db_part().expect("create");
        f.write_all(b"half a snapshot").expect("write");
        ws.write_metadata(&meta()).expect("metadata");
        drop(ws);
        assert_eq!(std::fs::read_dir(dir.path()).expect("read_dir").count(), 0);
    }

    #[test]
    fn publish_renames_both_and_keeps_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ws = Workspace::prepare(dir.path()).expect("prepare");
        ws.create_db_part()
            .expect("create")
            .write_all(b"db")
            .expect("write");
        ws.write_metadata(&meta()).expect("metadata");
        ws.publish().expect("publish");
        assert_eq!(
            std::fs::read(dir.path().join(SNAPSHOT_FILE)).expect("db"),
            b"db"
        );
        let m: SnapshotMetadata =
            serde_json::from_slice(&std::fs::read(dir.path().join(METADATA_FILE)).expect("json"))
                .expect("parse");
        assert_eq!(m.cluster, "c");
        assert!(!dir.path().join(DB_PART).exists());
    }

    #[test]
    fn publish_without_metadata_leaves_no_final_snapshot() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ws = Workspace::prepare(dir.path()).expect("prepare");
        ws.create_db_part().expect("create");
        assert!(ws.publish().is_err());
        assert!(!dir.path().join(SNAPSHOT_FILE).exists());
        assert!(!dir.path().join(METADATA_FILE).exists());
    }

    #[test]
    fn vectored_writes_keep_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let file = File::create(&path).expect("create");
        let p2 = path.clone();
        let writer = std::thread::spawn(move || write_stream(file, &p2, rx));
        let mut expected = Vec::new();
        for i in 0..100u32 {
            let blob: Vec<u8> = (0..(i * 37 % 5000)).map(|j| (i + j) as u8).collect();
            expected.extend_from_slice(&blob);
            tx.blocking_send(Chunk::Data(blob)).expect("send");
        }
        tx.blocking_send(Chunk::End).expect("send");
        let verified = writer.join().expect("join").expect("io");
        assert!(
            matches!(verified, Some(Err(_))),
            "random bytes are not a snapshot"
        );
        assert_eq!(std::fs::read(&path).expect("read"), expected);
    }

    #[test]
    fn a_closed_channel_without_end_is_a_cancelled_stream() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let file = File::create(&path).expect("create");
        let p2 = path.clone();
        let writer = std::thread::spawn(move || write_stream(file, &p2, rx));
        tx.blocking_send(Chunk::Data(vec![1u8; 100])).expect("send");
        drop(tx);
        assert!(writer.join().expect("join").expect("io").is_none());
    }
}
