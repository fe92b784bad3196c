//! A real MinIO server on loopback with its own temp dir, fixed test credentials and one bucket, seen two
//! ways: through rust-s3 (list, get, put, head, multipart uploads) and through the real `mc` client, whose
//! view of the bucket does not depend on any S3 code of ours (the fault suite reads the bucket only that
//! way). It can be killed and started again on the same port and data dir: an S3 outage, not a new store.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use s3::creds::Credentials;
use s3::{Bucket, Region};

use super::{free_port, rig_bin, wait_until, Proc};

pub const ACCESS_KEY: &str = "etcdbak-test-access";
pub const SECRET_KEY: &str = "etcdbak-test-secret-Zq81x";
pub const BUCKET: &str = "backups";
/// The `mc` alias of this server.
const ALIAS: &str = "t";
/// MinIO's single built-in KMS key: `name:base64(32 bytes)`.
const KMS_KEY: &str = "etcdbak-test:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

pub struct Minio {
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

impl Minio {
    /// Starts MinIO on a free loopback port with an empty bucket [`BUCKET`].
    pub fn start() -> Minio {
        let dir = tempfile::Builder::new()
            .prefix("etcdbak-minio-")
            .tempdir()
            .expect("temp dir");
        let mut m = Minio {
            port: free_port(),
            dir,
            proc: None,
        };
        m.start_again();
        // "Ready" can precede "initialized" by a moment: retry the create until MinIO accepts it.
        let bucket = format!("{ALIAS}/{BUCKET}");
        wait_until("the test bucket", Duration::from_secs(30), || {
            m.mc(&["mb", &bucket]).status.success()
        });
        m
    }

    /// Starts the server (again, after [`Minio::stop`]) on the same port and data dir.
    pub fn start_again(&mut self) {
        assert!(self.proc.is_none(), "minio is running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("minio.log"))
            .expect("minio log");
        let proc = Proc::spawn(
            "minio",
            Command::new(rig_bin("minio"))
                .args(["server", "--quiet", "--address"])
                .arg(self.host_port())
                .arg("--console-address")
                .arg(format!("127.0.0.1:{}", free_port()))
                .arg(self.data_dir())
                .env("MINIO_ROOT_USER", ACCESS_KEY)
                .env("MINIO_ROOT_PASSWORD", SECRET_KEY)
                .env("MINIO_BROWSER", "off")
                // A built-in KMS key, so SSE-S3 and SSE-KMS (its default key) work as on a real store.
                .env("MINIO_KMS_SECRET_KEY", KMS_KEY)
                .env("MINIO_UPDATE", "off")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log),
        );
        self.proc = Some(proc);
        let port = self.port;
        wait_until("minio", Duration::from_secs(60), || health(port));
        let url = self.endpoint();
        wait_until("mc alias", Duration::from_secs(30), || {
            self.mc(&["alias", "set", ALIAS, &url, ACCESS_KEY, SECRET_KEY])
                .status
                .success()
        });
    }

    /// SIGKILLs the server (an outage: nothing is flushed or cleaned up); data stays for
    /// [`Minio::start_again`].
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
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

    /// The server's log, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("minio.log")).unwrap_or_default()
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

    /// Sets the test credentials on an etcdbak command (and clears a session token that could leak in).
    pub fn creds_env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env_remove("AWS_SESSION_TOKEN")
    }
}

/// The rust-s3 view: quick assertions and planting objects with exact metadata.
impl Minio {
    pub fn client_bucket(&self, name: &str) -> Box<Bucket> {
        let mut b = Bucket::new(
            name,
            Region::Custom {
                region: "us-east-1".into(),
                endpoint: self.endpoint(),
            },
            creds(),
        )
        .expect("bucket");
        b.set_path_style();
        b
    }

    fn bucket(&self) -> Box<Bucket> {
        self.client_bucket(BUCKET)
    }

