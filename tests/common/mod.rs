//! The real-server test rig: binaries built by `scripts/rig-install`, started on loopback with their own
//! ports and temp dirs. Nothing here is a mock.
#![allow(dead_code)]

pub mod certs;
pub mod damage;
pub mod dashboard;
pub mod etcd;
pub mod fill;
pub mod fixtures;
pub mod jobs;
pub mod minio;
pub mod podrun;
pub mod prometheus;
pub mod s3faults;
pub mod store;
pub mod tempcreds;
pub mod throttle;
pub mod versitygw;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A rig binary (etcd, etcdctl, etcdutl, minio, mc, helm, promtool, prometheus, kube-apiserver). Fails the test with the
/// fix when it is missing: tests never skip silently.
pub fn rig_bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("ETCDBAK_RIG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default();
            home.join(".cache/etcdbak/bin")
        });
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/rig-install (or set ETCDBAK_RIG_BIN)",
        path.display()
    );
    path
}

/// The etcdbak binary under test.
/// Runs `cmd` and fails the test, with its output, unless it exits 0.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn etcdbak() -> Command {
    Command::new(env!("CARGO_BIN_EXE_etcdbak"))
}

/// A loopback port that was free a moment ago. Servers are started right after, so races are rare; the
/// start helpers retry on a bind failure.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// Polls `ready` until it returns true or `timeout` passes.
pub fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < timeout,
            "{what} not ready after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The async twin of [`wait_until`]: polls `check` every 200 ms until it is true or `timeout` passes.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < timeout,
            "{what}: not true after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls `ready` every `every` until it returns Some, or returns Err once `timeout` passes (the caller
/// adds what it knows about the failure to the message).
pub async fn poll_for<T, F, Fut>(
    timeout: Duration,
    every: Duration,
    mut ready: F,
) -> Result<T, Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = ready().await {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            return Err(timeout);
        }
        tokio::time::sleep(every).await;
    }
}

/// Runs a command to completion within `timeout`, killing it past that.
pub fn run_within(cmd: &mut Command, what: &str, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    // Drained on threads so a chatty child never blocks on a full pipe.
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut b).ok();
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut b).ok();
        b
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out_t.join().expect("stdout thread"),
        stderr: err_t.join().expect("stderr thread"),
    }
}

/// The command's stdout, after failing the test with its whole output (and `context()`, what else a person
/// would look at) unless it exited 0.
pub fn check_output(out: &Output, what: &str, context: impl FnOnce() -> String) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        context()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A child process killed (SIGKILL) and reaped when dropped, so a failing test leaves no server behind.
pub struct Proc {
    pub name: String,
    pub child: Option<Child>,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            name: name.to_string(),
            child: Some(child),
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}
pub mod controller;
pub mod kube;
pub mod node;
pub mod watch;

/// Fails the test unless `promtool check metrics` accepts `text` (a /metrics scrape).
pub fn promtool_check_metrics(text: &str) {
    use std::io::Write;
    let mut check = Command::new(rig_bin("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    check
        .stdin
        .take()
        .expect("promtool stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = check.wait_with_output().expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
