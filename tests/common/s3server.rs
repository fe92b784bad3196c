//! A real MinIO server for the fault, bad-input and secrets tests, which need to kill it and bring it back on
//! the same port and data dir (an S3 outage, not a new empty store). Inspection goes through the real `mc`
//! client, not through etcdbak, so a test's view of the bucket does not depend on the code under test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::{free_port, rig_bin, wait_until, Proc};

pub const ACCESS_KEY: &str = "etcdbakfaultaccess";
pub const SECRET_KEY: &str = "etcdbak-fault-secret-7f3a9c1e";
pub const BUCKET: &str = "backups";

pub struct S3Server {
    pub port: u16,
    dir: tempfile::TempDir,
    proc: Option<Proc>,
}

/// One object or unfinished upload as `mc ls --json` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub size: u64,
    pub etag: String,
}

impl S3Server {
    /// Starts MinIO on a free loopback port with an empty bucket [`BUCKET`].
    pub fn start() -> S3Server {
        let dir = tempfile::Builder::new()
            .prefix("etcdbak-minio-")
            .tempdir()
            .expect("temp dir");
        let mut s = S3Server {
            port: free_port(),
            dir,
            proc: None,
        };
        s.launch();
        let out = s.mc(&["mb", &format!("t/{BUCKET}")]);
        assert!(
            out.status.success(),
            "mc mb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        s
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("minio.log"))
            .expect("minio log");
        let proc = Proc::spawn(
            "minio",
            Command::new(rig_bin("minio"))
                .args(["server", "--quiet", "--address"])
                .arg(format!("127.0.0.1:{}", self.port))
                .arg("--console-address")
                .arg(format!("127.0.0.1:{}", free_port()))
                .arg(self.dir.path().join("data"))
                .env("MINIO_ROOT_USER", ACCESS_KEY)
                .env("MINIO_ROOT_PASSWORD", SECRET_KEY)
                .env("MINIO_BROWSER", "off")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log),
        );
        self.proc = Some(proc);
        let port = self.port;
        wait_until("minio", Duration::from_secs(60), || health(port));
        let url = self.endpoint();
        wait_until("mc alias", Duration::from_secs(30), || {
            self.mc(&["alias", "set", "t", &url, ACCESS_KEY, SECRET_KEY])
                .status
                .success()
        });
    }

    /// SIGKILLs the server (an outage: nothing is flushed or cleaned up).
    pub fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    /// Starts it again on the same port and data dir.
    pub fn restart(&mut self) {
        assert!(self.proc.is_none(), "minio is running");
        self.launch();
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn mc_config(&self) -> PathBuf {
        self.dir.path().join("mc")
    }

    /// Runs the real `mc` client against this server (alias `t`).
    pub fn mc(&self, args: &[&str]) -> Output {
        Command::new(rig_bin("mc"))
            .arg("--config-dir")
            .arg(self.mc_config())
            .args(["--quiet", "--no-color"])
            .args(args)
            .output()
            .expect("run mc")
    }

    fn ls(&self, incomplete: bool) -> Vec<Entry> {
        self.ls_under("", incomplete)
    }

    fn ls_under(&self, prefix: &str, incomplete: bool) -> Vec<Entry> {
        let target = format!("t/{BUCKET}/{prefix}");
        let mut args = vec!["ls", "--recursive", "--json"];
        if incomplete {
            args.push("--incomplete");
        }
        args.push(&target);
        let out = self.mc(&args);
        assert!(
            out.status.success(),
            "mc ls: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["status"] == "success")
            .map(|v| Entry {
                key: v["key"].as_str().unwrap_or_default().to_string(),
                size: v["size"].as_u64().unwrap_or(0),
                etag: v["etag"].as_str().unwrap_or_default().to_string(),
            })
            .collect()
    }

    /// Every complete object in the bucket, sorted by key.
    pub fn objects(&self) -> Vec<Entry> {
        let mut v = self.ls(false);
        v.sort_by(|a, b| a.key.cmp(&b.key));
        v
    }

    /// Keys of the multipart uploads started and neither completed nor aborted. MinIO answers a bucket-wide
    /// listing only with uploads started since it last restarted; see [`S3Server::incomplete_uploads_of`].
    pub fn incomplete_uploads(&self) -> Vec<String> {
        self.ls(true).into_iter().map(|e| e.key).collect()
    }

    /// The unfinished multipart uploads of exactly `key` (MinIO lists these across its restarts).
    pub fn incomplete_uploads_of(&self, key: &str) -> Vec<String> {
        self.ls_under(key, true)
            .into_iter()
            .map(|e| e.key)
            .filter(|k| k.ends_with(key) || key.ends_with(k.as_str()))
            .collect()
    }

    /// Copies a local file into the bucket with `mc` (a foreign object, or a planted one).
    pub fn put(&self, local: &Path, key: &str) {
        let target = format!("t/{BUCKET}/{key}");
        let out = self.mc(&["cp", &local.to_string_lossy(), &target]);
        assert!(
            out.status.success(),
            "mc cp: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Downloads an object with `mc`.
    pub fn get(&self, key: &str, local: &Path) {
        let src = format!("t/{BUCKET}/{key}");
        let out = self.mc(&["cp", &src, &local.to_string_lossy()]);
        assert!(
            out.status.success(),
            "mc cp: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The server's log, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("minio.log")).unwrap_or_default()
    }
}

fn health(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!(
        "GET /minio/health/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 32];
    matches!(s.read(&mut buf), Ok(n) if n > 12 && buf[..n].starts_with(b"HTTP/1.1 200"))
}

/// Environment that points `etcdbak store/list/prune/download` at `endpoint` (the server or a throttle in
/// front of it), with the credentials only in AWS_* variables, as in production.
pub fn etcdbak_env(endpoint: &str) -> Vec<(String, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY".into(), SECRET_KEY.into()),
        ("ETCDBAK_S3_ENDPOINT".into(), endpoint.into()),
        ("ETCDBAK_S3_BUCKET".into(), BUCKET.into()),
        ("ETCDBAK_S3_PREFIX".into(), "etcdbak".into()),
    ]
}