    /// Every key under `prefix`, sorted.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let pages = block_on(self.bucket().list(prefix.to_string(), None)).expect("list");
        let mut keys: Vec<String> = pages
            .into_iter()
            .flat_map(|p| p.contents)
            .map(|o| o.key)
            .collect();
        keys.sort();
        keys
    }

    pub fn get(&self, key: &str) -> Vec<u8> {
        let r = block_on(self.bucket().get_object(key)).expect("get");
        r.bytes().to_vec()
    }

    pub fn put(&self, key: &str, bytes: &[u8]) {
        block_on(self.bucket().put_object(key, bytes)).expect("put");
    }

    /// Puts `bytes` under `key` with the user metadata of the object at `like`: a damaged copy that
    /// claims to be that backup.
    pub fn put_like(&self, key: &str, bytes: &[u8], like: &str) {
        let (meta, _) = self.head(like);
        let pairs: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.put_with_metadata(key, bytes, &pairs);
    }

    /// Puts an object with user metadata (names without the x-amz-meta- prefix).
    pub fn put_with_metadata(&self, key: &str, bytes: &[u8], meta: &[(&str, &str)]) {
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in meta {
            headers.insert(
                reqwest::header::HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes())
                    .expect("name"),
                reqwest::header::HeaderValue::from_str(v).expect("value"),
            );
        }
        let b = self.bucket().with_extra_headers(headers).expect("headers");
        block_on(b.put_object(key, bytes)).expect("put");
    }

    /// Stores the object at `key` again, same bytes and user metadata, as if it had landed at `at`: MinIO keeps
    /// the original time of a replicated object from `x-minio-source-mtime`, which makes an old backup without
    /// waiting for one. Fails the test unless the listing then shows that time.
    pub fn backdate(&self, key: &str, at: chrono::DateTime<chrono::Utc>) {
        let bytes = self.get(key);
        let (meta, _) = self.head(key);
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &meta {
            headers.insert(
                reqwest::header::HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes())
                    .expect("name"),
                reqwest::header::HeaderValue::from_str(v).expect("value"),
            );
        }
        let when = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        headers.insert(
            "x-minio-source-mtime",
            reqwest::header::HeaderValue::from_str(&when).expect("value"),
        );
        let b = self.bucket().with_extra_headers(headers).expect("headers");
        block_on(b.put_object(key, &bytes)).expect("put");
        let listed = self.last_modified(key);
        assert!(
            (listed - at).num_milliseconds().abs() < 1000,
            "MinIO did not keep the time {when} for {key}: it lists {listed}"
        );
    }

    /// The LastModified time the bucket listing shows for `key`.
    pub fn last_modified(&self, key: &str) -> chrono::DateTime<chrono::Utc> {
        self.listed(key)
            .into_iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, at)| at)
            .unwrap_or_else(|| panic!("{key} is not in the bucket"))
    }

    /// Every object under `prefix` as the bucket listing shows it: (key, size, LastModified).
    pub fn listed(&self, prefix: &str) -> Vec<(String, u64, chrono::DateTime<chrono::Utc>)> {
        let pages = block_on(self.bucket().list(prefix.to_string(), None)).expect("list");
        pages
            .into_iter()
            .flat_map(|p| p.contents)
            .map(|o| {
                let at = chrono::DateTime::parse_from_rfc3339(&o.last_modified)
                    .unwrap_or_else(|e| {
                        panic!("{}: LastModified {:?}: {e}", o.key, o.last_modified)
                    })
                    .with_timezone(&chrono::Utc);
                (o.key, o.size, at)
            })
            .collect()
    }

    /// An object's user metadata (x-amz-meta-*, prefix stripped) and size.
    /// The object's server-side encryption as the store reports it (`AES256`, `aws:kms`), if any.
    pub fn server_side_encryption(&self, key: &str) -> Option<String> {
        let (h, _) = block_on(self.bucket().head_object(key)).expect("head");
        h.server_side_encryption
    }

    pub fn head(&self, key: &str) -> (HashMap<String, String>, u64) {
        let (h, _) = block_on(self.bucket().head_object(key)).expect("head");
        (
            h.metadata.unwrap_or_default(),
            h.content_length.unwrap_or(-1) as u64,
        )
    }

    /// Starts a multipart upload and leaves it unfinished, as a killed run would.
    pub fn start_upload(&self, key: &str) -> String {
        let bucket = self.bucket();
        block_on(async {
            let up = bucket
                .initiate_multipart_upload(key, "application/octet-stream")
                .await
                .expect("initiate");
            bucket
                .put_multipart_chunk(
                    vec![7u8; 1024],
                    key,
                    1,
                    &up.upload_id,
                    "application/octet-stream",
                )
                .await
                .expect("part");
            up.upload_id
        })
    }

    /// Unfinished multipart uploads under `prefix` as (key, upload id). On MinIO a non-empty prefix must be
    /// an exact key; "" lists every upload started since the server started.
    pub fn uploads(&self, prefix: &str) -> Vec<(String, String)> {
        let pages = block_on(self.bucket().list_multiparts_uploads(Some(prefix), None))
            .expect("list uploads");
        pages
            .into_iter()
            .flat_map(|p| p.uploads)
            .map(|u| (u.key, u.id))
            .collect()
    }
}

/// The `mc` view: what a user's own tools see in the bucket.
impl Minio {
    fn mc_config(&self) -> PathBuf {
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

    fn ls_under(&self, prefix: &str, incomplete: bool) -> Vec<Entry> {
        let target = format!("{ALIAS}/{BUCKET}/{prefix}");
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
        let mut v = self.ls_under("", false);
        v.sort_by(|a, b| a.key.cmp(&b.key));
        v
    }

    /// Keys of the multipart uploads started and neither completed nor aborted. MinIO answers a bucket-wide
    /// listing only with uploads started since it last restarted; see [`Minio::incomplete_uploads_of`].
    pub fn incomplete_uploads(&self) -> Vec<String> {
        self.ls_under("", true).into_iter().map(|e| e.key).collect()
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
    pub fn mc_put(&self, local: &Path, key: &str) {
        let target = format!("{ALIAS}/{BUCKET}/{key}");
        let out = self.mc(&["cp", &local.to_string_lossy(), &target]);
        assert!(
            out.status.success(),
            "mc cp: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Downloads an object with `mc`.
    pub fn mc_get(&self, key: &str, local: &Path) {
        let src = format!("{ALIAS}/{BUCKET}/{key}");
        let out = self.mc(&["cp", &src, &local.to_string_lossy()]);
        assert!(
            out.status.success(),
            "mc cp: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
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

fn creds() -> Credentials {
    Credentials::new(Some(ACCESS_KEY), Some(SECRET_KEY), None, None, None).expect("creds")
}

/// A runtime per call, so a `Minio` can be used (and dropped) from any test, async or not.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// MinIO's readiness endpoint answers 200 once it serves S3.
fn health(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!(
        "GET /minio/health/ready HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 32];
    matches!(s.read(&mut buf), Ok(n) if n > 12 && buf[..n].starts_with(b"HTTP/1.1 200"))
}
