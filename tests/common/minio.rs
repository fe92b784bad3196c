//! A real MinIO server on loopback with its own temp dir, fixed test credentials and one bucket, plus
//! rust-s3 helpers for assertions (list, get, put, head, multipart uploads).

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use s3::creds::Credentials;
use s3::{Bucket, BucketConfiguration, Region};

use super::{free_port, rig_bin, wait_until, Proc};

pub const ACCESS_KEY: &str = "etcdbak-test-access";
pub const SECRET_KEY: &str = "etcdbak-test-secret-Zq81x";
pub const BUCKET: &str = "backups";

pub struct Minio {
    pub port: u16,
    pub dir: tempfile::TempDir,
    proc: Option<Proc>,
    rt: tokio::runtime::Runtime,
}

impl Minio {
    /// Starts MinIO and creates [`BUCKET`].
    pub fn start() -> Minio {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut m = Minio {
            port: free_port(),
            dir: tempfile::tempdir().expect("tempdir"),
            proc: None,
            rt,
        };
        m.start_again();
        let region = m.client_bucket(BUCKET).region();
        // "Ready" can precede "initialized" by a moment: retry the create until MinIO accepts it.
        let mut tries = 0;
        loop {
            let r = m.rt.block_on(Bucket::create_with_path_style(
                BUCKET,
                region.clone(),
                creds(),
                BucketConfiguration::default(),
            ));
            match r {
                Ok(_) => break,
                Err(e) if tries < 150 => {
                    tries += 1;
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("cannot create the test bucket: {e}"),
            }
        }
        m
    }

    /// Starts the server (again, after [`Minio::stop`]) on the same port and data dir.
    pub fn start_again(&mut self) {
        let console = free_port();
        let mut cmd = Command::new(rig_bin("minio"));
        cmd.arg("server")
            .arg("--quiet")
            .arg("--address")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--console-address")
            .arg(format!("127.0.0.1:{console}"))
            .arg(self.dir.path().join("data"))
            .env("MINIO_ROOT_USER", ACCESS_KEY)
            .env("MINIO_ROOT_PASSWORD", SECRET_KEY)
            .env("MINIO_BROWSER", "off")
            .env("MINIO_UPDATE", "off")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.proc = Some(Proc::spawn("minio", &mut cmd));
        let url = format!("127.0.0.1:{}", self.port);
        wait_until("minio", Duration::from_secs(60), || health_ok(&url));
    }

    /// Kills the server (SIGKILL); data stays for [`Minio::start_again`].
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
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

    /// Sets the test credentials on an etcdbak command (and clears any ETCDBAK_* that could leak in).
    pub fn creds_env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env_remove("AWS_SESSION_TOKEN")
    }

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
        let pages = self
            .rt
            .block_on(self.bucket().list(prefix.to_string(), None))
            .expect("list");
        let mut keys: Vec<String> = pages
            .into_iter()
            .flat_map(|p| p.contents)
            .map(|o| o.key)
            .collect();
        keys.sort();
        keys
    }

    pub fn get(&self, key: &str) -> Vec<u8> {
        let r = self
            .rt
            .block_on(self.bucket().get_object(key))
            .expect("get");
        r.bytes().to_vec()
    }

    pub fn put(&self, key: &str, bytes: &[u8]) {
        self.rt
            .block_on(self.bucket().put_object(key, bytes))
            .expect("put");
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
        self.rt.block_on(b.put_object(key, bytes)).expect("put");
    }

    /// An object's user metadata (x-amz-meta-*, prefix stripped) and size.
    pub fn head(&self, key: &str) -> (HashMap<String, String>, u64) {
        let (h, _) = self
            .rt
            .block_on(self.bucket().head_object(key))
            .expect("head");
        (
            h.metadata.unwrap_or_default(),
            h.content_length.unwrap_or(-1) as u64,
        )
    }

    /// Starts a multipart upload and leaves it unfinished, as a killed run would.
    pub fn start_upload(&self, key: &str) -> String {
        let bucket = self.bucket();
        self.rt.block_on(async {
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
        let pages = self
            .rt
            .block_on(self.bucket().list_multiparts_uploads(Some(prefix), None))
            .expect("list uploads");
        pages
            .into_iter()
            .flat_map(|p| p.uploads)
            .map(|u| (u.key, u.id))
            .collect()
    }
}

fn creds() -> Credentials {
    Credentials::new(Some(ACCESS_KEY), Some(SECRET_KEY), None, None, None).expect("creds")
}

/// MinIO's liveness endpoint answers 200 once it serves S3.
fn health_ok(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req =
        format!("GET /minio/health/ready HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 32];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200")
}
