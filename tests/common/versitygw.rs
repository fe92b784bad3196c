//! A second real S3 server: versitygw over a posix directory (each bucket a directory, each object a file),
//! so the data path is checked against an implementation that shares no code with MinIO.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{free_port, rig_bin, wait_until, Proc};

pub const ACCESS_KEY: &str = "etcdbak-vgw-access";
pub const SECRET_KEY: &str = "etcdbak-vgw-secret-R7c2p";
pub const BUCKET: &str = "backups";

pub struct Versitygw {
    pub port: u16,
    dir: tempfile::TempDir,
    _proc: Proc,
}

impl Versitygw {
    /// Starts the gateway with [`BUCKET`] already present (a bucket is a directory of the posix root).
    pub fn start() -> Versitygw {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("root").join(BUCKET)).expect("bucket dir");
        let port = free_port();
        let mut cmd = Command::new(rig_bin("versitygw"));
        cmd.args(["--port", &format!("127.0.0.1:{port}")])
            .env("ROOT_ACCESS_KEY", ACCESS_KEY)
            .env("ROOT_SECRET_KEY", SECRET_KEY)
            .arg("posix")
            .arg(dir.path().join("root"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let proc = Proc::spawn("versitygw", &mut cmd);
        wait_until("versitygw", Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Versitygw {
            port,
            dir,
            _proc: proc,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The S3 flags for an etcdbak subcommand pointed at this server.
    pub fn s3_args(&self) -> Vec<String> {
        vec![
            "--s3-endpoint".into(),
            self.endpoint(),
            "--bucket".into(),
            BUCKET.into(),
        ]
    }

    pub fn creds_env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env_remove("AWS_SESSION_TOKEN")
    }

    /// The object as the gateway stored it on disk: what the bucket holds, read without any S3 client.
    pub fn object_file(&self, key: &str) -> PathBuf {
        self.dir.path().join("root").join(BUCKET).join(key)
    }

    /// Every object key under `prefix`, read from the posix root (sorted).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let root = self.dir.path().join("root").join(BUCKET);
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(&root) {
                    let key = rel.to_string_lossy().to_string();
                    if key.starts_with(prefix) && !key.contains(".sgwtmp") {
                        out.push(key);
                    }
                }
            }
        }
        out.sort();
        out
    }
}
